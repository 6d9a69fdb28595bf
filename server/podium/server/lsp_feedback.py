"""Feedback in the editor: what the store's event log records, told as progress, messages and diagnostics.

`podium lsp` and any number of `podium mcp` processes may work on one project at once; they share only
the store. So the editor is told what the event log says happened, whoever did it, not what this server
did. `Feedback.watch` reads the log from the last seq it saw: at most `EVENT_BATCH` events per read
(another read follows at once when a batch was full), a read at least every `POLL_INTERVAL` seconds,
and one right away when `nudge`d (the LSP server nudges after each of its own commands). Each batch
becomes calls on a `FeedbackSink`:

* progress: a mission's progress begins when it is first seen active, is reported as its tasks move, and
  ends when the mission finishes or is cancelled;
* messages: a task merged, an edit rejected, a mission finished or cancelled; other moves as log lines;
* diagnostics: the new findings of a rejected verdict, on the files they name, until the task is merged,
  released, cancelled, sent to review or its mission ends.

What happened before the server started is not replayed as messages; `prime` shows the progress of the
missions active at that moment and the findings of their rejected tasks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, cast

import anyio
import anyio.to_thread
from anyio.abc import TaskStatus

from podium.orchestration.errors import NotFoundError
from podium.orchestration.events import Event, JsonValue
from podium.orchestration.model import Mission, MissionState, Task, TaskState
from podium.orchestration.store import Store
from podium.orchestration.workspaces import worktree_path
from podium.verification.errors import PodiumError

__all__ = [
    "EVENT_BATCH",
    "POLL_INTERVAL",
    "Feedback",
    "FeedbackSink",
    "Level",
    "ProgressUpdate",
    "TaskFinding",
]

POLL_INTERVAL = 0.5
"""Seconds between two reads of the event log when nothing nudges the watcher."""

EVENT_BATCH = 200
"""Most events read at once; a full batch is followed by another read right away."""

Level = Literal["error", "warning", "info", "log"]
"""How loud a message is; ``log`` goes only to the log, the others are shown too."""

_CLEARING_KINDS = frozenset(
    {
        "task.merged",
        "task.ready",
        "task.pending",
        "task.blocked",
        "task.failed",
        "task.cancelled",
        "task.review",
        "task.lease_expired",
    }
)
"""Events after which a task's findings no longer describe work anyone is fixing."""

_QUIET_KINDS = frozenset({"task.heartbeat", "task.updated", "task.merge"})
"""Events not worth a log line (the merge evidence repeats ``task.merged``)."""

_ENDED = frozenset({MissionState.FINISHED, MissionState.CANCELLED})

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TaskFinding:
    """A new finding of a task's rejected verdict, with the texts of its first and last line in the
    task's worktree, so its columns (code points) can be counted in the editor's units."""

    mission_id: str
    task_id: str
    path: str
    source: str
    code: str
    message: str
    severity: str
    line: int
    column: int
    end_line: int
    end_column: int
    line_text: str = ""
    end_line_text: str = ""


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    """One step of a progress bar: ``key`` names the bar (a mission id)."""

    key: str
    kind: Literal["begin", "report", "end"]
    title: str = ""
    message: str | None = None
    percentage: int | None = None


class FeedbackSink(Protocol):
    """Where feedback goes; the LSP server sends it to the editor, tests record it."""

    async def message(self, level: Level, text: str, details: str) -> None:
        """Show ``text`` (unless the level is ``log``) and log ``details``."""
        ...

    async def progress(self, update: ProgressUpdate) -> None: ...

    async def diagnostics(self, path: str, findings: Sequence[TaskFinding]) -> None:
        """Replace the findings shown on ``path`` (relative to the repository root); none clears it."""
        ...


@dataclass(frozen=True, slots=True)
class _MissionView:
    mission: Mission
    tasks: tuple[Task, ...]

    def title_of(self, task_id: str) -> str:
        return next((task.title for task in self.tasks if task.id == task_id), "")


@dataclass(frozen=True, slots=True)
class _Batch:
    events: Sequence[Event]
    views: Mapping[str, _MissionView]
    findings: Mapping[int, tuple[TaskFinding, ...]]
    """The findings of each ``task.rejected`` event, by its seq."""


