"""The in-package fake backend: plans, edits and reviews played from a script (see `agents.script`).

It is the backend of `make demo`, the tests and the benchmarks. Each task has its own cursor: the n-th
`work` call for a task plays its n-th attempt and the last attempt repeats, so a script with a broken first
attempt and a fixed second one plays "rejected, then merged" whatever the Commander counts as an attempt.
Cursors live in memory: after a restart the script plays from the start again (a task that was merged is
not asked for again, so nothing is merged twice). Injected faults raise `BackendError` or `RateLimited`
exactly as a real backend would, so retries, the circuit breaker and stagnation can be tested.

Matching a task to its entry: the task's id (`T3`), then the plan key of its title, then its title; tasks
that match nothing play the script's `default` entry with `{task_id}`, `{title}`, `{key}` and `{attempt}`
filled in, or give up when there is none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import anyio

from podium.orchestration.agents.base import (
    BackendError,
    PlannedTask,
    PlanRequest,
    RateLimited,
    ReviewRequest,
    ReviewResult,
    WorkRequest,
    WorkResult,
)
from podium.orchestration.agents.prompts import fill
from podium.orchestration.agents.script import Script, Step, TaskScript, load_script
from podium.orchestration.model import Task
from podium.verification.edits import DeleteFile, DiffEdit, Edit, SearchReplace, WholeFile
from podium.verification.errors import ConfigError

__all__ = ["ScriptedBackend", "ScriptedSettings"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ScriptedSettings:
    """How to build a scripted backend.

    Attributes:
        script: the script file (JSON or YAML); None plays an empty script (no plan, every task gives up).
        time_scale: factor applied to every `sleep_s` (0 runs a script at full speed, 2 twice as slowly).
        name: the backend's name in logs, limits and the circuit breaker.
    """

    script: Path | None = None
    time_scale: float = 1.0
    name: str = "scripted"


class ScriptedBackend:
    """An `AgentBackend` that plays a `Script`."""

    def __init__(
        self, script: Script | None = None, *, time_scale: float = 1.0, name: str = "scripted"
    ) -> None:
        if time_scale < 0:
            raise ConfigError(f"time_scale must be ≥ 0, not {time_scale}")
        self._script = script or Script()
        self._scale = time_scale
        self._name = name
        self._cursors: dict[tuple[str, str], int] = {}
        self._faults_spent: dict[tuple[str, str, int], int] = {}

    @classmethod
    def from_settings(cls, settings: ScriptedSettings) -> ScriptedBackend:
        """Load ``settings.script`` (raises `ConfigError` when it is invalid) and build the backend."""
        script = load_script(settings.script) if settings.script is not None else None
        return cls(script, time_scale=settings.time_scale, name=settings.name)

    @property
    def name(self) -> str:
        return self._name

    async def plan(self, request: PlanRequest) -> tuple[PlannedTask, ...]:
        planned = await self._play("plan", request.mission_id, (self._script.plan,))
        if planned is None:
            raise ConfigError(
                f"backend {self._name}: its script has no plan; add a `plan` section or pass a roadmap file"
            )
        return planned

    async def work(self, request: WorkRequest) -> WorkResult:
        task = request.task
        key, entry, templated = self._entry(task)
        result = await self._play("work", key, entry.attempts if entry else ())
        if result is None:
            return WorkResult("gave_up", log=f"the script has no attempt for task {task.id} ({task.title})")
        if templated:
            values = {"task_id": task.id, "title": task.title, "key": key, "attempt": str(request.attempt)}
            result = _filled(result, values)
        return result

    async def review(self, request: ReviewRequest) -> ReviewResult:
        key, entry, _ = self._entry(request.task)
        result = await self._play("review", key, entry.reviews if entry else ())
        return result or ReviewResult(approve=True, comments="approved (no review scripted)")

    def _entry(self, task: Task) -> tuple[str, TaskScript | None, bool]:
        tasks = self._script.tasks
        for name in (task.id, self._script.keys_by_title.get(task.title), task.title):
            if name is not None and name in tasks:
                return name, tasks[name], False
        key = self._script.keys_by_title.get(task.title, task.id)
        return key, self._script.default, self._script.default is not None

    async def _play(self, verb: str, key: str, steps: Sequence[Step[_T]]) -> _T | None:
        """Play the step under the cursor of (verb, key): sleep, then raise its fault or return its result."""
        index = self._cursors.get((verb, key), 0)
        while index < len(steps):
            step = steps[index]
            if step.sleep_s:
                await anyio.sleep(step.sleep_s * self._scale)
            spent = self._faults_spent.get((verb, key, index), 0)
            if step.fault is not None and spent < step.fault_calls:
                self._faults_spent[(verb, key, index)] = spent + 1
                where = f"{verb} {key}, step {index + 1}, fault {spent + 1} of {step.fault_calls}"
                if step.fault == "rate_limited":
                    raise RateLimited(f"backend {self._name}: scripted rate limit ({where})")
                raise BackendError(f"backend {self._name}: scripted fault ({where})")
            if step.outcome is not None:
                self._cursors[(verb, key)] = min(index + 1, len(steps) - 1)
                return step.outcome
            index += 1
            self._cursors[(verb, key)] = index
        return None


def _filled(result: WorkResult, values: dict[str, str]) -> WorkResult:
    def f(text: str) -> str:
        return fill(text, values)

    def edit(item: Edit) -> Edit:
        match item:
            case WholeFile():
                return WholeFile(f(item.path), f(item.content))
            case SearchReplace():
                return SearchReplace(f(item.path), f(item.search), f(item.replace))
            case DiffEdit():
                return DiffEdit(f(item.diff))
            case DeleteFile():
                return DeleteFile(f(item.path))

    def subtask(task: PlannedTask) -> PlannedTask:
        return replace(
            task,
            key=f(task.key),
            title=f(task.title),
            description=f(task.description),
            files=tuple(map(f, task.files)),
            depends_on=tuple(map(f, task.depends_on)),
        )

    return replace(
        result,
        edits=tuple(map(edit, result.edits)),
        subtasks=tuple(map(subtask, result.subtasks)),
        log=f(result.log),
    )
