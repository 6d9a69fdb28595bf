"""What `podium run` shows while a mission runs, and the summary it prints at the end.

On a terminal: a live `rich` view on stderr (the roadmap by state, the active workers, the last verdicts,
the elapsed time), redrawn a few times a second. Elsewhere (a pipe, a CI log): one plain line per event on
stderr, so a log reads as a story and a test can follow it. The summary is the command's result and goes to
stdout.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from podium.orchestration.runreport import RunEvent, RunReport, RunSnapshot

__all__ = ["RunView", "render_summary"]

REFRESH_PER_SECOND = 4
VERDICTS_SHOWN = 5
STATE_ORDER = ("merged", "in_review", "submitted", "claimed", "rejected", "ready", "pending", "failed")

_STATE_STYLE = {"merged": "green", "failed": "red", "rejected": "yellow", "claimed": "cyan"}


class RunView:
    """The progress of one run: live on a terminal, plain lines otherwise. Use as a context manager.

    Args:
        stream: where progress goes (stderr).
        live: force the live view on or off; None decides by whether ``stream`` is a terminal.
        clock: monotonic seconds, for the elapsed time.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream or sys.stderr
        self._clock = clock
        self._start = clock()
        self._is_live = self._stream.isatty() if live is None else live
        self._last: RunEvent | None = None
        self._live: Live | None = None

    def __enter__(self) -> RunView:
        if self._is_live:
            console = Console(file=self._stream)
            self._live = Live(
                console=console,
                get_renderable=self._render,
                refresh_per_second=REFRESH_PER_SECOND,
                transient=False,
            )
            self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def on_event(self, event: RunEvent) -> None:
        """The Commander's progress callback."""
        self._last = event
        if self._live is None:
            elapsed = self._clock() - self._start
            task = f" {event.task_id}" if event.task_id else ""
            print(f"podium: [{elapsed:7.1f}s] {event.kind}{task}: {event.message}", file=self._stream)
            self._stream.flush()

    def _render(self) -> RenderableType:
        elapsed = self._clock() - self._start
        snapshot = self._last.snapshot if self._last is not None else RunSnapshot()
        header = Text(f"podium run · {_mission(self._last)} · {elapsed:.0f}s · {snapshot.rounds} rounds")
        header.stylize("bold")
        return Group(header, _roadmap(snapshot), _workers(snapshot), _verdicts(snapshot), _last(self._last))


def _mission(event: RunEvent | None) -> str:
    return event.mission_id if event is not None and event.mission_id else "starting"


def _roadmap(snapshot: RunSnapshot) -> RenderableType:
    line = Text("roadmap: ")
    states = [s for s in STATE_ORDER if snapshot.counts.get(s)] + sorted(
        s for s in snapshot.counts if s not in STATE_ORDER and snapshot.counts[s]
    )
    for state in states:
        line.append(f"{state} {snapshot.counts[state]}  ", style=_STATE_STYLE.get(state, ""))
    if not states:
        line.append("(no tasks yet)", style="dim")
    return line


def _workers(snapshot: RunSnapshot) -> RenderableType:
    if not snapshot.active:
        return Text("workers: idle", style="dim")
    table = Table("task", "worker", "attempt", title=None, box=None, padding=(0, 2))
    for task_id, worker, attempt in snapshot.active:
        table.add_row(task_id, worker, str(attempt))
    return table


def _verdicts(snapshot: RunSnapshot) -> RenderableType:
    lines = Text("last verdicts:" if snapshot.recent_verdicts else "last verdicts: none yet")
    for task_id, summary in snapshot.recent_verdicts[-VERDICTS_SHOWN:]:
        lines.append(f"\n  {task_id}: {summary}")
    return lines


def _last(event: RunEvent | None) -> RenderableType:
    if event is None:
        return Text("")
    return Text(f"{event.kind}: {event.message}", style="dim")


def render_summary(report: RunReport, *, applied: str | None = None) -> str:
    """The final summary: outcome, merged and failed tasks (with reasons), the diagnosis."""
    lines = [
        f"mission {report.mission_id}: {report.outcome} "
        f"({report.rounds} rounds, {report.elapsed_s:.1f}s, run {report.run_id})",
        f"merged: {len(report.merged)}" + (f" ({', '.join(report.merged)})" if report.merged else ""),
    ]
    if report.failed:
        lines.append(f"failed: {len(report.failed)}")
        lines.extend(f"  {f.task_id} ({f.title}): {f.reason}" for f in report.failed)
    if report.remaining:
        lines.append(f"remaining: {len(report.remaining)} ({', '.join(report.remaining)})")
    lines.extend(f"warning: {w}" for w in report.warnings)
    lines.append("diagnosis:")
    lines.extend(f"  {line}" for line in report.diagnosis.splitlines())
    if applied is not None:
        lines.append(applied)
    return "\n".join(lines)
