"""`runview`: plain progress lines off a terminal, the live view's contents, and the final summary."""

from __future__ import annotations

import io

from rich.console import Console

from podium.orchestration.runreport import EventKind, RunEvent, RunReport, RunSnapshot, TaskFailure
from podium.server.runview import RunView, render_summary


def event(kind: EventKind = "merged", task_id: str | None = "T1") -> RunEvent:
    snapshot = RunSnapshot(
        counts={"merged": 2, "ready": 1},
        active=(("T3", "run-1:w1", 2),),
        recent_verdicts=(("T1", "rejected: 1 new problem"), ("T2", "merged: accepted")),
        elapsed_s=3.0,
        rounds=4,
    )
    return RunEvent(kind, "m-1", "T1 (Add a parser) merged as abc", snapshot, task_id)


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_each_event_is_one_plain_line_with_the_elapsed_time() -> None:
    stream = io.StringIO()
    clock = Ticks()
    with RunView(stream, clock=clock) as view:
        clock.now = 102.5
        view.on_event(event())
    assert stream.getvalue() == "podium: [    2.5s] merged T1: T1 (Add a parser) merged as abc\n"


def test_live_view_shows_states_workers_verdicts_and_elapsed() -> None:
    clock = Ticks()
    view = RunView(io.StringIO(), live=False, clock=clock)
    view.on_event(event())
    clock.now = 107.0
    console = Console(file=io.StringIO(), width=120)
    with console.capture() as captured:
        console.print(view._render())  # pyright: ignore[reportPrivateUsage]
    text = captured.get()
    assert "m-1 · 7s · 4 rounds" in text
    assert "merged 2" in text and "ready 1" in text
    assert "T3" in text and "run-1:w1" in text
    assert "T1: rejected: 1 new problem" in text


def test_summary_names_the_outcome_merged_and_failed_tasks_and_the_diagnosis() -> None:
    report = RunReport(
        mission_id="m-1",
        run_id="run-1",
        outcome="failed",
        diagnosis="1 of 2 tasks merged; the rest cannot go on.\nT2 failed",
        merged=("T1",),
        failed=(TaskFailure("T2", "Wire the CLI", 3, "rejected 3 times"),),
        rounds=5,
        elapsed_s=1.25,
    )
    summary = render_summary(report)
    assert summary.splitlines()[0] == "mission m-1: failed (5 rounds, 1.2s, run run-1)"
    assert "merged: 1 (T1)" in summary
    assert "  T2 (Wire the CLI): rejected 3 times" in summary
    assert "  1 of 2 tasks merged; the rest cannot go on." in summary
