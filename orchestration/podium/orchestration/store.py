"""The durable store: missions, tasks and the event log in one SQLite file, ``<root>/.podium/podium.db``.

Every change is one ``BEGIN IMMEDIATE`` transaction that writes the rows, appends one event per change to
the hash chain (:mod:`podium.orchestration.events`) and re-renders the mission's ROADMAP.md before it
commits, so the file always follows the database in commit order even with several processes writing.
Nothing lives only in memory: opening the store again is a full restart.

Decisions:

* **Task ids are per mission** (``T1``, ``T1.2``, as roadmaps write them); the key is ``(mission_id, id)``
  and every task method takes both. :meth:`Store.resolve_task` turns what an agent types — ``T3`` alone or
  ``m-1a2b3c4d/T3`` — into a task, refusing a bare id that more than one active mission uses.
* **Readiness is stored, not computed on the fly**: whenever a task's state or dependencies change, pending
  tasks whose dependencies are all merged become ``ready`` (and ready tasks given an unmerged dependency go
  back to ``pending``), each with its own event, in the same transaction.
* **Leases**: :meth:`Store.claim` hands out the best ready task (:func:`roadmap.claim_order`). A lease that
  has expired stays with its holder (who may renew it with a heartbeat) until a claim in the same mission
  releases it back to ``ready``; only then may another worker take the task.
* ``version`` is the compare-and-swap counter: every change to a row adds one, and a writer that read an
  older version gets :class:`ConflictError` and changes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from podium.orchestration.errors import ConflictError, LeaseError, NotFoundError, RoadmapError, StoreError
from podium.orchestration.events import Event, chain_head, read_events
from podium.orchestration.lifecycle import ACTIVE_STATES, require_transition
from podium.orchestration.model import TASK_ID_PATTERN, Mission, MissionState, Role, Task, TaskState
from podium.orchestration.project import ProjectPaths, prepare_project
from podium.orchestration.render import render_roadmap, write_roadmap
from podium.orchestration.roadmap import claim_order, next_task_id, ready_ids, validate_dag
from podium.orchestration.schema import connect, mission_from_row
from podium.orchestration.transaction import (
    SYSTEM_ACTOR,
    Transaction,
    coerce_task_changes,
    conflict_error,
    load_mission,
    load_task,
    load_tasks,
    task_ref,
)
from podium.verification.errors import InputError

__all__ = ["SYSTEM_ACTOR", "Store", "task_ref"]

LEASED_STATES = frozenset({TaskState.CLAIMED, TaskState.REJECTED})
"""States in which a worker's lease can run out and hand the task back to the pool."""

_MISSION_MOVES: Mapping[MissionState, frozenset[MissionState]] = {
    MissionState.ACTIVE: frozenset({MissionState.FINISHED, MissionState.CANCELLED}),
    MissionState.FINISHED: frozenset({MissionState.ACTIVE}),
    MissionState.CANCELLED: frozenset(),
}

log = logging.getLogger(__name__)


