"""The task log: what an agent was asked and everything it printed, kept per task under the log directory.

Layout: `<log_dir>/<mission>/<task>.log` for a worker, `<task>.review.log` for a reviewer and `plan.log` for
the planner; each run appends a header (role, task, attempt, time), the prompt, then the agent's output.
Output is written line by line so that a filter (the secret-redaction hook) sees whole lines; a line longer
than `MAX_PENDING_BYTES` is written in pieces.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import anyio

from podium.orchestration.agents.base import BackendError

__all__ = ["LineFilter", "TaskLog", "open_task_log", "redact", "task_log_path"]

LineFilter = Callable[[str], str]
"""Rewrites one line (without its line break) before it is written, e.g. to redact secrets."""

MAX_PENDING_BYTES = 65_536
"""Longest partial line held back while waiting for its line break."""


def task_log_path(log_dir: Path, mission_id: str, task_id: str, role: str) -> Path:
    """Where the log of ``role`` (planner, worker, reviewer) on a task goes."""
    name = "plan" if role == "planner" else task_id + (".review" if role == "reviewer" else "")
    return log_dir / mission_id / f"{name}.log"


def redact(text: str, line_filter: LineFilter | None) -> str:
    """``text`` with every line passed through ``line_filter`` (unchanged without one)."""
    if line_filter is None:
        return text
    return "\n".join(line_filter(line) for line in text.split("\n"))


async def open_task_log(
    backend: str,
    log_dir: Path | None,
    line_filter: LineFilter | None,
    mission_id: str,
    task_id: str,
    role: str,
) -> TaskLog | None:
    """The log of ``role`` on a task for ``backend``, open for appending; None without a log directory.

    Raises:
        BackendError: the log cannot be created (a fault of the backend's run, retried like one).
    """
    if log_dir is None:
        return None
    path = task_log_path(log_dir, mission_id, task_id, role)
    try:
        return await TaskLog.open(path, line_filter)
    except OSError as exc:
        raise BackendError(f"backend {backend}: cannot open the task log {path}: {exc}") from None


class TaskLog:
    """An open task log; use `TaskLog.open` and close it with `aclose`."""

    def __init__(self, file: anyio.AsyncFile[bytes], line_filter: LineFilter | None) -> None:
        self._file = file
        self._filter = line_filter
        self._pending: dict[str, bytearray] = {}

    @classmethod
    async def open(cls, path: Path, line_filter: LineFilter | None = None) -> TaskLog:
        """Open ``path`` for appending, creating its directory.

        Raises:
            OSError: the directory or file cannot be created.
        """
        await anyio.Path(path.parent).mkdir(parents=True, exist_ok=True)
        return cls(await anyio.open_file(path, "ab"), line_filter)

    async def start_run(self, role: str, subject: str, attempt: int, command: str, prompt: str) -> None:
        """Write the header of one run and its prompt."""
        when = datetime.now(UTC).isoformat(timespec="seconds")
        lines = [f"=== {role} {subject} attempt {attempt} at {when} ===", f"$ {command}", "--- prompt ---"]
        lines += [*prompt.splitlines(), "--- output ---"]
        await self._file.write(("\n" + "\n".join(self._clean(line) for line in lines) + "\n").encode())

    async def output(self, stream: str, chunk: bytes) -> None:
        """Append what the agent printed on ``stream``; complete lines are written at once."""
        pending = self._pending.setdefault(stream, bytearray())
        pending.extend(chunk)
        cut = pending.rfind(b"\n") + 1
        if not cut and len(pending) >= MAX_PENDING_BYTES:
            cut = len(pending)
        if cut:
            await self._write_lines(bytes(pending[:cut]))
            del pending[:cut]

    async def aclose(self) -> None:
        """Write held-back partial lines and close the file."""
        for pending in self._pending.values():
            if pending:
                await self._write_lines(bytes(pending) + b"\n")
        self._pending.clear()
        await self._file.aclose()

    async def _write_lines(self, data: bytes) -> None:
        if self._filter is None:
            await self._file.write(data)
            return
        text = data.decode("utf-8", errors="replace")
        lines = text.split("\n")
        await self._file.write("\n".join(self._clean(line) for line in lines).encode())

    def _clean(self, line: str) -> str:
        return self._filter(line) if self._filter is not None else line
