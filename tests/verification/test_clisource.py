"""Linter commands as diagnostics sources: the real `ruff check` CLI, output formats, failures."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from podium.verification.catalog import RUFF_CLI, SourceSpec
from podium.verification.changes import ChangeSet, FileChange
from podium.verification.clisource import CliSource, parse_pyright, parse_ruff
from podium.verification.gate import Gate, GatePolicy

ONLY_LINTERS = GatePolicy(tree_sitter=False, python_compile=False)


def one_file(path: str, before: str | None, after: str | None) -> ChangeSet:
    return ChangeSet((FileChange(path, before, after),))


def test_ruff_cli_finds_a_new_undefined_name_and_keeps_an_old_one(tmp_path: Path) -> None:
    before = "import os\n\n\ndef f():\n    return old_missing\n"
    after = "import os\n\n\ndef f():\n    return old_missing\n\n\ndef g():\n    return new_missing\n"

    verdict = Gate(ONLY_LINTERS, [CliSource(RUFF_CLI, tmp_path)]).check(one_file("pkg/m.py", before, after))

    assert not verdict.accepted
    [new] = verdict.findings_new
    assert (new.source, new.code, new.line, new.column, new.symbol) == ("ruff-cli", "F821", 9, 12, "g")
    assert {(f.code, f.line) for f in verdict.findings_preexisting} == {("F821", 5)}


def test_a_command_that_fails_is_a_source_failure(tmp_path: Path) -> None:
    spec = replace(RUFF_CLI, name="broken", commands=((sys.executable, "-c", "import sys; sys.exit(7)"),))

    verdict = Gate(ONLY_LINTERS, [CliSource(spec, tmp_path)]).check(one_file("m.py", "x = 1\n", "x = 2\n"))

    assert not verdict.accepted
    [note] = verdict.notes
    assert note.startswith("unverified: source broken failed (broken:") and "exited with status 7" in note


def test_a_missing_linter_is_noted_as_unavailable(tmp_path: Path) -> None:
    spec = SourceSpec("ghost-lint", "cli", (("podium-no-such-linter", "{files}"),), ("python",))

    verdict = Gate(ONLY_LINTERS, [CliSource(spec, tmp_path)]).check(one_file("m.py", "x = 1\n", "x = 2\n"))

    assert verdict.accepted
    assert verdict.notes == ("ghost-lint: unavailable (podium-no-such-linter not found)",)


def test_ruff_json_output_reads_as_diagnostics() -> None:
    output = [
        {
            "code": "F401",
            "message": "`os` imported but unused",
            "filename": "/tmp/x/m.py",
            "location": {"row": 1, "column": 8},
            "end_location": {"row": 1, "column": 10},
        },
        {
            "code": None,
            "message": "SyntaxError: bad",
            "filename": "/tmp/x/m.py",
            "location": {"row": 3, "column": 1},
        },
    ]

    parsed = parse_ruff(output)

    assert [(name, d.line, d.character, d.end_character, d.severity, d.code) for name, d in parsed] == [
        ("/tmp/x/m.py", 0, 7, 9, "warning", "F401"),
        ("/tmp/x/m.py", 2, 0, 0, "error", "syntax-error"),
    ]


def test_pyright_json_output_reads_as_diagnostics() -> None:
    output = {
        "generalDiagnostics": [
            {
                "file": "/tmp/x/m.py",
                "severity": "error",
                "message": 'Type "int" is not assignable to return type "str"',
                "range": {"start": {"line": 4, "character": 11}, "end": {"line": 4, "character": 16}},
                "rule": "reportReturnType",
            },
            {"file": "/tmp/x/m.py", "severity": "information", "message": "note", "range": {}},
        ]
    }

    parsed = parse_pyright(output)

    assert [(d.line, d.character, d.severity, d.code) for _, d in parsed] == [
        (4, 11, "error", "reportReturnType"),
        (0, 0, "info", "unnamed"),
    ]
    assert parse_pyright("not an object") == []
