"""What the Python fault injectors need to know about a module: its nodes by line, its bindings, its calls.

The facts are deliberately conservative. A name counts as bound if it is bound *anywhere* in the module
(any scope), so a fault that needs "bound exactly once" or "never bound" cannot be fooled by shadowing; a
call resolves only to a plain, undecorated function of the same module or to a plain method of the class
whose method makes the call on ``self``.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar

SIMPLE_TYPES = frozenset({"int", "float", "bool", "str", "bytes"})
"""Annotations a wrong-type fault understands (alone, with ``None``, in ``Optional``/``Union``/``|``)."""
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
N = TypeVar("N", bound=ast.AST)


def byte_to_char(line: str, offset: int) -> int:
    """A UTF-8 byte offset in ``line`` (as ``ast`` gives) as a character offset."""
    return len(line.encode("utf-8")[:offset].decode("utf-8", errors="replace"))


def single_line(node: ast.expr | ast.stmt) -> bool:
    return node.end_lineno == node.lineno


FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(slots=True)
class Scope:
    """A parsed module and its bindings. ``lines`` split on ``\\n`` only, as diffs do."""

    text: str
    tree: ast.Module
    lines: list[str]
    identifiers: set[str]
    bindings: Counter[str] = field(default_factory=Counter[str])
    star_import: bool = False
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict[ast.AST, ast.AST])
    in_fstring: set[ast.AST] = field(default_factory=set[ast.AST])
    by_line: dict[int, list[ast.expr | ast.stmt]] = field(
        default_factory=dict[int, list[ast.expr | ast.stmt]]
    )

    @staticmethod
    def of(text: str) -> Scope | None:
        """The scope of ``text``, or None when it does not parse (the last few are kept)."""
        return _scope_of(text)

    def _index(self) -> None:
        for parent in ast.walk(self.tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent
                if isinstance(parent, ast.JoinedStr) or parent in self.in_fstring:
                    self.in_fstring.add(child)
            self._bind(parent)
            if (
                isinstance(parent, ast.expr | ast.stmt)
                and single_line(parent)
                and parent not in self.in_fstring
            ):
                self.by_line.setdefault(parent.lineno, []).append(parent)

    def _bind(self, node: ast.AST) -> None:
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            self.bindings[node.id] += 1
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self.bindings[node.name] += 1
        elif isinstance(node, ast.arg):
            self.bindings[node.arg] += 1
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    self.star_import = True
                bound = alias.asname or alias.name.partition(".")[0]
                self.bindings[bound] += 1
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self.bindings[node.name] += 1
        elif isinstance(node, ast.Global | ast.Nonlocal):
            for name in node.names:
                self.bindings[name] += 1
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            self.bindings[node.name] += 1
        elif isinstance(node, ast.MatchMapping) and node.rest:
            self.bindings[node.rest] += 1

    def nodes(self, kinds: tuple[type[N], ...], lines: Collection[int]) -> Iterator[N]:
        """Nodes of ``kinds`` that start and end on one of ``lines``, outside f-strings, in file order."""
        for line in sorted(set(lines) & self.by_line.keys()):
            found = [node for node in self.by_line[line] if isinstance(node, kinds)]
            yield from sorted(found, key=lambda n: getattr(n, "col_offset", 0))

    def loads(self) -> dict[str, set[int]]:
        """Lines where each name is read."""
        found: dict[str, set[int]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                found.setdefault(node.id, set()).add(node.lineno)
        return found

    def callee(self, call: ast.Call) -> tuple[FunctionNode, int] | None:
        """The plain function ``call`` calls and how many leading parameters it binds implicitly (self)."""
        func = call.func
        if isinstance(func, ast.Name):
            if self.bindings[func.id] != 1:
                return None
            for statement in self.tree.body:
                if isinstance(statement, FunctionNode) and statement.name == func.id:
                    return (statement, 0) if self._plain(statement) else None
                if isinstance(statement, ast.ClassDef) and statement.name == func.id:
                    return self._constructor(statement)
            return None
        if not (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self"
        ):
            return None
        method = self._enclosing_method(call)
        owner = self.parents.get(method) if method is not None else None
        if not isinstance(owner, ast.ClassDef):
            return None
        matches = [s for s in owner.body if isinstance(s, FunctionNode) and s.name == func.attr]
        if len(matches) != 1 or not self._plain(matches[0]) or not _takes_self(matches[0]):
            return None
        if any(isinstance(s, ast.Assign | ast.AnnAssign) and func.attr in ast.unparse(s) for s in owner.body):
            return None
        return matches[0], 1

    def _constructor(self, cls: ast.ClassDef) -> tuple[FunctionNode, int] | None:
        """The ``__init__`` a plain class's constructor calls (no decorator, metaclass or ``__new__``)."""
        if cls.decorator_list or cls.keywords:
            return None
        methods = {s.name: s for s in cls.body if isinstance(s, FunctionNode)}
        init = methods.get("__init__")
        if "__new__" in methods or init is None or not self._plain(init) or not _takes_self(init):
            return None
        return init, 1

    def _enclosing_method(self, node: ast.AST) -> FunctionNode | None:
        current = self.parents.get(node)
        while current is not None and not isinstance(current, FunctionNode):
            current = self.parents.get(current)
        if current is None or not _takes_self(current):
            return None
        return current

    def _plain(self, function: FunctionNode) -> bool:
        return not function.decorator_list

    def simple_types(self, annotation: ast.expr | None) -> frozenset[str] | None:
        """The simple types an annotation accepts (``"None"`` included), or None when it is not simple."""
        if annotation is None:
            return None
        if isinstance(annotation, ast.Name):
            ok = annotation.id in SIMPLE_TYPES and not self.bindings[annotation.id]
            return frozenset({annotation.id}) if ok else None
        if isinstance(annotation, ast.Constant) and annotation.value is None:
            return frozenset({"None"})
        if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
            left, right = self.simple_types(annotation.left), self.simple_types(annotation.right)
            return left | right if left is not None and right is not None else None
        if isinstance(annotation, ast.Subscript):
            name = annotation.value
            head = (
                name.attr
                if isinstance(name, ast.Attribute)
                else name.id
                if isinstance(name, ast.Name)
                else ""
            )
            items = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
            parts = [self.simple_types(item) for item in items]
            if head not in ("Optional", "Union") or any(p is None for p in parts):
                return None
            merged = frozenset[str]().union(*(p for p in parts if p is not None))
            return merged | {"None"} if head == "Optional" else merged
        return None


@lru_cache(maxsize=8)
def _scope_of(text: str) -> Scope | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    scope = Scope(text, tree, text.split("\n"), set(_IDENTIFIER.findall(text)))
    scope._index()  # pyright: ignore[reportPrivateUsage]
    return scope


def _takes_self(function: FunctionNode) -> bool:
    params = [*function.args.posonlyargs, *function.args.args]
    return bool(params) and params[0].arg == "self"
