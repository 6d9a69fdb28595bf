from __future__ import annotations

from podium.verification.findings import Finding, at_least, code_frame, normalise_excerpt

LINES = ["first", "second", "\tthird = broken(", "fourth", "", ""]


def test_location_is_path_line_and_column() -> None:
    finding = Finding("tree-sitter", "syntax-error", "syntax error", "src/a.py", 3, 7, 3, 8)

    assert finding.location == "src/a.py:3:7"


def test_to_dict_holds_every_field() -> None:
    finding = Finding(
        "ruff", "F821", "undefined name", "a.py", 1, 2, 1, 5, "warning", "f", "x", "frame", "on line 1"
    )

    assert finding.to_dict() == {
        "source": "ruff",
        "code": "F821",
        "message": "undefined name",
        "path": "a.py",
        "line": 1,
        "column": 2,
        "end_line": 1,
        "end_column": 5,
        "severity": "warning",
        "symbol": "f",
        "excerpt": "x",
        "frame": "frame",
        "reason": "on line 1",
    }


def test_severity_threshold_orders_error_above_warning_above_hints() -> None:
    assert at_least("error", "warning")
    assert at_least("warning", "warning")
    assert not at_least("hint", "warning")
    assert not at_least("warning", "error")


def test_excerpt_collapses_whitespace_and_is_cut_to_a_limit() -> None:
    assert normalise_excerpt("a  +\n\t b") == "a + b"
    long = normalise_excerpt("x" * 500)
    assert len(long) == 120
    assert long.endswith("…")


def test_frame_shows_context_lines_and_carets_under_the_span() -> None:
    frame = code_frame(LINES, 3, 9, 3, 16)

    assert frame.splitlines() == [
        "1 | first",
        "2 | second",
        "3 | \tthird = broken(",
        "  | \t       ^^^^^^^",
        "4 | fourth",
    ]


def test_frame_of_a_multi_line_span_underlines_to_the_end_of_its_first_line() -> None:
    frame = code_frame(LINES, 2, 3, 4, 2)

    assert "  | " + "  ^^^^" in frame.splitlines()


def test_frame_of_a_zero_width_span_has_one_caret_and_drops_trailing_blank_lines() -> None:
    frame = code_frame(LINES, 4, 7, 4, 7)

    assert frame.splitlines()[-2:] == ["4 | fourth", "  |       ^"]


def test_frame_of_an_empty_file_is_empty() -> None:
    assert code_frame([], 1, 1, 1, 1) == ""
