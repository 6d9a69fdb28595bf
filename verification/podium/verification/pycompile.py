"""Python's own compiler as a second syntax check, for what tree-sitter's grammar accepts.

tree-sitter parses ``return`` at module level, ``await`` in a plain function or ``nonlocal`` at module
level without complaint; CPython rejects them while compiling. ``compile()`` stops at the first error, so
after a successful parse the offending statement is replaced by ``pass`` and the tree compiled again,
up to ``MAX_COMPILE_ERRORS`` times: a pre-existing error must not hide a new one further down.

A parser error (as opposed to a compiler error) stops the check: nothing after it can be seen, and the
result says so (``complete=False``). Compiler warnings (invalid escape sequences …) become findings of
severity "warning".
"""

from __future__ import annotations

import ast
import threading
import warnings
from dataclasses import dataclass

from podium.verification.changes import ChangeSet
from podium.verification.findings import Finding, normalise_excerpt
from podium.verification.languages import LanguageSpec, language_for_path
from podium.verification.sources import FileFindings, SourceReport
from podium.verification.syntax import SourceText, enclosing_symbol, parse, syntax_findings

SOURCE = "python-compile"
PARSE_ERROR = "parse-error"
"""Code of an error from Python's parser: the text is not Python."""
COMPILE_ERROR = "compile-error"
"""Code of an error from the compiler proper: parsed, but not allowed where it is."""
WARNING = "syntax-warning"
MAX_COMPILE_ERRORS = 20
"""Compiler errors collected per file before giving up on finding more."""

# warnings.catch_warnings swaps process-global state; serialise our own uses of it.
_warnings_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class PythonCompileSource:
    """CPython's compiler over every Python file of a change set.

    It complements tree-sitter. A parser error is dropped when tree-sitter reports any syntax error in
    the same file: both saw text that is not Python, and tree-sitter reports every such place while
    Python's parser stops at the first (often a line away from tree-sitter's view of the same mistake).
    Compiler errors (``return`` outside a function …) are always kept: tree-sitter cannot see them.
    """

    name: str = SOURCE

    def check(self, changes: ChangeSet) -> SourceReport:
        """Compiler findings before and after the edit for each Python file."""
        files: list[FileFindings] = []
        for change in changes.files:
            spec = language_for_path(change.path)
            if change.after is None or spec is None or spec.name != "python":
                continue
            after = _unique_findings(change.path, change.after, spec)
            if change.before is None:
                files.append(FileFindings(change.path, (), after.findings))
                continue
            before = _unique_findings(change.path, change.before, spec)
            files.append(FileFindings(change.path, before.findings, after.findings, before.complete))
        return SourceReport(tuple(files))


def _unique_findings(path: str, text: str, spec: LanguageSpec) -> CompileResult:
    result = compile_findings(path, text, spec)
    if not syntax_findings(path, text, spec):
        return result
    kept = tuple(f for f in result.findings if f.code != PARSE_ERROR)
    return CompileResult(kept, result.complete)


@dataclass(frozen=True, slots=True)
class CompileResult:
    """The compiler's findings for one file; ``complete`` is false when a parser error hid the rest."""

    findings: tuple[Finding, ...]
    complete: bool


@dataclass(frozen=True, slots=True)
class _Problem:
    message: str
    line: int
    column: int
    end_line: int
    end_column: int
    code: str


def compile_findings(path: str, text: str, spec: LanguageSpec) -> CompileResult:
    """Errors and warnings CPython's compiler reports for ``text``.

    ``spec`` is the Python language spec, used to name the definition each finding sits in.
    """
    source = SourceText(text)
    problems, complete = _problems(path, text, source)
    if not problems:
        return CompileResult((), complete)
    tree = parse(source.data, spec)
    found: list[Finding] = []
    for problem in problems:
        line_text = source.lines[problem.line - 1] if problem.line <= len(source.lines) else ""
        node = tree.root_node.descendant_for_point_range(
            (problem.line - 1, _byte_column(line_text, problem.column)),
            (problem.line - 1, _byte_column(line_text, problem.column)),
        )
        found.append(
            Finding(
                source=SOURCE,
                code=problem.code,
                message=problem.message,
                path=path,
                line=problem.line,
                column=problem.column,
                end_line=problem.end_line,
                end_column=problem.end_column,
                severity="warning" if problem.code == WARNING else "error",
                symbol=enclosing_symbol(node, spec) if node is not None else "",
                excerpt=normalise_excerpt(line_text),
                frame=source.frame_at(problem.line, problem.column, problem.end_line, problem.end_column),
            )
        )
    found.sort(key=lambda finding: (finding.line, finding.column))
    return CompileResult(tuple(found), complete)


