"""Missions and tasks: the frozen values the roadmap, the store and the adapters pass around."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

TASK_ID_PATTERN = re.compile(r"^T\d+(?:\.\d+)*$")


class TaskState(StrEnum):
    PENDING = "pending"
    READY = "ready"
    CLAIMED = "claimed"
    SUBMITTED = "submitted"
    REVIEW = "review"
    MERGED = "merged"
    REJECTED = "rejected"
    BLOCKED = "blocked"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Role(StrEnum):
    WORKER = "worker"
    REVIEWER = "reviewer"


class Size(StrEnum):
    XS = "XS"
    S = "S"
    M = "M"
    L = "L"


class MissionState(StrEnum):
    ACTIVE = "active"
    FINISHED = "finished"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Task:
    """One node of a roadmap. ``version`` is the store's compare-and-swap counter."""

    id: str
    mission_id: str
    title: str
    description: str = ""
    role: Role = Role.WORKER
    files: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    priority: int = 0
    size: Size = Size.M
    state: TaskState = TaskState.PENDING
    attempts: int = 0
    lease_holder: str | None = None
    lease_expires: float | None = None
    last_verdict: str | None = None
    review: bool = False
    milestone: str = "M1"
    version: int = 0


@dataclass(frozen=True, slots=True)
class Mission:
    """A goal, its integration branch and its state; tasks live in the store beside it."""

    id: str
    goal: str
    branch: str
    state: MissionState = MissionState.ACTIVE
    created_at: float = 0.0
    version: int = 0
    milestones: tuple[str, ...] = field(default_factory=lambda: ("M1",))
    milestone_titles: tuple[tuple[str, str], ...] = ()
    """``(milestone id, title)`` pairs for the ``## M1: <title>`` headings of ROADMAP.md; a milestone
    without a title is rendered by its id alone."""
