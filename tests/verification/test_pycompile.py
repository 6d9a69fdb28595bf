from __future__ import annotations

from podium.verification.changes import ChangeSet, FileChange
from podium.verification.languages import LanguageSpec, language_for_path
from podium.verification.pycompile import (
    COMPILE_ERROR,
    PARSE_ERROR,
    WARNING,
    PythonCompileSource,
    compile_findings,
)


def python() -> LanguageSpec:
    spec = language_for_path("a.py")
    assert spec is not None
    return spec


def test_return_outside_function_is_a_compile_error_tree_sitter_cannot_see() -> None:
    result = compile_findings("a.py", "def f():\n    pass\n\nreturn 1\n", python())

    [finding] = result.findings
    assert finding.source == "python-compile"
    assert finding.code == COMPILE_ERROR
    assert finding.message == "'return' outside function"
    assert (finding.line, finding.column, finding.end_line, finding.end_column) == (4, 1, 4, 9)
    assert result.complete


def test_every_compile_error_is_found_not_only_the_first() -> None:
    text = "def f():\n    await g()\n\n\ndef h():\n    pass\n\nreturn 2\n"

    result = compile_findings("a.py", text, python())

    assert [(f.line, f.message, f.symbol) for f in result.findings] == [
        (2, "'await' outside async function", "f"),
        (8, "'return' outside function", ""),
    ]


def test_compile_error_columns_count_characters() -> None:
    # Compiler-stage errors report byte offsets; "é" is two bytes.
    result = compile_findings("a.py", "é = 1; return é\n", python())

    [finding] = result.findings
    assert finding.column == 8
    assert finding.end_column == 16


def test_parser_error_stops_the_check_and_says_so() -> None:
    result = compile_findings("a.py", "x = (1,\nreturn 2\n", python())

    [finding] = result.findings
    assert finding.code == PARSE_ERROR
    assert finding.message == "'(' was never closed"
    assert not result.complete


def test_null_byte_is_a_parse_error_at_the_start() -> None:
    [finding] = compile_findings("a.py", "x = 1\x00\n", python()).findings

    assert finding.code == PARSE_ERROR
    assert (finding.line, finding.column) == (1, 1)


def test_nesting_too_deep_for_cpython_is_an_error_not_a_crash() -> None:
    result = compile_findings("a.py", "x = " + "1 + " * 20000 + "1\n", python())

    [finding] = result.findings
    assert finding.severity == "error"
    assert "recursion" in finding.message
    assert (finding.line, finding.column) == (1, 1)


def test_compiler_warnings_become_warning_findings() -> None:
    [finding] = compile_findings("a.py", "import re\n\npattern = '\\d+'\n", python()).findings

    assert finding.code == WARNING
    assert finding.severity == "warning"
    assert finding.line == 3
    assert "invalid escape sequence" in finding.message


def test_source_drops_parser_errors_in_files_tree_sitter_already_rejects() -> None:
    # tree-sitter reports the next line; Python's parser the line itself: one mistake, one finding.
    text = "def f(x):\n    y = x +\n    return y\n"
    changes = ChangeSet((FileChange("a.py", None, text),))

    [found] = PythonCompileSource().check(changes).files

    assert found.after == ()


def test_source_keeps_parser_errors_tree_sitter_accepts() -> None:
    changes = ChangeSet((FileChange("a.py", None, "f(**kwargs, *args)\n"),))

    [found] = PythonCompileSource().check(changes).files

    [finding] = found.after
    assert finding.code == PARSE_ERROR
    assert finding.line == 1


def test_source_marks_before_incomplete_when_the_old_text_did_not_parse() -> None:
    changes = ChangeSet((FileChange("a.py", "x = (\n", "x = ()\n"),))

    [found] = PythonCompileSource().check(changes).files

    assert not found.before_complete
    assert found.after == ()


def test_source_ignores_non_python_and_deleted_files() -> None:
    changes = ChangeSet(
        (
            FileChange("a.js", None, "return 1\n"),
            FileChange("gone.py", "return 1\n", None),
            FileChange("stub.pyi", None, "def f() -> int: ...\n"),
        )
    )

    report = PythonCompileSource().check(changes)

    assert [f.path for f in report.files] == ["stub.pyi"]
