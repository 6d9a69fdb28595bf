"""One write transaction of the store, and the one way a task row changes inside it.

A :class:`Transaction` wraps a connection on which ``BEGIN IMMEDIATE`` has been issued. A task changes only
through :meth:`Transaction.change_task`: check the move against the state machine and the roadmap against
the DAG rules, write the row with compare-and-swap on ``version``, append the event, then settle the
readiness of the mission's tasks. The store owns opening, committing and rolling back.
"""

from __future__ import annotations

import dataclasses
import secrets
import sqlite3
from collections.abc import Mapping, Sequence
from typing import cast

from podium.orchestration.errors import ConflictError, NotFoundError
from podium.orchestration.events import Event, append_event
from podium.orchestration.lifecycle import require_transition
from podium.orchestration.model import Mission, Role, Size, Task, TaskState
from podium.orchestration.roadmap import id_sort_key, ready_ids, validate_dag
from podium.orchestration.schema import (
    TASK_COLUMNS,
    mission_from_row,
    mission_params,
    task_from_row,
    task_params,
)
from podium.verification.errors import InputError

__all__ = [
    "SYSTEM_ACTOR",
    "Transaction",
    "coerce_task_changes",
    "load_mission",
    "load_task",
    "load_tasks",
    "task_json",
    "task_ref",
]

SYSTEM_ACTOR = "podium"
"""The actor of changes Podium makes by itself (readiness, expired leases)."""

_STR_FIELDS = frozenset({"title", "description", "milestone"})
_OPTIONAL_STR_FIELDS = frozenset({"lease_holder", "last_verdict"})
_INT_FIELDS = frozenset({"priority", "attempts"})
_ID_LIST_FIELDS = frozenset({"files", "depends_on"})
_ENUM_FIELDS: Mapping[str, type[Role] | type[Size] | type[TaskState]] = {
    "role": Role,
    "size": Size,
    "state": TaskState,
}
CHANGEABLE_FIELDS = frozenset(
    {
        *_STR_FIELDS,
        *_OPTIONAL_STR_FIELDS,
        *_INT_FIELDS,
        *_ID_LIST_FIELDS,
        *_ENUM_FIELDS,
        "lease_expires",
        "review",
    }
)
"""Task fields a change may set; ``id``, ``mission_id`` and ``version`` are the store's."""


def task_ref(mission_id: str, task_id: str) -> str:
    """The unambiguous name of a task across missions: ``m-1a2b3c4d/T1.2``."""
    return f"{mission_id}/{task_id}"


def coerce_task_changes(changes: Mapping[str, object]) -> dict[str, object]:
    """Check field names and values of a task change; lists become tuples and strings become enums.

    Raises:
        InputError: naming the field that cannot be changed or the value it cannot take.
    """
    coerced: dict[str, object] = {}
    for name, value in changes.items():
        if name not in CHANGEABLE_FIELDS:
            allowed = ", ".join(sorted(CHANGEABLE_FIELDS))
            raise InputError(f"task field {name!r} cannot be changed (changeable: {allowed})")
        coerced[name] = _coerce(name, value)
    return coerced


def _coerce(name: str, value: object) -> object:
    if name in _ENUM_FIELDS:
        enum = _ENUM_FIELDS[name]
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            raise InputError(f"task field {name} cannot be {value!r} (one of: {allowed})") from None
    if name in _STR_FIELDS and isinstance(value, str):
        return value
    if name in _OPTIONAL_STR_FIELDS and (value is None or isinstance(value, str)):
        return value
    if name == "review" and isinstance(value, bool):
        return value
    if name in _INT_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        return value
    if name == "lease_expires" and (
        value is None or (isinstance(value, int | float) and not isinstance(value, bool))
    ):
        return None if value is None else float(value)
    if name in _ID_LIST_FIELDS and isinstance(value, list | tuple):
        items = cast("Sequence[object]", value)
        if all(isinstance(item, str) for item in items):
            return tuple(str(item) for item in items)
    raise InputError(f"task field {name} cannot be {value!r}: wrong type")


def task_json(task: Task) -> dict[str, object]:
    """A task's fields as JSON data for an event payload (its ids are the event's own columns)."""
    fields = {field.name: getattr(task, field.name) for field in dataclasses.fields(task)}
    del fields["mission_id"], fields["id"]
    return fields


