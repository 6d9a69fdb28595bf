"""The task log: where it goes, and a line filter that always sees whole lines."""

from __future__ import annotations

from pathlib import Path

from podium.orchestration.agents.tasklog import MAX_PENDING_BYTES, TaskLog, task_log_path


def test_each_role_has_its_own_log_file_under_the_mission() -> None:
    root = Path("/logs")

    assert task_log_path(root, "m1", "T3", "worker") == root / "m1" / "T3.log"
    assert task_log_path(root, "m1", "T3", "reviewer") == root / "m1" / "T3.review.log"
    assert task_log_path(root, "m1", "", "planner") == root / "m1" / "plan.log"


async def test_the_filter_sees_whole_lines_even_when_output_arrives_in_pieces(tmp_path: Path) -> None:
    seen: list[str] = []

    def redact(line: str) -> str:
        seen.append(line)
        return line.replace("sk-12345", "[redacted]")

    path = tmp_path / "m1" / "T1.log"
    log = await TaskLog.open(path, redact)
    await log.start_run("worker", "T1", 1, "agent", "use key sk-12345")
    for piece in (b"token: sk-1", b"2345\nsecond ", b"line", b"\nout"):
        await log.output("stdout", piece)
    await log.output("stderr", b"err sk-12345 line\n")
    await log.aclose()

    text = path.read_text()
    assert "sk-12345" not in text
    assert "token: [redacted]\nsecond line\n" in text
    assert "err [redacted] line\n" in text
    assert text.endswith("out\n")
    assert "token: sk-12345" in seen


async def test_a_line_without_end_is_written_in_pieces_once_it_is_too_long(tmp_path: Path) -> None:
    path = tmp_path / "T1.log"
    log = await TaskLog.open(path)

    await log.output("stdout", b"x" * MAX_PENDING_BYTES)

    assert path.read_bytes() == b"x" * MAX_PENDING_BYTES
    await log.aclose()
