"""Python fault injectors: one labelled fault per kind, on a line the caller chooses, deterministically.

Each injector lists every place in a file where its fault can go on one of the given ``lines`` (the lines
an edit added, for a bad case; unchanged lines, for a pre-existing problem) and returns them all; the case
builder picks one with its seeded ``random.Random``. Every fault but ``syntax`` leaves a file that still
compiles; each changes one line, except a removed import, which deletes its statement (the fault is then a
*removed* line, ``Fault.removed``). Positions come from ``ast``; a candidate whose source text does not read
as expected at the computed columns (f-strings before Python 3.12) is dropped rather than guessed.
"""

from __future__ import annotations

import ast
import inspect
import re
import types
from collections.abc import Callable, Collection, Iterator

from tests.bench.gate_corpus.mutation import Fault, typo
from tests.bench.gate_corpus.pyscope import Scope, byte_to_char, single_line
from tests.bench.gate_corpus.stdlib import static_owner, stdlib_names

PYTHON_KINDS = ("syntax", "undefined-name", "removed-import", "call-arity", "missing-attribute", "wrong-type")
"""The fault categories of Python bad cases, in report order."""
BUILTIN_ARITY = {
    "len": 1, "repr": 1, "callable": 1, "id": 1, "abs": 1, "ord": 1, "chr": 1, "hash": 1,
    "isinstance": 2, "issubclass": 2, "hasattr": 2, "delattr": 2, "divmod": 2, "setattr": 3,
}  # fmt: skip
"""Builtins whose positional arity is fixed: one more argument is always an error."""
BUILTIN_TYPES = {
    "len": (0, "123"), "ord": (0, "123"), "chr": (0, '"wrong"'), "isinstance": (1, '"wrong"'),
    "issubclass": (1, '"wrong"'), "hasattr": (1, "123"), "getattr": (1, "123"), "setattr": (1, "123"),
    "delattr": (1, "123"),
}  # fmt: skip
"""Builtins with an argument (by index) that a literal of the wrong type can replace (their typeshed
annotations reject it: ``len`` wants ``Sized``, ``getattr`` a ``str`` name, ``chr`` an ``int`` …)."""
SUPPRESSED = re.compile(r"#\s*(type:\s*ignore|noqa|pyright:\s*ignore)")


def python_faults(kind: str, text: str, lines: Collection[int]) -> list[Fault]:
    """Every place on ``lines`` of ``text`` where a fault of ``kind`` fits, unchecked (see ``pick``)."""
    scope = Scope.of(text)
    if scope is None or scope.star_import:
        return []
    usable = {n for n in lines if 0 < n <= len(scope.lines) and not SUPPRESSED.search(scope.lines[n - 1])}
    return list(_INJECTORS[kind](scope, usable))


def _span(scope: Scope, node: ast.expr | ast.stmt) -> tuple[int, int, int] | None:
    """(line, start, end) in characters of a node that sits on one line, else None."""
    if not single_line(node) or node.end_col_offset is None:
        return None
    text = scope.lines[node.lineno - 1]
    return node.lineno, byte_to_char(text, node.col_offset), byte_to_char(text, node.end_col_offset)


def _syntax(scope: Scope, lines: Collection[int]) -> Iterator[Fault]:
    closers = (ast.Call, ast.List, ast.Dict, ast.Set, ast.Subscript)
    for node in scope.nodes(closers, lines):
        span = _span(scope, node)
        if span is None:
            continue
        line, _, end = span
        closer = scope.lines[line - 1][end - 1 : end]
        if closer not in (")", "]", "}"):
            continue
        label = f"dropped the closing {closer!r} at column {end}"
        yield Fault("syntax", line, label, start=end - 1, end=end)


def _undefined_name(scope: Scope, lines: Collection[int]) -> Iterator[Fault]:
    for node in scope.nodes((ast.Name,), lines):
        if not isinstance(node.ctx, ast.Load):
            continue
        span = _span(scope, node)
        new = typo(node.id, scope.identifiers)
        if span is None or new is None or scope.lines[span[0] - 1][span[1] : span[2]] != node.id:
            continue
        label = f"renamed {node.id!r} to unbound {new!r}"
        yield Fault("undefined-name", span[0], label, new, start=span[1], end=span[2], replacement=new)


def _removed_import(scope: Scope, lines: Collection[int]) -> Iterator[Fault]:
    loads = scope.loads()
    for statement in scope.tree.body:
        if not isinstance(statement, ast.Import | ast.ImportFrom):
            continue
        if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
            continue
        for alias in statement.names:
            bound = alias.asname or alias.name
            if "." in bound or scope.bindings[bound] != 1 or not loads.get(bound):
                continue
            uses = sorted(loads[bound])
            if not set(uses) & set(lines) and statement.lineno not in lines:
                continue
            yield _drop_alias(scope, statement, alias, bound, uses[0])


def _drop_alias(
    scope: Scope, statement: ast.Import | ast.ImportFrom, alias: ast.alias, bound: str, use: int
) -> Fault:
    start, end = statement.lineno, statement.end_lineno or statement.lineno
    rest = [a for a in statement.names if a is not alias]
    if rest:
        kept = (
            ast.Import(rest)
            if isinstance(statement, ast.Import)
            else ast.ImportFrom(statement.module, rest, statement.level)
        )
        label = f"removed {bound!r} from the import on line {start} (used on line {use})"
        return Fault("removed-import", start, label, bound, replacement=ast.unparse(kept), last_line=end)
    label = f"deleted the import of {bound!r} on line {start} (used on line {use})"
    return Fault("removed-import", start, label, bound, removed=True, last_line=end)


