"""The command backend against a small real CLI agent (tests/fixtures/agents/fake_agent.py)."""

from __future__ import annotations

import fcntl
import json
import os
import sys
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from podium.orchestration.agents.base import BackendError, PlanRequest, ReviewRequest, WorkRequest
from podium.orchestration.agents.command import CommandBackend, CommandSettings
from podium.orchestration.model import Task
from podium.verification.errors import ConfigError
from podium.verification.findings import Finding

AGENT = Path(__file__).parents[2] / "fixtures" / "agents" / "fake_agent.py"
TASK = Task(
    id="T2", mission_id="m1", title="Fix the parser", description="Make it parse.", files=("parser.py",)
)
FINDING = Finding(
    source="tree-sitter",
    code="syntax-error",
    message="unexpected ':'",
    path="parser.py",
    line=3,
    column=9,
    end_line=3,
    end_column=10,
    frame="3 | def f(:\n  |       ^",
)


def agent(*args: str) -> tuple[str, ...]:
    return (sys.executable, str(AGENT), *args)


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    path = tmp_path / "worktree"
    path.mkdir()
    (path / "parser.py").write_text("x = 1\n")
    return path


async def test_work_runs_the_agent_in_the_worktree_and_reports_done_without_edits(
    worktree: Path, tmp_path: Path
) -> None:
    record = tmp_path / "record.json"
    argv = agent(
        "work", "--write", "parser.py=x = 2\\n", "--record", str(record), "--", "{task_id}: {prompt}"
    )
    backend = CommandBackend(CommandSettings(argv=argv, env=(("FAKE_EXTRA", "yes"),)))

    result = await backend.work(WorkRequest(task=TASK, worktree=worktree, attempt=2))

    assert result.status == "done"
    assert result.edits == ()
    assert "edited 1 file(s)" in result.log
    assert (worktree / "parser.py").read_text() == "x = 2\n"
    seen = json.loads(record.read_text())
    assert seen["cwd"] == str(worktree)
    assert seen["prompt"].startswith("T2: ")
    # Only the variables the backend sets: the test run itself may carry other PODIUM_* variables.
    assert {k: v for k, v in seen["env"].items() if k != "PODIUM_REQUIRE_E2E_TOOLS"} == {
        "PODIUM_TASK_ID": "T2",
        "PODIUM_ATTEMPT": "2",
        "PODIUM_WORKTREE": str(worktree),
        "PODIUM_MISSION_ID": "m1",
        "PODIUM_ROLE": "worker",
        "FAKE_EXTRA": "yes",
    }


async def test_the_prompt_carries_the_task_its_files_the_findings_and_the_reviewer_comments(
    worktree: Path, tmp_path: Path
) -> None:
    record = tmp_path / "record.json"
    backend = CommandBackend(CommandSettings(argv=agent("work", "--record", str(record), "{prompt}")))
    request = WorkRequest(
        task=TASK, worktree=worktree, attempt=2, findings=(FINDING,), reviewer_comments="Name it parse_all."
    )

    await backend.work(request)

    prompt = json.loads(record.read_text())["prompt"]
    assert "Task T2: Fix the parser" in prompt
    assert "Make it parse." in prompt
    assert "- parser.py" in prompt
    assert "parser.py:3:9 [tree-sitter syntax-error] unexpected ':'" in prompt
    assert "def f(:" in prompt
    assert "Name it parse_all." in prompt


async def test_the_prompt_is_one_argument_and_never_reaches_a_shell(worktree: Path, tmp_path: Path) -> None:
    record = tmp_path / "record.json"
    backend = CommandBackend(CommandSettings(argv=agent("work", "--record", str(record), "{prompt}")))
    task = Task(id="T3", mission_id="m1", title="$(touch pwned); touch pwned2 `touch pwned3`")

    await backend.work(WorkRequest(task=task, worktree=worktree, attempt=1))

    assert "$(touch pwned); touch pwned2 `touch pwned3`" in json.loads(record.read_text())["prompt"]
    assert not [name for name in os.listdir(worktree) if name.startswith("pwned")]


