"""Progress events and the end-of-run report: snapshots, diagnoses, a callback that cannot hurt a run."""

from __future__ import annotations

import json

from podium.orchestration.model import Task, TaskState
from podium.orchestration.recovery import Recovery
from podium.orchestration.runreport import (
    RunEvent,
    RunProgress,
    TaskFailure,
    describe_outcome,
    task_counts,
)


def task(task_id: str, state: TaskState, *deps: str) -> Task:
    return Task(id=task_id, mission_id="m-1", title=f"Task {task_id}", state=state, depends_on=deps)


TASKS = [
    task("T1", TaskState.MERGED),
    task("T2", TaskState.FAILED),
    task("T3", TaskState.PENDING, "T2"),
    task("T10", TaskState.PENDING, "T3"),
    task("T4", TaskState.CANCELLED),
]


def progress(events: list[RunEvent] | None = None) -> RunProgress:
    now = [100.0]
    return RunProgress(
        "m-1",
        events.append if events is not None else None,
        clock=lambda: now[0],
        limits=lambda: {"role worker": 8},
    )


def test_a_failed_run_names_the_failure_its_findings_and_what_waits_on_it() -> None:
    failure = TaskFailure(
        "T2", "Task T2", 3, "no attempt left after 3", ("util.py: invalid syntax [tree-sitter x]",)
    )
    text = describe_outcome("failed", "", TASKS, [failure], mission_id="m-1", rounds=7)
    assert text.splitlines()[0] == "1 of 4 tasks merged; the rest cannot go on."
    assert "T2 (Task T2) failed after 3 attempt(s): no attempt left after 3" in text
    assert "  util.py: invalid syntax [tree-sitter x]" in text
    assert "waiting on failed tasks: T3, T10." in text
    assert "failed → ready" in text


def test_paused_and_stopped_runs_say_how_to_resume() -> None:
    for outcome in ("stagnated", "limit", "stopped"):
        text = describe_outcome(outcome, "why", TASKS, [], mission_id="m-9", rounds=1)
        assert "podium run --resume m-9" in text
        assert "why" in text
    assert "resume" not in describe_outcome("completed", "", TASKS, [], mission_id="m-9", rounds=1)


def test_snapshots_carry_counts_active_work_verdicts_and_limits() -> None:
    events: list[RunEvent] = []
    run = progress(events)
    run.track(TASKS[1], "run-1:w1", 2)
    run.verdict_seen("T2", "rejected: 1 new problem")
    run.rounds = 4
    run.tell("verdict", "T2 rejected", TASKS, "T2")
    snapshot = events[0].snapshot
    assert dict(snapshot.counts) == {"cancelled": 1, "failed": 1, "merged": 1, "pending": 2}
    assert snapshot.active == (("T2", "run-1:w1", 2),)
    assert snapshot.recent_verdicts == (("T2", "rejected: 1 new problem"),)
    assert (snapshot.rounds, dict(snapshot.limits)) == (4, {"role worker": 8})
    run.untrack("T2")
    run.tell("merged", "done", None, None)
    assert events[1].snapshot.active == ()
    assert dict(events[1].snapshot.counts) == {}


def test_a_progress_callback_that_raises_does_not_stop_the_run() -> None:
    def broken(event: RunEvent) -> None:
        raise RuntimeError("the terminal went away")

    run = RunProgress("m-1", broken, clock=lambda: 0.0, limits=dict)
    run.warn("careful")
    assert run.warnings == ["careful"]


def test_the_report_lists_failures_of_this_run_and_of_earlier_ones_and_is_json() -> None:
    run = progress()
    report = run.report(
        run_id="run-1", outcome="failed", diagnosis="text", tasks=TASKS, stagnation=None, recovery=Recovery()
    )
    assert report.merged == ("T1",)
    assert report.remaining == ("T2", "T3", "T10")
    assert report.failed == (TaskFailure("T2", "Task T2", 0, "it failed before this run"),)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["outcome"] == "failed"
    assert data["counts"] == task_counts(TASKS)
