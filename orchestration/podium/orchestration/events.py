"""The event log: every change to the store appends one event, and the events form a hash chain.

Each event's ``hash`` is ``sha256(prev_hash + canonical_json(body))`` where the body is every field of the
event except the hash itself (``seq`` and ``prev_hash`` included), and ``canonical_json`` sorts keys, uses no
spaces and keeps non-ASCII text as is. The first event links to :data:`GENESIS_HASH`. The head of the chain
(last seq and hash) is also kept in ``meta``, so deleting the newest events is as visible as deleting any
other: the next event links to the recorded head, and the audit compares the last event with it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

from podium.orchestration.errors import StoreError
from podium.orchestration.schema import get_meta, set_meta

__all__ = [
    "GENESIS_HASH",
    "HEAD_HASH_KEY",
    "HEAD_SEQ_KEY",
    "Event",
    "JsonValue",
    "append_event",
    "canonical_json",
    "chain_head",
    "event_body",
    "event_from_row",
    "event_hash",
    "read_events",
]

JsonValue: TypeAlias = "str | int | float | bool | None | list[JsonValue] | dict[str, JsonValue]"

GENESIS_HASH = "0" * 64
HEAD_SEQ_KEY = "chain.head_seq"
HEAD_HASH_KEY = "chain.head_hash"

_COLUMNS = "seq, mission_id, task_id, kind, actor, payload, ts, prev_hash, hash"


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the log: what happened (``kind``, ``payload``), to what, by whom, when, and its links."""

    seq: int
    mission_id: str | None
    task_id: str | None
    kind: str
    actor: str
    payload: Mapping[str, JsonValue]
    ts: float
    prev_hash: str
    hash: str

    def body(self) -> dict[str, JsonValue]:
        """The fields the hash covers."""
        return event_body(
            seq=self.seq,
            mission_id=self.mission_id,
            task_id=self.task_id,
            kind=self.kind,
            actor=self.actor,
            payload=self.payload,
            ts=self.ts,
            prev_hash=self.prev_hash,
        )

    def to_dict(self) -> dict[str, JsonValue]:
        """The event as plain JSON data, hash included."""
        return {**self.body(), "hash": self.hash}


def canonical_json(value: object) -> str:
    """Serialise ``value`` the one way the chain hashes it: sorted keys, no spaces, UTF-8 text kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def event_body(
    *,
    seq: int,
    mission_id: str | None,
    task_id: str | None,
    kind: str,
    actor: str,
    payload: Mapping[str, JsonValue],
    ts: float,
    prev_hash: str,
) -> dict[str, JsonValue]:
    """The hashed fields of an event as one JSON object."""
    return {
        "seq": seq,
        "mission_id": mission_id,
        "task_id": task_id,
        "kind": kind,
        "actor": actor,
        "payload": dict(payload),
        "ts": ts,
        "prev_hash": prev_hash,
    }


def event_hash(prev_hash: str, body: Mapping[str, JsonValue]) -> str:
    """``sha256(prev_hash + canonical_json(body))`` as hex."""
    return hashlib.sha256((prev_hash + canonical_json(body)).encode("utf-8")).hexdigest()


def chain_head(conn: sqlite3.Connection) -> tuple[int, str]:
    """Return the seq and hash of the newest event as recorded in ``meta``; ``(0, GENESIS_HASH)`` at first."""
    seq = get_meta(conn, HEAD_SEQ_KEY)
    digest = get_meta(conn, HEAD_HASH_KEY)
    if seq is None or digest is None:
        return 0, GENESIS_HASH
    return int(seq), digest


def append_event(
    conn: sqlite3.Connection,
    *,
    kind: str,
    actor: str,
    payload: Mapping[str, object],
    ts: float,
    mission_id: str | None = None,
    task_id: str | None = None,
) -> Event:
    """Append one event after the chain's head, inside the caller's write transaction.

    Raises:
        StoreError: the payload is not JSON data (or holds NaN or infinity).
    """
    try:
        payload_text = canonical_json(payload)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"event {kind!r} has a payload that is not JSON data: {exc}") from None
    # hash what a reader will parse back, so writer and auditor agree on every value
    parsed = cast(dict[str, JsonValue], json.loads(payload_text))
    ts = float(ts)  # the REAL column gives back a float; an int here would hash differently from it
    head_seq, prev_hash = chain_head(conn)
    seq = head_seq + 1
    body = event_body(
        seq=seq,
        mission_id=mission_id,
        task_id=task_id,
        kind=kind,
        actor=actor,
        payload=parsed,
        ts=ts,
        prev_hash=prev_hash,
    )
    digest = event_hash(prev_hash, body)
    conn.execute(
        f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, mission_id, task_id, kind, actor, payload_text, ts, prev_hash, digest),
    )
    set_meta(conn, HEAD_SEQ_KEY, str(seq))
    set_meta(conn, HEAD_HASH_KEY, digest)
    return Event(seq, mission_id, task_id, kind, actor, parsed, ts, prev_hash, digest)


def event_from_row(row: sqlite3.Row) -> Event:
    """Build an :class:`Event` from an ``events`` row (the payload parsed from its JSON text).

    Raises:
        ValueError: the payload is not a JSON object.
    """
    payload: Any = json.loads(str(row["payload"]))
    if not isinstance(payload, dict):
        raise ValueError(f"event {row['seq']} has a payload that is not a JSON object")
    mission_id = row["mission_id"]
    task_id = row["task_id"]
    return Event(
        seq=int(row["seq"]),
        mission_id=None if mission_id is None else str(mission_id),
        task_id=None if task_id is None else str(task_id),
        kind=str(row["kind"]),
        actor=str(row["actor"]),
        payload=cast(dict[str, JsonValue], payload),
        ts=float(row["ts"]),
        prev_hash=str(row["prev_hash"]),
        hash=str(row["hash"]),
    )


def read_events(
    conn: sqlite3.Connection, after_seq: int = 0, *, mission_id: str | None = None, limit: int | None = None
) -> list[Event]:
    """Return the events with ``seq > after_seq`` in order, optionally of one mission, at most ``limit``."""
    sql = f"SELECT {_COLUMNS} FROM events WHERE seq > ?"
    params: list[object] = [after_seq]
    if mission_id is not None:
        sql += " AND mission_id = ?"
        params.append(mission_id)
    sql += " ORDER BY seq"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [event_from_row(row) for row in conn.execute(sql, params)]
