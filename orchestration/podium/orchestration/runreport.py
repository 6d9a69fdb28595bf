"""What a Commander run tells the world: progress events with snapshots while it runs, a report at the end.

The CLI's live view and ``mission_wait`` follow a run through :class:`RunEvent` values handed to a callback;
the final :class:`RunReport` says how the run ended and why, in a sentence or a paragraph a person can act
on (which tasks failed with which findings, which repeat, how to resume).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from podium.orchestration.events import JsonValue
from podium.orchestration.lifecycle import TERMINAL_STATES
from podium.orchestration.model import Task, TaskState
from podium.orchestration.recovery import Recovery
from podium.orchestration.resilience import StagnationDiagnosis
from podium.orchestration.roadmap import id_sort_key

__all__ = [
    "EventKind",
    "ProgressCallback",
    "RunEvent",
    "RunOutcome",
    "RunProgress",
    "RunReport",
    "RunSnapshot",
    "TaskFailure",
    "describe_outcome",
    "task_counts",
]

logger = logging.getLogger(__name__)

RunOutcome = Literal["completed", "failed", "stagnated", "limit", "stopped", "cancelled"]
"""How a run ended: every task merged; tasks failed and nothing else can move; no progress for N rounds
(the mission is paused, resumable); a round or time limit; a stop request; the mission was cancelled."""

EventKind = Literal[
    "run_started",
    "recovered",
    "planned",
    "claimed",
    "verdict",
    "review",
    "merged",
    "split",
    "failed",
    "fault",
    "warning",
    "stopping",
    "run_finished",
]

FINDINGS_SHOWN = 5
"""Findings quoted per failed task in a diagnosis."""
RECENT_VERDICTS = 10
"""Verdicts a snapshot shows."""


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """The mission at one moment of a run.

    Attributes:
        counts: tasks per state.
        active: ``(task id, worker, attempt)`` for the tasks this run's workers hold.
        recent_verdicts: the last verdicts, ``(task id, summary)``, newest last.
        elapsed_s: seconds since the run started.
        rounds: attempts finished in this run.
        limits: current concurrency limit per role and backend.
    """

    counts: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    active: tuple[tuple[str, str, int], ...] = ()
    recent_verdicts: tuple[tuple[str, str], ...] = ()
    elapsed_s: float = 0.0
    rounds: int = 0
    limits: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class RunEvent:
    """Something a run did, with the snapshot after it."""

    kind: EventKind
    mission_id: str
    message: str
    snapshot: RunSnapshot
    task_id: str | None = None


ProgressCallback = Callable[[RunEvent], None]


@dataclass(frozen=True, slots=True)
class TaskFailure:
    """A task that ended ``failed``: why, after how many attempts, with the last findings."""

    task_id: str
    title: str
    attempts: int
    reason: str
    findings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RunReport:
    """How a run ended and why.

    Attributes:
        outcome: see :data:`RunOutcome`.
        diagnosis: what happened, for people (secrets redacted by the hooks).
        merged: tasks merged by the end of the run (by this run or before it).
        failed: tasks in ``failed``, with reasons.
        remaining: tasks neither merged nor cancelled.
        counts: tasks per state at the end.
        rounds: attempts finished in this run.
        elapsed_s: the run's length.
        stagnation: the stagnation diagnosis, when the run stopped for it.
        recovery: what the run found of earlier, dead runs at start.
        warnings: hook warnings (scope guard …) and other things worth a look.
    """

    mission_id: str
    run_id: str
    outcome: RunOutcome
    diagnosis: str
    merged: tuple[str, ...] = ()
    failed: tuple[TaskFailure, ...] = ()
    remaining: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    rounds: int = 0
    elapsed_s: float = 0.0
    stagnation: StagnationDiagnosis | None = None
    recovery: Recovery = field(default_factory=Recovery)
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            "mission_id": self.mission_id,
            "run_id": self.run_id,
            "outcome": self.outcome,
            "diagnosis": self.diagnosis,
            "merged": list(self.merged),
            "failed": [
                {
                    "task_id": f.task_id,
                    "title": f.title,
                    "attempts": f.attempts,
                    "reason": f.reason,
                    "findings": list(f.findings),
                }
                for f in self.failed
            ],
            "remaining": list(self.remaining),
            "counts": dict(self.counts),
            "rounds": self.rounds,
            "elapsed_s": round(self.elapsed_s, 3),
            "warnings": list(self.warnings),
            "stagnation": None if self.stagnation is None else self.stagnation.text,
            "recovered": {
                "reclaimed": list(self.recovery.reclaimed),
                "merged": list(self.recovery.merged),
                "splits": list(self.recovery.splits),
                "evidence": list(self.recovery.evidence),
            },
        }


def describe_outcome(
    outcome: RunOutcome,
    detail: str,
    tasks: Sequence[Task],
    failures: Sequence[TaskFailure],
    *,
    mission_id: str,
    rounds: int,
) -> str:
    """The diagnosis paragraph of a report."""
    counted = [t for t in tasks if t.state is not TaskState.CANCELLED]
    merged = sum(1 for t in counted if t.state is TaskState.MERGED)
    head = {
        "completed": f"all {len(counted)} tasks merged in {rounds} rounds.",
        "failed": f"{merged} of {len(counted)} tasks merged; the rest cannot go on.",
        "stagnated": f"paused with {merged} of {len(counted)} tasks merged: the mission stopped moving.",
        "limit": f"stopped on a limit with {merged} of {len(counted)} tasks merged.",
        "stopped": f"stopped with {merged} of {len(counted)} tasks merged.",
        "cancelled": f"the mission was cancelled with {merged} of {len(counted)} tasks merged.",
    }[outcome]
    lines = [head]
    if detail:
        lines.append(detail)
    for failure in failures:
        lines.append(f"{failure.task_id} ({failure.title}) failed after {failure.attempts} attempt(s): ")
        lines[-1] += failure.reason
        lines.extend(f"  {finding}" for finding in failure.findings[:FINDINGS_SHOWN])
    waiting = _blocked_by(tasks, {f.task_id for f in failures})
    if waiting:
        lines.append(f"waiting on failed tasks: {', '.join(waiting)}.")
    if outcome in ("stagnated", "limit", "stopped"):
        lines.append(f"resume with `podium run --resume {mission_id}` (or mission_run) after a look.")
    if outcome == "failed":
        lines.append("retry a failed task (failed → ready) or cancel it, then resume the mission.")
    return "\n".join(lines)


def _blocked_by(tasks: Sequence[Task], failed: set[str]) -> list[str]:
    """Tasks that wait, directly or not, on a failed task."""
    by_id = {t.id: t for t in tasks}
    blocked: set[str] = set()
    changed = True
    while changed:
        changed = False
        for task in tasks:
            if task.id in blocked or task.state is not TaskState.PENDING:
                continue
            if any(dep in failed or dep in blocked for dep in task.depends_on if dep in by_id):
                blocked.add(task.id)
                changed = True
    return sorted(blocked, key=id_sort_key)


def task_counts(tasks: Sequence[Task]) -> dict[str, int]:
    """Tasks per state, states in name order."""
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.state.value] = counts.get(task.state.value, 0) + 1
    return dict(sorted(counts.items()))


class RunProgress:
    """What a run keeps in memory for its progress events and its report, and the callback it tells.

    Nothing here is needed to resume: it is the view, the store is the state.
    """

    def __init__(
        self,
        mission_id: str,
        on_event: ProgressCallback | None,
        *,
        clock: Callable[[], float],
        limits: Callable[[], Mapping[str, int]],
    ) -> None:
        self.mission_id = mission_id
        self._on_event = on_event
        self._clock = clock
        self._limits = limits
        self.started = clock()
        self.rounds = 0
        self.active: dict[str, tuple[str, int]] = {}
        self.recent: deque[tuple[str, str]] = deque(maxlen=RECENT_VERDICTS)
        self.failures: dict[str, TaskFailure] = {}
        self.warnings: list[str] = []

    @property
    def listening(self) -> bool:
        return self._on_event is not None

    @property
    def elapsed_s(self) -> float:
        return self._clock() - self.started

    def track(self, task: Task, worker: str, attempt: int) -> None:
        self.active[task.id] = (worker, attempt)

    def untrack(self, task_id: str) -> None:
        self.active.pop(task_id, None)

    def verdict_seen(self, task_id: str, summary: str) -> None:
        self.recent.append((task_id, summary))

    def record_failure(self, failure: TaskFailure) -> None:
        self.failures[failure.task_id] = failure

    def warn(self, message: str, *, task_id: str | None = None) -> None:
        """Note something worth a look: logged, kept for the report, told to the callback."""
        logger.warning("%s", message)
        self.warnings.append(message)
        self.tell("warning", message, None, task_id)

    def tell(self, kind: EventKind, message: str, tasks: Sequence[Task] | None, task_id: str | None) -> None:
        """Hand an event to the callback (``tasks``: the mission now, for the counts; None keeps them out)."""
        if self._on_event is None:
            return
        event = RunEvent(kind, self.mission_id, message, self.snapshot(tasks), task_id)
        try:
            self._on_event(event)
        except Exception:  # a broken progress view must not take the run down
            logger.exception("the progress callback failed on %s", kind)

    def snapshot(self, tasks: Sequence[Task] | None) -> RunSnapshot:
        return RunSnapshot(
            counts=MappingProxyType(task_counts(tasks or ())),
            active=tuple((task_id, w, a) for task_id, (w, a) in sorted(self.active.items())),
            recent_verdicts=tuple(self.recent),
            elapsed_s=self.elapsed_s,
            rounds=self.rounds,
            limits=MappingProxyType(dict(self._limits())),
        )

    def failures_in(self, tasks: Sequence[Task]) -> tuple[TaskFailure, ...]:
        """The failed tasks, with this run's reasons or a note that they failed before it."""
        return tuple(
            self.failures.get(t.id) or TaskFailure(t.id, t.title, t.attempts, "it failed before this run")
            for t in tasks
            if t.state is TaskState.FAILED
        )

    def report(
        self,
        *,
        run_id: str,
        outcome: RunOutcome,
        diagnosis: str,
        tasks: Sequence[Task],
        stagnation: StagnationDiagnosis | None,
        recovery: Recovery,
    ) -> RunReport:
        return RunReport(
            mission_id=self.mission_id,
            run_id=run_id,
            outcome=outcome,
            diagnosis=diagnosis,
            merged=tuple(t.id for t in tasks if t.state is TaskState.MERGED),
            failed=self.failures_in(tasks),
            remaining=tuple(t.id for t in tasks if t.state not in TERMINAL_STATES),
            counts=MappingProxyType(task_counts(tasks)),
            rounds=self.rounds,
            elapsed_s=self.elapsed_s,
            stagnation=stagnation,
            recovery=recovery,
            warnings=tuple(self.warnings),
        )
