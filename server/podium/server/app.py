"""The Podium MCP server for one project: open the core, build the registry and the server, close on exit."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer

from podium.orchestration.config import PodiumConfig
from podium.orchestration.missions import Missions
from podium.server.core_ops import INSTRUCTIONS, build_registry
from podium.server.http import HttpSettings, run_http
from podium.server.mcp_adapter import build_mcp_server
from podium.server.mission_runs import MissionRuns

__all__ = ["build_server", "open_missions", "serve"]


def build_server(missions: Missions, runs: MissionRuns | None = None) -> MCPServer:
    """The MCP server offering Podium's operations over ``missions``; it runs missions in ``runs``."""
    runs = runs if runs is not None else MissionRuns(missions)
    serving = runs.serving

    def lifespan(server: MCPServer[Any]) -> AbstractAsyncContextManager[None]:
        return serving()

    return build_mcp_server(build_registry(missions, runs), instructions=INSTRUCTIONS, lifespan=lifespan)


@contextmanager
def open_missions(root: Path, config: PodiumConfig) -> Generator[Missions]:
    """The mission service of the project at ``root``; its store is closed on exit.

    Raises:
        StoreError: the store cannot be opened.
    """
    missions = Missions.open(root, config)
    try:
        yield missions
    finally:
        missions.close()


def serve(root: Path, config: PodiumConfig, http: HttpSettings | None = None) -> None:
    """Serve the project at ``root`` over stdio, or over streamable HTTP when ``http`` is given; blocks."""
    with open_missions(root, config) as missions:
        server = build_server(missions)
        if http is None:
            server.run()
        else:
            run_http(server, http)