def _call_arity(scope: Scope, lines: Collection[int]) -> Iterator[Fault]:
    modules = stdlib_names(scope)
    for call in scope.nodes((ast.Call,), lines):
        if call.keywords or any(isinstance(a, ast.Starred) for a in call.args):
            continue
        known = _arity(scope, call, modules)
        span = _span(scope, call)
        if known is None or span is None or len(call.args) != known[0]:
            continue
        (arity, name), (line, _, end) = known, span
        if call.args:
            last = _span(scope, call.args[-1])
            if last is None:
                continue
            at, extra = last[2], ", None"
        elif scope.lines[line - 1][end - 1 : end] == ")":
            at, extra = end - 1, "None"
        else:
            continue
        label = f"called {name}() with {arity + 1} positional arguments (takes {arity})"
        yield Fault("call-arity", line, label, name, start=at, end=at, replacement=extra)


def _arity(scope: Scope, call: ast.Call, modules: dict[str, types.ModuleType]) -> tuple[int, str] | None:
    """How many positional arguments the callee takes at most, and its name, when that is fixed and known.

    Known: a plain function, method or class of the module (``Scope.callee``), a builtin of fixed arity,
    or a standard-library function or str/bytes method reached through a module or a literal, whose
    runtime signature has no ``*args``.
    """
    callee = scope.callee(call)
    if callee is not None:
        function, skip = callee
        if function.args.vararg is not None:
            return None
        return len(function.args.posonlyargs) + len(function.args.args) - skip, function.name
    func = call.func
    if isinstance(func, ast.Name):
        known = func.id in BUILTIN_ARITY and not scope.bindings[func.id]
        return (BUILTIN_ARITY[func.id], func.id) if known else None
    if not isinstance(func, ast.Attribute):
        return None
    owner = static_owner(func.value, modules)
    target = getattr(owner, func.attr, None) if owner is not None else None
    if not (inspect.isfunction(target) or inspect.isbuiltin(target) or inspect.ismethoddescriptor(target)):
        return None
    try:
        parameters = list(inspect.signature(target).parameters.values())  # pyright: ignore[reportArgumentType]
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return None
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    skip = 1 if isinstance(owner, type) else 0
    return len(positional) - skip, func.attr


def _missing_attribute(scope: Scope, lines: Collection[int]) -> Iterator[Fault]:
    modules = stdlib_names(scope)
    for node in scope.nodes((ast.Attribute,), lines):
        owner = static_owner(node.value, modules)
        span = _span(scope, node)
        if owner is None or span is None or not hasattr(owner, node.attr):
            continue
        if isinstance(owner, types.ModuleType) and hasattr(owner, "__getattr__"):
            continue
        line, _, end = span
        start = end - len(node.attr)
        new = typo(node.attr, scope.identifiers, dir(owner))
        if new is None or scope.lines[line - 1][start:end] != node.attr:
            continue
        what = owner.__name__ if isinstance(owner, types.ModuleType) else f"a {owner.__name__} literal"
        label = f"{what} has no attribute {new!r} (was {node.attr!r})"
        yield Fault("missing-attribute", line, label, new, start=start, end=end, replacement=new)


def _wrong_type(scope: Scope, lines: Collection[int]) -> Iterator[Fault]:
    for call in scope.nodes((ast.Call,), lines):
        if any(isinstance(a, ast.Starred) for a in call.args):
            continue
        yield from _wrong_builtin_argument(scope, call)
        callee = scope.callee(call)
        if callee is None:
            continue
        function, skip = callee
        positional = [*function.args.posonlyargs, *function.args.args][skip:]
        named = {a.arg: a for a in [*function.args.args, *function.args.kwonlyargs][skip:]}
        pairs = list(zip(call.args, positional, strict=False))
        pairs += [(k.value, named[k.arg]) for k in call.keywords if k.arg in named]
        for argument, parameter in pairs:
            accepted = scope.simple_types(parameter.annotation)
            span = _span(scope, argument)
            if accepted is None or span is None:
                continue
            literal = '"wrong"' if "str" not in accepted else 'b"wrong"' if "bytes" not in accepted else None
            if literal is None:
                continue
            hint = ast.unparse(parameter.annotation) if parameter.annotation else ""
            label = f"passed {literal} to {function.name}({parameter.arg}: {hint})"
            line, start, end = span
            yield Fault("wrong-type", line, label, function.name, start=start, end=end, replacement=literal)


def _wrong_builtin_argument(scope: Scope, call: ast.Call) -> Iterator[Fault]:
    func = call.func
    if not isinstance(func, ast.Name) or func.id not in BUILTIN_TYPES or scope.bindings[func.id]:
        return
    index, literal = BUILTIN_TYPES[func.id]
    span = _span(scope, call.args[index]) if len(call.args) > index else None
    if span is not None:
        line, start, end = span
        label = f"passed {literal} as argument {index + 1} of {func.id}()"
        yield Fault("wrong-type", line, label, func.id, start=start, end=end, replacement=literal)


_INJECTORS: dict[str, Callable[[Scope, Collection[int]], Iterator[Fault]]] = {
    "syntax": _syntax,
    "undefined-name": _undefined_name,
    "removed-import": _removed_import,
    "call-arity": _call_arity,
    "missing-attribute": _missing_attribute,
    "wrong-type": _wrong_type,
}
