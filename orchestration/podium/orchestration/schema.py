"""The store's SQLite layout: connection settings, tables, migrations, and rows to values and back.

Tasks are keyed by ``(mission_id, id)``: task ids (``T1``, ``T1.2``) are per mission, as roadmaps write them.
List-valued fields are JSON arrays in TEXT columns; enums are their string values, checked by the table.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from podium.orchestration.errors import StoreError
from podium.orchestration.model import Mission, MissionState, Role, Size, Task, TaskState

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "SCHEMA_VERSION",
    "TASK_COLUMNS",
    "connect",
    "get_meta",
    "mission_from_row",
    "mission_params",
    "set_meta",
    "task_from_row",
    "task_params",
]

SCHEMA_VERSION = 1
BUSY_TIMEOUT_SECONDS = 30.0
"""How long a writer waits for another connection's write transaction before the store gives up."""


def _one_of(column: str, values: Iterable[str]) -> str:
    listed = ", ".join(f"'{value}'" for value in values)
    return f"CHECK ({column} IN ({listed}))"


_TABLES = (
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    f"""CREATE TABLE missions (
        id TEXT PRIMARY KEY,
        goal TEXT NOT NULL,
        branch TEXT NOT NULL,
        state TEXT NOT NULL {_one_of("state", MissionState)},
        created_at REAL NOT NULL,
        version INTEGER NOT NULL,
        milestones TEXT NOT NULL,
        milestone_titles TEXT NOT NULL
    )""",
    f"""CREATE TABLE tasks (
        mission_id TEXT NOT NULL REFERENCES missions(id),
        id TEXT NOT NULL,
        title TEXT NOT NULL,
        description TEXT NOT NULL,
        role TEXT NOT NULL {_one_of("role", Role)},
        files TEXT NOT NULL,
        depends_on TEXT NOT NULL,
        priority INTEGER NOT NULL,
        size TEXT NOT NULL {_one_of("size", Size)},
        state TEXT NOT NULL {_one_of("state", TaskState)},
        attempts INTEGER NOT NULL,
        lease_holder TEXT,
        lease_expires REAL,
        last_verdict TEXT,
        review INTEGER NOT NULL DEFAULT 0,
        milestone TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (mission_id, id)
    )""",
    "CREATE INDEX tasks_by_id ON tasks (id)",
    """CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        mission_id TEXT,
        task_id TEXT,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        payload TEXT NOT NULL,
        ts REAL NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )""",
    "CREATE INDEX events_by_mission ON events (mission_id, seq)",
)

TASK_COLUMNS = (
    "mission_id",
    "id",
    "title",
    "description",
    "role",
    "files",
    "depends_on",
    "priority",
    "size",
    "state",
    "attempts",
    "lease_holder",
    "lease_expires",
    "last_verdict",
    "review",
    "milestone",
    "version",
)


def connect(db_path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the store at ``db_path`` with WAL, a busy timeout and foreign keys on.

    The connection is in autocommit mode: the store opens every transaction itself (``BEGIN IMMEDIATE`` for
    writes), so Python's sqlite3 never starts one behind its back. It may be used from several threads as
    long as the caller serialises them.

    Raises:
        StoreError: the file cannot be opened, is not a Podium store, or was written by a newer Podium.
    """
    try:
        conn = sqlite3.connect(
            db_path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the store {db_path}: {exc}") from None
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        # switching to WAL needs a moment alone with the file; ask only when it is not WAL yet
        if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        _migrate(conn, db_path)
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"cannot open the store {db_path}: {exc}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection, db_path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the store {db_path} has schema version {version}; this Podium reads up to {SCHEMA_VERSION}"
            )
        if version == 0:
            existing = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if existing:
                raise StoreError(f"{db_path} is an SQLite database but not a Podium store")
            for statement in _TABLES:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    """Return the ``meta`` value stored under ``key``, or None."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Store ``value`` under ``key`` in ``meta`` (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _json_strings(text: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in json.loads(str(text)))


def task_from_row(row: sqlite3.Row) -> Task:
    """Build a :class:`Task` from a ``tasks`` row."""
    lease_expires = row["lease_expires"]
    lease_holder = row["lease_holder"]
    last_verdict = row["last_verdict"]
    return Task(
        id=str(row["id"]),
        mission_id=str(row["mission_id"]),
        title=str(row["title"]),
        description=str(row["description"]),
        role=Role(row["role"]),
        files=_json_strings(row["files"]),
        depends_on=_json_strings(row["depends_on"]),
        priority=int(row["priority"]),
        size=Size(row["size"]),
        state=TaskState(row["state"]),
        attempts=int(row["attempts"]),
        lease_holder=None if lease_holder is None else str(lease_holder),
        lease_expires=None if lease_expires is None else float(lease_expires),
        last_verdict=None if last_verdict is None else str(last_verdict),
        review=bool(row["review"]),
        milestone=str(row["milestone"]),
        version=int(row["version"]),
    )


def task_params(task: Task) -> dict[str, object]:
    """The named SQL parameters of a task, one per column of :data:`TASK_COLUMNS`."""
    return {
        "mission_id": task.mission_id,
        "id": task.id,
        "title": task.title,
        "description": task.description,
        "role": task.role.value,
        "files": json.dumps(list(task.files)),
        "depends_on": json.dumps(list(task.depends_on)),
        "priority": task.priority,
        "size": task.size.value,
        "state": task.state.value,
        "attempts": task.attempts,
        "lease_holder": task.lease_holder,
        "lease_expires": task.lease_expires,
        "last_verdict": task.last_verdict,
        "review": int(task.review),
        "milestone": task.milestone,
        "version": task.version,
    }


def mission_from_row(row: sqlite3.Row) -> Mission:
    """Build a :class:`Mission` from a ``missions`` row."""
    titles = tuple((str(pair[0]), str(pair[1])) for pair in json.loads(str(row["milestone_titles"])))
    return Mission(
        id=str(row["id"]),
        goal=str(row["goal"]),
        branch=str(row["branch"]),
        state=MissionState(row["state"]),
        created_at=float(row["created_at"]),
        version=int(row["version"]),
        milestones=_json_strings(row["milestones"]),
        milestone_titles=titles,
    )


def mission_params(mission: Mission) -> dict[str, object]:
    """The named SQL parameters of a mission, one per column of ``missions``."""
    return {
        "id": mission.id,
        "goal": mission.goal,
        "branch": mission.branch,
        "state": mission.state.value,
        "created_at": mission.created_at,
        "version": mission.version,
        "milestones": json.dumps(list(mission.milestones)),
        "milestone_titles": json.dumps([list(pair) for pair in mission.milestone_titles]),
    }
