"""mission_run, mission_wait and mission_cancel over MCP: the server runs a mission with a scripted agent.

The project is a temp git repository; the agent is the `scripted` backend playing a small script file (an
LLM stand-in), configured in the project's `podium.toml` like a user would. Waits are bounded by
``mission_wait``'s own timeout and a safety ``fail_after``; nothing sleeps to synchronise.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from mcp import Client
from podium_project import Project, call, isolate_git, make_project, refusal

from podium.orchestration.missions import Missions, MissionStatus
from podium.orchestration.model import TaskState

WAIT_S = 60.0
"""Safety net for a whole test's waiting; the assertions never depend on it."""

SCRIPT = """\
default:
  attempts:
    - sleep_s: 0.05
      edits: [{path: "done/{task_id}.txt", content: "{title}\\n"}]
"""

SLOW_SCRIPT = """\
default:
  attempts:
    - sleep_s: 600
      edits: [{path: "done/{task_id}.txt", content: "{title}\\n"}]
"""

TASKS = [
    {"key": "a", "title": "First", "files": ["done/T1.txt"]},
    {"key": "b", "title": "Second", "files": ["done/T2.txt"], "depends_on": ["a"]},
    {"key": "c", "title": "Third", "files": ["done/T3.txt"]},
]


def project_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> Project:
    isolate_git(tmp_path, monkeypatch)
    script_file = tmp_path / "agent-script.yaml"
    script_file.write_text(script)
    toml = (
        "[gate]\ndiagnostics = false\n\n"
        '[agents]\nworker = "scripted"\n\n'
        f"[agents.scripted]\nscript = {str(script_file)!r}\n\n"
        "[commander]\nworkers = 2\nshutdown_grace_s = 0\n"
    )
    return make_project(tmp_path, toml)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    made = project_with(tmp_path, monkeypatch, SCRIPT)
    yield made
    made.missions.close()


async def start_mission(client: Client) -> str:
    started = await call(client, "mission_start", {"goal": "three small files", "tasks": TASKS})
    return started["mission_id"]


async def wait_until_run_ends(client: Client, mission_id: str) -> dict[str, Any]:
    with anyio.fail_after(WAIT_S):
        while True:
            waited = await call(client, "mission_wait", {"mission_id": mission_id, "timeout_s": 5})
            if waited["run_status"] != "running":
                return waited


async def test_mission_run_works_the_mission_until_every_task_is_merged(project: Project) -> None:
    async with project.client() as client:
        mission_id = await start_mission(client)
        run = await call(client, "mission_run", {"mission_id": mission_id})
        assert run["run_id"]
        assert run["run_status"] in ("running", "completed")

        ended = await wait_until_run_ends(client, mission_id)

    assert ended["run_status"] == "completed"
    assert ended["run_id"] == run["run_id"]
    assert ended["counts"] == {"merged": 3}
    assert ended["progress"] == 100.0
    assert ended["diagnosis"] and "all 3 tasks merged" in ended["diagnosis"]
    branch = project.missions.store.get_mission(mission_id).branch
    assert project.git("show", f"{branch}:done/T2.txt") == "Second\n"


async def test_mission_run_while_a_run_is_going_returns_that_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = project_with(tmp_path, monkeypatch, SLOW_SCRIPT)
    async with slow.client() as client:
        mission_id = await start_mission(client)
        first = await call(client, "mission_run", {"mission_id": mission_id})
        again = await call(client, "mission_run", {"mission_id": mission_id})
        await call(client, "mission_cancel", {"mission_id": mission_id})
    slow.missions.close()

    assert first["run_status"] == again["run_status"] == "running"
    assert again["run_id"] == first["run_id"]


