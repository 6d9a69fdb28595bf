"""The LSP conversions: command arguments, error codes, and findings as diagnostics in the editor's units."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec

import podium.server.core_ops  # noqa: F401  (imports every error class an operation may raise)
from podium.server import lsp_convert
from podium.server.lsp_feedback import ProgressUpdate, TaskFinding
from podium.server.operations import INTERNAL_ERROR_CODE, ArgumentError
from podium.verification.errors import PodiumError

UTF8 = PositionCodec(types.PositionEncodingKind.Utf8)
UTF16 = PositionCodec(types.PositionEncodingKind.Utf16)
UTF32 = PositionCodec(types.PositionEncodingKind.Utf32)


def finding(**changes: object) -> TaskFinding:
    fields: dict[str, object] = {
        "mission_id": "m-1a2b3c4d",
        "task_id": "T1",
        "path": "inventory.py",
        "source": "tree-sitter",
        "code": "syntax-error",
        "message": "syntax error near `(`",
        "severity": "error",
        "line": 2,
        "column": 5,
        "end_line": 2,
        "end_column": 9,
    }
    fields.update(changes)
    return TaskFinding(**fields)  # pyright: ignore[reportArgumentType]


def podium_error_codes() -> set[str]:
    classes: list[type[PodiumError]] = [PodiumError]
    seen: set[str] = set()
    while classes:
        cls = classes.pop()
        seen.add(cls.code)
        classes.extend(cls.__subclasses__())
    return seen


@pytest.mark.parametrize("arguments", [[], [None], [[]], [{}]], ids=["none", "null", "empty-array", "empty"])
def test_no_argument_null_and_an_empty_array_all_mean_no_fields(arguments: list[object]) -> None:
    assert lsp_convert.command_arguments("mission_status", arguments) == {}


def test_the_one_object_argument_holds_the_operations_fields() -> None:
    fields = {"mission_id": "m-1a2b3c4d", "worker": "w1"}

    assert lsp_convert.command_arguments("task_claim", [fields]) == fields


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ([1], "got a number"),
        (["m-1"], "got a string"),
        ([[1]], "got an array"),
        ([{}, {}], "got 2 arguments"),
    ],
)
def test_anything_but_one_object_is_refused_as_an_argument_error(
    arguments: list[object], complaint: str
) -> None:
    with pytest.raises(ArgumentError) as caught:
        lsp_convert.command_arguments("task_claim", arguments)

    assert caught.value.code == "input_error"
    assert complaint in caught.value.message
    assert caught.value.problems[0].field == ""


def test_every_podium_error_code_has_its_own_rpc_code_outside_the_reserved_ranges() -> None:
    codes = podium_error_codes() - {"podium_error"}
    numbers = {code: lsp_convert.rpc_error_code(code) for code in codes | {INTERNAL_ERROR_CODE}}

    assert set(lsp_convert.RPC_ERROR_CODES) >= codes
    assert len(set(numbers.values())) == len(numbers)
    assert numbers["input_error"] == -32602
    assert numbers[INTERNAL_ERROR_CODE] == -32603
    others = [n for code, n in numbers.items() if code not in ("input_error", INTERNAL_ERROR_CODE)]
    assert all(n > 0 for n in others)


def test_a_podium_code_the_table_does_not_know_gets_the_generic_code() -> None:
    assert lsp_convert.rpc_error_code("something_new") == lsp_convert.PODIUM_ERROR_RPC_CODE == 1000


def test_a_finding_becomes_a_zero_based_podium_diagnostic_naming_its_task_and_source() -> None:
    result = lsp_convert.diagnostic(finding(line_text="    return (", end_line_text="    return ("), UTF16)

    assert result.range == types.Range(types.Position(1, 4), types.Position(1, 8))
    assert result.source == "podium"
    assert result.code == "syntax-error"
    assert result.severity == types.DiagnosticSeverity.Error
    assert result.message == "syntax error near `(` (tree-sitter, T1 of m-1a2b3c4d)"
    assert result.data == {"mission_id": "m-1a2b3c4d", "task_id": "T1", "finding_source": "tree-sitter"}


@pytest.mark.parametrize(
    ("codec", "start", "end"),
    [(UTF8, 9, 11), (UTF16, 7, 8), (UTF32, 6, 7)],
    ids=["utf-8", "utf-16", "utf-32"],
)
def test_columns_are_counted_in_the_negotiated_encoding(codec: PositionCodec, start: int, end: int) -> None:
    text = "x = '😀é'"  # the finding is on é (2 UTF-8 bytes) after 😀 (4 UTF-8 bytes, 2 UTF-16 units)
    result = lsp_convert.diagnostic(
        finding(line=1, column=7, end_line=1, end_column=8, line_text=text, end_line_text=text), codec
    )

    assert (result.range.start.character, result.range.end.character) == (start, end)


def test_columns_past_the_known_text_count_one_unit_per_character() -> None:
    result = lsp_convert.diagnostic(finding(line_text="", end_line_text=""), UTF8)

    assert (result.range.start.character, result.range.end.character) == (4, 8)


def test_an_end_before_the_start_collapses_onto_the_start() -> None:
    result = lsp_convert.diagnostic(finding(line=3, end_line=2, column=4, end_column=1), UTF16)

    assert result.range.start == result.range.end == types.Position(2, 3)


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("warning", types.DiagnosticSeverity.Warning),
        ("info", types.DiagnosticSeverity.Information),
        ("hint", types.DiagnosticSeverity.Hint),
        ("unheard-of", types.DiagnosticSeverity.Error),
    ],
)
def test_severities_map_onto_lsp_severities(severity: str, expected: types.DiagnosticSeverity) -> None:
    assert lsp_convert.diagnostic(finding(severity=severity), UTF16).severity == expected


def test_diagnostics_are_published_on_the_file_in_the_users_checkout(tmp_path: Path) -> None:
    root = tmp_path / "my project"
    params = lsp_convert.publish_diagnostics(root, "src/a b.py", [finding(path="src/a b.py")], UTF16)

    assert params.uri == (root / "src" / "a b.py").as_uri()
    assert params.uri.endswith("/my%20project/src/a%20b.py")
    assert len(params.diagnostics) == 1


def test_no_findings_publish_an_empty_list_which_clears_the_file(tmp_path: Path) -> None:
    assert lsp_convert.publish_diagnostics(tmp_path, "a.py", [], UTF16).diagnostics == []


def test_progress_steps_become_begin_report_and_end_values() -> None:
    begin = lsp_convert.progress_value(ProgressUpdate("m-1", "begin", "Podium: tidy", "0/2 merged", 0))
    report = lsp_convert.progress_value(ProgressUpdate("m-1", "report", message="1/2 merged", percentage=50))
    end = lsp_convert.progress_value(ProgressUpdate("m-1", "end", message="mission finished"))

    assert begin == types.WorkDoneProgressBegin(
        title="Podium: tidy", message="0/2 merged", percentage=0, cancellable=False
    )
    assert report == types.WorkDoneProgressReport(message="1/2 merged", percentage=50)
    assert end == types.WorkDoneProgressEnd(message="mission finished")


def test_messages_keep_their_level() -> None:
    assert lsp_convert.show_message("warning", "T1 rejected").type == types.MessageType.Warning
    assert lsp_convert.log_message("log", "T1 claimed").type == types.MessageType.Log
