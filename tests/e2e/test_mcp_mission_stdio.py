"""A whole mission over stdio: `podium mcp` as a child process of the official MCP client.

The server is started the way a client configured with only a working directory starts it (no ``--root``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mission_scenario import PROJECT, check_landed, run_mission
from podium_e2e import MakeRepo, stdio_session

pytestmark = pytest.mark.e2e


async def test_a_mission_over_stdio_merges_verified_work_onto_the_users_branch(
    repo_factory: MakeRepo, tmp_path: Path
) -> None:
    repo = repo_factory(PROJECT)
    initial = repo.head()

    async with stdio_session(repo, tmp_path / "server.log", pass_root=False) as session:
        await run_mission(session, repo)

    check_landed(repo, initial)
