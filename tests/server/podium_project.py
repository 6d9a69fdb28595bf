"""A real project for the MCP operation tests: a temp git repository, its mission service and an MCP server.

The store runs on a manual clock, so leases expire only when a test moves the clock.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult

from podium.orchestration.config import load_config
from podium.orchestration.git import head_commit, run_git
from podium.orchestration.missions import Missions
from podium.orchestration.store import Store
from podium.server.app import build_server
from podium.server.mcp_adapter import ERROR_META_KEY

START_TIME = 1_700_000_000.0

INVENTORY = """\
def total(items):
    return sum(item.count for item in items)


def names(items):
    return [item.name for item in items]
"""

REPORT = """\
def render(rows):
    return "\\n".join(rows)
"""


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = START_TIME) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Project:
    root: Path
    missions: Missions
    server: MCPServer
    clock: ManualClock

    def git(self, *args: str) -> str:
        return run_git(self.root, *args).text

    def head(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", ref).strip()

    @asynccontextmanager
    async def client(self) -> AsyncIterator[Client]:
        async with Client(self.server) as client:
            yield client


def isolate_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's git configuration out of the tests."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


def make_project(tmp_path: Path, podium_toml: str | None = None) -> Project:
    """A committed repository on `main` with `inventory.py` and `report.py`, and the server over it."""
    root = tmp_path / "repo"
    root.mkdir(exist_ok=True)
    run_git(root, "init", "--quiet", "--initial-branch=main")
    (root / "inventory.py").write_text(INVENTORY)
    (root / "report.py").write_text(REPORT)
    if podium_toml is not None:
        (root / "podium.toml").write_text(podium_toml)
    run_git(root, "add", "--all")
    run_git(root, "commit", "--quiet", "-m", "initial")
    head_commit(root)
    clock = ManualClock()
    missions = Missions(root, load_config(root), Store.open(root, clock=clock))
    return Project(root, missions, build_server(missions), clock)


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call a tool that must succeed and return its structured result."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, _text(result)
    assert result.structured_content is not None
    return result.structured_content


async def refusal(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call a tool that must refuse and return its error report."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    assert result.structured_content is None
    assert result.meta is not None
    report: dict[str, Any] = result.meta[ERROR_META_KEY]
    assert _text(result) == f"{report['code']}: {report['message']}"
    return report


def _text(result: CallToolResult) -> str:
    block = result.content[0]
    return getattr(block, "text", repr(block))
