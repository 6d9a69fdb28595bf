"""Syntax findings from tree-sitter: every ERROR and MISSING node of a file's parse tree.

An ERROR node is reported once, at its outermost extent: errors nested inside it are the same mistake
seen from further in. Each finding names its enclosing definition (from the language's definition
table) and carries a code frame.
"""

from __future__ import annotations

import logging

import tree_sitter as ts

from podium.verification.errors import VerificationError
from podium.verification.findings import Finding, code_frame, normalise_excerpt
from podium.verification.languages import LanguageSpec, parser

logger = logging.getLogger(__name__)

SOURCE = "tree-sitter"
SYMBOL_LIMIT = 80
"""Characters kept of one definition's name (a C++ declarator can be long)."""


class SourceText:
    """A file's text with the conversions between tree-sitter byte points and 1-based character columns."""

    __slots__ = ("data", "lines", "_byte_lines")

    def __init__(self, text: str) -> None:
        self.data = text.encode("utf-8", errors="replace")
        # tree-sitter counts rows at "\n" only, so the lines must be split the same way.
        self.lines = [line.removesuffix("\r") for line in text.split("\n")]
        self._byte_lines = self.data.split(b"\n")

    def column(self, point: ts.Point) -> int:
        """The 1-based character column of a tree-sitter point."""
        row, col = point
        if row >= len(self._byte_lines):
            return 1
        return len(self._byte_lines[row][:col].decode("utf-8", errors="replace")) + 1

    def frame(self, start: ts.Point, end: ts.Point) -> str:
        """A code frame for a node spanning ``start`` to ``end``."""
        return code_frame(self.lines, start.row + 1, self.column(start), end.row + 1, self.column(end))


def parse(text: str | bytes, spec: LanguageSpec) -> ts.Tree:
    """Parse ``text`` with the grammar of ``spec``.

    Raises:
        VerificationError: the tree-sitter library itself failed (not a syntax error in the text).
    """
    data = text.encode("utf-8", errors="replace") if isinstance(text, str) else text
    try:
        return parser(spec).parse(data)
    except (ValueError, RuntimeError, MemoryError) as exc:
        raise VerificationError(f"tree-sitter failed to parse {spec.name} source: {exc}") from exc


def syntax_findings(path: str, text: str, spec: LanguageSpec) -> tuple[Finding, ...]:
    """Every syntax error tree-sitter finds in ``text``, in source order."""
    source = SourceText(text)
    tree = parse(source.data, spec)
    found: list[Finding] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error:
            found.append(_finding(path, node, spec, source, "syntax-error", _error_message(node)))
        elif node.is_missing:
            found.append(_finding(path, node, spec, source, "missing-node", f"missing {_token(node.type)}"))
        elif node.has_error:
            stack.extend(reversed(node.children))
    return tuple(found)


def enclosing_symbol(node: ts.Node, spec: LanguageSpec) -> str:
    """Dotted names of the definitions around ``node``, outermost first ("" at top level)."""
    names: list[str] = []
    current = node.parent
    while current is not None:
        fields = spec.definitions.get(current.type)
        if fields is not None:
            name = _definition_name(current, fields)
            if name:
                names.append(name)
        current = current.parent
    return ".".join(reversed(names))


def _definition_name(node: ts.Node, fields: tuple[str, ...]) -> str:
    target: ts.Node | None = None
    for name in fields:
        target = node.child_by_field_name(name)
        if target is not None:
            break
    if not fields:
        target = node.named_children[0] if node.named_child_count else None
    # C-family declarators nest (pointer → function → identifier); the name is at the bottom.
    while target is not None and (inner := target.child_by_field_name("declarator")) is not None:
        target = inner
    if target is None or target.text is None:
        return ""
    name = " ".join(target.text.decode("utf-8", errors="replace").split()).strip("\"'")
    return name[:SYMBOL_LIMIT]


def _finding(
    path: str, node: ts.Node, spec: LanguageSpec, source: SourceText, code: str, message: str
) -> Finding:
    start, end = node.start_point, node.end_point
    raw = node.text.decode("utf-8", errors="replace") if node.text else ""
    return Finding(
        source=SOURCE,
        code=code,
        message=message,
        path=path,
        line=start.row + 1,
        column=source.column(start),
        end_line=end.row + 1,
        end_column=source.column(end),
        symbol=enclosing_symbol(node, spec),
        excerpt=normalise_excerpt(raw) if raw else f"<missing {node.type}>",
        frame=source.frame(start, end),
    )


def _error_message(node: ts.Node) -> str:
    first = node.child(0)
    while first is not None and first.child_count:
        first = first.child(0)
    if first is None or not first.text:
        return "syntax error"
    token = first.text.decode("utf-8", errors="replace").split("\n", 1)[0]
    if len(token) > 20:
        token = token[:19] + "…"
    return f"syntax error: unexpected {_token(token)}"


def _token(kind: str) -> str:
    return f"'{kind}'" if not kind.isidentifier() or kind.isupper() else kind
