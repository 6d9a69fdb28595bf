"""Missions as a service: the core operations the MCP and LSP adapters expose, over the store and git.

Every method is synchronous and safe to call from several threads (and, through the store's transactions
and git's compare-and-swap ref updates, from several processes on one project). Adapters run them with
`anyio.to_thread`. Submissions and reviews, which run the gate and merge, live in `submissions.py`.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, cast

from podium.orchestration.config import PodiumConfig
from podium.orchestration.errors import LeaseError, WorkspaceError
from podium.orchestration.git import head_commit, repository_root
from podium.orchestration.lifecycle import ACTIVE_STATES, TERMINAL_STATES
from podium.orchestration.merge import Finished, finish_onto_user_branch
from podium.orchestration.model import Mission, MissionState, Role, Size, Task, TaskState
from podium.orchestration.store import Store
from podium.orchestration.verify import build_gate
from podium.orchestration.workspaces import (
    Worktree,
    add_worktree,
    create_integration_branch,
    remove_worktree,
)
from podium.verification.errors import InputError
from podium.verification.gate import Gate

logger = logging.getLogger(__name__)

NoTaskReason = Literal["mission_done", "all_claimed", "all_blocked", "waiting", "mission_closed"]


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A task as a planner writes it.

    `key` is the planner's own label (unique in its batch); the roadmap numbers tasks itself (``T1``, ``T2``
    …) and returns the key → id map. `depends_on` holds keys of the same batch or ids already in the roadmap.
    """

    title: str
    key: str = ""
    description: str = ""
    files: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    role: Role = Role.WORKER
    priority: int = 0
    size: Size = Size.M
    review: bool = False
    milestone: str = "M1"


@dataclass(frozen=True, slots=True)
class Claim:
    """A task given to a worker, with where to work on it."""

    task: Task
    worktree: Path
    base_commit: str


@dataclass(frozen=True, slots=True)
class NoTask:
    """Why nothing could be claimed."""

    reason: NoTaskReason
    detail: str


