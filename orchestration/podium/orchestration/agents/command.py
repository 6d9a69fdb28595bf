"""The `command` backend: any CLI coding agent, run as a subprocess (argv, never a shell).

Argv elements may hold placeholders, filled per call: `{prompt}`, `{task_id}`, `{worktree}` (plus
`{mission_id}` and `{attempt}`), e.g. `("claude", "-p", "{prompt}")` or `("aider", "--yes", "--message",
"{prompt}")`. The process gets the environment of Podium plus `PODIUM_TASK_ID`, `PODIUM_ATTEMPT`,
`PODIUM_WORKTREE`, `PODIUM_MISSION_ID` and `PODIUM_ROLE` (planner, worker or reviewer), and starts in a
session of its own, so a timeout or a cancel kills the agent and everything it started.

* work: runs in the task's worktree. Exit 0 means "done, judge my worktree" (`WorkResult("done")` with no
  edits); any other exit is a `BackendError` carrying the tail of stderr.
* plan: runs in the project root with the planning prompt; stdout must hold the roadmap JSON
  (`{"tasks": [...]}`, see `agents.answers`); text around it and Markdown fences are tolerated.
* review: runs in the task's worktree; the first non-empty line of stdout is APPROVE or REJECT and the rest
  is the comments (a JSON `{"approve": ..., "comments": ...}` object works too).

Everything the agent prints, and the prompt it was given, is appended to the task log
`<log_dir>/<mission>/<task>.log` (`plan.log` for the planner, `<task>.review.log` for reviews).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import anyio
from anyio.abc import ByteReceiveStream

from podium.orchestration.agents.answers import extract_json, parse_review, planned_tasks
from podium.orchestration.agents.base import (
    BackendError,
    PlannedTask,
    PlanRequest,
    ReviewRequest,
    ReviewResult,
    WorkRequest,
    WorkResult,
)
from podium.orchestration.agents.prompts import (
    PLAN_TEMPLATE,
    REVIEW_TEMPLATE,
    WORK_TEMPLATE,
    fill,
    plan_prompt,
    review_prompt,
    work_prompt,
)
from podium.orchestration.agents.tasklog import LineFilter, TaskLog, open_task_log, redact
from podium.verification.errors import ConfigError

__all__ = ["DEFAULT_TIMEOUT_S", "CommandBackend", "CommandSettings"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 1800.0
"""How long one agent run may take before its process group is killed."""

REAP_TIMEOUT_S = 5.0
"""How long to wait for a killed process to be reaped."""

MAX_STDOUT_BYTES = 4_000_000
"""Stdout kept in memory for parsing a plan or review; the log file gets all of it."""

TAIL_CHARS = 2000
"""Characters of stderr (in errors) and of stdout (in the work log) kept."""

Role = Literal["planner", "worker", "reviewer"]


@dataclass(frozen=True, slots=True)
class CommandSettings:
    """How to run a CLI agent.

    Attributes:
        argv: the worker command template, e.g. `("opencode", "run", "{prompt}")`.
        plan_argv: the planner's command template; empty means `argv`.
        review_argv: the reviewer's command template; empty means `argv`.
        timeout_s: the longest one run may take.
        log_dir: where task logs go (`<log_dir>/<mission>/<task>.log`); None keeps no log file.
        log_filter: rewrites each line before it reaches the task log, the work log or an error message
            (the secret-redaction hook).
        env: extra environment variables for the agent.
        work_template, plan_template, review_template: prompt templates (see `agents.prompts`).
        name: the backend's name in logs, limits and the circuit breaker.
    """

    argv: tuple[str, ...] = ()
    plan_argv: tuple[str, ...] = ()
    review_argv: tuple[str, ...] = ()
    timeout_s: float = DEFAULT_TIMEOUT_S
    log_dir: Path | None = None
    log_filter: LineFilter | None = None
    env: tuple[tuple[str, str], ...] = ()
    work_template: str = WORK_TEMPLATE
    plan_template: str = PLAN_TEMPLATE
    review_template: str = REVIEW_TEMPLATE
    name: str = "command"


@dataclass(frozen=True, slots=True)
class _Run:
    returncode: int
    stdout: str
    stderr_tail: str


class CommandBackend:
    """An `AgentBackend` that runs a CLI agent per call."""

    def __init__(self, settings: CommandSettings) -> None:
        if not settings.argv:
            raise ConfigError(f"backend {settings.name}: `argv` is empty; give the agent's command line")
        if settings.timeout_s <= 0:
            raise ConfigError(
                f"backend {settings.name}: `timeout_s` must be positive, not {settings.timeout_s}"
            )
        self._settings = settings

    @property
    def name(self) -> str:
        return self._settings.name

    async def plan(self, request: PlanRequest) -> tuple[PlannedTask, ...]:
        s = self._settings
        run = await self._run(
            s.plan_argv or s.argv,
            "planner",
            plan_prompt(request, s.plan_template),
            mission_id=request.mission_id,
            task_id="",
            attempt=1,
            cwd=request.root,
        )
        self._require_success(run, "planning")
        try:
            return planned_tasks(extract_json(run.stdout), where="the planner's roadmap", strict=False)
        except ValueError as exc:
            raise BackendError(f"backend {self.name}: the planner did not print a roadmap: {exc}") from None

    async def work(self, request: WorkRequest) -> WorkResult:
        task = request.task
        run = await self._run(
            self._settings.argv,
            "worker",
            work_prompt(request, self._settings.work_template),
            mission_id=task.mission_id,
            task_id=task.id,
            attempt=request.attempt,
            cwd=request.worktree,
        )
        self._require_success(run, f"task {task.id}")
        return WorkResult("done", log=self._redact(run.stdout[-TAIL_CHARS:]))

    async def review(self, request: ReviewRequest) -> ReviewResult:
        s = self._settings
        task = request.task
        run = await self._run(
            s.review_argv or s.argv,
            "reviewer",
            review_prompt(request, s.review_template),
            mission_id=task.mission_id,
            task_id=task.id,
            attempt=task.attempts,
            cwd=request.worktree,
        )
        self._require_success(run, f"the review of {task.id}")
        try:
            return parse_review(run.stdout)
        except ValueError as exc:
            raise BackendError(f"backend {self.name}: unreadable review of {task.id}: {exc}") from None

    def _require_success(self, run: _Run, what: str) -> None:
        if run.returncode != 0:
            how = f"exited {run.returncode}"
            if run.returncode < 0:
                how = f"was killed by signal {-run.returncode}"
            tail = run.stderr_tail.strip() or "(nothing on stderr)"
            raise BackendError(f"backend {self.name}: the agent {how} during {what}: {tail}")

    async def _run(
        self,
        template: tuple[str, ...],
        role: Role,
        prompt: str,
        *,
        mission_id: str,
        task_id: str,
        attempt: int,
        cwd: Path,
    ) -> _Run:
        values = {
            "prompt": prompt,
            "task_id": task_id,
            "worktree": str(cwd),
            "mission_id": mission_id,
            "attempt": str(attempt),
        }
        argv = [fill(part, values) for part in template]
        env = {
            **os.environ,
            **dict(self._settings.env),
            "PODIUM_TASK_ID": task_id,
            "PODIUM_ATTEMPT": str(attempt),
            "PODIUM_WORKTREE": str(cwd),
            "PODIUM_MISSION_ID": mission_id,
            "PODIUM_ROLE": role,
        }
        log = await self._open_log(mission_id, task_id, role)
        try:
            if log is not None:
                await log.start_run(role, task_id or mission_id, attempt, argv[0], prompt)
            run = await self._spawn(argv, cwd, env, log)
        finally:
            if log is not None:
                with anyio.CancelScope(shield=True):
                    await log.aclose()
        return _Run(run.returncode, run.stdout, self._redact(run.stderr_tail))

    async def _spawn(self, argv: list[str], cwd: Path, env: dict[str, str], log: TaskLog | None) -> _Run:
        try:
            process = await anyio.open_process(
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, start_new_session=True
            )
        except OSError as exc:
            raise BackendError(f"backend {self.name}: cannot start {argv[0]!r}: {exc}") from None
        logger.debug("%s: started %s (pid %d) in %s", self.name, argv[0], process.pid, cwd)
        stdout, stderr = bytearray(), bytearray()
        returncode = -1
        try:
            with anyio.fail_after(self._settings.timeout_s):
                async with anyio.create_task_group() as group:
                    group.start_soon(_pump, process.stdout, "stdout", stdout, MAX_STDOUT_BYTES, log)
                    group.start_soon(_pump, process.stderr, "stderr", stderr, -TAIL_CHARS * 4, log)
                    returncode = await process.wait()
                    # Children left behind would hold the pipes open (and outlive the task).
                    _kill_group(process.pid)
        except TimeoutError:
            raise BackendError(
                f"backend {self.name}: the agent did not finish within {self._settings.timeout_s:g} s "
                "and was killed"
            ) from None
        finally:
            _kill_group(process.pid)
            with anyio.CancelScope(shield=True), anyio.move_on_after(REAP_TIMEOUT_S):
                await process.aclose()
        logger.debug("%s: %s (pid %d) exited %d", self.name, argv[0], process.pid, returncode)
        text = stderr.decode("utf-8", errors="replace")
        return _Run(returncode, stdout.decode("utf-8", errors="replace"), text[-TAIL_CHARS:])

    async def _open_log(self, mission_id: str, task_id: str, role: Role) -> TaskLog | None:
        s = self._settings
        return await open_task_log(self.name, s.log_dir, s.log_filter, mission_id, task_id, role)

    def _redact(self, text: str) -> str:
        return redact(text, self._settings.log_filter)


async def _pump(
    stream: ByteReceiveStream | None, name: str, into: bytearray, limit: int, log: TaskLog | None
) -> None:
    """Copy a pipe to the log; keep its first ``limit`` bytes, or its last ``-limit`` when negative."""
    if stream is None:
        return
    async for chunk in stream:
        if log is not None:
            await log.output(name, chunk)
        into.extend(chunk)
        if limit > 0 and len(into) > limit:
            del into[limit:]
        elif limit < 0 and len(into) > -limit:
            del into[:limit]


def _kill_group(pid: int) -> None:
    # The agent leads its own session, so its pid is the group id of everything it started.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
