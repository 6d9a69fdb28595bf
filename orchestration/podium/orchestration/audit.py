"""Checking the event log's hash chain, and naming the first event that does not fit.

Three kinds of damage are told apart at the first bad event:

* **altered** — an event's fields no longer give its stored hash (a payload, kind, actor … was edited), or
  the newest event is not the head the store recorded;
* **missing** — a gap in the sequence numbers, an event that links to an event no longer in the log, or a
  log that ends before the head the store recorded (the newest events were deleted);
* **reordered** — an event that is intact but sits at the wrong place: its hash fits when computed with
  another seq, or it links to an event that is still in the log but not its predecessor.

Every event's hash covers its own seq and its predecessor's hash (see :mod:`podium.orchestration.events`),
which is what lets a moved event be recognised rather than only reported as changed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, cast

from podium.orchestration.errors import StoreError
from podium.orchestration.events import (
    GENESIS_HASH,
    HEAD_HASH_KEY,
    HEAD_SEQ_KEY,
    JsonValue,
    event_body,
    event_hash,
)
from podium.orchestration.schema import BUSY_TIMEOUT_SECONDS

__all__ = ["AuditReport", "Damage", "verify_chain"]


class Damage(StrEnum):
    ALTERED = "altered"
    MISSING = "missing"
    REORDERED = "reordered"


@dataclass(frozen=True, slots=True)
class AuditReport:
    """The outcome of walking the chain.

    Attributes:
        ok: every event is intact, in place, and the last one is the recorded head.
        events_checked: events found intact before the first bad one (all of them when ``ok``).
        first_bad_seq: the seq at which the chain first fails (a missing event's seq when one is missing).
        damage: what kind of damage was found there.
        reason: one sentence a person can act on.
    """

    ok: bool
    events_checked: int
    first_bad_seq: int | None = None
    damage: Damage | None = None
    reason: str = ""

    def describe(self) -> str:
        """One line for people."""
        if self.ok:
            return f"audit: chain intact, {self.events_checked} events checked"
        return f"audit: chain broken at seq {self.first_bad_seq} ({self.damage}): {self.reason}"

    def to_dict(self) -> dict[str, object]:
        """The report as plain JSON data."""
        return {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "first_bad_seq": self.first_bad_seq,
            "damage": None if self.damage is None else self.damage.value,
            "reason": self.reason,
        }


class HasDbPath(Protocol):
    """Anything that knows where its store lives, such as :class:`podium.orchestration.store.Store`."""

    @property
    def db_path(self) -> Path: ...


def verify_chain(source: Path | str | HasDbPath) -> AuditReport:
    """Walk the event chain of the store at ``source`` (a database path or an open store).

    Reads one consistent snapshot on a connection of its own, so writers may go on meanwhile.

    Raises:
        StoreError: there is no store there, or it cannot be read.
    """
    db_path = Path(source) if isinstance(source, Path | str) else source.db_path
    if not db_path.is_file():
        raise StoreError(f"no Podium store at {db_path}")
    try:
        conn = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the store {db_path}: {exc}") from None
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("BEGIN")
        try:
            return _Walk(conn).run()
        finally:
            conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the event log of {db_path}: {exc}") from None
    finally:
        conn.close()


@dataclass(frozen=True, slots=True)
class _Row:
    seq: int
    body: dict[str, JsonValue] | None  # None when the payload is not a JSON object
    prev_hash: str
    hash: str

    def hash_as(self, seq: int) -> str | None:
        """The hash this event would have if it had been written with ``seq``."""
        if self.body is None:
            return None
        return event_hash(self.prev_hash, {**self.body, "seq": seq})


class _Walk:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _rows(self) -> Iterator[_Row]:
        cursor = self._conn.execute(
            "SELECT seq, mission_id, task_id, kind, actor, payload, ts, prev_hash, hash"
            " FROM events ORDER BY seq"
        )
        for raw in cursor:
            yield _to_row(raw)

    def run(self) -> AuditReport:
        expected_seq = 1
        prev_hash = GENESIS_HASH
        checked = 0
        for row in self._rows():
            if row.seq != expected_seq:
                return self._gap(expected_seq, row, checked)
            if row.hash_as(row.seq) != row.hash:
                return self._changed(row, checked)
            if row.prev_hash != prev_hash:
                return self._unlinked(row, checked)
            prev_hash = row.hash
            expected_seq += 1
            checked += 1
        return self._check_head(expected_seq - 1, prev_hash, checked)

    def _gap(self, expected_seq: int, row: _Row, checked: int) -> AuditReport:
        moved = next((other for other in self._rows() if other.hash_as(expected_seq) == other.hash), None)
        if moved is not None:
            return _broken(
                checked, expected_seq, Damage.REORDERED, f"event {expected_seq} was moved to seq {moved.seq}"
            )
        gone = _gone(expected_seq, row.seq - 1)
        return _broken(checked, expected_seq, Damage.MISSING, f"{gone}: the log jumps to seq {row.seq}")

    def _changed(self, row: _Row, checked: int) -> AuditReport:
        if row.body is None:
            return _broken(
                checked, row.seq, Damage.ALTERED, f"event {row.seq}'s payload is not a JSON object"
            )
        last = self._conn.execute("SELECT max(seq) FROM events").fetchone()[0]
        written_as = next((seq for seq in range(1, int(last) + 2) if row.hash_as(seq) == row.hash), None)
        if written_as is None:
            return _broken(
                checked, row.seq, Damage.ALTERED, f"event {row.seq}'s fields no longer match its hash"
            )
        if self._seq_with_hash(row.prev_hash) is None and row.prev_hash != GENESIS_HASH:
            return _broken(
                checked,
                row.seq,
                Damage.MISSING,
                f"the event at seq {row.seq} was written as seq {written_as} and follows an event that is "
                "gone: events were deleted and the rest renumbered",
            )
        return _broken(
            checked,
            row.seq,
            Damage.REORDERED,
            f"the event at seq {row.seq} was written as seq {written_as}: events were reordered",
        )

    def _unlinked(self, row: _Row, checked: int) -> AuditReport:
        linked = self._seq_with_hash(row.prev_hash)
        if linked is not None:
            return _broken(
                checked,
                row.seq,
                Damage.REORDERED,
                f"event {row.seq} follows event {linked}, not event {row.seq - 1}: events were reordered",
            )
        return _broken(
            checked,
            row.seq,
            Damage.MISSING,
            f"event {row.seq} follows an event that is not in the log: an event before it was removed "
            "or rewritten with a new hash",
        )

    def _check_head(self, last_seq: int, last_hash: str, checked: int) -> AuditReport:
        head_seq = self._meta(HEAD_SEQ_KEY)
        head_hash = self._meta(HEAD_HASH_KEY)
        if head_seq is None or head_hash is None:
            if last_seq == 0:
                return AuditReport(ok=True, events_checked=0)
            return _broken(checked, last_seq, Damage.ALTERED, "the store has no recorded head for its events")
        recorded = int(head_seq)
        if recorded > last_seq:
            return _broken(
                checked,
                last_seq + 1,
                Damage.MISSING,
                f"{_gone(last_seq + 1, recorded)}: the log ends at seq {last_seq} but the store recorded "
                f"seq {recorded}",
            )
        if recorded < last_seq:
            return _broken(
                recorded,
                recorded + 1,
                Damage.ALTERED,
                f"events after seq {recorded} were added behind the store's back (its recorded head)",
            )
        if head_hash != last_hash:
            return _broken(
                checked - 1, last_seq, Damage.ALTERED, f"event {last_seq} is not the head the store recorded"
            )
        return AuditReport(ok=True, events_checked=checked)

    def _seq_with_hash(self, digest: str) -> int | None:
        row = self._conn.execute("SELECT seq FROM events WHERE hash = ? LIMIT 1", (digest,)).fetchone()
        return None if row is None else int(row[0])

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])


def _gone(first: int, last: int) -> str:
    return f"event {first} is gone" if first == last else f"events {first}–{last} are gone"


def _broken(checked: int, seq: int, damage: Damage, reason: str) -> AuditReport:
    return AuditReport(ok=False, events_checked=checked, first_bad_seq=seq, damage=damage, reason=reason)


def _to_row(raw: sqlite3.Row) -> _Row:
    seq = int(raw["seq"])
    body: dict[str, JsonValue] | None
    try:
        payload: Any = json.loads(str(raw["payload"]))
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        mission_id = raw["mission_id"]
        task_id = raw["task_id"]
        body = event_body(
            seq=seq,
            mission_id=None if mission_id is None else str(mission_id),
            task_id=None if task_id is None else str(task_id),
            kind=str(raw["kind"]),
            actor=str(raw["actor"]),
            payload=cast(dict[str, JsonValue], payload),
            ts=float(raw["ts"]),
            prev_hash=str(raw["prev_hash"]),
        )
    else:
        body = None
    return _Row(seq=seq, body=body, prev_hash=str(raw["prev_hash"]), hash=str(raw["hash"]))