class Feedback:
    """Turns the store's event log into feedback for one editor connection.

    Args:
        store: the project's store (shared with this server's commands; thread-safe).
        root: the repository's top level; finding paths are relative to it.
        sink: where the feedback goes.
    """

    def __init__(
        self,
        store: Store,
        root: Path,
        sink: FeedbackSink,
        *,
        poll_interval: float = POLL_INTERVAL,
        batch: int = EVENT_BATCH,
    ) -> None:
        self._store = store
        self._root = root
        self._sink = sink
        self._poll_interval = poll_interval
        self._batch = batch
        self._seq: int | None = None
        self._progress: dict[str, tuple[str | None, int | None]] = {}
        self._findings: dict[tuple[str, str], dict[str, tuple[TaskFinding, ...]]] = {}
        self._nudged: anyio.Event | None = None

    def nudge(self) -> None:
        """Read the log now rather than at the next poll; call from the event loop."""
        if self._nudged is not None:
            self._nudged.set()

    async def watch(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """`prime`, then `poll` until cancelled; a failed read is logged and retried at the next poll.

        Started with ``task_group.start``, it is ready once primed.
        """
        nudged = self._nudged = anyio.Event()
        await self._guarded(self.prime)
        task_status.started()
        while True:
            if await self._guarded(self.poll) >= self._batch:
                continue
            with anyio.move_on_after(self._poll_interval):
                await nudged.wait()
            # a nudge from now on must wake the next wait; the read below sees every change made before it
            nudged = self._nudged = anyio.Event()

    async def prime(self) -> None:
        """Start at the log's end; show the progress of active missions and their rejected tasks' findings."""
        seq, views, findings = await anyio.to_thread.run_sync(self._read_current)
        self._seq = seq
        for (mission_id, task_id), task_findings in findings.items():
            await self._set_findings(mission_id, task_id, task_findings)
        for view in views:
            await self._update_progress(view, None)

    async def poll(self) -> int:
        """Read and report the next batch of events; returns how many there were."""
        if self._seq is None:
            await self.prime()
        batch = await anyio.to_thread.run_sync(self._read_batch, self._seq or 0)
        activity: dict[str, str | None] = {}
        for event in batch.events:
            self._seq = event.seq
            if event.mission_id is not None:
                activity[event.mission_id] = _activity(event) or activity.get(event.mission_id)
            try:
                await self._handle(event, batch)
            except Exception:
                # one event that cannot be reported must not stop the feedback for every later one
                log.exception("could not report event %d (%s)", event.seq, event.kind)
        for mission_id, latest in activity.items():
            view = batch.views.get(mission_id)
            if view is not None:
                await self._update_progress(view, latest)
        return len(batch.events)

    async def _guarded(self, step: Callable[[], Awaitable[int | None]]) -> int:
        try:
            return await step() or 0
        except PodiumError as error:
            log.warning("reading the event log failed: %s", error.message)
        except Exception:
            log.exception("reporting the event log failed")
        return 0

    # -- reading (in a worker thread) ------------------------------------------------------------------

    def _read_current(
        self,
    ) -> tuple[int, list[_MissionView], dict[tuple[str, str], tuple[TaskFinding, ...]]]:
        seq = self._store.last_seq()
        views = [
            _MissionView(mission, tuple(self._store.list_tasks(mission.id)))
            for mission in self._store.list_missions(MissionState.ACTIVE)
        ]
        findings = {
            (task.mission_id, task.id): self._task_findings(
                task.mission_id, task.id, _parse(task.last_verdict)
            )
            for view in views
            for task in view.tasks
            if task.state is TaskState.REJECTED
        }
        return seq, views, findings

    def _read_batch(self, after: int) -> _Batch:
        events = self._store.events_since(after, limit=self._batch)
        views: dict[str, _MissionView] = {}
        for mission_id in dict.fromkeys(e.mission_id for e in events if e.mission_id is not None):
            try:
                views[mission_id] = _MissionView(
                    self._store.get_mission(mission_id), tuple(self._store.list_tasks(mission_id))
                )
            except NotFoundError:
                continue
        findings = {
            event.seq: self._task_findings(event.mission_id, event.task_id, _event_verdict(event))
            for event in events
            if event.kind == "task.rejected" and event.mission_id is not None and event.task_id is not None
        }
        return _Batch(events, views, findings)

    def _task_findings(
        self, mission_id: str, task_id: str, verdict: Mapping[str, Any] | None
    ) -> tuple[TaskFinding, ...]:
        raw = verdict.get("findings_new") if verdict is not None else None
        if not isinstance(raw, list):
            return ()
        items = [cast(dict[str, Any], item) for item in cast(list[Any], raw) if isinstance(item, dict)]
        worktree = worktree_path(self._root, f"{mission_id}/{task_id}")
        lines: dict[str, list[str]] = {}
        findings: list[TaskFinding] = []
        for item in items:
            path = str(item.get("path") or "")
            if not _relative(path):
                continue
            if path not in lines:
                lines[path] = _file_lines(worktree / path) or _file_lines(self._root / path)
            line, end_line = _int(item.get("line"), 1), _int(item.get("end_line"), 0)
            end_line = max(end_line, line)
            findings.append(
                TaskFinding(
                    mission_id=mission_id,
                    task_id=task_id,
                    path=path,
                    source=str(item.get("source") or ""),
                    code=str(item.get("code") or ""),
                    message=str(item.get("message") or ""),
                    severity=str(item.get("severity") or "error"),
                    line=line,
                    column=_int(item.get("column"), 1),
                    end_line=end_line,
                    end_column=_int(item.get("end_column"), 1),
                    line_text=_line(lines[path], line),
                    end_line_text=_line(lines[path], end_line),
                )
            )
        return tuple(findings)

    # -- reporting -------------------------------------------------------------------------------------

    async def _handle(self, event: Event, batch: _Batch) -> None:
        mission_id, task_id, kind = event.mission_id, event.task_id, event.kind
        view = batch.views.get(mission_id) if mission_id is not None else None
        if mission_id is None:
            return
        if task_id is None:
            await self._mission_event(event, view)
            return
        ref = f"{mission_id}/{task_id}"
        title = view.title_of(task_id) if view is not None else ""
        verdict = _event_verdict(event)
        summary = str(verdict.get("summary", "")) if verdict is not None else ""
        if kind == "task.rejected":
            findings = batch.findings.get(event.seq, ())
            await self._set_findings(mission_id, task_id, findings)
            details = [f"{ref} ({title}) rejected by {event.actor}: {summary or _reason(event)}"]
            details += [_finding_line(finding) for finding in findings]
            details += [f"note: {note}" for note in _notes(verdict)]
            text = f"Podium: {task_id} rejected: {summary.removeprefix('rejected: ') or _reason(event)}"
            await self._sink.message("warning", text, "\n".join(details))
            return
        if kind in _CLEARING_KINDS:
            await self._clear(mission_id, task_id)
        if kind == "task.merged":
            details = f"{ref} ({title}) merged by {event.actor}: {_reason(event)}; {summary}".rstrip("; ")
            await self._sink.message("info", f"Podium: {task_id} merged: {title}", details)
        elif kind not in _QUIET_KINDS:
            line = f"{ref} {kind.removeprefix('task.')} by {event.actor}"
            await self._sink.message("log", line, f"{line}: {_reason(event)}" if _reason(event) else line)

    async def _mission_event(self, event: Event, view: _MissionView | None) -> None:
        mission_id = event.mission_id or ""
        goal = view.mission.goal if view is not None else ""
        if event.kind in ("mission.finished", "mission.cancelled"):
            for key in [key for key in self._findings if key[0] == mission_id]:
                await self._clear(*key)
            state = event.kind.removeprefix("mission.")
            counts = _counts(view.tasks) if view is not None else ""
            details = f"mission {mission_id} {state} by {event.actor} ({_reason(event) or state}); {counts}"
            await self._sink.message("info", f"Podium: mission {mission_id} {state}: {goal}", details)
        elif event.kind == "mission.created":
            await self._sink.message("log", f"mission {mission_id} started: {goal}", "")

    async def _update_progress(self, view: _MissionView, activity: str | None) -> None:
        mission = view.mission
        key = mission.id
        if mission.state in _ENDED:
            if self._progress.pop(key, None) is not None:
                await self._sink.progress(ProgressUpdate(key, "end", message=f"mission {mission.state}"))
            return
        counted = [task for task in view.tasks if task.state is not TaskState.CANCELLED]
        merged = sum(1 for task in counted if task.state is TaskState.MERGED)
        percentage = merged * 100 // len(counted) if counted else 0
        message = f"{merged}/{len(counted)} merged" + (f"; {activity}" if activity else "")
        if key not in self._progress:
            title = f"Podium: {mission.goal}"
            await self._sink.progress(ProgressUpdate(key, "begin", title, message, percentage))
        elif self._progress[key] != (message, percentage):
            await self._sink.progress(ProgressUpdate(key, "report", message=message, percentage=percentage))
        self._progress[key] = (message, percentage)

    async def _set_findings(self, mission_id: str, task_id: str, findings: Iterable[TaskFinding]) -> None:
        by_path: dict[str, list[TaskFinding]] = {}
        for finding in findings:
            by_path.setdefault(finding.path, []).append(finding)
        previous = self._findings.pop((mission_id, task_id), {})
        if by_path:
            self._findings[(mission_id, task_id)] = {path: tuple(items) for path, items in by_path.items()}
        for path in dict.fromkeys([*previous, *by_path]):
            await self._publish(path)

    async def _clear(self, mission_id: str, task_id: str) -> None:
        if (mission_id, task_id) in self._findings:
            await self._set_findings(mission_id, task_id, ())

    async def republish(self, path: str) -> None:
        """Send ``path``'s findings again, if it has any: an editor that opens a file after they were first
        published may have dropped them (OpenCode clears a file's diagnostics when it opens it)."""
        if any(path in files for files in self._findings.values()):
            await self._publish(path)

    async def _publish(self, path: str) -> None:
        # a publication replaces everything shown on the file, so it carries every task's findings there
        on_path = [finding for files in self._findings.values() for finding in files.get(path, ())]
        await self._sink.diagnostics(path, on_path)


def _activity(event: Event) -> str | None:
    if event.task_id is None or event.kind in _QUIET_KINDS or not event.kind.startswith("task."):
        return None
    what = event.kind.removeprefix("task.").replace("_", " ")
    if event.kind in ("task.claimed", "task.submitted"):
        return f"{event.task_id} {what} by {event.actor}"
    return f"{event.task_id} {what}"


def _event_verdict(event: Event) -> Mapping[str, Any] | None:
    changes = event.payload.get("changes")
    if isinstance(changes, dict):
        record = cast(dict[str, JsonValue], changes).get("last_verdict")
        if isinstance(record, str):
            return _parse(record)
    return None


def _parse(record: str | None) -> Mapping[str, Any] | None:
    if not record:
        return None
    try:
        value: object = json.loads(record)
    except ValueError:
        return None
    return cast(dict[str, Any], value) if isinstance(value, dict) else None


def _reason(event: Event) -> str:
    reason = event.payload.get("reason")
    return reason if isinstance(reason, str) else ""


def _notes(verdict: Mapping[str, Any] | None) -> list[str]:
    notes = verdict.get("notes") if verdict is not None else None
    return [str(note) for note in cast(list[Any], notes)] if isinstance(notes, list) else []


def _finding_line(finding: TaskFinding) -> str:
    where = f"{finding.path}:{finding.line}:{finding.column}"
    return f"{where}: {finding.source} {finding.code}: {finding.message}"


def _counts(tasks: Iterable[Task]) -> str:
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.state.value] = counts.get(task.state.value, 0) + 1
    return "tasks: " + (", ".join(f"{state} {n}" for state, n in sorted(counts.items())) or "none")


def _relative(path: str) -> bool:
    """A repository-relative path (findings come from the store, but a path leaving the root is not read)."""
    return bool(path) and not path.startswith("/") and ".." not in path.split("/")


def _file_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _line(lines: Sequence[str], number: int) -> str:
    return lines[number - 1] if 0 < number <= len(lines) else ""


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
