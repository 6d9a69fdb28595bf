"""The baseline: a bare `mcp` SDK server with one no-op tool, launched over stdio by the benchmarks."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server = MCPServer("noop")


@server.tool()
def noop() -> str:
    """Do nothing."""
    return "ok"


if __name__ == "__main__":
    server.run()
