"""Missing-attribute findings about a name its function narrows: the checker's flow analysis, not a contract.

``Cannot access attribute "escape" for class "str"`` is a real failure when the receiver is a ``str``
literal or a parameter declared ``str``. It is one checker's reading of the control flow when the
function narrows that name first (``isinstance``, ``hasattr``, ``callable``, ``issubclass``, ``type``):
pyright ignores ``hasattr``, cannot narrow to a class it could not import, and follows reassignments in
branches differently from mypy. On real release edits every remaining missing-attribute rejection of
correct code was of this kind (rich, jinja2, werkzeug; docs/performance.md), and none of the injected
faults is: their receivers are modules and literals, which nothing narrows.
"""

from __future__ import annotations

import re

import tree_sitter as ts

from podium.verification.errors import VerificationError
from podium.verification.findings import Finding
from podium.verification.languages import language_for_path
from podium.verification.syntax import parse

_MISSING_ATTRIBUTE = re.compile(r'^Cannot access (?:attribute )?"(?P<name>[^"]+)" for class "[^"]*"')
_NARROWERS = frozenset({"isinstance", "issubclass", "hasattr", "callable", "type"})
_SCOPES = frozenset({"function_definition", "lambda", "module"})


def on_narrowed_names(findings: tuple[Finding, ...], path: str, text: str | None) -> tuple[Finding, ...]:
    """The missing-attribute findings among ``findings`` whose receiver its function narrows earlier."""
    candidates = [f for f in findings if _MISSING_ATTRIBUTE.match(f.message)]
    spec = language_for_path(path)
    if not candidates or not text or spec is None or spec.name != "python":
        return ()
    try:
        tree = parse(text, spec)
    except VerificationError:
        return ()
    lines = text.split("\n")
    return tuple(f for f in candidates if _narrowed(tree, lines, f))


def _narrowed(tree: ts.Tree, lines: list[str], finding: Finding) -> bool:
    if not 1 <= finding.line <= len(lines):
        return False
    row = finding.line - 1
    byte_column = len(lines[row][: max(finding.column - 1, 0)].encode("utf-8"))
    node = tree.root_node.descendant_for_point_range((row, byte_column), (row, byte_column))
    while node is not None and node.type != "attribute":
        node = node.parent
    receiver = node.child_by_field_name("object") if node is not None else None
    if node is None or receiver is None or receiver.type != "identifier":
        return False
    scope = node.parent
    while scope is not None and scope.type not in _SCOPES:
        scope = scope.parent
    return scope is not None and _tests(scope, _text(receiver), node.start_byte)


def _tests(scope: ts.Node, name: str, before: int) -> bool:
    """Whether ``scope`` calls a narrowing builtin on ``name`` before byte ``before``."""
    stack = [scope]
    while stack:
        node = stack.pop()
        if node.start_byte >= before:
            continue
        if node.type == "call":
            function = node.child_by_field_name("function")
            arguments = node.child_by_field_name("arguments")
            first = arguments.named_children[0] if arguments and arguments.named_children else None
            if (
                function is not None
                and _text(function) in _NARROWERS
                and first is not None
                and first.type == "identifier"
                and _text(first) == name
            ):
                return True
        stack.extend(node.children)
    return False


def _text(node: ts.Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")
