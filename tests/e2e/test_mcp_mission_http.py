"""A whole mission over streamable HTTP: `podium mcp --http` as a process, the official HTTP client."""

from __future__ import annotations

import pytest
from mission_scenario import PROJECT, check_landed, run_mission
from podium_e2e import MakeRepo, http_server, http_session

pytestmark = pytest.mark.e2e


async def test_a_mission_over_http_merges_verified_work_onto_the_users_branch(repo_factory: MakeRepo) -> None:
    repo = repo_factory(PROJECT)
    initial = repo.head()

    async with http_server(repo) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/mcp")
        async with http_session(server.url) as session:
            await run_mission(session, repo)
        assert server.process.returncode is None, "the server ended with its client session"

    assert server.stopped_by_sigterm, "SIGTERM did not stop podium mcp --http"
    check_landed(repo, initial)
