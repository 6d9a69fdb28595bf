"""Stand-ins and helpers shared by the Commander and recovery tests: a fake agent, fake time, dead runs."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence

import anyio

from podium.orchestration.agents.base import (
    PlannedTask,
    PlanRequest,
    ReviewRequest,
    ReviewResult,
    WorkRequest,
    WorkResult,
)
from podium.orchestration.config import parse_config
from podium.orchestration.merge import Merged, merge_onto_branch
from podium.orchestration.missions import Claim, Missions, TaskSpec
from podium.orchestration.recovery import RUN_STARTED, RunIdentity
from podium.orchestration.workspaces import Worktree, commit_worktree
from podium.verification.edits import Edit

WAIT_S = 60.0
"""Only a guard against a hung run; no test depends on timing."""
FILES = {
    "app.py": "def greet(name):\n    return f'hello {name}'\n",
    "util.py": "def double(x):\n    return 2 * x\n",
    "README.md": "# demo\n",
}
BROKEN = "def broken(:\n    pass\n"
CONFIG = parse_config({"gate": {"diagnostics": False}})
"""The syntax gate only: these tests are about the loop, not about language servers."""


class FakeTime:
    """The Commander's clock, and a sleep that only moves it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


Answer = WorkResult | BaseException | Callable[[WorkRequest], Awaitable[WorkResult]]


class FakeAgent:
    """An LLM stand-in: the n-th `work` call for a task (by title) plays the n-th answer; the last repeats."""

    def __init__(
        self,
        work: Mapping[str, Sequence[Answer]] | None = None,
        *,
        plan: Sequence[PlannedTask] = (),
        reviews: Sequence[ReviewResult] = (),
        name: str = "fake",
    ) -> None:
        self.name = name
        self._plan = tuple(plan)
        self._work = {title: list(answers) for title, answers in (work or {}).items()}
        self._reviews = list(reviews)
        self.requests: list[WorkRequest] = []
        self.review_requests: list[ReviewRequest] = []

    def asked(self, title: str) -> list[WorkRequest]:
        return [r for r in self.requests if r.task.title == title]

    async def plan(self, request: PlanRequest) -> tuple[PlannedTask, ...]:
        return self._plan

    async def work(self, request: WorkRequest) -> WorkResult:
        self.requests.append(request)
        answers = self._work.get(request.task.title)
        if not answers:
            return WorkResult("gave_up", log=f"nothing scripted for {request.task.title}")
        answer = answers[min(len(self.asked(request.task.title)) - 1, len(answers) - 1)]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return await answer(request)
        return answer

    async def review(self, request: ReviewRequest) -> ReviewResult:
        self.review_requests.append(request)
        index = min(len(self.review_requests) - 1, len(self._reviews) - 1)
        return self._reviews[index] if self._reviews else ReviewResult(approve=True)


def done(*edits: Edit, log: str = "") -> WorkResult:
    return WorkResult("done", edits=edits, log=log)


def start(missions: Missions, *specs: TaskSpec) -> str:
    return missions.start("a goal", specs).id


def dead_run(missions: Missions, mission_id: str) -> RunIdentity:
    """The record of a run whose process is gone (a child that exited and was reaped)."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    pid = int(child.stdout)
    dead = RunIdentity("run-deadbeef", socket.gethostname(), pid, "1")
    missions.store.append_event(RUN_STARTED, dead.to_json(), mission_id=mission_id, actor=dead.worker_id(0))
    return dead


def merge_by_hand(missions: Missions, mission_id: str, worker: str, path: str) -> str:
    """Claim a task as ``worker`` and put its change on the branch the way a merge does, store untold."""
    claim = missions.claim(mission_id, worker)
    assert isinstance(claim, Claim)
    (claim.worktree / path).write_text("X = 1\n")
    tree = Worktree(claim.worktree, claim.base_commit)
    commit = commit_worktree(tree, f"{claim.task.id}: {claim.task.title}")
    assert commit is not None
    branch = missions.store.get_mission(mission_id).branch
    trailers = {"Podium-Mission": mission_id, "Podium-Task": claim.task.id}
    merged = merge_onto_branch(missions.root, branch, tree.base_commit, commit, claim.task.title, trailers)
    assert isinstance(merged, Merged)
    return merged.commit
