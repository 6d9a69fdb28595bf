"""MCP and LSP offer the same operations with the same input schemas: both are generated from one registry.

The MCP side is what the official client lists; the LSP side is what the server answers to ``initialize``
(driven in-process through pygls' own handler): the ``executeCommandProvider`` commands and the schemas
under ``capabilities.experimental.podium.commands``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from lsprotocol import types
from mcp import Client
from podium_project import Project, isolate_git, make_project

from podium.server.core_ops import build_registry
from podium.server.lsp_server import PodiumLanguageServer


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    isolate_git(tmp_path, monkeypatch)
    return make_project(tmp_path)


def initialize(server: PodiumLanguageServer) -> types.InitializeResult:
    """Run the server's ``initialize`` handler as pygls would for a request, without a transport."""
    params = types.InitializeParams(capabilities=types.ClientCapabilities(), process_id=None, root_uri=None)
    steps = server.protocol.lsp_initialize(params)
    try:
        handler, args, kwargs = next(steps)
        while True:
            handler, args, kwargs = steps.send(handler(*args, **(kwargs or {})))
    except StopIteration as done:
        return cast(types.InitializeResult, done.value)


async def mcp_tools(project: Project) -> dict[str, dict[str, Any]]:
    async with Client(project.server) as client:
        listed = await client.list_tools()
    return {tool.name: {"description": tool.description, "input": tool.input_schema} for tool in listed.tools}


def lsp_commands(project: Project) -> tuple[list[str], list[dict[str, Any]]]:
    result = initialize(PodiumLanguageServer(build_registry(project.missions)))
    provider = result.capabilities.execute_command_provider
    assert provider is not None
    experimental = cast(dict[str, Any], result.capabilities.experimental)
    return list(provider.commands), experimental["podium"]["commands"]


async def test_the_lsp_command_list_and_the_mcp_tool_list_name_the_same_operations(project: Project) -> None:
    tools = await mcp_tools(project)
    commands, catalog = lsp_commands(project)

    assert sorted(commands) == sorted(f"podium.{name}" for name in tools)
    assert [entry["command"] for entry in catalog] == commands
    assert len(tools) == 13


async def test_each_command_takes_the_input_schema_and_description_of_its_tool(project: Project) -> None:
    tools = await mcp_tools(project)
    _, catalog = lsp_commands(project)

    for entry in catalog:
        tool = tools[entry["operation"]]
        assert entry["command"] == f"podium.{entry['operation']}"
        assert entry["inputSchema"] == tool["input"], entry["operation"]
        assert entry["description"] == tool["description"], entry["operation"]


def test_every_registered_operation_is_an_executable_command(project: Project) -> None:
    registry = build_registry(project.missions)
    server = PodiumLanguageServer(registry)

    assert set(server.protocol.fm.commands) == {f"podium.{name}" for name in registry.names}
