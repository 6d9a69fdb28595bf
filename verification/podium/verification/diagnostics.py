"""Diagnostics from language servers and linters turned into ``Finding``s, and the cache of base results.

Both kinds of source report a range, a severity, a rule code and a message. This module maps them onto the
gate's currency: 1-based lines and code-point columns (LSP counts UTF-16 units by default), the severity
names of ``findings.py``, the excerpt of the range (part of a finding's identity), the enclosing definition
found with tree-sitter (so identities survive line shifts), and a code frame.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import tree_sitter as ts

from podium.verification.findings import Finding, Severity, code_frame, normalise_excerpt
from podium.verification.languages import language_for_path
from podium.verification.lspclient import as_object
from podium.verification.syntax import enclosing_symbol, parse

BASE_CACHE_SIZE = 512
"""Base-state results kept per source (one entry per file version)."""

_LSP_SEVERITIES: Mapping[int, Severity] = {1: "error", 2: "warning", 3: "info", 4: "hint"}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A problem as a tool reports it, before it is placed in the file's text.

    Lines are 0-based; characters are 0-based offsets in the tool's units (see ``to_findings``).
    """

    line: int
    character: int
    end_line: int
    end_character: int
    severity: Severity
    code: str
    message: str


def from_lsp(item: Mapping[str, Any]) -> Diagnostic:
    """An LSP ``Diagnostic`` object (plain JSON) as a ``Diagnostic``; a missing severity counts as error."""
    rng = as_object(item.get("range"))
    start = as_object(rng.get("start"))
    end = as_object(rng.get("end")) or start
    severity = item.get("severity")
    return Diagnostic(
        line=int(start.get("line", 0)),
        character=int(start.get("character", 0)),
        end_line=int(end.get("line", 0)),
        end_character=int(end.get("character", 0)),
        severity=_LSP_SEVERITIES.get(severity, "error") if isinstance(severity, int) else "error",
        code=rule_code(item.get("code"), item.get("source")),
        message=str(item.get("message", "")),
    )


def rule_code(code: Any, tool: Any = None) -> str:
    """A diagnostic's code as text; TypeScript's numeric codes read as ``TS2322`` as tsc prints them."""
    if code is None or code == "":
        return "unnamed"
    if isinstance(code, int) and str(tool).lower() in ("ts", "typescript"):
        return f"TS{code}"
    return str(code)


def to_findings(
    source: str, path: str, text: str, diagnostics: Iterable[Diagnostic], units: str = "utf-16"
) -> tuple[Finding, ...]:
    """Findings of ``source`` in ``path`` whose edited or base text is ``text``, in position order.

    ``units`` is what the tool's characters count: "utf-16" (the LSP default), "utf-32" (code points) or
    "utf-8" (bytes).
    """
    items = list(diagnostics)
    if not items:
        return ()
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    tree = _tree(path, text)
    spec = language_for_path(path)
    found: list[Finding] = []
    for item in items:
        line = min(max(item.line, 0), len(lines) - 1)
        end_line = min(max(item.end_line, line), len(lines) - 1)
        column = _column(lines[line], item.character, units)
        end_column = _column(lines[end_line], item.end_character, units)
        if end_line == line:
            end_column = max(end_column, column)
        symbol = ""
        if tree is not None and spec is not None:
            byte = len(lines[line][:column].encode("utf-8", errors="replace"))
            node = tree.root_node.descendant_for_point_range((line, byte), (line, byte))
            symbol = enclosing_symbol(node, spec) if node is not None else ""
        found.append(
            Finding(
                source=source,
                code=item.code,
                message=one_line(item.message),
                path=path,
                line=line + 1,
                column=column + 1,
                end_line=end_line + 1,
                end_column=end_column + 1,
                severity=item.severity,
                symbol=symbol,
                excerpt=_excerpt(lines, line, column, end_line, end_column),
                frame=code_frame(lines, line + 1, column + 1, end_line + 1, end_column + 1),
            )
        )
    found.sort(key=lambda f: (f.line, f.column, f.code, f.message))
    return tuple(found)


def one_line(message: str) -> str:
    """A multi-line tool message as one line: its non-empty lines joined by "; "."""
    parts = (" ".join(line.split()) for line in message.splitlines())
    return "; ".join(part for part in parts if part)


def text_digest(text: str) -> str:
    """A short content hash identifying one version of a file."""
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]


class BaseCache:
    """Findings of base (pre-edit) file versions, keyed by (path, content hash); least recently used go.

    The base of a task is the integration head, so the same file versions come back check after check.
    """

    def __init__(self, size: int = BASE_CACHE_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, str], tuple[Finding, ...]] = OrderedDict()

    def get(self, path: str, text: str) -> tuple[Finding, ...] | None:
        key = (path, text_digest(text))
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, path: str, text: str, findings: tuple[Finding, ...]) -> None:
        self._entries[(path, text_digest(text))] = findings
        self._entries.move_to_end((path, text_digest(text)))
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


def _column(line: str, offset: int, units: str) -> int:
    """The 0-based code-point column of a 0-based offset counted in ``units``, clamped to the line."""
    offset = max(offset, 0)
    if units == "utf-32" or line.isascii():
        return min(offset, len(line))
    counted = 0
    for index, char in enumerate(line):
        if counted >= offset:
            return index
        if units == "utf-16":
            counted += 2 if ord(char) > 0xFFFF else 1
        else:
            counted += len(char.encode("utf-8", errors="replace"))
    return len(line)


def _excerpt(lines: list[str], line: int, column: int, end_line: int, end_column: int) -> str:
    if (end_line, end_column) <= (line, column):
        return normalise_excerpt(lines[line])
    if end_line == line:
        return normalise_excerpt(lines[line][column:end_column])
    middle = lines[line + 1 : end_line]
    return normalise_excerpt(" ".join([lines[line][column:], *middle, lines[end_line][:end_column]]))


@lru_cache(maxsize=16)
def _tree(path: str, text: str) -> ts.Tree | None:
    spec = language_for_path(path)
    return parse(text, spec) if spec is not None else None
