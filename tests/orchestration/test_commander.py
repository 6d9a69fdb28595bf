"""The Commander over real repositories: missions run end to end with stand-in agents behind AgentBackend.

Time is injected (a clock and a sleep that only moves it), tasks meet at events, and every wait is bounded
by ``anyio.fail_after``; nothing sleeps to synchronise.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import anyio
import pytest
from commander_support import (
    BROKEN,
    CONFIG,
    FILES,
    WAIT_S,
    FakeAgent,
    FakeTime,
    dead_run,
    done,
    merge_by_hand,
    start,
)

from podium.orchestration.agents.base import (
    AgentBackend,
    BackendError,
    PlannedTask,
    PlanRequest,
    ReviewRequest,
    ReviewResult,
    WorkRequest,
    WorkResult,
)
from podium.orchestration.agents.script import parse_script
from podium.orchestration.agents.scripted import ScriptedBackend
from podium.orchestration.audit import verify_chain
from podium.orchestration.commander import Commander, CommanderSettings, RoleBackends
from podium.orchestration.git import run_git
from podium.orchestration.hooks import CommandHookSpec, Hooks, HookSettings, build_hooks
from podium.orchestration.lifecycle import ACTIVE_STATES
from podium.orchestration.missions import Missions, TaskSpec
from podium.orchestration.model import MissionState, Task, TaskState
from podium.orchestration.resilience import MemorySettings, RetrySettings
from podium.orchestration.runreport import RunEvent, RunReport
from podium.orchestration.scheduling import SchedulingSettings
from podium.orchestration.store import Store
from podium.verification.edits import WholeFile

pytestmark = pytest.mark.usefixtures("isolated_git")


@pytest.fixture
def repo(make_repo: Callable[[Mapping[str, str]], Path]) -> Path:
    return make_repo(FILES)


@pytest.fixture
def missions(repo: Path) -> Iterator[Missions]:
    service = Missions(repo, CONFIG, Store.open(repo))
    yield service
    service.close()


def settings(**changes: object) -> CommanderSettings:
    base: dict[str, object] = {"retry": RetrySettings(attempts=4, jitter=0.0)}
    base.update(changes)
    return CommanderSettings(**base)  # type: ignore[arg-type]


def commander(
    missions: Missions,
    agent: AgentBackend,
    time: FakeTime,
    *,
    config: CommanderSettings | None = None,
    hooks: Hooks | None = None,
    events: list[RunEvent] | None = None,
    rss: Callable[[], int] | None = None,
) -> Commander:
    return Commander(
        missions,
        RoleBackends(worker=agent),
        config or settings(),
        hooks=hooks,
        on_event=events.append if events is not None else None,
        clock=time.clock,
        sleep=time.sleep,
        rss=rss,
    )


async def run(cmd: Commander, mission_id: str) -> RunReport:
    with anyio.fail_after(WAIT_S):
        return await cmd.run(mission_id)


def branch_file(missions: Missions, mission_id: str, path: str) -> str | None:
    branch = missions.store.get_mission(mission_id).branch
    shown = run_git(missions.root, "show", f"{branch}:{path}", ok=(0, 128))
    return shown.text if shown.returncode == 0 else None


def merges_of(missions: Missions, mission_id: str, task_id: str) -> int:
    branch = missions.store.get_mission(mission_id).branch
    log = run_git(missions.root, "log", "--format=%(trailers:key=Podium-Task,valueonly)", branch).text
    return sum(1 for line in log.splitlines() if line.strip() == task_id)


def held(missions: Missions, mission_id: str) -> list[Task]:
    return [t for t in missions.store.list_tasks(mission_id) if t.state in ACTIVE_STATES or t.lease_holder]


class Probe:
    """Wraps a backend: the first ``together`` work calls wait for each other, and concurrency is counted."""

    def __init__(self, inner: ScriptedBackend, together: int) -> None:
        self.inner = inner
        self.name = inner.name
        self.together = together
        self.running = 0
        self.peak = 0
        self.requests: list[WorkRequest] = []
        self.reviews: list[ReviewRequest] = []
        self._arrived = 0
        self._all_here = anyio.Event()

    async def plan(self, request: PlanRequest) -> tuple[PlannedTask, ...]:
        return await self.inner.plan(request)

    async def work(self, request: WorkRequest) -> WorkResult:
        self.requests.append(request)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            if self._arrived < self.together:
                self._arrived += 1
                if self._arrived == self.together:
                    self._all_here.set()
                await self._all_here.wait()
            return await self.inner.work(request)
        finally:
            self.running -= 1

    async def review(self, request: ReviewRequest) -> ReviewResult:
        self.reviews.append(request)
        return await self.inner.review(request)


SCRIPT = {
    "plan": [
        {"key": "greet", "title": "Greet loudly", "files": ["app.py"]},
        {"key": "triple", "title": "Triple instead", "files": ["util.py"]},
        {
            "key": "main",
            "title": "Main entry",
            "files": ["main.py"],
            "depends_on": ["greet", "triple"],
            "review": True,
        },
    ],
    "tasks": {
        "greet": {"attempts": [{"edits": [{"path": "app.py", "search": "hello", "replace": "HELLO"}]}]},
        "triple": {
            "attempts": [
                {"edits": [{"path": "util.py", "content": "def triple(x:\n    return 3 * x\n"}]},
                {"edits": [{"path": "util.py", "content": "def triple(x):\n    return 3 * x\n"}]},
            ]
        },
        "main": {
            "attempts": [
                {"edits": [{"path": "main.py", "content": "from app import greet\n\nprint(greet('you'))\n"}]},
                {
                    "edits": [
                        {
                            "path": "main.py",
                            "content": '"""Say hello."""\nfrom app import greet\n\nprint(greet(\'you\'))\n',
                        }
                    ]
                },
            ],
            "reviews": [{"approve": False, "comments": "add a module docstring"}, {"approve": True}],
        },
    },
}


async def test_a_scripted_mission_runs_end_to_end_with_parallel_workers_a_fix_and_a_review(
    missions: Missions,
) -> None:
    probe = Probe(ScriptedBackend(parse_script(SCRIPT)), together=2)
    events: list[RunEvent] = []
    cmd = commander(missions, probe, FakeTime(), events=events)
    with anyio.fail_after(WAIT_S):
        report = await cmd.run_goal("make the demo shout")
    mission_id = report.mission_id

    assert report.outcome == "completed", report.diagnosis
    assert report.merged == ("T1", "T2", "T3")
    assert report.failed == ()
    assert probe.peak >= 2, "the two independent tasks ran at the same time"
    tasks = {t.id: t for t in missions.store.list_tasks(mission_id)}
    assert tasks["T2"].attempts == 2
    fixing = [r for r in probe.requests if r.task.id == "T2"][1]
    assert fixing.attempt == 2
    assert any(f.path == "util.py" for f in fixing.findings), "the fix was asked for with the gate's findings"
    assert len(probe.reviews) == 2
    second_main = [r for r in probe.requests if r.task.id == "T3"][1]
    assert "add a module docstring" in second_main.reviewer_comments
    assert branch_file(missions, mission_id, "util.py") == "def triple(x):\n    return 3 * x\n"
    assert "HELLO" in (branch_file(missions, mission_id, "app.py") or "")
    assert (branch_file(missions, mission_id, "main.py") or "").startswith('"""Say hello."""')
    assert all(merges_of(missions, mission_id, t) == 1 for t in ("T1", "T2", "T3"))
    assert held(missions, mission_id) == []
    assert verify_chain(missions.store).ok
    kinds = [e.kind for e in events]
    assert kinds[0] == "run_started"
    assert kinds[-1] == "run_finished"
    assert {"planned", "claimed", "verdict", "review", "merged"} <= set(kinds)
    assert events[-1].snapshot.counts == {"merged": 3}
    assert "all 3 tasks merged" in report.diagnosis
    attempts = [e for e in missions.store.events_since(0, mission_id=mission_id) if e.kind == "task.attempt"]
    assert [e.payload["status"] for e in attempts if e.task_id == "T2"] == ["rejected", "merged"]
    assert [e.payload["status"] for e in attempts if e.task_id == "T3"] == [
        "review",
        "review_rejected",
        "review",
        "merged",
    ]


async def test_a_task_whose_attempts_run_out_fails_and_the_report_says_why(missions: Missions) -> None:
    mission_id = start(
        missions,
        TaskSpec(title="Break it", key="a", files=("util.py",)),
        TaskSpec(title="After it", key="b", depends_on=("a",)),
    )
    agent = FakeAgent({"Break it": [done(WholeFile("util.py", BROKEN))]})
    report = await run(commander(missions, agent, FakeTime()), mission_id)

    assert report.outcome == "failed"
    assert [f.task_id for f in report.failed] == ["T1"]
    failure = report.failed[0]
    assert failure.attempts == 3
    assert any("util.py" in f for f in failure.findings)
    assert "T1 (Break it) failed after 3 attempt(s)" in report.diagnosis
    assert "waiting on failed tasks: T2" in report.diagnosis
    assert report.remaining == ("T1", "T2")
    task = missions.store.get_task(mission_id, "T1")
    assert (task.state, task.attempts, task.lease_holder) == (TaskState.FAILED, 3, None)
    assert [r.attempt for r in agent.asked("Break it")] == [1, 2, 3]
    assert agent.asked("After it") == []
    assert all(r.findings for r in agent.asked("Break it")[1:])


async def test_a_worker_that_gives_up_fails_its_task_at_once(missions: Missions) -> None:
    mission_id = start(missions, TaskSpec(title="Impossible"))
    agent = FakeAgent({"Impossible": [WorkResult("gave_up", log="I cannot do this")]})
    report = await run(commander(missions, agent, FakeTime()), mission_id)
    assert report.outcome == "failed"
    assert "I cannot do this" in report.failed[0].reason
    assert len(agent.requests) == 1


async def test_backend_faults_are_retried_with_backoff_and_halve_the_concurrency(missions: Missions) -> None:
    mission_id = start(missions, TaskSpec(title="Flaky", files=("util.py",)))
    fix = done(WholeFile("util.py", "def double(x):\n    return x + x\n"))
    agent = FakeAgent({"Flaky": [BackendError("503"), BackendError("503"), fix]})
    time = FakeTime()
    cmd = commander(missions, agent, time)
    report = await run(cmd, mission_id)

    assert report.outcome == "completed"
    assert time.slept == [1.0, 2.0]
    assert cmd.scheduler.role("worker").limit == 2
    assert cmd.scheduler.backend("fake").limit == 2
    assert missions.store.get_task(mission_id, "T1").attempts == 1, "faults are not attempts"


async def test_the_circuit_breaker_opens_after_five_faults_and_a_probe_closes_it_again(
    missions: Missions,
) -> None:
    mission_id = start(missions, TaskSpec(title="Down for a while", files=("util.py",)))
    fix = done(WholeFile("util.py", "def double(x):\n    return x * 2\n"))
    agent = FakeAgent({"Down for a while": [*(BackendError("down") for _ in range(5)), fix]})
    time = FakeTime()
    cmd = commander(missions, agent, time, config=settings(retry=RetrySettings(attempts=10, jitter=0.0)))
    report = await run(cmd, mission_id)

    assert report.outcome == "completed"
    assert time.slept == [1.0, 2.0, 4.0, 8.0, 16.0, 14.0], "backoff, then the rest of the 30 s pause"
    assert cmd.breaker("fake").state == "closed"


async def test_a_backend_that_stays_down_pauses_the_mission_with_a_diagnosis(missions: Missions) -> None:
    mission_id = start(missions, TaskSpec(title="Never answers"))
    agent = FakeAgent({"Never answers": [BackendError("connection refused")]})
    time = FakeTime()
    config = settings(stagnation_rounds=3, retry=RetrySettings(attempts=2, jitter=0.0))
    cmd = commander(missions, agent, time, config=config)
    report = await run(cmd, mission_id)

    assert report.outcome == "stagnated"
    assert report.stagnation is not None
    assert report.stagnation.kinds == (("fault", 3),)
    assert "T1 (3×)" in report.diagnosis
    assert "2× backend fake failed: connection refused" in report.diagnosis
    assert cmd.breaker("fake").state == "open"
    task = missions.store.get_task(mission_id, "T1")
    assert (task.state, task.attempts) == (TaskState.READY, 0), "faults cost no attempt"
    assert missions.store.get_mission(mission_id).state is MissionState.ACTIVE


async def test_stagnation_pauses_the_mission_naming_the_task_and_the_finding_that_repeats(
    missions: Missions,
) -> None:
    mission_id = start(missions, TaskSpec(title="Stubborn", files=("util.py",)))
    agent = FakeAgent({"Stubborn": [done(WholeFile("util.py", BROKEN))]})
    config = settings(max_attempts=10, stagnation_rounds=3)
    report = await run(commander(missions, agent, FakeTime(), config=config), mission_id)

    assert report.outcome == "stagnated"
    assert len(agent.requests) == 3
    assert report.stagnation is not None
    assert report.stagnation.tasks == (("T1", 3),)
    assert report.stagnation.repeating and "util.py" in report.stagnation.repeating[0][0]
    assert "findings that keep coming back" in report.diagnosis
    assert "podium run --resume" in report.diagnosis
    task = missions.store.get_task(mission_id, "T1")
    assert (task.state, task.lease_holder, task.attempts) == (TaskState.READY, None, 3)
    kinds = [e.kind for e in missions.store.events_since(0, mission_id=mission_id)]
    assert "mission.paused" in kinds
    assert kinds[-1] == "run.stopped"


async def test_a_split_replaces_the_task_and_a_split_deeper_than_two_is_refused(missions: Missions) -> None:
    mission_id = start(
        missions,
        TaskSpec(title="Big job", key="big", files=("util.py",)),
        TaskSpec(title="Afterwards", key="after", depends_on=("big",)),
    )
    agent = FakeAgent(
        {
            "Big job": [
                WorkResult(
                    "split",
                    subtasks=(
                        PlannedTask("Half one", key="one"),
                        PlannedTask("Half two", key="two", depends_on=("one",)),
                    ),
                )
            ],
            "Half one": [WorkResult("split", subtasks=(PlannedTask("Quarter", files=("q.py",)),))],
            "Quarter": [
                WorkResult("split", subtasks=(PlannedTask("Eighth"),)),
                done(WholeFile("q.py", "Q = 1\n")),
            ],
            "Half two": [done(WholeFile("two.py", "TWO = 2\n"))],
            "Afterwards": [done(WholeFile("after.py", "AFTER = 3\n"))],
        }
    )
    report = await run(commander(missions, agent, FakeTime()), mission_id)

    assert report.outcome == "completed", report.diagnosis
    tasks = {t.id: t for t in missions.store.list_tasks(mission_id)}
    assert {k: t.state.value for k, t in tasks.items()} == {
        "T1": "cancelled",
        "T1.1": "cancelled",
        "T1.1.1": "merged",
        "T1.2": "merged",
        "T2": "merged",
    }
    assert tasks["T1.2"].depends_on == ("T1.1.1",), "dependents follow each split"
    assert tasks["T2"].depends_on == ("T1.1.1", "T1.2")
    assert tasks["T1.1.1"].depends_on == ()
    assert tasks["T1.1"].files == ("util.py",), "subtasks without files inherit the parent's"
    refused = agent.asked("Quarter")[1]
    assert refused.attempt == 2
    assert "split refused" in refused.reviewer_comments
    assert "depth 2" in refused.reviewer_comments
    assert agent.asked("Eighth") == []


async def test_a_user_hook_command_vetoing_before_merge_keeps_the_task_off_the_branch(
    missions: Missions, tmp_path: Path
) -> None:
    script = tmp_path / "freeze.py"
    script.write_text(
        "import json, sys\n"
        "event = json.load(sys.stdin)\n"
        "if event['task']['title'] == 'Frozen':\n"
        "    print('release freeze on ' + ','.join(event['paths']))\n"
        "    sys.exit(1)\n"
    )
    hook = CommandHookSpec("freeze", (sys.executable, str(script)), ("before_merge",))
    mission_id = start(missions, TaskSpec(title="Frozen", key="f"), TaskSpec(title="Free", key="g"))
    agent = FakeAgent(
        {"Frozen": [done(WholeFile("frozen.py", "X = 1\n"))], "Free": [done(WholeFile("free.py", "Y = 2\n"))]}
    )
    hooks = build_hooks(HookSettings(commands=(hook,)))
    report = await run(
        commander(missions, agent, FakeTime(), config=settings(max_attempts=2), hooks=hooks), mission_id
    )

    assert report.outcome == "failed"
    assert report.merged == ("T2",)
    assert [f.task_id for f in report.failed] == ["T1"]
    assert "release freeze on frozen.py" in agent.asked("Frozen")[1].reviewer_comments
    assert branch_file(missions, mission_id, "frozen.py") is None
    assert branch_file(missions, mission_id, "free.py") == "Y = 2\n"
    assert agent.review_requests == [], "holding a task for hooks does not call the reviewer"


async def test_the_scope_guard_rejects_edits_outside_the_declared_files_until_they_keep_inside(
    missions: Missions,
) -> None:
    mission_id = start(missions, TaskSpec(title="Scoped", files=("app.py",)))
    inside = WholeFile("app.py", "def greet(name):\n    return name\n")
    agent = FakeAgent({"Scoped": [done(inside, WholeFile("util.py", "X = 1\n")), done(inside)]})
    hooks = build_hooks(HookSettings(scope_policy="reject"))
    report = await run(commander(missions, agent, FakeTime(), hooks=hooks), mission_id)

    assert report.outcome == "completed"
    assert missions.store.get_task(mission_id, "T1").attempts == 2
    assert "outside its declared files: util.py" in agent.asked("Scoped")[1].reviewer_comments
    assert branch_file(missions, mission_id, "util.py") == FILES["util.py"]


async def test_the_scope_guard_in_warn_mode_merges_and_reports_the_warning(missions: Missions) -> None:
    mission_id = start(missions, TaskSpec(title="Sprawling", files=("app.py",)))
    agent = FakeAgent({"Sprawling": [done(WholeFile("notes.py", "N = 1\n"))]})
    report = await run(commander(missions, agent, FakeTime()), mission_id)
    assert report.outcome == "completed"
    assert any("outside its declared files: notes.py" in w for w in report.warnings)


async def test_secrets_in_worker_logs_are_redacted_before_they_are_recorded(missions: Missions) -> None:
    mission_id = start(missions, TaskSpec(title="Leaky"))
    secret = "sk-" + "z" * 32
    agent = FakeAgent({"Leaky": [done(WholeFile("leak.py", "L = 1\n"), log=f"used key {secret}")]})
    await run(commander(missions, agent, FakeTime()), mission_id)
    attempts = [e for e in missions.store.events_since(0, mission_id=mission_id) if e.kind == "task.attempt"]
    assert attempts and attempts[0].payload["log"] == "used key [redacted]"
    assert all(secret not in str(e.payload) for e in missions.store.events_since(0))


async def blocked_run(
    missions: Missions,
    mission_id: str,
    stop: Callable[[Commander, anyio.abc.TaskGroup], None],
    **config: object,
) -> tuple[Commander, RunReport | None, anyio.Event]:
    """Run with workers that block until released; call ``stop`` once two of them are working."""
    working = anyio.Event()
    release = anyio.Event()
    started: list[str] = []

    async def blocks(request: WorkRequest) -> WorkResult:
        started.append(request.task.id)
        if len(started) == 2:
            working.set()
        await release.wait()
        return done(WholeFile(f"{request.task.id}.py", "X = 1\n"))

    agent = FakeAgent({t.title: [blocks] for t in missions.store.list_tasks(mission_id)})
    cmd = commander(missions, agent, FakeTime(), config=settings(**config))
    reports: list[RunReport] = []

    async def go() -> None:
        reports.append(await cmd.run(mission_id))

    with anyio.fail_after(WAIT_S):
        async with anyio.create_task_group() as tg:
            tg.start_soon(go)
            await working.wait()
            stop(cmd, tg)
            if not tg.cancel_scope.cancel_called:
                await anyio.wait_all_tasks_blocked()
                release.set()
    return cmd, (reports[0] if reports else None), release


async def test_cancelling_a_run_mid_flight_leaves_no_task_claimed_without_a_live_holder(
    missions: Missions,
) -> None:
    mission_id = start(missions, *(TaskSpec(title=f"Task {n}", key=f"k{n}") for n in range(4)))
    cmd, report, _ = await blocked_run(missions, mission_id, lambda cmd, tg: tg.cancel_scope.cancel())

    assert report is None
    assert held(missions, mission_id) == []
    tasks = missions.store.list_tasks(mission_id)
    assert {t.state for t in tasks} == {TaskState.READY}
    assert all(t.attempts == 0 for t in tasks), "interrupted attempts do not count"
    assert cmd.scheduler.in_use() == {k: 0 for k in cmd.scheduler.in_use()}
    events = missions.store.events_since(0, mission_id=mission_id)
    assert events[-1].kind == "run.stopped"
    assert events[-1].payload["outcome"] == "stopped"
    assert verify_chain(missions.store).ok


async def test_a_stop_request_gives_running_attempts_their_grace_and_hands_back_the_rest(
    missions: Missions,
) -> None:
    mission_id = start(missions, *(TaskSpec(title=f"Task {n}", key=f"k{n}") for n in range(4)))
    config = {"scheduling": SchedulingSettings(worker=2)}
    cmd, report, _ = await blocked_run(
        missions, mission_id, lambda cmd, tg: cmd.request_stop("operator"), **config
    )

    assert report is not None
    assert report.outcome == "stopped"
    assert "operator" in report.diagnosis
    assert report.merged == ("T1", "T2"), "the two running attempts finished within the grace period"
    assert report.remaining == ("T3", "T4")
    assert held(missions, mission_id) == []


async def test_a_run_stopped_at_its_round_limit_hands_everything_back(missions: Missions) -> None:
    mission_id = start(missions, TaskSpec(title="Loop", files=("util.py",)))
    agent = FakeAgent({"Loop": [done(WholeFile("util.py", BROKEN))]})
    report = await run(commander(missions, agent, FakeTime(), config=settings(max_rounds=2)), mission_id)
    assert report.outcome == "limit"
    assert "round limit (2)" in report.diagnosis
    assert held(missions, mission_id) == []
    assert missions.store.get_task(mission_id, "T1").attempts == 2


async def test_a_cancelled_mission_ends_the_run(missions: Missions) -> None:
    mission_id = start(missions, TaskSpec(title="Any"))
    missions.cancel(mission_id)
    report = await run(commander(missions, FakeAgent(), FakeTime()), mission_id)
    assert report.outcome == "cancelled"


async def test_low_priority_work_waits_while_memory_is_over_budget(missions: Missions) -> None:
    mission_id = start(missions, *(TaskSpec(title=f"Job {n}", key=f"j{n}") for n in range(3)))
    running: list[int] = [0, 0]

    async def measured(request: WorkRequest) -> WorkResult:
        running[0] += 1
        running[1] = max(running)
        await anyio.lowlevel.checkpoint()
        running[0] -= 1
        return done(WholeFile(f"{request.task.id}.py", "J = 1\n"))

    agent = FakeAgent({f"Job {n}": [measured] for n in range(3)})
    config = settings(memory=MemorySettings(budget_bytes=1))
    report = await run(commander(missions, agent, FakeTime(), config=config, rss=lambda: 10**9), mission_id)
    assert report.outcome == "completed"
    assert running[1] == 1, "over budget, one low-priority task at a time"


async def test_a_restarted_run_takes_back_what_a_dead_run_held_and_merges_each_task_exactly_once(
    missions: Missions,
) -> None:
    mission_id = start(missions, *(TaskSpec(title=f"Task {n}", key=f"k{n}") for n in range(1, 5)))
    dead = dead_run(missions, mission_id)
    store = missions.store
    missions.claim(mission_id, dead.worker_id(1))
    missions.claim(mission_id, dead.worker_id(2))
    store.transition(mission_id, "T2", TaskState.SUBMITTED, actor=dead.worker_id(2), holder=dead.worker_id(2))
    # T3 was merged onto the branch just before the kill, and the store never heard of it
    merge_by_hand(missions, mission_id, dead.worker_id(3), "t3.py")
    store.transition(mission_id, "T3", TaskState.SUBMITTED, actor=dead.worker_id(3), holder=dead.worker_id(3))

    agent = FakeAgent({f"Task {n}": [done(WholeFile(f"t{n}.py", f"T{n} = {n}\n"))] for n in (1, 2, 4)})
    report = await run(commander(missions, agent, FakeTime()), mission_id)

    assert report.outcome == "completed", report.diagnosis
    assert report.recovery.reclaimed == ("T1", "T2")
    assert report.recovery.merged == ("T3",)
    assert agent.asked("Task 3") == [], "a merged task is not worked again"
    assert all(merges_of(missions, mission_id, f"T{n}") == 1 for n in range(1, 5))
    assert {t.id: t.attempts for t in store.list_tasks(mission_id)} == {"T1": 1, "T2": 1, "T3": 1, "T4": 1}
    merge_events = [e for e in store.events_since(0, mission_id=mission_id) if e.kind == "task.merge"]
    assert sorted(e.task_id or "" for e in merge_events) == ["T1", "T2", "T3", "T4"]
    assert [e.payload.get("recovered") for e in merge_events if e.task_id == "T3"] == [True]
    assert verify_chain(store).ok


async def test_a_run_stops_at_its_time_limit(missions: Missions) -> None:
    mission_id = start(
        missions, TaskSpec(title="Slow", key="s"), TaskSpec(title="Later", key="l", depends_on=("s",))
    )
    time = FakeTime()

    async def slow(request: WorkRequest) -> WorkResult:
        time.now += 120.0
        return done(WholeFile("slow.py", "S = 1\n"))

    agent = FakeAgent({"Slow": [slow], "Later": [done(WholeFile("later.py", "L = 1\n"))]})
    report = await run(commander(missions, agent, time, config=settings(time_limit_s=60.0)), mission_id)
    assert report.outcome == "limit"
    assert "time limit (60 s)" in report.diagnosis
    assert report.merged == ("T1",)
    assert agent.asked("Later") == []


def test_commander_settings_refuse_impossible_values() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        CommanderSettings(max_attempts=0)
    with pytest.raises(ValueError, match="stagnation_rounds"):
        CommanderSettings(stagnation_rounds=0)
