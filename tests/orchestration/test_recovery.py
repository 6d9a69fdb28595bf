"""Resuming after a dead run: which leases are taken back, unfinished splits, merges the store never heard of.

The runs that are gone are real: their records name a child process that has exited and been reaped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from commander_support import CONFIG, FILES, dead_run, merge_by_hand, start

from podium.orchestration.missions import Missions, TaskSpec
from podium.orchestration.model import Task, TaskState
from podium.orchestration.recovery import RUN_STARTED, RunIdentity, new_run_identity, recover, run_of
from podium.orchestration.store import Store

pytestmark = pytest.mark.usefixtures("isolated_git")


@pytest.fixture
def missions(make_repo: Callable[[Mapping[str, str]], Path]) -> Iterator[Missions]:
    repo = make_repo(FILES)
    service = Missions(repo, CONFIG, Store.open(repo))
    yield service
    service.close()


def test_recovery_leaves_the_leases_of_live_runs_and_of_other_agents_alone(missions: Missions) -> None:
    mission_id = start(missions, *(TaskSpec(title=f"Task {n}", key=f"k{n}") for n in range(3)))
    live = new_run_identity()
    live.register()
    try:
        missions.store.append_event(
            RUN_STARTED, live.to_json(), mission_id=mission_id, actor=live.worker_id(0)
        )
        missions.claim(mission_id, live.worker_id(1))
        missions.claim(mission_id, "claude-in-vscode")
        gone = RunIdentity(live.run_id.replace("run-", "run-0"), live.host, os.getpid(), live.process_start)
        missions.store.append_event(
            RUN_STARTED, gone.to_json(), mission_id=mission_id, actor=gone.worker_id(0)
        )
        missions.claim(mission_id, gone.worker_id(1))
        found = recover(missions, mission_id, new_run_identity())
    finally:
        live.unregister()
    assert found.reclaimed == ("T3",), "a run of this process that is no longer registered is gone"
    assert found.live_runs == (live.run_id,)
    holders = {t.id: t.lease_holder for t in missions.store.list_tasks(mission_id)}
    assert holders == {"T1": live.worker_id(1), "T2": "claude-in-vscode", "T3": None}


def test_a_split_cut_short_by_a_crash_is_finished_on_resume(missions: Missions) -> None:
    mission_id = start(
        missions, TaskSpec(title="Parent", key="p"), TaskSpec(title="Child of p", key="c", depends_on=("p",))
    )
    dead = dead_run(missions, mission_id)
    missions.claim(mission_id, dead.worker_id(1))
    missions.store.add_tasks(
        mission_id, [Task(id="T1.1", mission_id=mission_id, title="Half", depends_on=())]
    )
    found = recover(missions, mission_id, new_run_identity())
    tasks = {t.id: t for t in missions.store.list_tasks(mission_id)}
    assert found.splits == ("T1",)
    assert tasks["T1"].state is TaskState.CANCELLED
    assert tasks["T2"].depends_on == ("T1.1",)
    assert tasks["T1.1"].state is TaskState.READY


def test_a_merge_whose_evidence_was_never_written_gets_it_on_resume(missions: Missions) -> None:
    mission_id = start(missions, TaskSpec(title="Quick"))
    dead = dead_run(missions, mission_id)
    commit = merge_by_hand(missions, mission_id, dead.worker_id(1), "quick.py")
    store = missions.store
    store.transition(mission_id, "T1", TaskState.SUBMITTED, actor=dead.worker_id(1), holder=dead.worker_id(1))
    store.transition(mission_id, "T1", TaskState.MERGED, actor=dead.worker_id(1), lease_holder=None)
    found = recover(missions, mission_id, new_run_identity())
    assert found.evidence == ("T1",)
    evidence = [e for e in store.events_since(0, mission_id=mission_id) if e.kind == "task.merge"]
    assert [(e.task_id, e.payload["merged_commit"], e.payload["recovered"]) for e in evidence] == [
        ("T1", commit, True)
    ]
    assert recover(missions, mission_id, new_run_identity()).evidence == (), "recorded once"


def test_worker_names_say_which_run_they_belong_to() -> None:
    me = new_run_identity()
    assert run_of(me.worker_id(3)) == me.run_id
    assert run_of(f"{me.run_id}:reviewer") is None
    assert run_of("claude-in-vscode") is None
    assert run_of(None) is None


def test_a_run_that_recorded_its_stop_is_gone_even_in_a_live_process(missions: Missions) -> None:
    mission_id = start(missions, TaskSpec(title="Held"))
    stopped = new_run_identity()
    stopped.register()
    try:
        store = missions.store
        store.append_event(RUN_STARTED, stopped.to_json(), mission_id=mission_id, actor=stopped.worker_id(0))
        missions.claim(mission_id, stopped.worker_id(1))
        store.append_event("run.stopped", {"run_id": stopped.run_id}, mission_id=mission_id)
        found = recover(missions, mission_id, new_run_identity())
    finally:
        stopped.unregister()
    assert found.reclaimed == ("T1",)


def test_work_in_review_of_a_dead_run_goes_back_to_the_pool_without_costing_an_attempt(
    missions: Missions,
) -> None:
    mission_id = start(missions, TaskSpec(title="Reviewed", review=True))
    dead = dead_run(missions, mission_id)
    store = missions.store
    missions.claim(mission_id, dead.worker_id(1))
    store.transition(mission_id, "T1", TaskState.SUBMITTED, actor=dead.worker_id(1), holder=dead.worker_id(1))
    store.transition(mission_id, "T1", TaskState.REVIEW, actor=dead.worker_id(1))
    found = recover(missions, mission_id, new_run_identity())
    task = store.get_task(mission_id, "T1")
    assert found.reclaimed == ("T1",)
    assert (task.state, task.attempts, task.lease_holder) == (TaskState.READY, 0, None)
    moves = [e.payload.get("to_state") for e in store.events_since(0, mission_id=mission_id) if e.task_id]
    assert moves[-2:] == ["rejected", "ready"]


def test_recovery_with_nothing_to_do_changes_nothing(missions: Missions) -> None:
    mission_id = start(missions, TaskSpec(title="Quiet"))
    before = missions.store.last_seq()
    found = recover(missions, mission_id, new_run_identity())
    assert not found.anything
    assert found.describe() == "nothing to recover"
    assert missions.store.last_seq() == before