def load_mission(conn: sqlite3.Connection, mission_id: str) -> Mission:
    """Read one mission. Raises NotFoundError."""
    row = conn.execute("SELECT * FROM missions WHERE id = ?", (mission_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no mission {mission_id}")
    return mission_from_row(row)


def load_task(conn: sqlite3.Connection, mission_id: str, task_id: str) -> Task | None:
    """Read one task, or None."""
    row = conn.execute(
        "SELECT * FROM tasks WHERE mission_id = ? AND id = ?", (mission_id, task_id)
    ).fetchone()
    return None if row is None else task_from_row(row)


def load_tasks(conn: sqlite3.Connection, mission_id: str) -> list[Task]:
    """Read a mission's tasks in natural id order."""
    rows = conn.execute("SELECT * FROM tasks WHERE mission_id = ?", (mission_id,)).fetchall()
    return sorted((task_from_row(row) for row in rows), key=lambda task: id_sort_key(task.id))


def conflict_error(task: Task, expected: int, actual: Task | None) -> ConflictError:
    """The error of a lost compare-and-swap, naming the task and both versions."""
    now = "is gone" if actual is None else f"is at version {actual.version}"
    return ConflictError(
        f"task {task_ref(task.mission_id, task.id)} {now}, not the expected version {expected}: "
        "someone changed it first; re-read it and retry"
    )


class Transaction:
    """An open ``BEGIN IMMEDIATE`` transaction: reads see its own writes; events carry its timestamp.

    ``touched`` collects the missions whose ROADMAP.md must be rendered before the commit.
    """

    def __init__(self, conn: sqlite3.Connection, now: float) -> None:
        self.conn = conn
        self.now = now
        self.touched: set[str] = set()

    def event(
        self,
        kind: str,
        payload: Mapping[str, object],
        *,
        actor: str,
        mission_id: str | None = None,
        task_id: str | None = None,
    ) -> Event:
        """Append an event to the chain."""
        if mission_id is not None:
            self.touched.add(mission_id)
        return append_event(
            self.conn,
            kind=kind,
            actor=actor,
            payload=payload,
            ts=self.now,
            mission_id=mission_id,
            task_id=task_id,
        )

    def new_mission_id(self) -> str:
        """A fresh mission id, ``m-`` and 8 hex digits, not yet in use."""
        while True:
            mission_id = f"m-{secrets.token_hex(4)}"
            if self.conn.execute("SELECT 1 FROM missions WHERE id = ?", (mission_id,)).fetchone() is None:
                return mission_id

    def insert_mission(self, mission: Mission, *, actor: str) -> None:
        """Store a new mission and append its ``mission.created`` event."""
        self.conn.execute(
            "INSERT INTO missions (id, goal, branch, state, created_at, version, milestones,"
            " milestone_titles) VALUES (:id, :goal, :branch, :state, :created_at, :version, :milestones,"
            " :milestone_titles)",
            mission_params(mission),
        )
        payload = {
            "goal": mission.goal,
            "branch": mission.branch,
            "state": mission.state.value,
            "milestones": list(mission.milestones),
            "milestone_titles": [list(pair) for pair in mission.milestone_titles],
        }
        self.event("mission.created", payload, actor=actor, mission_id=mission.id)

    def change_mission(
        self, current: Mission, changes: Mapping[str, object], *, actor: str, reason: str = ""
    ) -> Mission:
        """Apply checked ``changes`` to a mission as one change, with its ``mission.*`` event."""
        new = dataclasses.replace(current, **changes, version=current.version + 1)
        cursor = self.conn.execute(
            "UPDATE missions SET goal = :goal, state = :state, version = :version, milestones = :milestones,"
            " milestone_titles = :milestone_titles WHERE id = :id AND version = :expected",
            {**mission_params(new), "expected": current.version},
        )
        if cursor.rowcount != 1:
            raise ConflictError(f"mission {current.id} changed since version {current.version}; re-read it")
        payload: dict[str, object] = {
            "changes": dict(changes),
            "from_version": current.version,
            "to_version": new.version,
        }
        if reason:
            payload["reason"] = reason
        kind = f"mission.{new.state.value}" if "state" in changes else "mission.updated"
        self.event(kind, payload, actor=actor, mission_id=current.id)
        return new

    def require_task(self, mission_id: str, task_id: str) -> Task:
        """Read one task. Raises NotFoundError naming the mission or the task."""
        task = load_task(self.conn, mission_id, task_id)
        if task is None:
            load_mission(self.conn, mission_id)
            raise NotFoundError(f"mission {mission_id} has no task {task_id}")
        return task

    def insert_task(self, task: Task, *, actor: str) -> None:
        """Store a new task and append its ``task.added`` event."""
        columns = ", ".join(TASK_COLUMNS)
        placeholders = ", ".join(f":{column}" for column in TASK_COLUMNS)
        self.conn.execute(f"INSERT INTO tasks ({columns}) VALUES ({placeholders})", task_params(task))
        self.event("task.added", task_json(task), actor=actor, mission_id=task.mission_id, task_id=task.id)

    def change_task(
        self,
        current: Task,
        changes: Mapping[str, object],
        *,
        actor: str,
        reason: str = "",
        kind: str | None = None,
    ) -> Task:
        """Apply coerced ``changes`` to ``current`` as one change; return the task as stored afterwards.

        A task moved back to ready or pending loses its lease unless ``changes`` set the lease fields.

        Raises:
            InputError: no changes.
            TransitionError: a state move the state machine does not allow.
            RoadmapError: new dependencies that break the DAG.
            ConflictError: the row is no longer at ``current.version``.
        """
        if not changes:
            raise InputError(f"no changes given for task {current.id}")
        new = dataclasses.replace(current, **changes)
        moved = new.state is not current.state
        if moved:
            require_transition(current, new.state)
            if new.state in (TaskState.READY, TaskState.PENDING):
                new = dataclasses.replace(
                    new,
                    lease_holder=new.lease_holder if "lease_holder" in changes else None,
                    lease_expires=new.lease_expires if "lease_expires" in changes else None,
                )
        rewired = new.depends_on != current.depends_on
        if rewired:
            validate_dag([new if t.id == new.id else t for t in load_tasks(self.conn, current.mission_id)])
        new = dataclasses.replace(new, version=current.version + 1)
        payload: dict[str, object] = {"changes": dict(changes)}
        if moved:
            payload["from_state"] = current.state.value
            payload["to_state"] = new.state.value
        self._write(current, new, payload, actor=actor, reason=reason, kind=kind)
        # Readiness depends only on which dependencies are merged (merged is terminal), so only a merge or
        # rewired dependencies can change it; settling after every move cost a full task scan per change.
        if rewired or (moved and new.state is TaskState.MERGED):
            self._settle_readiness(current.mission_id)
            settled = load_task(self.conn, new.mission_id, new.id)
            return settled if settled is not None else new
        return new

    def _write(
        self,
        current: Task,
        new: Task,
        payload: dict[str, object],
        *,
        actor: str,
        reason: str,
        kind: str | None,
    ) -> None:
        assignments = ", ".join(f"{column} = :{column}" for column in TASK_COLUMNS[2:])
        cursor = self.conn.execute(
            f"UPDATE tasks SET {assignments}"
            " WHERE mission_id = :mission_id AND id = :id AND version = :expected",
            {**task_params(new), "expected": current.version},
        )
        if cursor.rowcount != 1:
            raise conflict_error(
                current, current.version, load_task(self.conn, current.mission_id, current.id)
            )
        payload = {**payload, "from_version": current.version, "to_version": new.version}
        if reason:
            payload["reason"] = reason
        moved = new.state is not current.state
        kind = kind or (f"task.{new.state.value}" if moved else "task.updated")
        self.event(kind, payload, actor=actor, mission_id=new.mission_id, task_id=new.id)

    def _settle_readiness(self, mission_id: str) -> None:
        tasks = load_tasks(self.conn, mission_id)
        ready = set(ready_ids(tasks))
        for task in tasks:
            if task.state is TaskState.PENDING and task.id in ready:
                target, reason = TaskState.READY, "its dependencies are merged"
            elif task.state is TaskState.READY and task.id not in ready:
                target, reason = TaskState.PENDING, "it depends on a task not merged yet"
            else:
                continue
            # promoting or demoting one task changes no other task's readiness, so one pass settles all
            new = dataclasses.replace(task, state=target, version=task.version + 1)
            payload: dict[str, object] = {
                "changes": {"state": target.value},
                "from_state": task.state.value,
                "to_state": target.value,
            }
            self._write(task, new, payload, actor=SYSTEM_ACTOR, reason=reason, kind=None)
