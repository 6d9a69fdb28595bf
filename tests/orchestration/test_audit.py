"""The audit walks the event hash chain and names the first altered, missing or reordered event."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from podium.orchestration.audit import AuditReport, Damage, verify_chain
from podium.orchestration.errors import StoreError
from podium.orchestration.events import GENESIS_HASH
from podium.orchestration.model import Task
from podium.orchestration.store import Store


def build_store(root: Path) -> Path:
    """A store with ten events: a mission, five tasks, two claims, one appended event, one release."""
    with Store.open(root) as store:
        mission = store.create_mission("audited goal — ünïcode")
        store.add_tasks(mission.id, [Task(id=f"T{i}", mission_id="", title=f"t{i}") for i in range(1, 6)])
        store.claim(mission.id, "w1", 60)
        store.claim(mission.id, "w2", 60)
        store.append_event("merge.evidence", {"sha": "abc", "n": 1.25}, mission_id=mission.id, task_id="T1")
        store.release(mission.id, "T2", "w2")
        assert store.last_seq() == 10
        return store.db_path


def tamper(db: Path, *statements: str) -> None:
    with sqlite3.connect(db) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_store(tmp_path)


def test_an_untouched_chain_verifies(db: Path) -> None:
    report = verify_chain(db)
    assert report == AuditReport(ok=True, events_checked=10)
    assert report.describe() == "audit: chain intact, 10 events checked"


def test_an_empty_store_verifies(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        assert verify_chain(store) == AuditReport(ok=True, events_checked=0)


def test_each_hash_is_sha256_of_the_previous_hash_and_the_canonical_event(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT seq, mission_id, task_id, kind, actor, payload, ts, prev_hash, hash"
            " FROM events ORDER BY seq"
        ).fetchall()
    prev = GENESIS_HASH
    for seq, mission_id, task_id, kind, actor, payload, ts, prev_hash, digest in rows:
        body = {
            "seq": seq,
            "mission_id": mission_id,
            "task_id": task_id,
            "kind": kind,
            "actor": actor,
            "payload": json.loads(payload),
            "ts": ts,
            "prev_hash": prev_hash,
        }
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert prev_hash == prev
        assert digest == hashlib.sha256((prev + canonical).encode("utf-8")).hexdigest()
        prev = digest


def test_an_altered_payload_is_named_as_altered(db: Path) -> None:
    tamper(db, """UPDATE events SET payload = '{"n":9.25,"sha":"abc"}' WHERE seq = 9""")
    report = verify_chain(db)
    assert (report.ok, report.first_bad_seq, report.damage, report.events_checked) == (
        False,
        9,
        Damage.ALTERED,
        8,
    )
    assert "event 9" in report.reason


def test_an_altered_actor_is_named_as_altered(db: Path) -> None:
    tamper(db, "UPDATE events SET actor = 'mallory' WHERE seq = 7")
    report = verify_chain(db)
    assert (report.first_bad_seq, report.damage) == (7, Damage.ALTERED)


def test_a_payload_that_is_no_longer_json_is_named_as_altered(db: Path) -> None:
    tamper(db, "UPDATE events SET payload = 'garbage' WHERE seq = 3")
    report = verify_chain(db)
    assert (report.first_bad_seq, report.damage) == (3, Damage.ALTERED)


def test_a_deleted_event_is_named_as_missing(db: Path) -> None:
    tamper(db, "DELETE FROM events WHERE seq = 4")
    report = verify_chain(db)
    assert (report.ok, report.first_bad_seq, report.damage, report.events_checked) == (
        False,
        4,
        Damage.MISSING,
        3,
    )
    assert "event 4 is gone" in report.reason


def test_deleted_events_at_the_start_are_named_as_missing(db: Path) -> None:
    tamper(db, "DELETE FROM events WHERE seq IN (1, 2)")
    report = verify_chain(db)
    assert (report.first_bad_seq, report.damage) == (1, Damage.MISSING)
    assert "events 1–2 are gone" in report.reason


def test_deleting_the_newest_events_is_named_as_missing(db: Path) -> None:
    tamper(db, "DELETE FROM events WHERE seq >= 9")
    report = verify_chain(db)
    assert (report.first_bad_seq, report.damage, report.events_checked) == (9, Damage.MISSING, 8)
    assert "recorded seq 10" in report.reason


def test_an_event_deleted_and_the_rest_renumbered_is_named_as_missing(db: Path) -> None:
    tamper(db, "DELETE FROM events WHERE seq = 5", "UPDATE events SET seq = seq - 1 WHERE seq > 5")
    report = verify_chain(db)
    assert (report.first_bad_seq, report.damage) == (5, Damage.MISSING)


def test_two_swapped_events_are_named_as_reordered(db: Path) -> None:
    tamper(
        db,
        "UPDATE events SET seq = -1 WHERE seq = 6",
        "UPDATE events SET seq = 6 WHERE seq = 7",
        "UPDATE events SET seq = 7 WHERE seq = -1",
    )
    report = verify_chain(db)
    assert (report.ok, report.first_bad_seq, report.damage, report.events_checked) == (
        False,
        6,
        Damage.REORDERED,
        5,
    )
    assert "written as seq 7" in report.reason


def test_an_event_moved_to_the_end_is_named_as_reordered(db: Path) -> None:
    tamper(db, "UPDATE events SET seq = 50 WHERE seq = 3")
    report = verify_chain(db)
    assert (report.first_bad_seq, report.damage) == (3, Damage.REORDERED)
    assert "moved to seq 50" in report.reason


def test_an_event_rewritten_with_a_fresh_hash_breaks_the_link_of_the_next_one(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        prev_hash, payload = conn.execute("SELECT prev_hash, payload FROM events WHERE seq = 4").fetchone()
        row = conn.execute("SELECT mission_id, task_id, kind, actor, ts FROM events WHERE seq = 4").fetchone()
        forged = {**json.loads(payload), "title": "forged"}
        body = {
            "seq": 4,
            "mission_id": row[0],
            "task_id": row[1],
            "kind": row[2],
            "actor": row[3],
            "payload": forged,
            "ts": row[4],
            "prev_hash": prev_hash,
        }
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()
        conn.execute(
            "UPDATE events SET payload = ?, hash = ? WHERE seq = 4",
            (json.dumps(forged, sort_keys=True, separators=(",", ":")), digest),
        )
    report = verify_chain(db)
    assert (report.first_bad_seq, report.damage, report.events_checked) == (5, Damage.MISSING, 4)
    assert "rewritten" in report.reason


def test_an_event_slipped_in_behind_the_stores_back_is_named(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO events SELECT 11, mission_id, task_id, kind, actor, payload, ts, hash, hash"
            " FROM events WHERE seq = 10"
        )
    report = verify_chain(db)
    assert not report.ok
    assert report.first_bad_seq == 11


def test_the_report_reads_as_json_and_as_a_sentence(db: Path) -> None:
    tamper(db, "DELETE FROM events WHERE seq = 2")
    report = verify_chain(str(db))
    assert report.to_dict() == {
        "ok": False,
        "events_checked": 1,
        "first_bad_seq": 2,
        "damage": "missing",
        "reason": report.reason,
    }
    assert report.describe().startswith("audit: chain broken at seq 2 (missing): event 2 is gone")


def test_verifying_a_path_without_a_store_raises_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no Podium store"):
        verify_chain(tmp_path / "nothing.db")


def test_the_chain_goes_on_verifying_after_a_restart(db: Path) -> None:
    root = db.parent.parent
    with Store.open(root) as store:
        (mission,) = store.list_missions()
        store.add_tasks(mission.id, [Task(id="T6", mission_id="", title="t6")])
    assert verify_chain(db) == AuditReport(ok=True, events_checked=11)


def test_a_clock_that_gives_whole_seconds_still_yields_a_verifiable_chain(tmp_path: Path) -> None:
    with Store.open(tmp_path, clock=lambda: 1_700_000_000) as store:
        mission = store.create_mission("integer time")
        store.add_tasks(mission.id, [Task(id="T1", mission_id="", title="t1")])
        assert store.events_since(0)[0].ts == 1_700_000_000.0
        assert verify_chain(store) == AuditReport(ok=True, events_checked=2)
