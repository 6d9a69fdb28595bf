"""JSON schemas of the operation models, trimmed for agents: shared by the MCP tools and the LSP commands.

Kept apart from the MCP adapter so that the LSP server can describe its commands without importing the MCP SDK
(about 1.75 s of start-up).
"""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import BaseModel

_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
_SCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
_SCHEMA_ONES = frozenset({"items", "additionalProperties", "not", "contains", "if", "then", "else"})
_NULL = {"type": "null"}


def compact_schema(model: type[BaseModel], mode: Literal["validation", "serialization"]) -> dict[str, Any]:
    """The model's JSON schema without what costs tokens and tells an agent nothing.

    Always dropped: the capitalised ``title`` pydantic gives every property, and the model docstring at
    the top, where the tool description already is. In an input schema, an optional field's
    ``"default": null`` and its ``{"type": "null"}`` branch go too (leaving the field out says the same).
    In an output schema defaults go (every field is always present) and a nullable scalar becomes
    ``{"type": ["string", "null"]}``. Field descriptions stay: they are the documentation.
    """
    schema = _compact(model.model_json_schema(mode=mode), output=mode == "serialization")
    schema.pop("description", None)
    return schema


def _compact(node: Any, *, output: bool) -> Any:
    if not isinstance(node, dict):
        return node
    compact: dict[str, Any] = {}
    for key, value in cast(dict[str, Any], node).items():
        if key == "title" or (key == "default" and (output or value is None)):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            members = cast(dict[str, Any], value)
            compact[key] = {name: _compact(sub, output=output) for name, sub in members.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            compact[key] = [_compact(sub, output=output) for sub in cast(list[Any], value)]
        elif key in _SCHEMA_ONES:
            compact[key] = _compact(value, output=output)
        else:
            compact[key] = value
    if output:
        return _nullable_as_type_list(compact)
    properties = compact.get("properties")
    if isinstance(properties, dict):
        required = set(compact.get("required", ()))
        members = cast(dict[str, Any], properties)
        for name, sub in members.items():
            if name not in required:
                members[name] = _without_null_branch(sub)
    return compact


def _non_null_branch(schema: Any) -> dict[str, Any] | None:
    """``X`` when ``schema`` is ``{"anyOf": [X, {"type": "null"}], …}`` (either order), else None."""
    if not isinstance(schema, dict):
        return None
    branches = cast(dict[str, Any], schema).get("anyOf")
    if not isinstance(branches, list) or len(cast(list[Any], branches)) != 2 or _NULL not in branches:
        return None
    other = [branch for branch in cast(list[Any], branches) if branch != _NULL]
    return cast(dict[str, Any], other[0]) if len(other) == 1 and isinstance(other[0], dict) else None


def _without_null_branch(schema: Any) -> Any:
    other = _non_null_branch(schema)
    if other is None:
        return schema
    rest = {key: value for key, value in cast(dict[str, Any], schema).items() if key != "anyOf"}
    return {**other, **rest}


def _nullable_as_type_list(schema: dict[str, Any]) -> dict[str, Any]:
    other = _non_null_branch(schema)
    if other is None or set(other) != {"type"} or not isinstance(other["type"], str):
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {"type": [other["type"], "null"], **rest}
