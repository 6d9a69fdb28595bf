"""The durable store: missions and tasks across restarts, compare-and-swap, readiness, leases, events."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium.orchestration.audit import verify_chain
from podium.orchestration.errors import (
    ConflictError,
    LeaseError,
    NotFoundError,
    RoadmapError,
    StoreError,
    TransitionError,
)
from podium.orchestration.model import MissionState, Role, Size, Task, TaskState
from podium.orchestration.store import Store
from podium.verification.errors import InputError


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    with Store.open(tmp_path, clock=clock) as opened:
        yield opened


def task(task_id: str, *deps: str, **fields: Any) -> Task:
    return Task(id=task_id, mission_id="", title=f"do {task_id}", depends_on=deps, **fields)


def kinds(store: Store, after: int = 0) -> list[str]:
    return [event.kind for event in store.events_since(after)]


def test_a_mission_and_its_tasks_survive_closing_and_reopening_the_store(tmp_path: Path) -> None:
    with Store.open(tmp_path) as first:
        mission = first.create_mission("Ship the parser", milestones={"M1": "Lexer", "M2": "Parser"})
        added = first.add_tasks(
            mission.id,
            [
                task("T1", files=("lex.py",), priority=3, size=Size.S, description="tokens"),
                task("T2", "T1", milestone="M2", role=Role.REVIEWER, files=("parse.py", "ast.py")),
            ],
        )
        claimed = first.claim(mission.id, "w1", 60, now=5.0)
        events = first.events_since(0)

    with Store.open(tmp_path) as second:
        assert second.get_mission(mission.id) == mission
        assert second.list_missions() == [mission]
        assert second.list_tasks(mission.id) == [claimed, added[1]]
        assert second.events_since(0) == events
        assert second.get_task(mission.id, "T1").lease_holder == "w1"


def test_a_new_mission_is_named_m_and_eight_hex_digits_and_branches_under_the_prefix(store: Store) -> None:
    mission = store.create_mission("  Goal  ", branch_prefix="team/")
    assert re.fullmatch(r"m-[0-9a-f]{8}", mission.id)
    assert mission.branch == f"team/{mission.id}"
    assert mission.goal == "Goal"
    assert mission.milestones == ("M1",)
    assert mission.state is MissionState.ACTIVE


def test_a_mission_without_a_goal_is_refused(store: Store) -> None:
    with pytest.raises(InputError):
        store.create_mission("   ")
    assert store.list_missions() == []


def test_added_tasks_are_ready_when_their_dependencies_are_merged_and_pending_otherwise(store: Store) -> None:
    mission = store.create_mission("g")
    stored = store.add_tasks(mission.id, [task("T1"), task("T2", "T1"), task("T3", state=TaskState.MERGED)])
    store.add_tasks(mission.id, [task("T4", "T3"), task("T5", "T2", state=TaskState.READY)])
    states = {t.id: t.state for t in store.list_tasks(mission.id)}
    assert states == {
        "T1": TaskState.READY,
        "T2": TaskState.PENDING,
        "T3": TaskState.MERGED,
        "T4": TaskState.READY,
        "T5": TaskState.PENDING,
    }
    assert all(t.version == 1 and t.mission_id == mission.id for t in stored)


def test_tasks_without_an_id_get_the_next_free_one(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1"), task("T3")])
    stored = store.add_tasks(mission.id, [task(""), task("")])
    assert [t.id for t in stored] == ["T4", "T5"]


def test_adding_tasks_that_form_a_cycle_adds_none_of_them(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1")])
    before = store.last_seq()
    with pytest.raises(RoadmapError, match="cycle"):
        store.add_tasks(mission.id, [task("T2", "T3"), task("T3", "T2"), task("T4")])
    assert [t.id for t in store.list_tasks(mission.id)] == ["T1"]
    assert store.last_seq() == before


def test_adding_a_task_whose_id_is_taken_or_malformed_is_refused(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1")])
    with pytest.raises(RoadmapError, match="duplicate task id T1"):
        store.add_tasks(mission.id, [task("T1")])
    with pytest.raises(RoadmapError, match="invalid task id"):
        store.add_tasks(mission.id, [task("task-2")])
    assert len(store.list_tasks(mission.id)) == 1


def test_task_ids_are_per_mission(store: Store) -> None:
    first = store.create_mission("one")
    second = store.create_mission("two")
    store.add_tasks(first.id, [task("T1")])
    store.add_tasks(second.id, [task("T1", priority=9)])
    assert store.get_task(second.id, "T1").priority == 9
    assert store.get_task(first.id, "T1").priority == 0


def test_update_task_bumps_the_version_and_appends_one_event(store: Store) -> None:
    mission = store.create_mission("g")
    (t1,) = store.add_tasks(mission.id, [task("T1")])
    before = store.last_seq()
    updated = store.update_task(mission.id, "T1", t1.version, actor="planner", priority=5, files=["a.py"])
    assert (updated.priority, updated.files, updated.version) == (5, ("a.py",), t1.version + 1)
    (event,) = store.events_since(before)
    assert (event.kind, event.actor, event.task_id, event.mission_id) == (
        "task.updated",
        "planner",
        "T1",
        mission.id,
    )
    assert event.payload["changes"] == {"priority": 5, "files": ["a.py"]}
    assert (event.payload["from_version"], event.payload["to_version"]) == (1, 2)


def test_a_stale_expected_version_raises_conflict_and_changes_nothing(store: Store) -> None:
    mission = store.create_mission("g")
    (t1,) = store.add_tasks(mission.id, [task("T1")])
    current = store.update_task(mission.id, "T1", t1.version, priority=1)
    before = store.last_seq()
    with pytest.raises(ConflictError) as caught:
        store.update_task(mission.id, "T1", t1.version, priority=99)
    message = str(caught.value)
    assert f"{mission.id}/T1" in message and "version 2" in message and "version 1" in message
    assert store.get_task(mission.id, "T1") == current
    assert store.last_seq() == before


def test_a_change_to_an_unknown_field_or_with_a_wrong_type_is_refused(store: Store) -> None:
    mission = store.create_mission("g")
    (t1,) = store.add_tasks(mission.id, [task("T1")])
    with pytest.raises(InputError, match="'version'"):
        store.update_task(mission.id, "T1", t1.version, version=7)
    with pytest.raises(InputError, match="priority"):
        store.update_task(mission.id, "T1", t1.version, priority="high")
    with pytest.raises(InputError, match="size"):
        store.update_task(mission.id, "T1", t1.version, size="XXL")
    with pytest.raises(InputError):
        store.update_task(mission.id, "T1", t1.version)
    assert store.get_task(mission.id, "T1") == t1


def test_a_move_the_state_machine_forbids_is_refused_and_changes_nothing(store: Store) -> None:
    mission = store.create_mission("g")
    (t1,) = store.add_tasks(mission.id, [task("T1")])
    before = store.last_seq()
    with pytest.raises(TransitionError):
        store.transition(mission.id, "T1", TaskState.MERGED, actor="w1")
    assert store.get_task(mission.id, "T1") == t1
    assert store.last_seq() == before


def test_a_transition_to_the_state_the_task_is_in_is_refused(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1")])
    with pytest.raises(TransitionError, match="ready"):
        store.transition(mission.id, "T1", TaskState.READY, actor="p")
    assert store.get_task(mission.id, "T1").version == 1


def test_transition_checks_the_expected_version_when_given(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1")])
    with pytest.raises(ConflictError):
        store.transition(mission.id, "T1", TaskState.CANCELLED, actor="p", expected_version=7)
    done = store.transition(
        mission.id, "T1", TaskState.CANCELLED, actor="p", reason="dropped", expected_version=1
    )
    assert done.state is TaskState.CANCELLED
    last = store.events_since(store.last_seq() - 1)[0]
    assert (last.kind, last.payload["reason"], last.payload["from_state"]) == (
        "task.cancelled",
        "dropped",
        "ready",
    )


def test_merging_a_task_makes_its_dependents_ready_in_the_same_change(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1"), task("T2", "T1"), task("T3", "T1", "T2"), task("T4", "T1")])
    store.claim(mission.id, "w1", 60)
    store.transition(mission.id, "T1", TaskState.SUBMITTED, actor="w1")
    before = store.last_seq()
    merged = store.transition(mission.id, "T1", TaskState.MERGED, actor="gate", last_verdict="accepted")
    assert merged.last_verdict == "accepted"
    states = {t.id: t.state for t in store.list_tasks(mission.id)}
    assert states == {
        "T1": TaskState.MERGED,
        "T2": TaskState.READY,
        "T3": TaskState.PENDING,
        "T4": TaskState.READY,
    }
    promoted = [(e.kind, e.task_id, e.actor) for e in store.events_since(before)]
    assert promoted == [
        ("task.merged", "T1", "gate"),
        ("task.ready", "T2", "podium"),
        ("task.ready", "T4", "podium"),
    ]


def test_a_ready_task_given_an_unmerged_dependency_goes_back_to_pending(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1"), task("T2")])
    t2 = store.get_task(mission.id, "T2")
    updated = store.update_task(mission.id, "T2", t2.version, depends_on=["T1"])
    assert updated.state is TaskState.PENDING
    assert kinds(store)[-2:] == ["task.updated", "task.pending"]


def test_rewiring_dependencies_into_a_cycle_is_refused(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1"), task("T2", "T1")])
    t1 = store.get_task(mission.id, "T1")
    with pytest.raises(RoadmapError, match="cycle"):
        store.update_task(mission.id, "T1", t1.version, depends_on=("T2",))
    assert store.get_task(mission.id, "T1") == t1


def test_unknown_missions_and_tasks_raise_not_found(store: Store) -> None:
    mission = store.create_mission("g")
    with pytest.raises(NotFoundError, match="m-nothere"):
        store.get_mission("m-nothere")
    with pytest.raises(NotFoundError, match="T9"):
        store.get_task(mission.id, "T9")
    with pytest.raises(NotFoundError, match="m-nothere"):
        store.list_tasks("m-nothere")
    with pytest.raises(NotFoundError):
        store.update_task(mission.id, "T9", 1, priority=1)


def test_resolve_task_accepts_a_qualified_or_an_unambiguous_bare_id(store: Store) -> None:
    first = store.create_mission("one")
    second = store.create_mission("two")
    store.add_tasks(first.id, [task("T1"), task("T2")])
    store.add_tasks(second.id, [task("T1")])
    assert store.resolve_task("T2").mission_id == first.id
    assert store.resolve_task(f"{second.id}/T1").mission_id == second.id
    with pytest.raises(InputError, match=f"{first.id}/T1"):
        store.resolve_task("T1")
    with pytest.raises(NotFoundError):
        store.resolve_task("T7")
    store.set_mission_state(first.id, MissionState.FINISHED)
    assert store.resolve_task("T1").mission_id == second.id


def test_claim_takes_the_best_ready_task_and_sets_the_lease(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1"), task("T2", priority=5), task("T3", "T1", priority=9)])
    claimed = store.claim(mission.id, "w1", 30, now=100.0)
    assert claimed is not None
    assert (claimed.id, claimed.state, claimed.lease_holder) == ("T2", TaskState.CLAIMED, "w1")
    assert (claimed.lease_expires, claimed.attempts) == (130.0, 1)
    assert store.get_task(mission.id, "T2") == claimed
    event = store.events_since(store.last_seq() - 1)[0]
    assert (event.kind, event.actor, event.task_id) == ("task.claimed", "w1", "T2")


def test_claim_skips_tasks_whose_dependencies_are_not_merged(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1"), task("T2", "T1", priority=9)])
    first = store.claim(mission.id, "w1", 30)
    assert first is not None and first.id == "T1"
    assert store.claim(mission.id, "w2", 30) is None


def test_claim_of_one_role_hands_out_only_tasks_of_that_role(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1", priority=9), task("T2", role=Role.REVIEWER)])
    claimed = store.claim(mission.id, "r1", 30, role=Role.REVIEWER)
    assert claimed is not None and claimed.id == "T2"
    assert store.claim(mission.id, "r2", 30, role=Role.REVIEWER) is None


def test_an_unexpired_lease_is_not_taken_by_another_worker(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1")])
    store.claim(mission.id, "w1", 30, now=100.0)
    assert store.claim(mission.id, "w2", 30, now=129.0) is None
    assert store.get_task(mission.id, "T1").lease_holder == "w1"


def test_an_expired_lease_is_released_and_claimable_by_another_worker(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1")])
    store.claim(mission.id, "w1", 30, now=100.0)
    before = store.last_seq()
    taken = store.claim(mission.id, "w2", 30, now=130.0)
    assert taken is not None
    assert (taken.id, taken.lease_holder, taken.lease_expires, taken.attempts) == ("T1", "w2", 160.0, 2)
    events = store.events_since(before)
    assert [(e.kind, e.actor) for e in events] == [("task.lease_expired", "podium"), ("task.claimed", "w2")]
    assert "w1" in str(events[0].payload["reason"])
    with pytest.raises(LeaseError, match="held by w2"):
        store.heartbeat(mission.id, "T1", "w1", 30)


def test_heartbeat_extends_the_lease_of_its_holder_only(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1"), task("T2")])
    store.claim(mission.id, "w1", 30, now=100.0)
    renewed = store.heartbeat(mission.id, "T1", "w1", 30, now=120.0)
    assert renewed.lease_expires == 150.0
    assert store.claim(mission.id, "w2", 30, now=140.0) is not None  # T2, not T1
    assert store.get_task(mission.id, "T1").lease_holder == "w1"
    with pytest.raises(LeaseError, match="held by w1, not by w3"):
        store.heartbeat(mission.id, "T1", "w3", 30)
    store.release(mission.id, "T2", "w2")
    with pytest.raises(LeaseError, match="nobody holds"):
        store.heartbeat(mission.id, "T2", "w2", 30)


def test_release_returns_the_task_to_ready_without_a_lease(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1")])
    store.claim(mission.id, "w1", 30)
    with pytest.raises(LeaseError):
        store.release(mission.id, "T1", "w2")
    released = store.release(mission.id, "T1", "w1", reason="stuck")
    assert (released.state, released.lease_holder, released.lease_expires) == (TaskState.READY, None, None)
    again = store.claim(mission.id, "w2", 30)
    assert again is not None and again.attempts == 2


def test_a_transition_naming_a_holder_is_refused_for_a_worker_without_the_lease(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1")])
    store.claim(mission.id, "w1", 30)
    with pytest.raises(LeaseError):
        store.transition(mission.id, "T1", TaskState.SUBMITTED, actor="w2", holder="w2")
    submitted = store.transition(mission.id, "T1", TaskState.SUBMITTED, actor="w1", holder="w1")
    assert submitted.state is TaskState.SUBMITTED and submitted.lease_holder == "w1"


def test_a_finished_mission_takes_no_tasks_and_hands_none_out(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1")])
    finished = store.set_mission_state(mission.id, MissionState.FINISHED, expected_version=1, reason="done")
    assert (finished.state, finished.version) == (MissionState.FINISHED, 2)
    assert kinds(store)[-1] == "mission.finished"
    assert store.claim(mission.id, "w1", 30) is None
    with pytest.raises(StoreError, match="takes no new tasks"):
        store.add_tasks(mission.id, [task("T2")])
    with pytest.raises(ConflictError):
        store.set_mission_state(mission.id, MissionState.ACTIVE, expected_version=1)


def test_a_cancelled_mission_cannot_become_active_again(store: Store) -> None:
    mission = store.create_mission("g")
    store.set_mission_state(mission.id, MissionState.CANCELLED)
    with pytest.raises(StoreError, match="cannot become active"):
        store.set_mission_state(mission.id, MissionState.ACTIVE)
    assert store.get_mission(mission.id).state is MissionState.CANCELLED


def test_milestones_can_be_renamed_and_extended(store: Store) -> None:
    mission = store.create_mission("g", milestones={"M1": "First"})
    updated = store.update_mission(mission.id, milestones={"M1": "Lexer", "M2": ""})
    assert updated.milestones == ("M1", "M2")
    assert updated.milestone_titles == (("M1", "Lexer"),)
    assert store.get_mission(mission.id) == updated
    with pytest.raises(InputError):
        store.update_mission(mission.id, milestones={"M 1": "bad"})


def test_append_event_records_json_from_other_layers(store: Store) -> None:
    mission = store.create_mission("g")
    store.add_tasks(mission.id, [task("T1")])
    evidence = {
        "commit": "abc123",
        "files": ["a.py"],
        "verdict": {"accepted": True, "findings": []},
        "é": 1.5,
    }
    event = store.append_event(
        "merge.evidence", evidence, mission_id=mission.id, task_id="T1", actor="merger"
    )
    assert store.events_since(event.seq - 1) == [event]
    assert event.payload == evidence
    with pytest.raises(StoreError, match="not JSON"):
        store.append_event("bad", {"x": object()})
    with pytest.raises(NotFoundError):
        store.append_event("x", {}, mission_id=mission.id, task_id="T9")
    assert store.last_seq() == event.seq
    assert verify_chain(store).ok


def test_events_since_can_follow_one_mission_and_page(store: Store) -> None:
    first = store.create_mission("one")
    second = store.create_mission("two")
    store.add_tasks(first.id, [task("T1"), task("T2")])
    store.add_tasks(second.id, [task("T1")])
    ours = store.events_since(0, mission_id=first.id)
    assert [e.kind for e in ours] == ["mission.created", "task.added", "task.added"]
    page = store.events_since(ours[0].seq, limit=2)
    assert [e.seq for e in page] == [ours[0].seq + 1, ours[0].seq + 2]


def test_roadmap_md_follows_every_change(store: Store) -> None:
    mission = store.create_mission("g", milestones={"M1": "Start"})
    roadmap = store.paths.roadmap_path(mission.id)
    assert "## M1: Start" in roadmap.read_text(encoding="utf-8")
    store.add_tasks(mission.id, [task("T1", files=("a.py",))])
    assert "- [ ] T1: do T1 | file:a.py — ready" in roadmap.read_text(encoding="utf-8")
    store.claim(mission.id, "w7", 30)
    assert "- [ ] T1: do T1 | file:a.py — claimed by w7" in roadmap.read_text(encoding="utf-8")


def test_the_database_is_in_wal_mode_with_foreign_keys(store: Store) -> None:
    with sqlite3.connect(store.db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(
                "INSERT INTO tasks VALUES ('m-none', 'T1', 't', '', 'worker', '[]', '[]', 0, 'M', 'ready', 0,"
                " NULL, NULL, NULL, 0, 'M1', 1)"
            )


def test_a_database_that_is_not_a_podium_store_is_refused(tmp_path: Path) -> None:
    state = tmp_path / ".podium"
    state.mkdir()
    with sqlite3.connect(state / "podium.db") as conn:
        conn.execute("CREATE TABLE other (x)")
    with pytest.raises(StoreError, match="not a Podium store"):
        Store.open(tmp_path)


def test_a_store_written_by_a_newer_podium_is_refused(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    with sqlite3.connect(tmp_path / ".podium" / "podium.db") as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99"):
        Store.open(tmp_path)


def test_a_closed_store_refuses_to_work(tmp_path: Path) -> None:
    opened = Store.open(tmp_path)
    opened.close()
    with pytest.raises(StoreError, match="closed"):
        opened.list_missions()