@dataclass(frozen=True, slots=True)
class MissionStatus:
    """A mission at a glance."""

    mission: Mission
    counts: dict[str, int]
    progress: float
    leases: tuple[Task, ...]
    recent_verdicts: tuple[tuple[str, str], ...]
    roadmap: str
    tasks: tuple[Task, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class FinishOutcome:
    """What `finish` did: the mission, the cancelled leftovers, and the user-branch result if applied."""

    mission: Mission
    cancelled: tuple[str, ...]
    applied: Finished | None


class Missions:
    """The mission operations over one project root."""

    def __init__(self, root: Path, config: PodiumConfig, store: Store, gate: Gate | None = None) -> None:
        self.root = root
        self.config = config
        self.store = store
        self.gate = gate or build_gate(config, root)

    @classmethod
    def open(cls, root: Path, config: PodiumConfig) -> Missions:
        """Open the project's store (creating `.podium/` on first use)."""
        return cls(root, config, Store.open(root))

    def close(self) -> None:
        self.gate.close()
        self.store.close()

    # -- missions -------------------------------------------------------------------------------------

    def start(self, goal: str, specs: Sequence[TaskSpec] = (), *, actor: str = "podium") -> Mission:
        """Create a mission and its integration branch from the current HEAD, with optional first tasks.

        Raises:
            WorkspaceError: the root is not a git repository or has no commits.
            RoadmapError: the tasks do not form a valid DAG (then no mission is created).
        """
        if not goal.strip():
            raise InputError("goal must not be empty")
        top = repository_root(self.root)
        head_commit(top)
        if specs:
            # A bad roadmap must not leave a mission behind: check it before anything is written.
            from podium.orchestration.roadmap import validate_dag

            validate_dag(_tasks_from_specs("m-check", specs, existing=()))
        mission = self.store.create_mission(
            goal, branch_prefix=self.config.missions.branch_prefix, actor=actor
        )
        create_integration_branch(top, mission.id, prefix=self.config.missions.branch_prefix)
        if specs:
            self.add_tasks(mission.id, specs, actor=actor)
        return self.store.get_mission(mission.id)

    def add_tasks(self, mission_id: str, specs: Sequence[TaskSpec], *, actor: str = "podium") -> list[Task]:
        """Add tasks to a mission's roadmap, checked as a whole with the tasks already there."""
        if not specs:
            raise InputError("no tasks given")
        mission = self.store.get_mission(mission_id)
        if mission.state is not MissionState.ACTIVE:
            raise InputError(f"mission {mission_id} is {mission.state}; it takes no new tasks")
        existing = self.store.list_tasks(mission_id)
        tasks = _tasks_from_specs(mission_id, specs, existing=[t.id for t in existing])
        return self.store.add_tasks(mission_id, tasks, actor=actor)

    def status(self, mission_id: str) -> MissionStatus:
        """Counts per state, progress, live leases, recent verdicts and the rendered ROADMAP.md."""
        from podium.orchestration.render import render_roadmap

        mission = self.store.get_mission(mission_id)
        tasks = self.store.list_tasks(mission_id)
        counts = Counter(task.state.value for task in tasks)
        counted = [t for t in tasks if t.state is not TaskState.CANCELLED]
        merged = sum(1 for t in counted if t.state is TaskState.MERGED)
        progress = round(100.0 * merged / len(counted), 1) if counted else 0.0
        leases = tuple(t for t in tasks if t.lease_holder is not None and t.state in ACTIVE_STATES)
        verdicts = tuple((t.id, _verdict_summary(t.last_verdict)) for t in tasks if t.last_verdict)
        return MissionStatus(
            mission=mission,
            counts=dict(sorted(counts.items())),
            progress=progress,
            leases=leases,
            recent_verdicts=verdicts[-10:],
            roadmap=render_roadmap(mission, tasks),
            tasks=tuple(tasks),
        )

    def finish(self, mission_id: str, *, apply: bool, actor: str = "podium") -> FinishOutcome:
        """End a mission: leftover unstarted tasks are cancelled, worktrees removed, and with `apply` the
        integration branch lands on the user's checked-out branch.

        Raises:
            InputError: a task is still being worked on (claimed, submitted, in review or rejected).
            WorkspaceError: applying would touch files the user changed and has not committed.
        """
        mission = self.store.get_mission(mission_id)
        if mission.state is not MissionState.ACTIVE:
            raise InputError(f"mission {mission_id} is already {mission.state}")
        tasks = self.store.list_tasks(mission_id)
        busy = [f"{t.id} ({t.state})" for t in tasks if t.state in ACTIVE_STATES]
        if busy:
            raise InputError(
                f"mission {mission_id} still has work in progress: {', '.join(busy)}; "
                "submit or release those tasks first (or mission_cancel)"
            )
        applied = finish_onto_user_branch(self.root, mission.branch) if apply else None
        cancelled = self._cancel_open_tasks(tasks, actor=actor, reason="mission finished")
        self._remove_worktrees(mission_id, tasks)
        done = self.store.set_mission_state(
            mission_id, MissionState.FINISHED, actor=actor, reason="applied" if apply else "finished"
        )
        return FinishOutcome(done, cancelled, applied)

    def cancel(self, mission_id: str, *, actor: str = "podium", reason: str = "cancelled") -> FinishOutcome:
        """Stop a mission: every unfinished task is cancelled and its worktree removed. The integration branch
        is kept for inspection; the user's branch is not touched."""
        mission = self.store.get_mission(mission_id)
        if mission.state is not MissionState.ACTIVE:
            raise InputError(f"mission {mission_id} is already {mission.state}")
        tasks = self.store.list_tasks(mission_id)
        cancelled = self._cancel_open_tasks(tasks, actor=actor, reason=reason)
        self._remove_worktrees(mission_id, tasks)
        done = self.store.set_mission_state(mission_id, MissionState.CANCELLED, actor=actor, reason=reason)
        return FinishOutcome(done, cancelled, None)

    # -- tasks ----------------------------------------------------------------------------------------

    def claim(self, mission_id: str, worker: str) -> Claim | NoTask:
        """Give `worker` the best ready task and its worktree, or say why there is none."""
        mission = self.store.get_mission(mission_id)
        if mission.state is not MissionState.ACTIVE:
            return NoTask("mission_closed", f"mission {mission_id} is {mission.state}")
        task = self.store.claim(mission_id, worker, self.config.missions.lease_seconds)
        if task is None:
            return self._why_nothing(mission_id)
        try:
            worktree = self.worktree(task)
        except WorkspaceError:
            self.store.release(mission_id, task.id, worker, reason="worktree could not be created")
            raise
        return Claim(task, worktree.path, worktree.base_commit)

    def heartbeat(self, task_ref: str, worker: str) -> Task:
        """Extend the lease of a task `worker` holds."""
        task = self.store.resolve_task(task_ref)
        self.require_lease(task, worker)
        return self.store.heartbeat(task.mission_id, task.id, worker, self.config.missions.lease_seconds)

    def release(self, task_ref: str, worker: str, status: TaskState, reason: str) -> Task:
        """Give a task back as ready, blocked or failed; its worktree is kept for whoever continues."""
        if status not in (TaskState.READY, TaskState.BLOCKED, TaskState.FAILED):
            raise InputError(f"status must be ready, blocked or failed, not {status}")
        task = self.store.resolve_task(task_ref)
        self.require_lease(task, worker)
        return self.store.transition(
            task.mission_id,
            task.id,
            status,
            actor=worker,
            reason=reason or "released",
            holder=worker,
            lease_holder=None,
            lease_expires=None,
        )

    def worktree(self, task: Task) -> Worktree:
        mission = self.store.get_mission(task.mission_id)
        return add_worktree(self.root, f"{task.mission_id}/{task.id}", mission.branch)

    def require_lease(self, task: Task, worker: str) -> None:
        """Refuse a worker who does not hold the task's lease, or whose lease has run out."""
        if task.lease_holder != worker:
            holder = task.lease_holder or "nobody"
            raise LeaseError(f"task {task.id} is held by {holder}, not {worker}; claim a task first")
        if task.lease_expires is not None and task.lease_expires <= self.store.now():
            raise LeaseError(
                f"the lease of {worker} on task {task.id} expired; send task_heartbeat more often "
                f"(lease: {self.config.missions.lease_seconds}s) and claim again"
            )

    # -- helpers --------------------------------------------------------------------------------------

    def _why_nothing(self, mission_id: str) -> NoTask:
        tasks = self.store.list_tasks(mission_id)
        open_tasks = [t for t in tasks if t.state not in TERMINAL_STATES]
        if not open_tasks:
            return NoTask("mission_done", "every task is merged or cancelled; call mission_finish")
        if any(t.state in ACTIVE_STATES for t in open_tasks):
            held = ", ".join(f"{t.id} ({t.lease_holder})" for t in open_tasks if t.state in ACTIVE_STATES)
            return NoTask("all_claimed", f"every ready task is taken; in progress: {held}")
        halted = [t for t in open_tasks if t.state in (TaskState.BLOCKED, TaskState.FAILED)]
        if halted:
            names = ", ".join(f"{t.id} ({t.state})" for t in halted)
            return NoTask("all_blocked", f"the remaining tasks wait on blocked or failed tasks: {names}")
        cancelled = {t.id for t in tasks if t.state is TaskState.CANCELLED}
        stuck = [t.id for t in open_tasks if cancelled.intersection(t.depends_on)]
        if stuck:
            return NoTask(
                "all_blocked",
                f"{', '.join(stuck)} depend on cancelled tasks and can never start; release or re-plan them",
            )
        return NoTask("waiting", "the remaining tasks wait on dependencies that are not merged yet")

    def _cancel_open_tasks(self, tasks: Sequence[Task], *, actor: str, reason: str) -> tuple[str, ...]:
        cancelled: list[str] = []
        for task in tasks:
            if task.state in TERMINAL_STATES:
                continue
            self.store.transition(
                task.mission_id,
                task.id,
                TaskState.CANCELLED,
                actor=actor,
                reason=reason,
                lease_holder=None,
                lease_expires=None,
            )
            cancelled.append(task.id)
        return tuple(cancelled)

    def _remove_worktrees(self, mission_id: str, tasks: Sequence[Task]) -> None:
        for task in tasks:
            try:
                remove_worktree(self.root, f"{mission_id}/{task.id}")
            except WorkspaceError as exc:
                logger.warning("could not remove the worktree of %s: %s", task.id, exc)


def _tasks_from_specs(mission_id: str, specs: Sequence[TaskSpec], *, existing: Sequence[str]) -> list[Task]:
    """Number keyless specs and resolve batch keys; the store validates the DAG as a whole."""
    from podium.orchestration.roadmap import next_task_id

    taken = list(existing)
    keys: dict[str, str] = {}
    tasks: list[Task] = []
    for spec in specs:
        key = spec.key.strip()
        if not spec.title.strip():
            raise InputError(f"task {key or len(tasks) + 1}: title must not be empty")
        if key in keys:
            raise InputError(f"task key {key!r} is used twice in this batch")
        task_id = next_task_id(taken)
        taken.append(task_id)
        if key:
            keys[key] = task_id
        tasks.append(
            Task(
                id=task_id,
                mission_id=mission_id,
                title=spec.title.strip(),
                description=spec.description,
                role=spec.role,
                files=spec.files,
                depends_on=spec.depends_on,
                priority=spec.priority,
                size=spec.size,
                review=spec.review,
                milestone=spec.milestone,
            )
        )
    return [replace(task, depends_on=tuple(keys.get(dep, dep) for dep in task.depends_on)) for task in tasks]


def _verdict_summary(raw: str | None) -> str:
    if not raw:
        return ""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    if isinstance(data, dict):
        record = cast("dict[str, object]", data)
        summary = str(record.get("summary", raw))
        # A reviewer's rejection reaches its worker only through the status, so the comments go with it.
        comments = record.get("comments")
        return f"{summary}; reviewer's comments: {comments}" if comments else summary
    return raw