async def test_a_failing_agent_raises_a_backend_error_with_the_tail_of_stderr(worktree: Path) -> None:
    backend = CommandBackend(CommandSettings(argv=agent("fail", "{prompt}")))

    with pytest.raises(BackendError, match=r"exited 3 during task T2: boom: the model is unavailable"):
        await backend.work(WorkRequest(task=TASK, worktree=worktree, attempt=1))


async def test_a_missing_program_raises_a_backend_error_naming_it(worktree: Path) -> None:
    backend = CommandBackend(CommandSettings(argv=("/nonexistent/agent", "{prompt}")))

    with pytest.raises(BackendError, match="cannot start '/nonexistent/agent'"):
        await backend.work(WorkRequest(task=TASK, worktree=worktree, attempt=1))


async def test_a_timeout_kills_the_agent_and_everything_it_started(worktree: Path, tmp_path: Path) -> None:
    lock, pid = tmp_path / "lock", tmp_path / "pid"
    argv = agent("hang", "--lock", str(lock), "--pid", str(pid), "{prompt}")
    backend = CommandBackend(CommandSettings(argv=argv, timeout_s=3))

    with pytest.raises(BackendError, match="did not finish within 3 s"):
        await backend.work(WorkRequest(task=TASK, worktree=worktree, attempt=1))

    assert pid.exists(), "the agent's child never took the lock: the test proved nothing"

    def take_lock() -> None:
        with lock.open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # blocks while the child lives

    with anyio.fail_after(30):
        await anyio.to_thread.run_sync(take_lock, abandon_on_cancel=True)


async def test_the_task_log_keeps_the_prompt_and_the_agent_output(worktree: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    backend = CommandBackend(CommandSettings(argv=agent("fail", "{prompt}"), log_dir=logs))

    for attempt in (1, 2):
        with pytest.raises(BackendError):
            await backend.work(WorkRequest(task=TASK, worktree=worktree, attempt=attempt))

    text = (logs / "m1" / "T2.log").read_text()
    assert text.count("--- prompt ---") == 2
    assert "worker T2 attempt 2" in text
    assert "Task T2: Fix the parser" in text
    assert "some progress output" in text
    assert "boom: the model is unavailable" in text


async def test_the_log_filter_redacts_the_task_log_and_the_error_message(
    worktree: Path, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"

    def redact(line: str) -> str:
        return line.replace("boom", "[redacted]")

    backend = CommandBackend(CommandSettings(argv=agent("fail", "{prompt}"), log_dir=logs, log_filter=redact))

    with pytest.raises(BackendError, match=r"\[redacted\]: the model is unavailable"):
        await backend.work(WorkRequest(task=TASK, worktree=worktree, attempt=1))

    text = (logs / "m1" / "T2.log").read_text()
    assert "boom" not in text
    assert "[redacted]: the model is unavailable" in text


async def test_plan_reads_the_roadmap_json_from_stdout_despite_chatter(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    backend = CommandBackend(
        CommandSettings(argv=("false",), plan_argv=agent("plan", "{prompt}"), log_dir=logs)
    )

    tasks = await backend.plan(PlanRequest(mission_id="m1", goal="Build an app", root=tmp_path))

    assert [(t.key, t.title, t.files, t.depends_on) for t in tasks] == [
        ("model", "Add the model", ("model.py",), ()),
        ("view", "Add the view", ("view.py",), ("model",)),
    ]
    assert "Build an app" in (logs / "m1" / "plan.log").read_text()


async def test_plan_without_a_roadmap_is_a_backend_error(tmp_path: Path) -> None:
    backend = CommandBackend(CommandSettings(argv=agent("review", "{prompt}")))

    with pytest.raises(BackendError, match="did not print a roadmap"):
        await backend.plan(PlanRequest(mission_id="m1", goal="Build an app", root=tmp_path))


async def test_review_reads_the_decision_from_the_first_line_and_comments_from_the_rest(
    worktree: Path,
) -> None:
    argv = agent("review", "--decision", "REJECT", "--comments", "Add a test.", "{prompt}")
    backend = CommandBackend(CommandSettings(argv=("false",), review_argv=argv))
    request = ReviewRequest(task=TASK, worktree=worktree, diff="+x = 2\n", verdict_summary="accepted: 0 new")

    result = await backend.review(request)

    assert not result.approve
    assert result.comments == "Add a test."


async def test_an_empty_command_line_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="argv"):
        CommandBackend(CommandSettings())
