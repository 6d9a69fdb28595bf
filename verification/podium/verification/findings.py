"""A problem found in a file by one verification source, and the code frame that shows it.

The same type carries tree-sitter syntax errors, Python compiler errors and (later) language-server
diagnostics, so the gate can compare and report them uniformly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info", "hint"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info", "hint")
"""From most to least severe."""

EXCERPT_LIMIT = 120
"""Characters of a finding's source text kept for display and identity."""

FRAME_CONTEXT = 2
"""Lines shown above the finding's line in a code frame (one is shown below)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place in one file.

    Positions are 1-based and meant for people: ``line`` counts lines, ``column`` counts Unicode
    characters (code points) from the start of the line. The end is exclusive, as in LSP ranges.

    Attributes:
        source: the check that found it ("tree-sitter", "python-compile", "ruff", …).
        code: stable machine-readable kind ("syntax-error", "missing-node", a linter rule id …).
        message: one line a person can act on.
        path: file path relative to the root, POSIX style.
        severity: one of ``SEVERITIES``.
        symbol: dotted name of the enclosing definition ("Parser.parse"), or "" at top level.
        excerpt: the offending source text with whitespace collapsed, cut to ``EXCERPT_LIMIT``; part of
            the finding's identity when before/after findings are compared.
        frame: a few numbered source lines with a caret under the position.
        reason: for a finding the gate holds against an edit, one line saying why it is the edit's
            doing (see ``attribution.py``); empty otherwise.
    """

    source: str
    code: str
    message: str
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    severity: Severity = "error"
    symbol: str = ""
    excerpt: str = ""
    frame: str = ""
    reason: str = ""

    @property
    def location(self) -> str:
        """``path:line:column``, the form editors and terminals turn into links."""
        return f"{self.path}:{self.line}:{self.column}"

    def to_dict(self) -> dict[str, str | int]:
        """A JSON-able dict with every field."""
        return {
            "source": self.source,
            "code": self.code,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "severity": self.severity,
            "symbol": self.symbol,
            "excerpt": self.excerpt,
            "frame": self.frame,
            "reason": self.reason,
        }


def at_least(severity: Severity, threshold: Severity) -> bool:
    """Whether ``severity`` is as severe as ``threshold`` or more."""
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


_NUMBER = re.compile(r"\d+")


def identity_message(message: str) -> str:
    """The message as compared across an edit: its numbers do not count.

    Tools quote line numbers ("redefinition of unused `x` from line 3") and counts that an edit elsewhere
    shifts; the rest of a finding's identity (code, source text, enclosing definition) still tells two
    problems apart.
    """
    return _NUMBER.sub("#", message)


def normalise_excerpt(text: str) -> str:
    """Collapse runs of whitespace and cut to ``EXCERPT_LIMIT`` characters."""
    collapsed = " ".join(text.split())
    if len(collapsed) > EXCERPT_LIMIT:
        return collapsed[: EXCERPT_LIMIT - 1] + "…"
    return collapsed


def code_frame(lines: list[str], line: int, column: int, end_line: int, end_column: int) -> str:
    """Numbered lines around a 1-based position, with carets under the finding on its first line.

    ``lines`` is the file split at ``"\n"`` (as tree-sitter counts rows). Tabs in the line are kept in
    the caret row so the caret lines up however the reader's terminal expands them.
    """
    if not lines:
        return ""
    line = min(max(line, 1), len(lines))
    first = max(1, line - FRAME_CONTEXT)
    last = min(len(lines), line + 1)
    while last > line and not lines[last - 1].strip():
        last -= 1
    width = len(str(last))
    rows: list[str] = []
    for number in range(first, last + 1):
        text = lines[number - 1].rstrip()
        rows.append(f"{number:>{width}} | {text}".rstrip())
        if number == line:
            source = lines[number - 1]
            start = min(max(column, 1), len(source) + 1) - 1
            stop = end_column - 1 if end_line == line else len(source.rstrip())
            span = max(1, min(stop, len(source)) - start)
            pad = "".join("\t" if ch == "\t" else " " for ch in source[:start])
            rows.append(f"{'':>{width}} | {pad}{'^' * span}")
    return "\n".join(rows)
