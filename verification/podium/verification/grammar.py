"""When tree-sitter's grammar and the language's own parser disagree about an edited file.

tree-sitter grammars lag their languages (TypeScript's `in out` variance annotations, new Python syntax),
and other parsers' error recovery around an old syntax error shifts as the text near it changes. The
gate asks the language's own parser (CPython's, or the TypeScript server's) before it blames an edit.
"""

from __future__ import annotations

import ast

from podium.verification.changes import FileChange
from podium.verification.delta import classify
from podium.verification.findings import Finding
from podium.verification.linemap import LineMap
from podium.verification.sources import FileFindings, SourceReport

SYNTAX_AUTHORITIES: tuple[tuple[str, str], ...] = (("tsserver", "TS1"),)
"""Language servers that parse with the language's own parser, with the codes of their syntax errors."""
SYNTAX_ERROR_CODES: tuple[tuple[str, str], ...] = (("ruff", "invalid-syntax"), ("tsserver", "TS1"))
"""Finding codes by which diagnostics sources report syntax errors."""


def is_syntax_error(finding: Finding) -> bool:
    return any(finding.source == s and finding.code.startswith(c) for s, c in SYNTAX_ERROR_CODES)


def _parses_as_python(change: FileChange | None) -> bool:
    if change is None or change.after is None or not change.path.endswith((".py", ".pyi")):
        return False
    try:
        compile(change.after, change.path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def without_grammar_gaps(
    reports: list[tuple[str, SourceReport, float]], by_path: dict[str, FileChange]
) -> tuple[list[tuple[str, SourceReport, float]], dict[str, str]]:
    """The reports with tree-sitter's new findings dropped where the language's own parser sees none.

    tree-sitter grammars lag their languages (TypeScript's `in out` variance, new Python syntax): when
    CPython's parser or the language's server parsed the edited file and found no syntax error, the grammar
    is wrong, not the edit.
    """
    authorities: dict[str, str] = {}
    for name, report, _ in reports:
        codes = dict(SYNTAX_AUTHORITIES).get(name)
        if codes is None or report.failure:
            continue
        for found in report.files:
            if not any(f.code.startswith(codes) for f in found.after):
                authorities.setdefault(found.path, name)
    gaps: dict[str, str] = {}
    kept: list[tuple[str, SourceReport, float]] = []
    for name, report, elapsed in reports:
        if name != "tree-sitter":
            kept.append((name, report, elapsed))
            continue
        files: list[FileFindings] = []
        for found in report.files:
            authority = _overruled_by(found, by_path.get(found.path), authorities)
            if authority is not None:
                gaps[found.path] = authority
                files.append(FileFindings(found.path, (), ()))
            else:
                files.append(found)
        kept.append((name, SourceReport(tuple(files), report.notes, report.failure), elapsed))
    return kept, gaps


def _overruled_by(found: FileFindings, change: FileChange | None, authorities: dict[str, str]) -> str | None:
    """Which parser overrules tree-sitter's new syntax errors in ``found``, if any."""
    if change is None or not found.after:
        return None
    authority = "CPython's parser" if _parses_as_python(change) else authorities.get(found.path)
    if authority is None or not classify(found.before, found.after, linemap_for(change, found)).new:
        return None
    return authority


def linemap_for(change: FileChange | None, found: FileFindings | None) -> LineMap | None:
    if change is None:
        if found is None:
            return None
        # A file outside the change set (a language server reporting on a dependent file) is unchanged.
        lines = max((f.end_line for f in (*found.before, *found.after)), default=1)
        return LineMap.unchanged(lines)
    if change.before is None or change.after is None:
        return None
    return LineMap.between(change.before, change.after)
