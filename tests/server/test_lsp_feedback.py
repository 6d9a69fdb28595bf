"""Editor feedback from the event log: real missions on a real repository, recorded by a fake sink."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from podium_project import INVENTORY, Project, isolate_git, make_project

from podium.orchestration.missions import Claim, TaskSpec
from podium.orchestration.model import TaskState
from podium.orchestration.submissions import Submissions, SubmitOutcome
from podium.server.lsp_feedback import Feedback, Level, ProgressUpdate, TaskFinding

BROKEN = INVENTORY.replace("def total(items):", "def total(items")
FIXED = INVENTORY.replace("return sum(item.count for item in items)", "return sum(i.count for i in items)")
WAIT = 30.0


@dataclass
class Recorder:
    """A `FeedbackSink` that keeps everything it is told."""

    messages: list[tuple[Level, str, str]] = field(default_factory=list[tuple[Level, str, str]])
    progress_updates: list[ProgressUpdate] = field(default_factory=list[ProgressUpdate])
    published: list[tuple[str, list[TaskFinding]]] = field(
        default_factory=list[tuple[str, list[TaskFinding]]]
    )
    fail_on: Level | None = None
    _changed: anyio.Event | None = None

    async def message(self, level: Level, text: str, details: str) -> None:
        if level == self.fail_on:
            self.fail_on = None
            raise RuntimeError("the editor went away for a moment")
        self.messages.append((level, text, details))
        self._notify()

    async def progress(self, update: ProgressUpdate) -> None:
        self.progress_updates.append(update)
        self._notify()

    async def diagnostics(self, path: str, findings: Sequence[TaskFinding]) -> None:
        self.published.append((path, list(findings)))
        self._notify()

    def shown(self, path: str) -> list[TaskFinding] | None:
        """What the editor shows on ``path`` now: the last publication, or None if there was none."""
        return next((findings for p, findings in reversed(self.published) if p == path), None)

    def shown_messages(self) -> list[tuple[Level, str]]:
        return [(level, text) for level, text, _ in self.messages if level != "log"]

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        with anyio.fail_after(WAIT):
            while not condition():
                self._changed = anyio.Event()
                await self._changed.wait()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    isolate_git(tmp_path, monkeypatch)
    return make_project(tmp_path)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def feedback(project: Project, recorder: Recorder) -> Feedback:
    watcher = Feedback(project.missions.store, project.root, recorder)
    await watcher.prime()
    return watcher


def start(project: Project, *titles: str) -> str:
    specs = [TaskSpec(title=title, files=("inventory.py",)) for title in titles]
    return project.missions.start("tidy the inventory", specs).id


def claim(project: Project, mission_id: str, worker: str = "w1") -> Claim:
    claimed = project.missions.claim(mission_id, worker)
    assert isinstance(claimed, Claim), claimed
    return claimed


def submit(project: Project, claimed: Claim, content: str, worker: str = "w1") -> SubmitOutcome:
    (claimed.worktree / "inventory.py").write_text(content)
    return Submissions(project.missions).submit(f"{claimed.task.mission_id}/{claimed.task.id}", worker)


async def test_a_rejected_submission_is_a_warning_and_its_findings_are_shown_on_the_file(
    project: Project, feedback: Feedback, recorder: Recorder
) -> None:
    mission_id = start(project, "Count only positive items")
    claimed = claim(project, mission_id)
    assert submit(project, claimed, BROKEN).status == "rejected"

    await feedback.poll()

    level, text, details = recorder.messages[-1]
    assert (level, text) == ("warning", "Podium: T1 rejected: 1 new problem (0 pre-existing ignored)")
    assert f"{mission_id}/T1 (Count only positive items) rejected by gate" in details
    assert "inventory.py:1:" in details
    shown = recorder.shown("inventory.py")
    assert shown is not None and len(shown) == 1
    assert (shown[0].mission_id, shown[0].task_id, shown[0].source) == (mission_id, "T1", "tree-sitter")
    # the columns refer to the rejected text in the task's worktree, which is where the line text comes from
    assert shown[0].line_text == BROKEN.splitlines()[shown[0].line - 1]


async def test_merging_the_fixed_submission_clears_the_findings_and_is_announced(
    project: Project, feedback: Feedback, recorder: Recorder
) -> None:
    mission_id = start(project, "Count only positive items")
    claimed = claim(project, mission_id)
    submit(project, claimed, BROKEN)
    await feedback.poll()

    assert submit(project, claimed, FIXED).status == "merged"
    await feedback.poll()

    assert recorder.shown("inventory.py") == []
    assert recorder.shown_messages()[-1] == ("info", "Podium: T1 merged: Count only positive items")
    assert "merged as" in recorder.messages[-1][2]


async def test_releasing_a_rejected_task_clears_its_findings(
    project: Project, feedback: Feedback, recorder: Recorder
) -> None:
    mission_id = start(project, "Count only positive items")
    submit(project, claim(project, mission_id), BROKEN)
    await feedback.poll()
    assert recorder.shown("inventory.py")

    project.missions.release(f"{mission_id}/T1", "w1", TaskState.READY, "someone else should try")
    await feedback.poll()

    assert recorder.shown("inventory.py") == []


async def test_cancelling_the_mission_clears_its_findings_ends_its_progress_and_is_announced(
    project: Project, feedback: Feedback, recorder: Recorder
) -> None:
    mission_id = start(project, "Count only positive items")
    submit(project, claim(project, mission_id), BROKEN)
    await feedback.poll()

    project.missions.cancel(mission_id)
    await feedback.poll()

    assert recorder.shown("inventory.py") == []
    assert recorder.shown_messages()[-1] == (
        "info",
        f"Podium: mission {mission_id} cancelled: tidy the inventory",
    )
    assert recorder.progress_updates[-1] == ProgressUpdate(mission_id, "end", message="mission cancelled")


async def test_mission_progress_begins_reports_the_merged_share_and_ends_when_the_mission_finishes(
    project: Project, feedback: Feedback, recorder: Recorder
) -> None:
    mission_id = start(project, "Count only positive items", "Name the items")
    await feedback.poll()
    submit(project, claim(project, mission_id), FIXED)
    await feedback.poll()
    project.missions.finish(mission_id, apply=False)
    await feedback.poll()

    kinds = [update.kind for update in recorder.progress_updates]
    assert kinds[0] == "begin" and kinds[-1] == "end" and set(kinds[1:-1]) == {"report"}
    begin = recorder.progress_updates[0]
    assert (begin.key, begin.title, begin.percentage) == (mission_id, "Podium: tidy the inventory", 0)
    assert begin.message is not None and begin.message.startswith("0/2 merged")
    last_report = recorder.progress_updates[-2]
    assert (last_report.percentage, last_report.message) == (50, "1/2 merged; T1 merged")
    assert recorder.progress_updates[-1].message == "mission finished"
    assert recorder.shown_messages()[-1] == (
        "info",
        f"Podium: mission {mission_id} finished: tidy the inventory",
    )


async def test_findings_of_two_tasks_on_one_file_are_shown_together_until_each_is_resolved(
    project: Project, feedback: Feedback, recorder: Recorder
) -> None:
    mission_id = start(project, "First try", "Second try")
    first, second = claim(project, mission_id, "w1"), claim(project, mission_id, "w2")
    submit(project, first, BROKEN, "w1")
    submit(project, second, INVENTORY.replace("def names(items):", "def names(items"), "w2")
    await feedback.poll()

    both = recorder.shown("inventory.py")
    assert both is not None and {f.task_id for f in both} == {"T1", "T2"}

    project.missions.release(f"{mission_id}/T1", "w1", TaskState.READY, "")
    await feedback.poll()

    left = recorder.shown("inventory.py")
    assert left is not None and {f.task_id for f in left} == {"T2"}


async def test_priming_shows_what_is_active_without_replaying_history(
    project: Project, recorder: Recorder
) -> None:
    mission_id = start(project, "Count only positive items")
    submit(project, claim(project, mission_id), BROKEN)

    await Feedback(project.missions.store, project.root, recorder).prime()

    assert recorder.messages == []
    assert [(u.key, u.kind) for u in recorder.progress_updates] == [(mission_id, "begin")]
    shown = recorder.shown("inventory.py")
    assert shown is not None and [f.task_id for f in shown] == ["T1"]


async def test_an_event_the_sink_fails_on_does_not_stop_the_later_ones(
    project: Project, feedback: Feedback, recorder: Recorder
) -> None:
    mission_id = start(project, "Count only positive items")
    claimed = claim(project, mission_id)
    submit(project, claimed, BROKEN)
    submit(project, claimed, FIXED)
    recorder.fail_on = "warning"

    await feedback.poll()

    assert recorder.shown_messages() == [("info", "Podium: T1 merged: Count only positive items")]


async def test_a_long_log_is_read_in_batches(project: Project, recorder: Recorder) -> None:
    watcher = Feedback(project.missions.store, project.root, recorder, batch=3)
    await watcher.prime()
    start(project, "One", "Two", "Three")  # mission.created and three task.added

    assert [await watcher.poll() for _ in range(3)] == [3, 1, 0]


async def test_a_nudge_makes_the_watcher_read_the_log_at_once(project: Project, recorder: Recorder) -> None:
    watcher = Feedback(project.missions.store, project.root, recorder, poll_interval=3600)
    async with anyio.create_task_group() as tg:
        await tg.start(watcher.watch)
        mission_id = await anyio.to_thread.run_sync(start, project, "Count only positive items")
        watcher.nudge()

        await recorder.wait_until(lambda: any(u.kind == "begin" for u in recorder.progress_updates))
        tg.cancel_scope.cancel()

        assert recorder.progress_updates[0].key == mission_id
