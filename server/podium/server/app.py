"""The Podium MCP server for one project: open the core, build the registry and the server, close on exit."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

from mcp.server.mcpserver import MCPServer

from podium.orchestration.config import PodiumConfig
from podium.orchestration.missions import Missions
from podium.server.core_ops import INSTRUCTIONS, build_registry
from podium.server.http import HttpSettings, run_http
from podium.server.mcp_adapter import build_mcp_server

__all__ = ["build_server", "open_missions", "serve"]


def build_server(missions: Missions) -> MCPServer:
    """The MCP server offering Podium's operations over ``missions``."""
    return build_mcp_server(build_registry(missions), instructions=INSTRUCTIONS)


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
