"""Standard-library facts the Python injectors rely on, read from the running interpreter.

A module the file imports at top level, bound once, is resolved by importing it here (modules with side
effects on import are never touched); a callable's arity comes from its runtime signature. Both agree with
typeshed for the functions involved, which is what a type checker reads.
"""

from __future__ import annotations

import ast
import importlib
import sys
import types

from tests.bench.gate_corpus.pyscope import Scope

UNIMPORTABLE = frozenset({"antigravity", "this", "idlelib", "turtle", "tkinter", "turtledemo"})
"""Standard-library modules with side effects on import (or a display): never resolved."""


def stdlib_names(scope: Scope) -> dict[str, types.ModuleType]:
    """Names the module binds once, at top level, to standard-library modules."""
    found: dict[str, types.ModuleType] = {}
    for statement in scope.tree.body:
        for alias in getattr(statement, "names", ()):
            if not isinstance(statement, ast.Import | ast.ImportFrom) or not isinstance(alias, ast.alias):
                continue
            bound = alias.asname or alias.name
            if isinstance(statement, ast.Import):
                module = _stdlib_module(alias.name) if "." not in bound else None
            elif statement.level == 0 and statement.module:
                parent = _stdlib_module(statement.module)
                module = getattr(parent, alias.name, None) if parent else None
            else:
                module = None
            if isinstance(module, types.ModuleType) and scope.bindings[bound] == 1:
                found[bound] = module
    return found


def _stdlib_module(name: str) -> types.ModuleType | None:
    if name.partition(".")[0] not in sys.stdlib_module_names or name.partition(".")[0] in UNIMPORTABLE:
        return None
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a module that cannot load on this platform is simply not used
        return None


def static_owner(value: ast.expr, modules: dict[str, types.ModuleType]) -> types.ModuleType | type | None:
    """The module or literal type whose attribute ``value.<attr>`` reads, when it is known statically."""
    if isinstance(value, ast.Constant) and type(value.value) in (str, bytes):
        return type(value.value)
    if isinstance(value, ast.Name):
        return modules.get(value.id)
    if isinstance(value, ast.Attribute):
        parent = static_owner(value.value, modules)
        child = getattr(parent, value.attr, None) if isinstance(parent, types.ModuleType) else None
        return child if isinstance(child, types.ModuleType) else None
    return None
