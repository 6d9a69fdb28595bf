"""`podium mcp` as a client launches it: a real child process on stdio, driven by the official client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters, stdio_client

from podium.orchestration.git import run_git

pytestmark = pytest.mark.e2e

PODIUM = [sys.executable, "-m", "podium.server"]


@pytest.fixture(autouse=True)
def _isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in _git_env(tmp_path).items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    run_git(root, "init", "--quiet", "--initial-branch=main")
    (root / "app.py").write_text("def main():\n    return 1\n")
    run_git(root, "add", "--all")
    run_git(root, "commit", "--quiet", "-m", "initial")
    return root


def _git_env(tmp_path: Path) -> dict[str, str]:
    return {
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
    }


async def test_podium_mcp_serves_the_mission_tools_over_stdio(tmp_path: Path, repo: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "podium.server", "mcp"], cwd=repo, env=_git_env(tmp_path)
    )
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            tools = (await client.list_tools()).tools
            started = await client.call_tool(
                "mission_start", {"goal": "ship", "tasks": [{"title": "Return 2"}]}
            )
            assert started.structured_content is not None
            mission_id = started.structured_content["mission_id"]
            claimed = await client.call_tool("task_claim", {"mission_id": mission_id, "worker": "w1"})
            edit = {"path": "app.py", "search": "return 1", "replace": "return 2"}
            submitted = await client.call_tool(
                "task_submit", {"task_id": "T1", "worker": "w1", "edits": [edit]}
            )
            roadmap = await client.read_resource(f"podium://missions/{mission_id}/roadmap")

    assert len(tools) == 13
    assert claimed.structured_content is not None and claimed.structured_content["claimed"]
    assert submitted.structured_content is not None
    assert submitted.structured_content["status"] == "merged"
    branch_file = run_git(repo, "show", f"podium/{mission_id}:app.py").text
    assert branch_file == "def main():\n    return 2\n"
    assert f"# Mission {mission_id}" in getattr(roadmap.contents[0], "text", "")
    assert (repo / ".podium" / "podium.db").is_file()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--http", "localhost"], "--http localhost: expected HOST:PORT"),
        (["--http", "127.0.0.1:99999"], "expected HOST:PORT"),
        (["--root", "does-not-exist"], "not a directory"),
    ],
)
def test_podium_mcp_refuses_bad_flags_with_exit_status_2(tmp_path: Path, args: list[str], says: str) -> None:
    done = subprocess.run(
        [*PODIUM, "mcp", *args], capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False
    )

    assert done.returncode == 2
    assert says in done.stderr
    assert done.stdout == ""


def test_podium_mcp_refuses_a_directory_outside_git_and_creates_no_state(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    done = subprocess.run(
        [*PODIUM, "mcp", "--root", str(plain)], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 2
    assert "not a git repository" in done.stderr
    assert list(plain.iterdir()) == []


def test_podium_mcp_refuses_an_invalid_config_file(tmp_path: Path, repo: Path) -> None:
    (repo / "podium.toml").write_text("[missions]\nlease_seconds = 0\n")
    done = subprocess.run(
        [*PODIUM, "mcp", "--root", str(repo)], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 2
    assert "missions.lease_seconds" in done.stderr
    assert done.stdout == ""
