"""Call findings anchored on the callee: a callee the checker already misreads before the edit stays misread.

A type checker that cannot see a constructor as it is (attrs strips the underscore of ``_shield`` and takes
``shield=``; pyright's dataclass model does not) reports every call of it, before the edit and after. Matching
those reports line by line cannot work when the edit adds or rewrites calls of that callee: each new call is
a "new" finding. Anchored on the callee instead (the called expression's text, ``trio.CancelScope``), a new
call finding whose callee the checker already reported calls of in the old file is the same disagreement,
pre-existing, not a fault the edit made. A callee the old file called cleanly keeps every new call finding.
"""

from __future__ import annotations

from collections.abc import Iterable

import tree_sitter as ts

from podium.verification.errors import VerificationError
from podium.verification.findings import Finding
from podium.verification.languages import language_for_path
from podium.verification.syntax import parse

CALL_RULES = frozenset({"reportCallIssue"})
"""Findings about the callee's signature as the checker models it (arity, keywords). Not a wrong argument
type (``reportArgumentType``): that is about one argument, and an old call's mismatch on one parameter says
nothing of a new call's on another (a literal passed to ``length: int | None``)."""


def split_known_callees(
    new: Iterable[Finding],
    before: Iterable[Finding],
    path: str,
    before_text: str | None,
    after_text: str | None,
) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    """``new`` split into (still new, pre-existing): call findings on a callee ``before`` already had."""
    new = tuple(new)
    calls = [f for f in new if f.code in CALL_RULES]
    old = [f for f in before if f.code in CALL_RULES]
    if not calls or not old or not before_text or not after_text:
        return new, ()
    spec = language_for_path(path)
    if spec is None or spec.name != "python":
        return new, ()
    try:
        old_tree, new_tree = parse(before_text, spec), parse(after_text, spec)
    except VerificationError:
        return new, ()
    known = {(f.code, callee) for f in old if (callee := _callee(old_tree, before_text, f))}
    if not known:
        return new, ()
    kept: list[Finding] = []
    moved: list[Finding] = []
    for finding in new:
        callee = _callee(new_tree, after_text, finding) if finding.code in CALL_RULES else None
        (moved if callee and (finding.code, callee) in known else kept).append(finding)
    return tuple(kept), tuple(moved)


def _callee(tree: ts.Tree, text: str, finding: Finding) -> str | None:
    """The text of the function expression of the innermost call around the finding's start."""
    lines = text.split("\n")
    if not 1 <= finding.line <= len(lines):
        return None
    row = finding.line - 1
    column = len(lines[row][: max(finding.column - 1, 0)].encode("utf-8"))
    node: ts.Node | None = tree.root_node.descendant_for_point_range((row, column), (row, column))
    while node is not None and node.type != "call":
        node = node.parent
    function = node.child_by_field_name("function") if node is not None else None
    return None if function is None else (function.text or b"").decode("utf-8", "replace")
