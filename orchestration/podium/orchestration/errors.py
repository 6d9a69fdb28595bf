"""The orchestration branch of Podium's exception tree.

    PodiumError                  (podium.verification.errors)
    ├── StoreError               the durable store refused or failed
    │   └── ConflictError        a compare-and-swap lost: someone changed the row first; re-read and retry
    ├── NotFoundError            an unknown mission or task id
    ├── TransitionError          a task cannot make that move from its current state (names both)
    ├── RoadmapError             a roadmap that is not a valid DAG: duplicate ids, unknown or self
    │                            dependencies, cycles (names the cycle)
    ├── WorkspaceError           git or worktree trouble
    └── LeaseError               a worker acted on a task it does not hold, or whose lease expired

A task the scheduler cannot hand out, or an edit the gate rejects, is a value, not one of these:
exceptions are for misuse and faults, and each message names what was refused and why.
"""

from __future__ import annotations

from collections.abc import Sequence

from podium.orchestration.model import TaskState
from podium.verification.errors import PodiumError

__all__ = [
    "ConflictError",
    "LeaseError",
    "NotFoundError",
    "RoadmapError",
    "StoreError",
    "TransitionError",
    "WorkspaceError",
]


class StoreError(PodiumError):
    """The durable store refused or failed."""

    code = "store_error"


class ConflictError(StoreError):
    """A compare-and-swap lost: the row changed since it was read. Re-read and retry."""

    code = "conflict"


class NotFoundError(PodiumError):
    """An id that names no mission or task; the message names the id."""

    code = "not_found"


class TransitionError(PodiumError):
    """A task cannot make the requested move from its current state.

    Attributes:
        task_id: the task that was asked to move.
        state: the state it is in.
        target: the state it was asked to move to.
    """

    code = "illegal_transition"

    def __init__(self, message: str, *, task_id: str, state: TaskState, target: TaskState) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.state = state
        self.target = target


class RoadmapError(PodiumError):
    """A roadmap that is not a valid DAG.

    Attributes:
        problems: every problem found, one sentence each; the message joins them.
    """

    code = "invalid_roadmap"

    def __init__(self, message: str, *, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = tuple(problems) or (message,)


class WorkspaceError(PodiumError):
    """Git or worktree trouble: the message names the repository or worktree and the git error."""

    code = "workspace_error"


class LeaseError(PodiumError):
    """A worker acted on a task it does not hold, or after its lease expired."""

    code = "lease_error"
