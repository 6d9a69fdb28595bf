"""ROADMAP.md: rendered from a mission and its tasks in the seed convention, written atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from podium.orchestration.model import Mission, MissionState, Task, TaskState
from podium.orchestration.render import render_roadmap, write_roadmap

MISSION = Mission(
    id="m-0a1b2c3d",
    goal="Make the inventory\nreport fast",
    branch="podium/m-0a1b2c3d",
    milestones=("M1", "M2", "M3"),
    milestone_titles=(("M1", "Lexer"), ("M2", "Parser")),
)


def task(task_id: str, state: TaskState, **fields: Any) -> Task:
    fields.setdefault("title", f"task {task_id}")
    return Task(id=task_id, mission_id=MISSION.id, state=state, **fields)


def test_a_mixed_state_mission_renders_in_the_seed_convention() -> None:
    tasks = [
        task("T10", TaskState.PENDING, milestone="M2", depends_on=("T2", "T1.2")),
        task("T2", TaskState.CLAIMED, milestone="M2", lease_holder="w1", files=("parse.py",)),
        task("T1.2", TaskState.MERGED, files=("a.py", "b.py"), depends_on=("T1.1",)),
        task("T1.1", TaskState.MERGED),
        task("T1.3", TaskState.READY),
        task("T1.4", TaskState.BLOCKED),
        task("T1.5", TaskState.FAILED),
        task("T1.6", TaskState.SUBMITTED, lease_holder="w2"),
        task("T1.7", TaskState.REVIEW),
        task("T1.8", TaskState.REJECTED, lease_holder="w3"),
        task("T1.9", TaskState.CANCELLED),
        task("T4", TaskState.PENDING, milestone="M9"),
    ]
    assert render_roadmap(MISSION, tasks) == (
        "# Mission m-0a1b2c3d: Make the inventory report fast\n"
        "\n"
        "<!-- Rendered by Podium from .podium/podium.db after each change; edits here are overwritten. -->\n"
        "\n"
        "Branch `podium/m-0a1b2c3d` · active · 2/12 tasks merged\n"
        "\n"
        "## M1: Lexer\n"
        "\n"
        "- [x] T1.1: task T1.1\n"
        "- [x] T1.2: task T1.2 | file:a.py,b.py | depends:T1.1\n"
        "- [ ] T1.3: task T1.3 — ready\n"
        "- [ ] T1.4: task T1.4 — blocked\n"
        "- [ ] T1.5: task T1.5 — failed\n"
        "- [ ] T1.6: task T1.6 — submitted\n"
        "- [ ] T1.7: task T1.7 — in review\n"
        "- [ ] T1.8: task T1.8 — rejected\n"
        "- [ ] T1.9: task T1.9 — cancelled\n"
        "\n"
        "## M2: Parser\n"
        "\n"
        "- [ ] T2: task T2 | file:parse.py — claimed by w1\n"
        "- [ ] T10: task T10 | depends:T2,T1.2\n"
        "\n"
        "## M3: Make the inventory report fast\n"
        "\n"
        "_no tasks yet_\n"
        "\n"
        "## M9: Make the inventory report fast\n"
        "\n"
        "- [ ] T4: task T4\n"
    )


def test_the_header_shows_the_mission_state_and_an_empty_roadmap() -> None:
    finished = Mission(id="m-1", goal="g", branch="b", state=MissionState.FINISHED)
    text = render_roadmap(finished, [])
    assert "Branch `b` · finished · 0/0 tasks merged" in text
    assert text.endswith("## M1: g\n\n_no tasks yet_\n")


def test_a_pipe_or_newline_in_a_title_cannot_break_the_line_format() -> None:
    line = render_roadmap(MISSION, [task("T1", TaskState.PENDING, title="a | b\nc")]).splitlines()[8]
    assert line == "- [ ] T1: a \\| b c"


def test_write_roadmap_replaces_the_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "missions" / "m-1" / "ROADMAP.md"
    assert write_roadmap(path, "first\n") is True
    assert write_roadmap(path, "second\n") is True
    assert path.read_text(encoding="utf-8") == "second\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["ROADMAP.md"]


def test_write_roadmap_skips_a_file_that_already_says_the_same(tmp_path: Path) -> None:
    path = tmp_path / "ROADMAP.md"
    write_roadmap(path, "same\n")
    inode = path.stat().st_ino
    assert write_roadmap(path, "same\n") is False
    assert path.stat().st_ino == inode


def test_a_failed_write_keeps_the_old_roadmap_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ROADMAP.md"
    write_roadmap(path, "old\n")

    def refuse(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_roadmap(path, "new\n")
    assert path.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ROADMAP.md"]


def test_the_new_roadmap_is_synced_before_it_replaces_the_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ROADMAP.md"
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_roadmap(path, "text\n")
    assert calls[:2] == ["fsync", "replace"]
