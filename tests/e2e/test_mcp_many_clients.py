"""Eight workers as separate processes draining one 100-task roadmap, over stdio and over HTTP.

Over stdio each worker process starts its own `podium mcp` on the same repository, so the store's
transactions and the merge lock are shared between processes; over HTTP the eight processes are clients of
one server. Every task creates its own file, so every submission should merge.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.abc
import pytest
from mcp import ClientSession
from podium_e2e import MakeRepo, Repo, call, http_server, http_session, stdio_session

pytestmark = pytest.mark.e2e

WORKER_SCRIPT = Path(__file__).with_name("claim_worker.py")
WORKERS = 8
TASKS = 100
READY_TIMEOUT = 90.0
RUN_TIMEOUT = 300.0
TASK_IDS = {f"T{n}" for n in range(1, TASKS + 1)}


@dataclass
class WorkerRun:
    name: str
    process: anyio.abc.Process
    events: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    stderr: bytes = b""


async def _read_events(run: WorkerRun, ready: anyio.Event) -> None:
    assert run.process.stdout is not None
    buffer = b""
    async for chunk in run.process.stdout:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            event = json.loads(line)
            run.events.append(event)
            if event["event"] == "ready":
                ready.set()
    ready.set()  # ended without being ready: the exit status and stderr tell why


async def _read_stderr(run: WorkerRun) -> None:
    assert run.process.stderr is not None
    async for chunk in run.process.stderr:
        run.stderr += chunk


async def run_workers(repo: Repo, mission_id: str, target: list[str], logs: Path) -> list[WorkerRun]:
    """Start the workers, let them all open their sessions, then release them together; wait for the end."""
    runs: list[WorkerRun] = []
    with anyio.fail_after(RUN_TIMEOUT):
        async with anyio.create_task_group() as tg:
            readiness: list[anyio.Event] = []
            for n in range(1, WORKERS + 1):
                name = f"w{n}"
                command = [
                    sys.executable,
                    str(WORKER_SCRIPT),
                    *("--mission", mission_id, "--worker", name, "--log", str(logs / f"{name}.log")),
                    *target,
                ]
                process = await anyio.open_process(command, cwd=repo.root, env=repo.full_env())
                run = WorkerRun(name, process)
                runs.append(run)
                ready = anyio.Event()
                readiness.append(ready)
                tg.start_soon(_read_events, run, ready)
                tg.start_soon(_read_stderr, run)
            try:
                with anyio.fail_after(READY_TIMEOUT):
                    for ready in readiness:
                        await ready.wait()
            except TimeoutError:
                failed = {run.name: run.stderr.decode(errors="replace")[-2000:] for run in runs}
                raise AssertionError(f"workers never became ready: {failed}") from None
            for run in runs:
                assert run.process.stdin is not None
                with contextlib.suppress(anyio.BrokenResourceError):
                    await run.process.stdin.send(b"go\n")
            for run in runs:
                await run.process.wait()
    for run in runs:
        await run.process.aclose()
    return runs


@asynccontextmanager
async def session_for(
    transport: Literal["stdio", "http"], repo: Repo, logs: Path
) -> AsyncIterator[tuple[ClientSession, list[str]]]:
    """A session of the test itself, and the worker-script arguments that reach the same project."""
    if transport == "stdio":
        async with stdio_session(repo, logs / "planner.log") as session:
            yield session, ["--root", str(repo.root)]
    else:
        async with http_server(repo) as server, http_session(server.url) as session:
            yield session, ["--url", server.url]


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_eight_worker_processes_drain_a_roadmap_with_no_task_claimed_twice(
    repo_factory: MakeRepo, tmp_path: Path, transport: Literal["stdio", "http"]
) -> None:
    repo = repo_factory({"README.md": "# Generated values\n"})
    initial = repo.head()
    tasks = [{"title": f"Write value {n}", "files": [f"gen/t{n:03}.py"]} for n in range(1, TASKS + 1)]

    async with session_for(transport, repo, tmp_path) as (session, target):
        started = await call(session, "mission_start", {"goal": "Generate values", "tasks": tasks})
        mission_id, branch = started["mission_id"], started["branch"]
        runs = await run_workers(repo, mission_id, target, tmp_path)
        (status,) = (await call(session, "mission_status", {"mission_id": mission_id}))["missions"]

    for run in runs:
        assert run.process.returncode == 0, f"{run.name}: {run.stderr.decode(errors='replace')[-3000:]}"
    claims = Counter(e["task"] for run in runs for e in run.events if e["event"] == "claim")
    merged = Counter(e["task"] for run in runs for e in run.events if e["event"] == "merged")
    stops = {run.events[-1]["event"]: run.events[-1]["reason"] for run in runs}
    assert [task for task, count in claims.items() if count > 1] == [], "claimed twice"
    assert set(claims) == TASK_IDS
    assert merged == Counter(TASK_IDS)
    assert set(stops) == {"stop"} and set(stops.values()) <= {"mission_done", "all_claimed"}
    assert sum(1 for run in runs if any(e["event"] == "claim" for e in run.events)) > 1

    assert (status["counts"], status["progress"]) == ({"merged": TASKS}, 100.0)
    trailers = repo.task_trailers(branch, since=initial)
    assert len(trailers) == TASKS and set(trailers) == TASK_IDS
    assert int(repo.git("rev-list", "--count", f"{initial}..{branch}")) == TASKS
    assert len(repo.git("ls-tree", "-r", "--name-only", branch, "gen/").split()) == TASKS
    audit = repo.podium("audit", "verify", "--root", str(repo.root))
    assert audit.returncode == 0, audit.stdout + audit.stderr
