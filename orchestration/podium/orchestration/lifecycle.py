"""The task state machine, as data.

The main line is ``pending → ready → claimed → submitted → (review →) merged``; the whole table:

    from        may move to
    pending     ready, cancelled
    ready       claimed, pending, cancelled
    claimed     submitted, ready (released or lease expired), blocked, failed, cancelled
    submitted   review, merged (no reviewer), rejected (by the gate), cancelled
    review      merged, rejected (by the reviewer), cancelled
    rejected    claimed (rework with the findings), ready, blocked, failed, cancelled
    blocked     ready, cancelled
    failed      ready (a person retries), cancelled
    merged      -
    cancelled   -

Decisions:

* ``rejected`` is a resting state, not a blip on the way back to ``claimed``: the gate or reviewer records
  its verdict there, where boards and the worker can see it, and the worker's next move takes it back to
  ``claimed`` to rework with the findings. It can also go back to ``ready`` (the worker released it or its
  lease expired, so another worker may pick it up, findings included), or to ``blocked`` / ``failed``
  (for instance when the attempts run out).
* ``failed`` is not terminal: automation never moves a failed task, but a person may retry it
  (``failed → ready``) or give up on it (``failed → cancelled``). A mission is therefore not finished while a
  task sits in ``failed``; somebody has to decide.
* ``ready → pending`` exists for roadmap revisions that give a ready task a dependency not yet merged.
* ``merged`` and ``cancelled`` are terminal. No state moves to itself: renewing a lease is not a transition.

Every state falls in exactly one of four groups: :data:`WAITING_STATES`, :data:`ACTIVE_STATES`,
:data:`HALTED_STATES` and :data:`TERMINAL_STATES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from podium.orchestration.errors import TransitionError
from podium.orchestration.model import Task, TaskState

__all__ = [
    "ACTIVE_STATES",
    "HALTED_STATES",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "WAITING_STATES",
    "allowed_targets",
    "can_transition",
    "require_transition",
]

_S = TaskState

TRANSITIONS: Mapping[TaskState, frozenset[TaskState]] = MappingProxyType(
    {
        _S.PENDING: frozenset({_S.READY, _S.CANCELLED}),
        _S.READY: frozenset({_S.CLAIMED, _S.PENDING, _S.CANCELLED}),
        _S.CLAIMED: frozenset({_S.SUBMITTED, _S.READY, _S.BLOCKED, _S.FAILED, _S.CANCELLED}),
        _S.SUBMITTED: frozenset({_S.REVIEW, _S.MERGED, _S.REJECTED, _S.CANCELLED}),
        _S.REVIEW: frozenset({_S.MERGED, _S.REJECTED, _S.CANCELLED}),
        _S.REJECTED: frozenset({_S.CLAIMED, _S.READY, _S.BLOCKED, _S.FAILED, _S.CANCELLED}),
        _S.BLOCKED: frozenset({_S.READY, _S.CANCELLED}),
        _S.FAILED: frozenset({_S.READY, _S.CANCELLED}),
        _S.MERGED: frozenset(),
        _S.CANCELLED: frozenset(),
    }
)
"""For each state, the states a task may move to from it."""

WAITING_STATES: frozenset[TaskState] = frozenset({_S.PENDING, _S.READY})
"""Not started: waiting for dependencies (pending) or for a worker (ready)."""

ACTIVE_STATES: frozenset[TaskState] = frozenset({_S.CLAIMED, _S.SUBMITTED, _S.REVIEW, _S.REJECTED})
"""Work in flight: the task has a worker (holding its lease) and a worktree, and counts against capacity."""

HALTED_STATES: frozenset[TaskState] = frozenset({_S.BLOCKED, _S.FAILED})
"""Stopped until a person acts: unblock, retry or cancel."""

TERMINAL_STATES: frozenset[TaskState] = frozenset({_S.MERGED, _S.CANCELLED})
"""No move leads out of these."""


def allowed_targets(state: TaskState) -> frozenset[TaskState]:
    """Return the states a task in ``state`` may move to (empty for a terminal state)."""
    return TRANSITIONS[state]


def can_transition(state: TaskState, target: TaskState) -> bool:
    """Tell whether a task in ``state`` may move to ``target``."""
    return target in TRANSITIONS[state]


def require_transition(task: Task, target: TaskState) -> None:
    """Refuse a move the state machine does not allow.

    Raises:
        TransitionError: naming the task, its state, the move and the moves allowed from that state.
    """
    if can_transition(task.state, target):
        return
    allowed = [s.value for s in TaskState if s in TRANSITIONS[task.state]]
    raise TransitionError(
        f"task {task.id} is {task.state.value}; cannot move it to {target.value} "
        f"(allowed from {task.state.value}: {', '.join(allowed) or 'none'})",
        task_id=task.id,
        state=task.state,
        target=target,
    )