class Store:
    """Missions, tasks and their event log, durable in SQLite; safe to share between threads.

    Open it with :meth:`Store.open`; several stores (threads or processes) may work on the same file.
    """

    def __init__(
        self, paths: ProjectPaths, *, clock: Callable[[], float] = time.time, render_roadmaps: bool = True
    ) -> None:
        self._paths = paths
        self._clock = clock
        self._render_roadmaps = render_roadmaps
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = connect(paths.db_path)

    @classmethod
    def open(
        cls, root: Path | str, *, clock: Callable[[], float] = time.time, render_roadmaps: bool = True
    ) -> Store:
        """Open (creating if needed) the store of the project at ``root``; keeps ``.podium/`` out of git."""
        return cls(prepare_project(Path(root)), clock=clock, render_roadmaps=render_roadmaps)

    @property
    def paths(self) -> ProjectPaths:
        return self._paths

    @property
    def db_path(self) -> Path:
        return self._paths.db_path

    def now(self) -> float:
        """The store's clock (injectable for tests), the one leases are measured by."""
        return float(self._clock())

    def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the store {self.db_path} is closed")
        return self._conn

    @contextmanager
    def _read(self) -> Generator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                raise StoreError(f"reading the store {self.db_path} failed: {exc}") from exc

    @contextmanager
    def _write(self) -> Generator[Transaction]:
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"the store {self.db_path} is busy or unwritable: {exc}") from exc
            try:
                txn = Transaction(conn, float(self._clock()))
                yield txn
                self._render(txn)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(conn)
                raise StoreError(f"writing the store {self.db_path} failed: {exc}") from exc
            except BaseException:
                _rollback(conn)
                raise

    def _render(self, txn: Transaction) -> None:
        if not self._render_roadmaps:
            return
        for mission_id in sorted(txn.touched):
            text = render_roadmap(load_mission(txn.conn, mission_id), load_tasks(txn.conn, mission_id))
            path = self._paths.roadmap_path(mission_id)
            try:
                write_roadmap(path, text)
            except OSError as exc:
                # the file is a view of the store: a change must not fail because the view cannot be written
                log.warning("could not write %s: %s", path, exc)

    def create_mission(
        self,
        goal: str,
        *,
        branch_prefix: str = "podium/",
        milestones: Mapping[str, str] | None = None,
        actor: str = SYSTEM_ACTOR,
    ) -> Mission:
        """Create an active mission with id ``m-<8 hex>`` and branch ``<branch_prefix><id>``.

        Args:
            goal: what the mission is for, in a sentence.
            branch_prefix: prefix of the integration branch.
            milestones: milestone ids to titles, in order (default: ``{"M1": ""}``).
            actor: who asked.
        """
        if not goal.strip():
            raise InputError("a mission needs a goal")
        ids, titles = _milestones(milestones if milestones is not None else {"M1": ""})
        with self._write() as txn:
            mission_id = txn.new_mission_id()
            mission = Mission(
                id=mission_id,
                goal=goal.strip(),
                branch=f"{branch_prefix}{mission_id}",
                created_at=txn.now,
                version=1,
                milestones=ids,
                milestone_titles=titles,
            )
            txn.insert_mission(mission, actor=actor)
            return mission

    def get_mission(self, mission_id: str) -> Mission:
        """Return the mission. Raises NotFoundError for an unknown id."""
        with self._read() as conn:
            return load_mission(conn, mission_id)

    def list_missions(self, state: MissionState | None = None) -> list[Mission]:
        """Return the missions (optionally only those in ``state``), oldest first."""
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM missions ORDER BY created_at, id").fetchall()
        missions = [mission_from_row(row) for row in rows]
        return [m for m in missions if state is None or m.state is state]

    def update_mission(
        self,
        mission_id: str,
        *,
        expected_version: int | None = None,
        actor: str = SYSTEM_ACTOR,
        reason: str = "",
        goal: str | None = None,
        state: MissionState | None = None,
        milestones: Mapping[str, str] | None = None,
    ) -> Mission:
        """Change a mission's goal, state or milestones (compare-and-swap when ``expected_version`` is given).

        Raises:
            ConflictError: the mission is no longer at ``expected_version``.
            StoreError: the mission cannot move to ``state`` (an active mission may finish or be cancelled,
                a finished one may become active again, a cancelled one stays so).
        """
        with self._write() as txn:
            current = load_mission(txn.conn, mission_id)
            if expected_version is not None and current.version != expected_version:
                raise ConflictError(
                    f"mission {mission_id} is at version {current.version}, not {expected_version}: "
                    "re-read it and retry"
                )
            changes: dict[str, object] = {}
            if goal is not None:
                if not goal.strip():
                    raise InputError("a mission needs a goal")
                changes["goal"] = goal.strip()
            if state is not None and state is not current.state:
                if state not in _MISSION_MOVES[current.state]:
                    raise StoreError(
                        f"mission {mission_id} is {current.state.value}; it cannot become {state.value}"
                    )
                changes["state"] = MissionState(state)
            if milestones is not None:
                changes["milestones"], changes["milestone_titles"] = _milestones(milestones)
            if not changes:
                return current
            return txn.change_mission(current, changes, actor=actor, reason=reason)

    def set_mission_state(
        self,
        mission_id: str,
        state: MissionState,
        *,
        expected_version: int | None = None,
        actor: str = SYSTEM_ACTOR,
        reason: str = "",
    ) -> Mission:
        """Move a mission to ``state``; see :meth:`update_mission`."""
        return self.update_mission(
            mission_id, expected_version=expected_version, actor=actor, reason=reason, state=state
        )

    def add_tasks(self, mission_id: str, tasks: Sequence[Task], *, actor: str = SYSTEM_ACTOR) -> list[Task]:
        """Add tasks to an active mission, all or none, and return them as stored.

        The new tasks are validated together with the mission's existing ones (:func:`roadmap.validate_dag`).
        A task with an empty id gets the next free top-level id. A waiting task is stored as ready when
        all its dependencies are merged, else as pending. The given ``mission_id`` and ``version`` are
        ignored.

        Raises:
            RoadmapError: an id is malformed or taken, a dependency is unknown, or the tasks form a cycle.
            StoreError: the mission is not active.
        """
        with self._write() as txn:
            mission = load_mission(txn.conn, mission_id)
            if mission.state is not MissionState.ACTIVE:
                raise StoreError(f"mission {mission_id} is {mission.state.value}: it takes no new tasks")
            existing = load_tasks(txn.conn, mission_id)
            taken = [task.id for task in existing]
            new: list[Task] = []
            for task in tasks:
                task_id = task.id or next_task_id(taken)
                if not TASK_ID_PATTERN.fullmatch(task_id):
                    raise RoadmapError(f"invalid task id {task_id!r}: task ids look like T1 or T1.2")
                taken.append(task_id)
                new.append(dataclasses.replace(task, id=task_id, mission_id=mission_id, version=1))
            validate_dag([*existing, *new])
            now_ready = set(ready_ids([*existing, *new]))
            stored: list[Task] = []
            for task in new:
                if task.state in (TaskState.PENDING, TaskState.READY):
                    waiting = TaskState.READY if task.id in now_ready else TaskState.PENDING
                    task = dataclasses.replace(task, state=waiting)
                txn.insert_task(task, actor=actor)
                stored.append(task)
            return stored

    def get_task(self, mission_id: str, task_id: str) -> Task:
        """Return one task. Raises NotFoundError for an unknown mission or task."""
        with self._read() as conn:
            task = load_task(conn, mission_id, task_id)
            if task is None:
                load_mission(conn, mission_id)
                raise NotFoundError(f"mission {mission_id} has no task {task_id}")
            return task

    def list_tasks(self, mission_id: str) -> list[Task]:
        """Return the mission's tasks in natural id order (T2 before T10). Raises NotFoundError."""
        with self._read() as conn:
            load_mission(conn, mission_id)
            return load_tasks(conn, mission_id)

    def resolve_task(self, ref: str) -> Task:
        """Find a task by ``m-1a2b3c4d/T3`` or by a bare ``T3``.

        A bare id names the task of that id if only one mission has one, else the one of the only active
        mission that has one.

        Raises:
            NotFoundError: no mission has such a task.
            InputError: the bare id is ambiguous; the message lists the qualified names to use instead.
        """
        mission_id, sep, task_id = ref.strip().rpartition("/")
        if sep:
            return self.get_task(mission_id, task_id)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT t.mission_id, m.state FROM tasks t JOIN missions m ON m.id = t.mission_id"
                " WHERE t.id = ? ORDER BY m.created_at",
                (task_id,),
            ).fetchall()
        matches = [str(row[0]) for row in rows]
        active = [str(row[0]) for row in rows if row[1] == MissionState.ACTIVE.value]
        if not matches:
            raise NotFoundError(f"no mission has a task {task_id}")
        if len(matches) > 1 and len(active) != 1:
            names = ", ".join(task_ref(m, task_id) for m in matches)
            raise InputError(f"task id {task_id} is used by several missions; name one of: {names}")
        return self.get_task(matches[0] if len(matches) == 1 else active[0], task_id)

    def update_task(
        self,
        mission_id: str,
        task_id: str,
        expected_version: int,
        *,
        actor: str = SYSTEM_ACTOR,
        reason: str = "",
        **changes: object,
    ) -> Task:
        """Change fields of a task if it is still at ``expected_version``; return it as stored.

        ``changes`` name Task fields (not ``id``, ``mission_id`` or ``version``). A new ``state`` must be a
        move the state machine allows; new ``depends_on`` must keep the roadmap a DAG.

        Raises:
            ConflictError: the task is at another version (names both); nothing was changed.
            TransitionError: the state change is not allowed.
            NotFoundError, InputError, RoadmapError.
        """
        coerced = coerce_task_changes(changes)
        with self._write() as txn:
            current = txn.require_task(mission_id, task_id)
            if current.version != expected_version:
                raise conflict_error(current, expected_version, current)
            return txn.change_task(current, coerced, actor=actor, reason=reason)

    def transition(
        self,
        mission_id: str,
        task_id: str,
        target: TaskState,
        *,
        actor: str,
        reason: str = "",
        expected_version: int | None = None,
        holder: str | None = None,
        **fields: object,
    ) -> Task:
        """Move a task to ``target`` (with other field changes), as one change.

        Args:
            expected_version: refuse with ConflictError unless the task is at this version.
            holder: refuse with LeaseError unless this worker holds the task's lease.

        Raises:
            TransitionError, ConflictError, LeaseError, NotFoundError, InputError.
        """
        coerced = coerce_task_changes({**fields, "state": target})
        with self._write() as txn:
            current = txn.require_task(mission_id, task_id)
            if expected_version is not None and current.version != expected_version:
                raise conflict_error(current, expected_version, current)
            if holder is not None:
                _require_holder(current, holder)
            # a move to the state the task is already in is no move at all: the state machine refuses it
            require_transition(current, target)
            return txn.change_task(current, coerced, actor=actor, reason=reason)

    def claim(
        self,
        mission_id: str,
        worker: str,
        lease_seconds: float,
        now: float | None = None,
        *,
        role: Role | None = None,
    ) -> Task | None:
        """Give ``worker`` the best ready task of the mission (optionally of one role), or None.

        First releases every lease in the mission that expired by ``now`` (default: the store's clock) back
        to ready, then claims the first task in :func:`roadmap.claim_order`. One IMMEDIATE transaction, so two
        claimants, in any threads or processes, never get the same task.
        """
        _require_name(worker, "worker")
        if lease_seconds <= 0:
            raise InputError(f"lease_seconds must be positive, not {lease_seconds}")
        if not self._claimable(mission_id, self.now() if now is None else now):
            # Idle workers poll often; most find nothing, and must not queue on the write lock to learn it.
            # A task that becomes claimable right after this look is found by the next claim.
            return None
        with self._write() as txn:
            at = txn.now if now is None else now
            if load_mission(txn.conn, mission_id).state is not MissionState.ACTIVE:
                return None
            for task in load_tasks(txn.conn, mission_id):
                if (
                    task.state in LEASED_STATES
                    and task.lease_expires is not None
                    and task.lease_expires <= at
                ):
                    txn.change_task(
                        task,
                        {"state": TaskState.READY},
                        actor=SYSTEM_ACTOR,
                        reason=f"the lease of {task.lease_holder} expired",
                        kind="task.lease_expired",
                    )
            tasks = load_tasks(txn.conn, mission_id)
            by_id = {task.id: task for task in tasks}
            for candidate in claim_order(tasks):
                task = by_id[candidate]
                if task.state is not TaskState.READY or (role is not None and task.role is not role):
                    continue
                changes: dict[str, object] = {
                    "state": TaskState.CLAIMED,
                    "lease_holder": worker,
                    "lease_expires": at + lease_seconds,
                    "attempts": task.attempts + 1,
                }
                return txn.change_task(task, changes, actor=worker, kind="task.claimed")
            return None

    def _claimable(self, mission_id: str, at: float) -> bool:
        """Whether the mission has a ready task or an expired lease, read without the write lock."""
        leased = ", ".join(f"'{state.value}'" for state in LEASED_STATES)
        with self._read() as conn:
            row = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM tasks WHERE mission_id = ? AND (state = ?"
                f" OR (state IN ({leased}) AND lease_expires IS NOT NULL AND lease_expires <= ?)))",
                (mission_id, TaskState.READY.value, at),
            ).fetchone()
        return bool(row[0])

    def heartbeat(
        self, mission_id: str, task_id: str, worker: str, lease_seconds: float, now: float | None = None
    ) -> Task:
        """Extend ``worker``'s lease on a task to ``now + lease_seconds``.

        Raises:
            LeaseError: the worker does not hold the task (another does, or it is not in work).
        """
        if lease_seconds <= 0:
            raise InputError(f"lease_seconds must be positive, not {lease_seconds}")
        with self._write() as txn:
            current = txn.require_task(mission_id, task_id)
            _require_holder(current, worker)
            at = txn.now if now is None else now
            changes: dict[str, object] = {"lease_expires": at + lease_seconds}
            return txn.change_task(current, changes, actor=worker, kind="task.heartbeat")

    def release(self, mission_id: str, task_id: str, worker: str, *, reason: str = "") -> Task:
        """Give a claimed (or rejected) task back to the pool as ready.

        Raises:
            LeaseError: the worker does not hold the task.
            TransitionError: the task is in a state that cannot go back to ready.
        """
        return self.transition(
            mission_id, task_id, TaskState.READY, actor=worker, reason=reason or "released", holder=worker
        )

    def append_event(
        self,
        kind: str,
        payload: Mapping[str, object],
        *,
        mission_id: str | None = None,
        task_id: str | None = None,
        actor: str = SYSTEM_ACTOR,
    ) -> Event:
        """Append an event of another layer (merge evidence, a verdict …) to the chain; return it.

        Raises:
            NotFoundError: the mission or task does not exist.
            StoreError: the payload is not JSON data.
        """
        _require_name(kind, "event kind")
        with self._write() as txn:
            if mission_id is not None:
                load_mission(txn.conn, mission_id)
                if task_id is not None and load_task(txn.conn, mission_id, task_id) is None:
                    raise NotFoundError(f"mission {mission_id} has no task {task_id}")
            elif task_id is not None:
                raise InputError("an event about a task must name its mission")
            return txn.event(kind, payload, actor=actor, mission_id=mission_id, task_id=task_id)

    def events_since(
        self, seq: int = 0, *, mission_id: str | None = None, limit: int | None = None
    ) -> list[Event]:
        """Return the events after ``seq`` in order (optionally one mission's, at most ``limit``)."""
        with self._read() as conn:
            return read_events(conn, seq, mission_id=mission_id, limit=limit)

    def last_seq(self) -> int:
        """The seq of the newest event (0 when there is none)."""
        with self._read() as conn:
            return chain_head(conn)[0]

    def write_roadmap(self, mission_id: str) -> Path:
        """Render the mission's ROADMAP.md now (it is also rendered after every change); return its path."""
        with self._read() as conn:
            text = render_roadmap(load_mission(conn, mission_id), load_tasks(conn, mission_id))
        path = self._paths.roadmap_path(mission_id)
        write_roadmap(path, text)
        return path


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            log.warning("rollback failed: %s", exc)


def _require_holder(task: Task, worker: str) -> None:
    if task.state not in ACTIVE_STATES:
        raise LeaseError(
            f"task {task.id} is {task.state.value}: nobody holds a lease on it, {worker} neither"
        )
    if task.lease_holder != worker:
        raise LeaseError(f"task {task.id} is held by {task.lease_holder}, not by {worker}")


def _require_name(value: str, what: str) -> None:
    if not value.strip():
        raise InputError(f"the {what} must not be empty")


def _milestones(milestones: Mapping[str, str]) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    if not milestones:
        raise InputError("a mission needs at least one milestone")
    for milestone in milestones:
        if not milestone or milestone != milestone.strip() or ":" in milestone or len(milestone.split()) > 1:
            raise InputError(f"invalid milestone id {milestone!r}: use a short word such as M1")
    ids = tuple(milestones)
    titles = tuple((m, " ".join(title.split())) for m, title in milestones.items() if title.strip())
    return ids, titles
