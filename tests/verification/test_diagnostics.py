"""Tool diagnostics as findings: positions, severities, codes, enclosing definitions, and the base cache."""

from __future__ import annotations

from podium.verification.diagnostics import BaseCache, Diagnostic, from_lsp, one_line, rule_code, to_findings
from podium.verification.findings import Finding

CODE = "class Box:\n    def size(self) -> int:\n        return undefined_thing\n"


def lsp_item(line: int, start: int, end: int, **extra: object) -> dict[str, object]:
    return {
        "range": {"start": {"line": line, "character": start}, "end": {"line": line, "character": end}},
        "message": "boom",
        **extra,
    }


def test_an_lsp_diagnostic_becomes_a_one_based_finding_with_symbol_excerpt_and_frame() -> None:
    item = lsp_item(
        2, 15, 30, severity=1, code="reportUndefinedVariable", message='"undefined_thing" is not defined'
    )

    [finding] = to_findings("basedpyright", "box.py", CODE, [from_lsp(item)])

    assert (finding.line, finding.column, finding.end_line, finding.end_column) == (3, 16, 3, 31)
    assert finding.symbol == "Box.size"
    assert finding.excerpt == "undefined_thing"
    assert finding.severity == "error"
    assert finding.frame.splitlines()[-1] == "  |                " + "^" * 15


def test_lsp_severities_map_to_names_and_a_missing_one_is_an_error() -> None:
    severities = [from_lsp(lsp_item(0, 0, 1, severity=level)).severity for level in (1, 2, 3, 4)]

    assert severities == ["error", "warning", "info", "hint"]
    assert from_lsp(lsp_item(0, 0, 1)).severity == "error"


def test_utf16_columns_become_code_point_columns() -> None:
    text = 'name = "😀😀" + missing\n'
    # "missing" spans code points 14 to 21; in UTF-16 units each emoji counts twice.
    [finding] = to_findings("ts", "a.py", text, [from_lsp(lsp_item(0, 16, 23))])

    assert (finding.column, finding.end_column) == (15, 22)
    assert finding.excerpt == "missing"


def test_utf8_and_utf32_units_are_understood_too() -> None:
    text = "é = missing\n"
    diagnostic = Diagnostic(0, 5, 0, 12, "error", "F821", "undefined")
    code_points = Diagnostic(0, 4, 0, 11, "error", "F821", "undefined")

    [by_bytes] = to_findings("x", "a.py", text, [diagnostic], units="utf-8")
    [by_points] = to_findings("x", "a.py", text, [code_points], units="utf-32")

    assert by_bytes.column == by_points.column == 5


def test_typescript_codes_read_as_tsc_prints_them() -> None:
    assert rule_code(2322, "ts") == "TS2322"
    assert rule_code("F821", "Ruff") == "F821"
    assert rule_code(None) == "unnamed"


def test_multi_line_messages_become_one_line() -> None:
    message = 'Type "Literal[1]" is not assignable\n\xa0\xa0"Literal[1]" is not "str"\n\nhelp: fix it'

    assert one_line(message) == 'Type "Literal[1]" is not assignable; "Literal[1]" is not "str"; help: fix it'


def test_positions_past_the_end_are_clamped_to_the_text() -> None:
    [finding] = to_findings("x", "a.py", "x = 1\n", [Diagnostic(40, 9, 41, 99, "error", "E", "far")])

    assert (finding.line, finding.column) == (2, 1)


def test_findings_come_in_position_order() -> None:
    diagnostics = [Diagnostic(1, 0, 1, 1, "error", "B", "b"), Diagnostic(0, 2, 0, 3, "error", "A", "a")]

    found = to_findings("x", "a.py", "abc\ndef\n", diagnostics)

    assert [(f.line, f.code) for f in found] == [(1, "A"), (2, "B")]


def test_the_base_cache_keys_on_content_and_forgets_the_least_recently_used() -> None:
    cache = BaseCache(size=2)
    found = (Finding("x", "E", "m", "a.py", 1, 1, 1, 2),)
    cache.put("a.py", "one", found)
    cache.put("b.py", "two", ())
    cache.get("a.py", "one")
    cache.put("c.py", "three", ())

    assert cache.get("a.py", "one") == found
    assert cache.get("a.py", "one changed") is None
    assert cache.get("b.py", "two") is None