async def test_mission_wait_returns_when_the_mission_changes(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked = threading.Event()
    status = project.missions.status

    def watched_status(mission_id: str) -> MissionStatus:
        found = status(mission_id)
        looked.set()
        return found

    monkeypatch.setattr(Missions, "status", lambda self, mission_id: watched_status(mission_id))
    async with project.client() as client:
        mission_id = await start_mission(client)
        looked.clear()
        results: list[dict[str, Any]] = []

        async def wait() -> None:
            results.append(await call(client, "mission_wait", {"mission_id": mission_id, "timeout_s": 50}))

        with anyio.fail_after(WAIT_S):
            async with anyio.create_task_group() as group:
                group.start_soon(wait)
                await anyio.to_thread.run_sync(looked.wait)  # the wait has seen the mission as it was
                await call(client, "task_claim", {"mission_id": mission_id, "worker": "w1"})

    [waited] = results
    assert waited["changed"] is True
    assert waited["counts"]["claimed"] == 1
    assert waited["run_status"] == "none"


async def test_mission_wait_gives_up_at_its_timeout_when_nothing_changes(project: Project) -> None:
    async with project.client() as client:
        mission_id = await start_mission(client)
        waited = await call(client, "mission_wait", {"mission_id": mission_id, "timeout_s": 0.05})

    assert waited["changed"] is False
    assert waited["run_status"] == "none"
    assert waited["state"] == "active"
    assert waited["counts"] == {"pending": 1, "ready": 2}


async def test_mission_wait_refuses_a_timeout_over_fifty_seconds(project: Project) -> None:
    async with project.client() as client:
        mission_id = await start_mission(client)
        report = await refusal(client, "mission_wait", {"mission_id": mission_id, "timeout_s": 51})

    assert report["code"] == "input_error"
    assert report["details"]["problems"][0]["field"] == "timeout_s"


async def test_mission_cancel_during_a_run_stops_it_and_leaves_no_task_claimed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = project_with(tmp_path, monkeypatch, SLOW_SCRIPT)
    async with slow.client() as client:
        mission_id = await start_mission(client)
        await call(client, "mission_run", {"mission_id": mission_id})
        with anyio.fail_after(WAIT_S):
            waited = await call(client, "mission_wait", {"mission_id": mission_id, "timeout_s": 0.01})
            while waited["counts"].get("claimed", 0) < 2:
                waited = await call(client, "mission_wait", {"mission_id": mission_id, "timeout_s": 5})

        cancelled = await call(client, "mission_cancel", {"mission_id": mission_id})
        after = await call(client, "mission_wait", {"mission_id": mission_id, "timeout_s": 5})
    tasks = slow.missions.store.list_tasks(mission_id)
    slow.missions.close()

    assert cancelled["state"] == "cancelled"
    assert after["run_status"] == "stopped"
    assert after["state"] == "cancelled"
    assert all(task.state is TaskState.CANCELLED for task in tasks)
    assert all(task.lease_holder is None for task in tasks)


@pytest.mark.parametrize("tool", ["mission_run", "mission_wait", "mission_cancel"])
async def test_run_operations_on_an_unknown_mission_are_not_found(project: Project, tool: str) -> None:
    async with project.client() as client:
        report = await refusal(client, tool, {"mission_id": "M404"})

    assert report["code"] == "not_found"


async def test_mission_run_refuses_an_unknown_backend(project: Project) -> None:
    async with project.client() as client:
        mission_id = await start_mission(client)
        report = await refusal(client, "mission_run", {"mission_id": mission_id, "backend": "psychic"})

    assert report["code"] == "config_error"
    assert "psychic" in report["message"]


async def test_a_run_still_going_when_the_server_stops_hands_its_tasks_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = project_with(tmp_path, monkeypatch, SLOW_SCRIPT)
    async with slow.client() as client:
        mission_id = await start_mission(client)
        await call(client, "mission_run", {"mission_id": mission_id})
        with anyio.fail_after(WAIT_S):
            waited = await call(client, "mission_wait", {"mission_id": mission_id, "timeout_s": 0.01})
            while waited["counts"].get("claimed", 0) < 2:
                waited = await call(client, "mission_wait", {"mission_id": mission_id, "timeout_s": 5})
    tasks = slow.missions.store.list_tasks(mission_id)
    mission = slow.missions.store.get_mission(mission_id)
    slow.missions.close()

    assert mission.state.value == "active"
    assert {task.state for task in tasks} == {TaskState.READY, TaskState.PENDING}
    assert all(task.lease_holder is None for task in tasks)
