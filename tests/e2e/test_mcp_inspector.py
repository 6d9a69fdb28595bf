"""`podium mcp` under the MCP Inspector CLI (TypeScript SDK), the client a person debugs servers with.

The Inspector comes from tests/e2e/node (pinned; `make test` installs it). Without it these tests skip,
unless ``PODIUM_REQUIRE_E2E_TOOLS=1`` (set by `make test`) makes its absence a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from podium_e2e import COMMAND_TIMEOUT, MakeRepo, Repo

pytestmark = pytest.mark.e2e

INSPECTOR = Path(__file__).parent / "node" / "node_modules" / ".bin" / "mcp-inspector"
REQUIRE_ENV = "PODIUM_REQUIRE_E2E_TOOLS"
TOOLS = {
    "mission_start",
    "roadmap_add",
    "task_claim",
    "task_heartbeat",
    "task_submit",
    "task_review",
    "task_release",
    "mission_status",
    "mission_finish",
    "mission_cancel",
    "mission_run",
    "mission_wait",
    "verify",
}


@pytest.fixture(scope="module")
def inspector() -> Path:
    missing = None
    if not INSPECTOR.exists():
        missing = f"{INSPECTOR} is not installed (make node-tools)"
    elif shutil.which("node") is None:
        missing = "node is not on PATH"
    if missing is None:
        return INSPECTOR
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"the MCP Inspector is required ({REQUIRE_ENV}=1) but {missing}")
    pytest.skip(f"MCP Inspector unavailable: {missing}")


def inspect(inspector: Path, repo: Repo, *method_args: str) -> dict[str, Any]:
    """Run the Inspector CLI against `podium mcp --root REPO` over stdio; its printed JSON answer."""
    # The Inspector hands the server only a few variables of its own; the git isolation goes through -e.
    env_args = [arg for key, value in repo.env.items() for arg in ("-e", f"{key}={value}")]
    command = [
        str(inspector),
        "--cli",
        *env_args,
        sys.executable,
        *("-m", "podium.server", "mcp", "--root", str(repo.root)),
        *method_args,
    ]
    done = subprocess.run(
        command,
        cwd=repo.root,
        env=repo.full_env(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_the_inspector_lists_the_mission_tools(inspector: Path, repo_factory: MakeRepo) -> None:
    repo = repo_factory({"app.py": "x = 1\n"})

    listed = inspect(inspector, repo, "--method", "tools/list")

    names = [tool["name"] for tool in listed["tools"]]
    assert len(names) == len(TOOLS) and set(names) == TOOLS
    assert all(tool["inputSchema"]["type"] == "object" for tool in listed["tools"])
    assert all(tool.get("description") for tool in listed["tools"])


def test_the_inspector_starts_a_mission_and_reads_its_status(inspector: Path, repo_factory: MakeRepo) -> None:
    repo = repo_factory({"app.py": "x = 1\n"})
    tasks = [{"key": "a", "title": "Add a", "files": ["app.py"]}, {"title": "Then b", "depends_on": ["a"]}]

    started = inspect(
        inspector,
        repo,
        *("--method", "tools/call", "--tool-name", "mission_start"),
        *("--tool-arg", "goal=Tidy the app", f"tasks={json.dumps(tasks)}"),
    )
    status = inspect(inspector, repo, "--method", "tools/call", "--tool-name", "mission_status")

    assert not started.get("isError")
    mission_id = started["structuredContent"]["mission_id"]
    assert started["structuredContent"]["key_ids"] == {"a": "T1"}
    assert not status.get("isError")
    (mission,) = status["structuredContent"]["missions"]
    assert (mission["mission_id"], mission["goal"], mission["state"]) == (
        mission_id,
        "Tidy the app",
        "active",
    )
    assert mission["counts"] == {"pending": 1, "ready": 1}
    assert "- [ ] T2: Then b | depends:T1" in mission["roadmap"]
    assert json.loads(status["content"][0]["text"]) == status["structuredContent"]


def test_the_inspector_receives_a_refusal_as_an_error_result_with_its_report(
    inspector: Path, repo_factory: MakeRepo
) -> None:
    repo = repo_factory({"app.py": "x = 1\n"})

    refused = inspect(
        inspector,
        repo,
        *("--method", "tools/call", "--tool-name", "task_claim"),
        *("--tool-arg", "mission_id=m-00000000", "worker=w1"),
    )

    assert refused["isError"] is True
    assert refused["_meta"]["podium/error"]["code"] == "not_found"
    assert refused["content"][0]["text"].startswith("not_found: ")
    assert "m-00000000" in refused["content"][0]["text"]
