"""The MCP server over stdio as a real child process, driven by the official client (one process).

The client speaks the legacy ``initialize`` handshake, as Claude Code and OpenCode do.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters, stdio_client

from podium.server.mcp_adapter import ERROR_META_KEY

pytestmark = pytest.mark.e2e

TOY_SERVER = Path(__file__).parents[1] / "server" / "toy_registry.py"


async def test_a_stdio_client_lists_calls_sees_refusals_and_progress(tmp_path: Path) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    params = StdioServerParameters(command=sys.executable, args=[str(TOY_SERVER), "stdio"], cwd=tmp_path)
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            tools = (await client.list_tools()).tools
            echoed = await client.call_tool("echo", {"text": "piped"})
            refused = await client.call_tool("fail", {"code": "lease_error"})
            counted = await client.call_tool("count", {"steps": 2}, progress_callback=on_progress)

    assert len(tools) == 5
    assert echoed.structured_content == {"text": "piped"}
    assert refused.is_error
    assert refused.meta is not None
    assert refused.meta[ERROR_META_KEY]["code"] == "lease_error"
    assert counted.structured_content == {"counted": 2}
    assert seen == [(1, 2, "step 1 of 2"), (2, 2, "step 2 of 2")]
