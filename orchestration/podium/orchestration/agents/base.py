"""The `AgentBackend` protocol: one method per verb (plan, work, review), and the values they exchange.

A backend is anything that can play the Planner, a Worker or the Reviewer: a script (the in-package fake
used by tests, the demo and benchmarks), a CLI coding agent run in the task's worktree, an OpenAI-compatible
endpoint, an OpenCode server. The Commander never sees how; it sees these values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import anyio

from podium.orchestration.missions import TaskSpec
from podium.orchestration.model import Task
from podium.verification.edits import Edit
from podium.verification.errors import PodiumError
from podium.verification.findings import Finding


class BackendError(PodiumError):
    """A backend failed to answer (crash, timeout, protocol error): a fault, retried with backoff."""

    code = "backend_error"


class RateLimited(BackendError):
    """The backend asked us to slow down; the scheduler halves its concurrency."""

    code = "rate_limited"


PlannedTask = TaskSpec
"""A task as the Planner proposes it: the mission service's own task spec (`key` is the planner's label,
`depends_on` holds keys of the same plan or ids already in the roadmap)."""


@dataclass(frozen=True, slots=True)
class PlanRequest:
    mission_id: str
    goal: str
    root: Path


@dataclass(frozen=True, slots=True)
class WorkRequest:
    """One attempt at a task: where to work, and what went wrong last time."""

    task: Task
    worktree: Path
    attempt: int
    findings: tuple[Finding, ...] = ()
    reviewer_comments: str = ""
    depth: int = 0


WorkStatus = Literal["done", "split", "gave_up"]


@dataclass(frozen=True, slots=True)
class WorkResult:
    """What a worker did.

    `done`: judge the edits (or, when `edits` is empty, the worktree as the worker left it).
    `split`: replace the task by `subtasks` (re-planning; depth is bounded by the Commander).
    `gave_up`: release the task as failed with `log` as the reason.
    """

    status: WorkStatus
    edits: tuple[Edit, ...] = ()
    subtasks: tuple[PlannedTask, ...] = ()
    log: str = ""


@dataclass(frozen=True, slots=True)
class ReviewRequest:
    task: Task
    worktree: Path
    diff: str
    verdict_summary: str


@dataclass(frozen=True, slots=True)
class ReviewResult:
    approve: bool
    comments: str = ""


@runtime_checkable
class AgentBackend(Protocol):
    """Plans, works and reviews. Methods raise `BackendError` (or `RateLimited`) for faults only."""

    @property
    def name(self) -> str: ...

    async def plan(self, request: PlanRequest) -> tuple[PlannedTask, ...]: ...

    async def work(self, request: WorkRequest) -> WorkResult: ...

    async def review(self, request: ReviewRequest) -> ReviewResult: ...


@runtime_checkable
class ClosableBackend(Protocol):
    """A backend that holds something between calls (a server it started): closed when a run ends."""

    async def aclose(self) -> None: ...


BACKEND_CLOSE_TIMEOUT_S = 15.0
"""How long closing the backends of a run may take."""


async def close_backends(backends: Iterable[AgentBackend]) -> None:
    """`aclose` each distinct backend that has it; shielded and bounded, a failure is only logged."""
    with anyio.move_on_after(BACKEND_CLOSE_TIMEOUT_S, shield=True) as bound:
        for backend in {id(b): b for b in backends}.values():
            if isinstance(backend, ClosableBackend):
                try:
                    await backend.aclose()
                except Exception:
                    logging.getLogger(__name__).exception("cannot close backend %s", backend.name)
    if bound.cancelled_caught:
        logging.getLogger(__name__).warning("closing the backends took over %g s", BACKEND_CLOSE_TIMEOUT_S)
