"""Syntax findings from tree-sitter: every ERROR and MISSING node of a file's parse tree.

An ERROR node is reported once, for its outermost extent: errors nested inside it are the same mistake
seen from further in. Its position is the first token inside it that no complete construct claims (see
``_focus``), which is usually the mistake itself rather than where tree-sitter began to recover. A
MISSING node is reported as "missing ';'" (or the kind of node that is missing) at its zero-width
position. Each finding names its enclosing definitions (from the language's definition table) and
carries a code frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import tree_sitter as ts

from podium.verification.changes import ChangeSet
from podium.verification.errors import VerificationError
from podium.verification.findings import Finding, code_frame, normalise_excerpt
from podium.verification.languages import LanguageSpec, language_for_path, parser
from podium.verification.sources import FileFindings, SourceReport

SOURCE = "tree-sitter"
SYMBOL_LIMIT = 80
"""Characters kept of one definition's name (a C++ declarator can be long)."""
MESSAGE_EXCERPT = 40
"""Characters of the offending text quoted in a syntax error's message."""


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

    def column_of_byte(self, line: int, byte_column: int) -> int:
        """The 1-based character column of a 0-based byte offset on a 1-based line."""
        return self.column(ts.Point(line - 1, byte_column))

    def frame(self, start: ts.Point, end: ts.Point) -> str:
        """A code frame for a node spanning ``start`` to ``end``."""
        return self.frame_at(start.row + 1, self.column(start), end.row + 1, self.column(end))

    def frame_at(self, line: int, column: int, end_line: int, end_column: int) -> str:
        """A code frame for a 1-based span."""
        return code_frame(self.lines, line, column, end_line, end_column)


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


@dataclass(frozen=True, slots=True)
class TreeSitterSource:
    """The syntax check of every file whose extension names a known language."""

    name: str = SOURCE

    def check(self, changes: ChangeSet) -> SourceReport:
        """Syntax findings before and after the edit; a note for each file of an unknown type."""
        files: list[FileFindings] = []
        notes: list[str] = []
        for change in changes.files:
            if change.after is None:
                continue
            spec = language_for_path(change.path)
            if spec is None:
                notes.append(f"{change.path}: no syntax check for this file type")
                continue
            # The old text is read with the new path's grammar: a rename to another language is
            # judged by the language the file has now.
            before = () if change.before is None else syntax_findings(change.path, change.before, spec)
            files.append(FileFindings(change.path, before, syntax_findings(change.path, change.after, spec)))
        return SourceReport(tuple(files), tuple(notes))


@lru_cache(maxsize=32)
def syntax_findings(path: str, text: str, spec: LanguageSpec) -> tuple[Finding, ...]:
    """Every syntax error tree-sitter finds in ``text``, in source order.

    Results are cached briefly because the Python compiler source asks for the same file's findings.
    """
    source = SourceText(text)
    tree = parse(source.data, spec)
    found: list[Finding] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            found.append(_finding(path, node, spec, source))
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
    if target is None:
        return ""
    name = " ".join(_text(target).split()).strip("\"'")
    return name[:SYMBOL_LIMIT]


def _finding(path: str, node: ts.Node, spec: LanguageSpec, source: SourceText) -> Finding:
    end = node.end_point
    if node.is_missing:
        code = "missing-node"
        start = node.start_point
        kind = node.type if node.is_named else f"'{node.type}'"
        message = f"missing {kind}"
        # A missing token has no text of its own; the construct it belongs to identifies it.
        context = node.parent
        while context is not None and not _text(context).strip():
            context = context.parent
        around = normalise_excerpt(_text(context)) if context is not None else ""
        excerpt = f"<missing {node.type}> {around}".rstrip()
        anchor = node
    else:
        code = "syntax-error"
        anchor = _focus(node) or node
        start = anchor.start_point
        excerpt = normalise_excerpt(source.data[anchor.start_byte : node.end_byte].decode("utf-8", "replace"))
        message = f"syntax error near `{_shorten(excerpt)}`" if excerpt else "syntax error"
    return Finding(
        source=SOURCE,
        code=code,
        message=message,
        path=path,
        line=start.row + 1,
        column=source.column(start),
        end_line=end.row + 1,
        end_column=source.column(end),
        symbol=enclosing_symbol(anchor, spec),
        excerpt=excerpt,
        frame=source.frame(start, end),
    )


def _focus(node: ts.Node) -> ts.Node | None:
    """The first token inside an error region that no complete construct claims.

    tree-sitter starts an ERROR node where it gave up trying alternatives, which can be far above the
    actual mistake (a Python ``def`` missing its colon turns the whole module into one ERROR). Complete,
    error-free constructs inside the region parsed fine; the first loose token is where the trouble is.
    """
    # Depth-first, in source order, iteratively: error paths can be as deep as the text is nested.
    stack = [(child, node.is_error) for child in reversed(node.children)]
    while stack:
        child, inside_error = stack.pop()
        if child.is_missing:
            return child
        if child.is_error or child.has_error:
            stack.extend((grandchild, child.is_error) for grandchild in reversed(child.children))
        elif inside_error and (not child.is_named or child.child_count == 0):
            return child
    return None


def _text(node: ts.Node) -> str:
    return node.text.decode("utf-8", errors="replace") if node.text else ""


def _shorten(text: str) -> str:
    return text if len(text) <= MESSAGE_EXCERPT else text[: MESSAGE_EXCERPT - 1] + "…"