def _problems(path: str, text: str, source: SourceText) -> tuple[list[_Problem], bool]:
    problems: list[_Problem] = []
    with _warnings_lock, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            module: ast.Module | None = ast.parse(text, path)
        except (SyntaxError, ValueError, RecursionError) as exc:
            problems.append(_from_error(exc, source, PARSE_ERROR))
            module = None
        parsed = module is not None
        for _ in range(MAX_COMPILE_ERRORS):
            if module is None:
                break
            try:
                compile(module, path, "exec", dont_inherit=True)
                break
            except RecursionError as exc:
                # Nesting too deep for CPython: importing the file would fail the same way.
                problems.append(_from_error(exc, source, COMPILE_ERROR))
                break
            except SyntaxError as exc:
                problem = _from_error(exc, source, COMPILE_ERROR)
                if problem in problems:
                    break
                problems.append(problem)
                module = _without_statement_at(module, problem.line, problem.column, source)
    seen: set[tuple[int, str]] = set()
    for warning in caught:
        key = (warning.lineno, str(warning.message))
        if key not in seen and issubclass(warning.category, (SyntaxWarning, DeprecationWarning)):
            seen.add(key)
            line = warning.lineno or 1
            problems.append(_Problem(str(warning.message), line, 1, line, 1, WARNING))
    return problems, parsed


def _from_error(exc: SyntaxError | ValueError | RecursionError, source: SourceText, code: str) -> _Problem:
    if not isinstance(exc, SyntaxError) or exc.lineno is None:
        return _Problem(str(exc), 1, 1, 1, 1, code)
    line = exc.lineno
    column = exc.offset or 1
    end_line = exc.end_lineno or line
    end_column = exc.end_offset if exc.end_offset and exc.end_offset > 0 else column
    if exc.text is None:
        # Compiler-stage errors carry no text and count their offsets in UTF-8 bytes.
        column = source.column_of_byte(line, column - 1)
        end_column = source.column_of_byte(end_line, end_column - 1)
    if end_line == line and end_column < column:
        end_column = column
    return _Problem(exc.msg, line, column, end_line, end_column, code)


def _without_statement_at(
    module: ast.Module, line: int, column: int, source: SourceText
) -> ast.Module | None:
    """``module`` with the innermost statement at the 1-based position replaced by ``pass``."""
    byte_col = _byte_column(source.lines[line - 1] if line <= len(source.lines) else "", column)
    target: ast.stmt | None = None
    # ast.walk goes breadth first, so the last statement containing the position is the innermost.
    for node in ast.walk(module):
        if isinstance(node, ast.stmt) and _contains(node, line - 1, byte_col):
            target = node
    if target is None:
        return None
    found = target

    class _Replace(ast.NodeTransformer):
        def visit(self, node: ast.AST) -> ast.AST:
            if node is found:
                return ast.copy_location(ast.Pass(), node)
            return super().visit(node)

    try:
        replaced = _Replace().visit(module)
    except RecursionError:
        return None
    return replaced if isinstance(replaced, ast.Module) else None


def _contains(node: ast.stmt, row: int, byte_col: int) -> bool:
    end_line = node.end_lineno if node.end_lineno is not None else node.lineno
    end_col = node.end_col_offset if node.end_col_offset is not None else node.col_offset
    return (node.lineno - 1, node.col_offset) <= (row, byte_col) <= (end_line - 1, end_col)


def _byte_column(line_text: str, column: int) -> int:
    return len(line_text[: max(column - 1, 0)].encode("utf-8", errors="replace"))
