"""The scripted backend plays plans, attempts, reviews, sleeps and faults from a script file."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from podium.orchestration.agents.base import (
    AgentBackend,
    BackendError,
    PlanRequest,
    RateLimited,
    ReviewRequest,
    WorkRequest,
)
from podium.orchestration.agents.script import parse_script
from podium.orchestration.agents.scripted import ScriptedBackend, ScriptedSettings
from podium.orchestration.model import Task
from podium.verification.edits import DeleteFile, SearchReplace, WholeFile
from podium.verification.errors import ConfigError

FIXTURES = Path(__file__).parents[2] / "fixtures" / "agents"


@pytest.fixture(params=["mission.yaml", "mission.json"])
def backend(request: pytest.FixtureRequest) -> ScriptedBackend:
    return ScriptedBackend.from_settings(ScriptedSettings(script=FIXTURES / request.param))


def work(task_id: str, title: str, attempt: int = 1) -> WorkRequest:
    return WorkRequest(
        task=Task(id=task_id, mission_id="m1", title=title), worktree=Path("."), attempt=attempt
    )


def review(task_id: str, title: str) -> ReviewRequest:
    task = Task(id=task_id, mission_id="m1", title=title)
    return ReviewRequest(task=task, worktree=Path("."), diff="", verdict_summary="accepted")


def test_the_scripted_backend_is_an_agent_backend(backend: ScriptedBackend) -> None:
    assert isinstance(backend, AgentBackend)
    assert backend.name == "scripted"


async def test_plan_returns_the_scripted_roadmap(backend: ScriptedBackend, tmp_path: Path) -> None:
    tasks = await backend.plan(PlanRequest(mission_id="m1", goal="anything", root=tmp_path))

    assert [(t.key, t.title, t.files, t.depends_on, t.review) for t in tasks] == [
        ("parser", "Add a parser", ("parser.py",), (), True),
        ("cli", "Wire the CLI", ("cli.py",), ("parser",), False),
    ]
    assert tasks[1].priority == 2


async def test_attempts_play_in_order_and_the_last_one_repeats(backend: ScriptedBackend) -> None:
    results = [await backend.work(work("T1", "Add a parser", attempt)) for attempt in (1, 2, 3)]

    assert results[0].edits == (WholeFile("parser.py", "def parse(:\n    return 1\n"),)
    assert results[1].edits == (SearchReplace("parser.py", "parse(:", "parse():"),)
    assert results[2] == results[1]
    assert {r.status for r in results} == {"done"}


async def test_a_task_is_found_by_its_plan_key_through_its_title_or_by_its_title(
    backend: ScriptedBackend,
) -> None:
    by_key = await backend.work(work("T7", "Add a parser"))
    by_title = await backend.work(work("T8", "Print help"))

    assert by_key.edits[0] == WholeFile("parser.py", "def parse(:\n    return 1\n")
    assert (by_title.status, by_title.log) == ("gave_up", "no help today")


async def test_an_injected_rate_limit_fails_the_given_number_of_calls_then_the_script_goes_on(
    backend: ScriptedBackend,
) -> None:
    for _ in range(2):
        with pytest.raises(RateLimited, match="fault 1 of 2|fault 2 of 2"):
            await backend.work(work("T2", "Wire the CLI"))

    result = await backend.work(work("T2", "Wire the CLI"))

    assert result.status == "split"
    assert [(t.key, t.depends_on) for t in result.subtasks] == [("flags", ()), ("help", ("flags",))]


async def test_a_fault_on_an_attempt_with_edits_fails_once_then_returns_the_edits(
    backend: ScriptedBackend,
) -> None:
    with pytest.raises(BackendError) as caught:
        await backend.work(work("T2.1", "Parse flags"))
    assert not isinstance(caught.value, RateLimited)

    result = await backend.work(work("T2.1", "Parse flags"))

    assert result.edits == (DeleteFile("old_cli.py"),)


async def test_unlisted_tasks_play_the_default_entry_with_placeholders_filled(
    backend: ScriptedBackend,
) -> None:
    result = await backend.work(work("T9", "Write docs", attempt=4))

    assert result.edits == (WholeFile("done/T9.txt", "Write docs (attempt 4, key T9)\n"),)


async def test_a_task_without_script_or_default_gives_up_with_a_reason() -> None:
    backend = ScriptedBackend(parse_script({"plan": [{"title": "Only one"}]}))

    result = await backend.work(work("T1", "Something else"))

    assert result.status == "gave_up"
    assert "no attempt for task T1 (Something else)" in result.log


async def test_reviews_play_in_order_and_unscripted_reviews_approve(backend: ScriptedBackend) -> None:
    first = await backend.review(review("T1", "Add a parser"))
    second = await backend.review(review("T1", "Add a parser"))
    other = await backend.review(review("T2", "Wire the CLI"))

    assert (first.approve, first.comments) == (False, "Add a docstring.")
    assert (second.approve, second.comments) == (True, "Good.")
    assert other.approve


async def test_a_script_without_a_plan_refuses_to_plan(tmp_path: Path) -> None:
    backend = ScriptedBackend(parse_script({"tasks": {}}))

    with pytest.raises(ConfigError, match="no plan"):
        await backend.plan(PlanRequest(mission_id="m1", goal="g", root=tmp_path))


async def test_a_simulated_duration_really_waits() -> None:
    backend = ScriptedBackend(parse_script({"tasks": {"T1": {"attempts": [{"sleep_s": 3600, "edits": []}]}}}))

    with anyio.move_on_after(0.05) as scope:
        await backend.work(work("T1", "t"))

    assert scope.cancelled_caught


async def test_time_scale_zero_skips_simulated_durations() -> None:
    script = parse_script({"tasks": {"T1": {"attempts": [{"sleep_s": 3600, "edits": []}]}}})
    backend = ScriptedBackend(script, time_scale=0)

    with anyio.fail_after(30):
        result = await backend.work(work("T1", "t"))

    assert result.status == "done"


async def test_a_cancelled_call_does_not_use_up_its_attempt() -> None:
    attempts = [{"sleep_s": 1, "log": "first", "edits": []}, {"log": "second", "edits": []}]
    backend = ScriptedBackend(parse_script({"tasks": {"T1": {"attempts": attempts}}}), time_scale=0)

    with anyio.CancelScope() as scope:
        scope.cancel()
        await backend.work(work("T1", "t"))
    result = await backend.work(work("T1", "t"))

    assert result.log == "first"
