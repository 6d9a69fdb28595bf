from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolResult, TextContent, TextResourceContents
from pydantic import BaseModel, Field
from toy_registry import ROADMAPS, build_toy_registry

from podium.server.mcp_adapter import (
    ERROR_META_KEY,
    build_mcp_server,
    compact_schema,
    tool_definitions,
    tool_list_token_estimate,
)
from podium.server.operations import OperationContext, OperationRegistry, TextResource

Mode = Literal["auto", "legacy"]


@asynccontextmanager
async def connected(mode: Mode = "auto") -> AsyncIterator[Client]:
    async with Client(build_mcp_server(build_toy_registry()), mode=mode) as client:
        yield client


def _text(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def _error(result: CallToolResult) -> dict[str, Any]:
    assert result.is_error
    assert result.meta is not None
    return result.meta[ERROR_META_KEY]


def _keys(node: Any) -> set[str]:
    """Every schema keyword in a JSON schema, skipping property names."""
    if isinstance(node, list):
        return set().union(*(_keys(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = set(node)
    for key, value in node.items():
        if key in ("properties", "$defs"):
            found |= set().union(*(_keys(sub) for sub in value.values())) if value else set()
        else:
            found |= _keys(value)
    return found


async def test_every_operation_is_a_tool_with_its_name_and_description() -> None:
    async with connected() as client:
        tools = (await client.list_tools()).tools

    registry = build_toy_registry()
    assert [(tool.name, tool.description) for tool in tools] == [(op.name, op.description) for op in registry]


async def test_tool_arguments_are_the_input_model_fields_at_the_top_level() -> None:
    async with connected() as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    echo = tools["echo"].input_schema
    assert echo["type"] == "object"
    assert set(echo["properties"]) == {"text", "times"}
    assert echo["required"] == ["text"]
    assert echo["additionalProperties"] is False
    assert tools["echo"].output_schema == {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    }


async def test_published_schemas_carry_no_titles_or_null_defaults_but_keep_descriptions() -> None:
    async with connected() as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    for tool in tools.values():
        keywords = _keys(tool.input_schema) | _keys(tool.output_schema)
        assert "title" not in keywords, tool.name
    plan = tools["plan"].input_schema
    assert "title" in plan["$defs"]["Step"]["properties"]
    assert "default" not in plan["properties"]["note"]
    assert tools["echo"].input_schema["properties"]["text"]["description"] == "What to say back."
    assert "description" not in tools["echo"].input_schema


async def test_listed_tools_are_what_tool_definitions_describe() -> None:
    async with connected() as client:
        listed = (await client.list_tools()).tools

    expected = tool_definitions(build_toy_registry())
    assert [(t.name, t.input_schema, t.output_schema) for t in listed] == [
        (t.name, t.input_schema, t.output_schema) for t in expected
    ]


def test_the_token_estimate_is_a_quarter_of_the_compact_tool_list_json() -> None:
    registry = build_toy_registry()
    tools = [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tool_definitions(registry)]
    characters = len(json.dumps({"tools": tools}, separators=(",", ":")))

    estimate = tool_list_token_estimate(registry)

    assert estimate == math.ceil(characters / 4)
    assert 0 < estimate < 3000


def test_the_token_estimate_can_leave_out_the_output_schemas_models_never_see() -> None:
    registry = build_toy_registry()
    tools = [
        {"name": t.name, "description": t.description, "inputSchema": t.input_schema}
        for t in tool_definitions(registry)
    ]
    characters = len(json.dumps({"tools": tools}, separators=(",", ":")))

    estimate = tool_list_token_estimate(registry, include_output_schemas=False)

    assert estimate == math.ceil(characters / 4)
    assert estimate < tool_list_token_estimate(registry)


class Documented(BaseModel):
    """A docstring that would repeat the tool description."""

    name: str = Field(description="Kept.")
    title: str | None = None
    parent: str | None
    tags: list[str] = Field(default_factory=list)


def test_an_input_schema_keeps_a_property_called_title_and_says_optional_by_omission() -> None:
    schema = compact_schema(Documented, "validation")

    assert schema == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Kept."},
            "title": {"type": "string"},
            "parent": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "parent"],
    }


def test_an_output_schema_drops_defaults_and_writes_nullable_scalars_as_type_lists() -> None:
    schema = compact_schema(Documented, "serialization")

    assert schema["properties"] == {
        "name": {"type": "string", "description": "Kept."},
        "title": {"type": ["string", "null"]},
        "parent": {"type": ["string", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    }


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_call_returns_structured_content_and_the_same_json_as_text(mode: Mode) -> None:
    async with connected(mode) as client:
        result = await client.call_tool("echo", {"text": "hi", "times": 2})

    assert not result.is_error
    assert result.structured_content == {"text": "hi hi"}
    assert json.loads(_text(result)) == {"text": "hi hi"}


async def test_missing_mistyped_and_unknown_arguments_come_back_as_an_error_naming_each_field() -> None:
    async with connected() as client:
        result = await client.call_tool("echo", {"times": "twice", "colour": "red"})

    error = _error(result)
    assert error["code"] == "input_error"
    assert [p["field"] for p in error["details"]["problems"]] == ["text", "times", "colour"]
    assert _text(result).startswith("input_error: invalid arguments for echo: text: Field required; times:")
    assert result.structured_content is None


async def test_a_list_argument_sent_as_a_json_string_is_accepted() -> None:
    async with connected() as client:
        result = await client.call_tool("plan", {"steps": '[{"id": "T1", "title": "Parse"}]'})

    assert result.structured_content == {"ids": ["T1"], "note": None}


@pytest.mark.parametrize(
    ("code", "details"),
    [
        ("not_found", {}),
        ("illegal_transition", {"task_id": "T9", "state": "merged", "target": "ready"}),
        ("conflict", {}),
        ("lease_error", {}),
        ("input_error", {"path": "T9"}),
    ],
)
async def test_a_refusal_becomes_an_error_result_with_its_code_message_and_details(
    code: str, details: dict[str, Any]
) -> None:
    async with connected() as client:
        result = await client.call_tool("fail", {"code": code, "task_id": "T9"})

    error = _error(result)
    assert error["code"] == code
    assert "T9" in error["message"]
    assert error.get("details", {}) == details
    assert _text(result) == f"{code}: {error['message']}"
    assert result.structured_content is None


async def test_an_unexpected_exception_becomes_an_internal_error_that_hides_its_text() -> None:
    async with connected() as client:
        result = await client.call_tool("crash", {})

    error = _error(result)
    assert error["code"] == "internal_error"
    assert "secret" not in _text(result)
    assert "crash" in error["message"]


async def test_an_unknown_tool_is_an_error_result_naming_it() -> None:
    async with connected() as client:
        result = await client.call_tool("missing", {})

    assert result.is_error
    assert "missing" in _text(result)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_progress_reaches_a_client_that_asked_for_it(mode: Mode) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with connected(mode) as client:
        result = await client.call_tool("count", {"steps": 3}, progress_callback=on_progress)

    assert result.structured_content == {"counted": 3}
    assert seen == [(1, 3, "step 1 of 3"), (2, 3, "step 2 of 3"), (3, 3, "step 3 of 3")]


async def test_progress_is_dropped_when_the_client_did_not_ask_for_it() -> None:
    async with connected("legacy") as client:
        result = await client.call_tool("count", {"steps": 2})

    assert result.structured_content == {"counted": 2}


async def test_calling_a_tool_from_python_outside_any_request_discards_progress() -> None:
    server = build_mcp_server(build_toy_registry())

    result = await server.call_tool("count", {"steps": 2})

    assert isinstance(result, CallToolResult)
    assert result.structured_content == {"counted": 2}


async def test_the_resource_template_is_listed_and_reads_as_text() -> None:
    async with connected() as client:
        templates = (await client.list_resource_templates()).resource_templates
        read = await client.read_resource("podium://missions/m1/roadmap")

    assert [(t.uri_template, t.name, t.mime_type) for t in templates] == [
        ("podium://missions/{id}/roadmap", "roadmap", "text/markdown")
    ]
    content = read.contents[0]
    assert isinstance(content, TextResourceContents)
    assert content.text == ROADMAPS["m1"]


async def test_reading_an_unknown_mission_is_a_not_found_error_with_the_report_as_data() -> None:
    async with connected() as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource("podium://missions/m404/roadmap")

    assert caught.value.error.code == INVALID_PARAMS
    assert caught.value.error.message == "not_found: mission 'm404' does not exist"
    assert caught.value.error.data == {"code": "not_found", "message": "mission 'm404' does not exist"}


def test_the_server_is_named_and_versioned() -> None:
    server = build_mcp_server(build_toy_registry(), name="podium-test", server_version="9.9")

    assert (server.name, server.version) == ("podium-test", "9.9")


async def test_a_resource_without_variables_is_a_plain_resource() -> None:
    async def read_status(ctx: OperationContext, variables: Mapping[str, str]) -> str:
        return f"{ctx.operation}: all quiet {dict(variables)}"

    registry = OperationRegistry()
    registry.add_resource(TextResource("podium://status", "status", "Server status.", read_status))

    async with Client(build_mcp_server(registry)) as client:
        listed = (await client.list_resources()).resources
        read = await client.read_resource("podium://status")

    assert [(str(r.uri), r.name) for r in listed] == [("podium://status", "status")]
    content = read.contents[0]
    assert isinstance(content, TextResourceContents)
    assert content.text == "status: all quiet {}"


def test_a_resource_variable_may_not_take_the_adapters_reserved_name() -> None:
    async def read(ctx: OperationContext, variables: Mapping[str, str]) -> str:
        return ""

    registry = OperationRegistry()
    registry.add_resource(TextResource("podium://{mcp_context}", "bad", "Bad.", read))

    with pytest.raises(ValueError, match="reserved name"):
        build_mcp_server(registry)
