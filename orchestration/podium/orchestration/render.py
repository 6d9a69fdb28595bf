"""ROADMAP.md: a mission rendered from the store, in the seed's Markdown convention.

    # Mission m-1a2b3c4d: <goal>
    ## M1: <milestone title>
    - [ ] T1.2: <title> | file:a.py,b.py | depends:T1.1

``[x]`` marks merged tasks only; every other state but pending gets a suffix (`` — ready``,
`` — claimed by w1``, `` — blocked`` …), so a rendered roadmap still parses as a seed. Milestone titles come
from ``Mission.milestone_titles``; milestones appear in the mission's order, then any milestone only a task
names. The file is a view: the store is the truth, and each change rewrites the file whole.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from podium.orchestration.model import Mission, Task, TaskState
from podium.orchestration.roadmap import id_sort_key

__all__ = ["render_roadmap", "write_roadmap"]

_GENERATED_NOTE = (
    "<!-- Rendered by Podium from .podium/podium.db after each change; edits here are overwritten. -->"
)

_SUFFIX: dict[TaskState, str] = {
    TaskState.READY: "ready",
    TaskState.SUBMITTED: "submitted",
    TaskState.REVIEW: "in review",
    TaskState.REJECTED: "rejected",
    TaskState.BLOCKED: "blocked",
    TaskState.FAILED: "failed",
    TaskState.CANCELLED: "cancelled",
}


def render_roadmap(mission: Mission, tasks: Sequence[Task]) -> str:
    """Return the ROADMAP.md text of ``mission`` with ``tasks`` (in any order)."""
    titles = dict(mission.milestone_titles)
    by_milestone: dict[str, list[Task]] = {milestone: [] for milestone in mission.milestones}
    for task in sorted(tasks, key=lambda t: id_sort_key(t.id)):
        by_milestone.setdefault(task.milestone, []).append(task)

    merged = sum(1 for task in tasks if task.state is TaskState.MERGED)
    lines = [
        f"# Mission {mission.id}: {_one_line(mission.goal)}",
        "",
        _GENERATED_NOTE,
        "",
        f"Branch `{mission.branch}` · {mission.state.value} · {merged}/{len(tasks)} tasks merged",
    ]
    for milestone, members in by_milestone.items():
        # The seed's parsers expect "## M1: title"; an untitled milestone takes the mission's goal.
        title = _one_line(titles.get(milestone, "") or mission.goal)
        lines += ["", f"## {milestone}: {title}", ""]
        lines += [_task_line(task) for task in members]
        if not members:
            lines.append("_no tasks yet_")
    return "\n".join(lines) + "\n"


def _task_line(task: Task) -> str:
    box = "[x]" if task.state is TaskState.MERGED else "[ ]"
    parts = [f"- {box} {task.id}: {_cell(task.title)}"]
    if task.files:
        parts.append("file:" + ",".join(_cell(path) for path in task.files))
    if task.depends_on:
        parts.append("depends:" + ",".join(task.depends_on))
    return " | ".join(parts) + _status(task)


def _status(task: Task) -> str:
    if task.state is TaskState.CLAIMED:
        holder = f" by {task.lease_holder}" if task.lease_holder else ""
        return f" — claimed{holder}"
    suffix = _SUFFIX.get(task.state)
    return f" — {suffix}" if suffix else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    # a bare "|" would split the line into fields when the roadmap is read back
    return _one_line(text).replace("|", "\\|")


def write_roadmap(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` atomically (temp file, fsync, rename); return False if it was already so.

    Readers see the old file or the new one, never a torn one, even if the process dies mid-write.

    Raises:
        OSError: the directory cannot be created or written.
    """
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(path.parent)
    return True


def _fsync_directory(directory: Path) -> None:
    # makes the rename itself durable; some filesystems refuse to fsync a directory, which is harmless here
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
