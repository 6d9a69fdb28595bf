"""TypeScript and JavaScript fault injectors: a syntax error and an undefined name, found with tree-sitter.

As for Python (``faults.py``), each injector lists every place on the given lines where its fault fits; the
case builder picks one with its seeded generator. A syntax fault drops the closing parenthesis of a call's
arguments that sit on one line (and must leave a tree with an error); an undefined name renames an
identifier read in an expression to a misspelling that appears nowhere in the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator

import tree_sitter as ts

from podium.verification.languages import language_for_path, parser
from tests.bench.gate_corpus.mutation import Fault, typo
from tests.bench.gate_corpus.pyscope import byte_to_char

TS_KINDS = ("ts-syntax", "ts-undefined-name")
"""The fault categories of TypeScript/JavaScript bad cases, in report order."""
READ_ANYWHERE = frozenset(
    {
        "arguments", "binary_expression", "return_statement", "unary_expression", "ternary_expression",
        "array", "parenthesized_expression", "spread_element", "await_expression", "template_substitution",
        "subscript_expression", "as_expression", "non_null_expression", "satisfies_expression",
        "throw_statement", "expression_statement",
    }
)  # fmt: skip
"""Parents under which an identifier is always read, never declared."""
READ_IN_FIELD = {
    "call_expression": "function",
    "member_expression": "object",
    "new_expression": "constructor",
    "variable_declarator": "value",
    "assignment_expression": "right",
    "augmented_assignment_expression": "right",
    "pair": "value",
}
"""Parents under which an identifier is read only in one field."""
CLOSED = frozenset({"arguments", "formal_parameters", "parenthesized_expression", "array", "object"})
"""Bracketed nodes whose closing bracket a syntax fault drops."""
REFERENCES = frozenset({"identifier", "type_identifier", "shorthand_property_identifier"})
"""Nodes that name a value or a type (a misspelt one is "Cannot find name")."""
DECLARING_TYPES = frozenset(
    {
        "type_alias_declaration", "interface_declaration", "class_declaration", "abstract_class_declaration",
        "type_parameter", "enum_declaration", "class", "nested_type_identifier",
    }
)  # fmt: skip
"""Parents of a ``type_identifier`` that declare it (or qualify it) rather than refer to it."""
GLOBALS = frozenset(
    {
        "name", "length", "status", "event", "origin", "top", "self", "parent", "close", "open", "stop",
        "print", "find", "focus", "blur", "scroll", "alert", "confirm", "prompt", "frames", "window",
        "document", "location", "history", "screen", "navigator", "closed", "opener", "external",
    }
)  # fmt: skip
"""DOM globals a misspelling must not land on (TypeScript's default libraries include the DOM)."""


_SUPPRESSING = re.compile(r"@ts-(?:expect-error|ignore)\b")


def _suppressed(source: list[str], line: int) -> bool:
    """Whether a suppression directive sits in the comment lines right above 1-based ``line`` (TypeScript
    applies it to the next line of code, skipping comments such as an eslint directive)."""
    row = line - 2
    while row >= 0 and source[row].lstrip().startswith("//"):
        if _SUPPRESSING.search(source[row]):
            return True
        row -= 1
    return False


def parses_cleanly(path: str, text: str) -> bool:
    """Whether tree-sitter parses ``text`` as ``path``'s language without an error or missing node."""
    spec = language_for_path(path)
    return spec is not None and not parser(spec).parse(text.encode("utf-8")).root_node.has_error


def ts_sound(path: str) -> Callable[[Fault, str], bool]:
    """The soundness test of ``pick`` for a file named ``path``: only syntax faults break the parse."""
    return lambda fault, faulty: parses_cleanly(path, faulty) != (fault.kind == "ts-syntax")


def ts_faults(kind: str, path: str, text: str, lines: Collection[int]) -> list[Fault]:
    """Every place on ``lines`` of ``text`` (a file named ``path``) where a fault of ``kind`` fits.

    A syntax fault is sound only if tree-sitter then finds an error: ``pick`` with ``parses_cleanly``.
    """
    spec = language_for_path(path)
    if spec is None:
        return []
    tree = parser(spec).parse(text.encode("utf-8"))
    source = text.split("\n")
    # A line under `@ts-expect-error` / `@ts-ignore` has its type errors silenced by the project itself:
    # an undefined name there is correctly not reported, so it cannot be a fault the gate should catch.
    lines = {n for n in lines if not _suppressed(source, n)}
    if kind == "ts-syntax":
        return list(_syntax(tree.root_node, source, lines))
    taken = {*_identifiers(tree.root_node), *GLOBALS}
    return list(_undefined_name(tree.root_node, source, lines, taken))


def _walk(node: ts.Node) -> Iterator[ts.Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _on_one_line(node: ts.Node, lines: Collection[int]) -> int | None:
    """The 1-based line of a node that sits on one of ``lines``, else None."""
    row = node.start_point.row
    return row + 1 if node.end_point.row == row and row + 1 in lines else None


def _syntax(root: ts.Node, source: list[str], lines: Collection[int]) -> Iterator[Fault]:
    for node in _walk(root):
        line = _on_one_line(node, lines)
        if node.type not in CLOSED or line is None:
            continue
        end = byte_to_char(source[line - 1], node.end_point.column)
        closer = source[line - 1][end - 1 : end]
        if closer not in (")", "]", "}"):
            continue
        label = f"dropped the closing {closer!r} of {node.type.replace('_', ' ')} at column {end}"
        yield Fault("ts-syntax", line, label, start=end - 1, end=end)


def _identifiers(root: ts.Node) -> set[str]:
    return {
        (node.text or b"").decode("utf-8", "replace")
        for node in _walk(root)
        if node.type
        in ("identifier", "property_identifier", "type_identifier", "shorthand_property_identifier")
    }


def _is_read(node: ts.Node) -> bool:
    parent = node.parent
    if parent is None:
        return False
    if node.type == "type_identifier":
        return parent.type not in DECLARING_TYPES
    if node.type == "shorthand_property_identifier":
        return parent.type == "object"
    if parent.type in READ_ANYWHERE:
        return True
    field = READ_IN_FIELD.get(parent.type)
    return field is not None and parent.child_by_field_name(field) == node


def _undefined_name(
    root: ts.Node, source: list[str], lines: Collection[int], taken: set[str]
) -> Iterator[Fault]:
    for node in _walk(root):
        line = _on_one_line(node, lines)
        if node.type not in REFERENCES or line is None or not _is_read(node):
            continue
        name = (node.text or b"").decode("utf-8", "replace")
        new = typo(name, taken)
        start = byte_to_char(source[line - 1], node.start_point.column)
        end = byte_to_char(source[line - 1], node.end_point.column)
        if new is None or source[line - 1][start:end] != name:
            continue
        label = f"renamed {name!r} to unbound {new!r}"
        yield Fault("ts-undefined-name", line, label, new, start=start, end=end, replacement=new)
