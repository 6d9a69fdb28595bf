"""The mission service over real repositories: starting, planning, claiming, leases, finishing, cancelling.

Leases are expired with the store's injectable clock, never by waiting. Submissions appear here only as the
way tasks get merged; their own behaviour is tested in test_submissions.py.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from podium.orchestration.audit import verify_chain
from podium.orchestration.config import DEFAULT_CONFIG
from podium.orchestration.errors import LeaseError, RoadmapError, WorkspaceError
from podium.orchestration.git import branch_head, head_commit, run_git
from podium.orchestration.missions import Claim, Missions, NoTask, TaskSpec
from podium.orchestration.model import MissionState, Task, TaskState
from podium.orchestration.store import Store
from podium.orchestration.submissions import Submissions
from podium.verification.edits import WholeFile
from podium.verification.errors import InputError

LEASE = DEFAULT_CONFIG.missions.lease_seconds
FILES = {
    "app.py": "def greet(name):\n    return f'hello {name}'\n",
    "util.py": "def double(x):\n    return 2 * x\n",
    "README.md": "# demo\n",
}
CONCURRENT_WORKERS = 8
CONCURRENT_TASKS = 40
PROCESS_TASKS = 6
PROCESS_TIMEOUT_SECONDS = 120.0
"""Only a guard against a hung child; the test never depends on timing."""


pytestmark = pytest.mark.usefixtures("isolated_git")


class FakeClock:
    """The store's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def repo(make_repo: Callable[[Mapping[str, str]], Path]) -> Path:
    return make_repo(FILES)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def missions(repo: Path, clock: FakeClock) -> Iterator[Missions]:
    service = Missions(repo, DEFAULT_CONFIG, Store.open(repo, clock=clock))
    yield service
    service.close()


@pytest.fixture
def submissions(missions: Missions) -> Submissions:
    return Submissions(missions)


def checkout(repo: Path) -> tuple[str, str, str, dict[str, str]]:
    """What the user sees: branch, HEAD, `git status` and the tracked files' contents."""
    files = {path: (repo / path).read_text() for path in FILES if (repo / path).exists()}
    return (
        run_git(repo, "symbolic-ref", "--short", "HEAD").line,
        head_commit(repo),
        run_git(repo, "status", "--porcelain=v1", "--untracked-files=all").text,
        files,
    )


def claimed(result: Claim | NoTask) -> Claim:
    assert isinstance(result, Claim), result
    return result


def nothing(result: Claim | NoTask) -> NoTask:
    assert isinstance(result, NoTask), result
    return result


def tasks_by_id(missions: Missions, mission_id: str) -> dict[str, Task]:
    return {task.id: task for task in missions.store.list_tasks(mission_id)}


def podium_branches(repo: Path) -> list[str]:
    return run_git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/podium/").text.split()


def registered_worktrees(repo: Path) -> list[str]:
    listing = run_git(repo, "worktree", "list", "--porcelain").text
    return [line.removeprefix("worktree ") for line in listing.splitlines() if line.startswith("worktree ")]


def merge(submissions: Submissions, claim: Claim, worker: str, path: str, content: str) -> str:
    """Submit one whole-file edit for a claimed task and return the merged commit."""
    outcome = submissions.submit(claim.task.id, worker, [WholeFile(path, content)])
    assert outcome.status == "merged", outcome.verdict
    assert outcome.merged_commit is not None
    return outcome.merged_commit


def test_start_outside_a_git_repository_says_to_run_git_init_and_records_no_mission(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    service = Missions(plain, DEFAULT_CONFIG, Store.open(plain))
    try:
        with pytest.raises(WorkspaceError, match=r"is not a git repository; run `git init`"):
            service.start("ship it", [TaskSpec("one")])
        assert service.store.list_missions() == []
    finally:
        service.close()


def test_start_in_a_repository_without_commits_asks_for_one_and_records_no_mission(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    run_git(empty, "init", "--quiet")
    service = Missions(empty, DEFAULT_CONFIG, Store.open(empty))
    try:
        with pytest.raises(WorkspaceError, match=r"no commits yet; commit once"):
            service.start("ship it")
        assert service.store.list_missions() == []
        assert podium_branches(empty) == []
    finally:
        service.close()


def test_start_with_a_dependency_cycle_creates_no_mission_and_no_branch(
    missions: Missions, repo: Path
) -> None:
    cycle = [TaskSpec("a", key="a", depends_on=("b",)), TaskSpec("b", key="b", depends_on=("a",))]

    with pytest.raises(RoadmapError, match="cycle"):
        missions.start("goal", cycle)

    assert missions.store.list_missions() == []
    assert podium_branches(repo) == []


def test_start_with_an_unknown_dependency_names_it_and_creates_no_mission(
    missions: Missions, repo: Path
) -> None:
    with pytest.raises(RoadmapError, match="T9"):
        missions.start("goal", [TaskSpec("a", key="a"), TaskSpec("b", depends_on=("T9",))])

    assert missions.store.list_missions() == []
    assert podium_branches(repo) == []


def test_start_with_an_empty_goal_is_an_input_error(missions: Missions) -> None:
    with pytest.raises(InputError, match="goal"):
        missions.start("   ")
    assert missions.store.list_missions() == []


def test_start_branches_podium_mission_id_at_head_and_leaves_the_users_checkout_alone(
    missions: Missions, repo: Path
) -> None:
    (repo / "app.py").write_text("print('the user is editing')\n")
    (repo / "scratch.txt").write_text("untracked\n")
    before = checkout(repo)

    mission = missions.start("add greetings", [TaskSpec("one", key="one")])

    assert mission.state is MissionState.ACTIVE
    assert mission.branch == f"podium/{mission.id}"
    assert branch_head(repo, mission.branch) == before[1]
    assert checkout(repo) == before
    assert (repo / "scratch.txt").read_text() == "untracked\n"


def test_start_numbers_tasks_in_input_order_and_resolves_batch_keys(missions: Missions) -> None:
    mission = missions.start(
        "goal",
        [
            TaskSpec("schema", key="schema"),
            TaskSpec("api", key="api", depends_on=("schema",)),
            TaskSpec("docs", key="docs", depends_on=("api", "schema")),
        ],
    )

    tasks = tasks_by_id(missions, mission.id)
    assert [tasks[i].title for i in ("T1", "T2", "T3")] == ["schema", "api", "docs"]
    assert tasks["T2"].depends_on == ("T1",)
    assert tasks["T3"].depends_on == ("T2", "T1")
    assert [tasks[i].state for i in ("T1", "T2", "T3")] == [
        TaskState.READY,
        TaskState.PENDING,
        TaskState.PENDING,
    ]


def test_add_tasks_maps_keys_to_new_ids_and_takes_dependencies_by_key_or_existing_id(
    missions: Missions,
) -> None:
    mission = missions.start("goal", [TaskSpec("base", key="base")])

    added = missions.add_tasks(
        mission.id,
        [
            TaskSpec("later", key="later", depends_on=("next",)),
            TaskSpec("next", key="next", depends_on=("T1",)),
            TaskSpec("free"),
        ],
    )

    assert [(t.id, t.title, t.depends_on) for t in added] == [
        ("T2", "later", ("T3",)),
        ("T3", "next", ("T1",)),
        ("T4", "free", ()),
    ]
    assert [t.state for t in added] == [TaskState.PENDING, TaskState.PENDING, TaskState.READY]
    assert set(tasks_by_id(missions, mission.id)) == {"T1", "T2", "T3", "T4"}


@pytest.mark.parametrize(
    ("batch", "error"),
    [
        ([TaskSpec("ok", key="ok"), TaskSpec("bad", depends_on=("nowhere",))], RoadmapError),
        (
            [TaskSpec("a", key="a", depends_on=("b",)), TaskSpec("b", key="b", depends_on=("a",))],
            RoadmapError,
        ),
        ([TaskSpec("ok", key="same"), TaskSpec("again", key="same")], InputError),
        ([TaskSpec("ok"), TaskSpec("  ")], InputError),
    ],
    ids=["unknown-dependency", "cycle", "duplicate-key", "empty-title"],
)
def test_add_tasks_adds_nothing_when_any_task_of_the_batch_is_invalid(
    missions: Missions, batch: list[TaskSpec], error: type[Exception]
) -> None:
    mission = missions.start("goal", [TaskSpec("base")])
    seq = missions.store.last_seq()

    with pytest.raises(error):
        missions.add_tasks(mission.id, batch)

    assert list(tasks_by_id(missions, mission.id)) == ["T1"]
    assert missions.store.last_seq() == seq
    assert [t.id for t in missions.add_tasks(mission.id, [TaskSpec("fine")])] == ["T2"]


def test_add_tasks_is_refused_once_the_mission_is_finished(missions: Missions) -> None:
    mission = missions.start("goal")
    missions.finish(mission.id, apply=False)

    with pytest.raises(InputError, match="finished"):
        missions.add_tasks(mission.id, [TaskSpec("too late")])

    assert missions.store.list_tasks(mission.id) == []


def test_claim_takes_priority_first_but_never_a_task_whose_dependencies_are_not_merged(
    missions: Missions, submissions: Submissions
) -> None:
    mission = missions.start(
        "goal",
        [
            TaskSpec("plain", key="plain"),
            TaskSpec("urgent", key="urgent", priority=5),
            TaskSpec("most urgent, but waits", key="waits", priority=9, depends_on=("urgent",)),
        ],
    )

    first = claimed(missions.claim(mission.id, "w1"))
    second = claimed(missions.claim(mission.id, "w2"))
    assert (first.task.id, second.task.id) == ("T2", "T1")
    assert nothing(missions.claim(mission.id, "w3")).reason == "all_claimed"

    merge(submissions, first, "w1", "util.py", "def double(x):\n    return x + x\n")
    third = claimed(missions.claim(mission.id, "w3"))
    assert third.task.id == "T3"
    assert third.base_commit == branch_head(missions.root, mission.branch)


def test_claim_prefers_the_task_that_holds_up_the_longest_chain_at_equal_priority(missions: Missions) -> None:
    mission = missions.start(
        "goal",
        [
            TaskSpec("leaf", key="leaf"),
            TaskSpec("root of a chain", key="root"),
            TaskSpec("after root", key="after", depends_on=("root",)),
        ],
    )

    assert claimed(missions.claim(mission.id, "w1")).task.id == "T2"
    assert claimed(missions.claim(mission.id, "w2")).task.id == "T1"


def test_claim_hands_out_a_detached_worktree_at_the_integration_head_with_a_lease(
    missions: Missions, repo: Path, clock: FakeClock
) -> None:
    mission = missions.start("goal", [TaskSpec("one", files=("app.py",))])

    claim = claimed(missions.claim(mission.id, "w1"))

    head = branch_head(repo, mission.branch)
    assert claim.base_commit == head
    assert claim.worktree == repo / ".podium" / "worktrees" / mission.id / "T1"
    assert head_commit(claim.worktree) == head
    assert (claim.worktree / "app.py").read_text() == FILES["app.py"]
    assert claim.task.state is TaskState.CLAIMED
    assert claim.task.lease_holder == "w1"
    assert claim.task.lease_expires == clock.now + LEASE
    assert claim.task.attempts == 1
    assert claim.task.files == ("app.py",)


def test_concurrent_workers_never_claim_a_task_twice_and_each_worktree_is_at_the_integration_head(
    missions: Missions, repo: Path
) -> None:
    mission = missions.start("goal", [TaskSpec(f"task {n}", priority=n % 3) for n in range(CONCURRENT_TASKS)])
    start = threading.Barrier(CONCURRENT_WORKERS)

    def work(worker: str) -> tuple[list[Claim], NoTask]:
        start.wait()
        claims: list[Claim] = []
        while True:
            result = missions.claim(mission.id, worker)
            if isinstance(result, NoTask):
                return claims, result
            claims.append(result)

    with ThreadPoolExecutor(CONCURRENT_WORKERS) as pool:
        results = list(pool.map(work, [f"w{n}" for n in range(CONCURRENT_WORKERS)]))

    claims = [claim for got, _ in results for claim in got]
    ids = [claim.task.id for claim in claims]
    assert sorted(ids) == sorted(f"T{n}" for n in range(1, CONCURRENT_TASKS + 1))
    assert {done.reason for _, done in results} == {"all_claimed"}
    head = branch_head(repo, mission.branch)
    assert len({claim.worktree for claim in claims}) == CONCURRENT_TASKS
    for claim in claims:
        assert claim.base_commit == head
        assert head_commit(claim.worktree) == head
    stored = tasks_by_id(missions, mission.id)
    assert all(stored[c.task.id].lease_holder == c.task.lease_holder for c in claims)
    assert verify_chain(missions.store).ok


def test_claim_reports_all_claimed_while_every_open_task_is_in_progress(missions: Missions) -> None:
    mission = missions.start("goal", [TaskSpec("one", key="one"), TaskSpec("two", depends_on=("one",))])
    claimed(missions.claim(mission.id, "w1"))

    result = nothing(missions.claim(mission.id, "w2"))

    assert result.reason == "all_claimed"
    assert "T1 (w1)" in result.detail


def test_claim_reports_all_blocked_when_the_rest_waits_on_a_blocked_task(missions: Missions) -> None:
    mission = missions.start("goal", [TaskSpec("one", key="one"), TaskSpec("two", depends_on=("one",))])
    claimed(missions.claim(mission.id, "w1"))
    missions.release("T1", "w1", TaskState.BLOCKED, "needs a decision on the API")

    result = nothing(missions.claim(mission.id, "w2"))

    assert result.reason == "all_blocked"
    assert "T1 (blocked)" in result.detail


def test_claim_reports_mission_done_when_every_task_is_merged(
    missions: Missions, submissions: Submissions
) -> None:
    mission = missions.start("goal", [TaskSpec("one")])
    merge(submissions, claimed(missions.claim(mission.id, "w1")), "w1", "README.md", "# demo, done\n")

    result = nothing(missions.claim(mission.id, "w1"))

    assert result.reason == "mission_done"
    assert "mission_finish" in result.detail


def test_claim_reports_waiting_when_the_last_ready_task_went_to_someone_else_meanwhile(
    missions: Missions, monkeypatch: pytest.MonkeyPatch
) -> None:
    mission = missions.start("goal", [TaskSpec("one")])
    # The store's claim found nothing, but by the time the reason is worked out nothing is in progress
    # either: a race with another claimant that the worker should answer by asking again.
    monkeypatch.setattr(missions.store, "claim", lambda *args, **kwargs: None)

    assert nothing(missions.claim(mission.id, "w1")).reason == "waiting"


@pytest.mark.parametrize("end", ["finish", "cancel"])
def test_claim_reports_mission_closed_after_the_mission_ended(missions: Missions, end: str) -> None:
    mission = missions.start("goal", [TaskSpec("one")])
    if end == "finish":
        missions.finish(mission.id, apply=False)
    else:
        missions.cancel(mission.id)

    result = nothing(missions.claim(mission.id, "w1"))

    assert result.reason == "mission_closed"
    assert mission.id in result.detail


def test_expired_lease_lets_another_worker_claim_the_task_with_its_worktree_as_left(
    missions: Missions, submissions: Submissions, clock: FakeClock
) -> None:
    mission = missions.start("goal", [TaskSpec("one")])
    first = claimed(missions.claim(mission.id, "w1"))
    (first.worktree / "notes.md").write_text("half done\n")
    (first.worktree / "app.py").write_text("def greet(name):\n    return 'hi ' + name\n")
    clock.advance(LEASE + 1)

    second = claimed(missions.claim(mission.id, "w2"))

    assert second.task.id == "T1"
    assert second.task.lease_holder == "w2"
    assert second.task.attempts == 2
    assert (second.worktree, second.base_commit) == (first.worktree, first.base_commit)
    assert (second.worktree / "notes.md").read_text() == "half done\n"
    assert (second.worktree / "app.py").read_text() == "def greet(name):\n    return 'hi ' + name\n"
    with pytest.raises(LeaseError, match="held by w2, not w1"):
        submissions.submit("T1", "w1")
    with pytest.raises(LeaseError):
        missions.heartbeat("T1", "w1")
    assert submissions.submit("T1", "w2").status == "merged"


def test_lease_that_has_not_run_out_is_not_taken_by_another_worker(
    missions: Missions, clock: FakeClock
) -> None:
    mission = missions.start("goal", [TaskSpec("one")])
    claimed(missions.claim(mission.id, "w1"))
    clock.advance(LEASE - 1)

    assert nothing(missions.claim(mission.id, "w2")).reason == "all_claimed"
    assert missions.store.get_task(mission.id, "T1").lease_holder == "w1"


def test_heartbeat_extends_the_lease_so_it_outlives_its_first_term(
    missions: Missions, clock: FakeClock
) -> None:
    mission = missions.start("goal", [TaskSpec("one")])
    claimed(missions.claim(mission.id, "w1"))
    clock.advance(LEASE - 10)

    renewed = missions.heartbeat(f"{mission.id}/T1", "w1")
    clock.advance(20)

    assert renewed.lease_expires == clock.now - 20 + LEASE
    assert nothing(missions.claim(mission.id, "w2")).reason == "all_claimed"
    missions.require_lease(missions.store.get_task(mission.id, "T1"), "w1")


def test_heartbeat_after_the_lease_ran_out_is_refused_and_says_to_claim_again(
    missions: Missions, clock: FakeClock
) -> None:
    mission = missions.start("goal", [TaskSpec("one")])
    claimed(missions.claim(mission.id, "w1"))
    clock.advance(LEASE)

    with pytest.raises(LeaseError, match="expired"):
        missions.heartbeat("T1", "w1")


def test_heartbeat_by_a_worker_who_does_not_hold_the_task_is_refused(missions: Missions) -> None:
    mission = missions.start("goal", [TaskSpec("one")])
    claim = claimed(missions.claim(mission.id, "w1"))

    with pytest.raises(LeaseError, match="held by w1, not w2"):
        missions.heartbeat("T1", "w2")

    assert missions.store.get_task(mission.id, "T1").lease_expires == claim.task.lease_expires


def test_released_task_goes_to_the_next_worker_with_its_worktree_kept(missions: Missions) -> None:
    mission = missions.start("goal", [TaskSpec("one")])
    first = claimed(missions.claim(mission.id, "w1"))
    (first.worktree / "notes.md").write_text("try the other approach\n")

    released = missions.release("T1", "w1", TaskState.READY, "out of budget")
    second = claimed(missions.claim(mission.id, "w2"))

    assert (released.state, released.lease_holder, released.lease_expires) == (TaskState.READY, None, None)
    assert second.worktree == first.worktree
    assert (second.worktree / "notes.md").read_text() == "try the other approach\n"


def test_release_is_refused_to_other_workers_and_for_states_other_than_ready_blocked_failed(
    missions: Missions,
) -> None:
    mission = missions.start("goal", [TaskSpec("one")])
    claimed(missions.claim(mission.id, "w1"))

    with pytest.raises(LeaseError):
        missions.release("T1", "w2", TaskState.READY, "")
    with pytest.raises(InputError, match="ready, blocked or failed"):
        missions.release("T1", "w1", TaskState.MERGED, "")

    task = missions.store.get_task(mission.id, "T1")
    assert (task.state, task.lease_holder) == (TaskState.CLAIMED, "w1")


def test_status_counts_states_measures_progress_and_lists_leases_and_verdicts(
    missions: Missions, submissions: Submissions
) -> None:
    mission = missions.start("ship greetings", [TaskSpec("one"), TaskSpec("two"), TaskSpec("three")])
    merge(submissions, claimed(missions.claim(mission.id, "w1")), "w1", "README.md", "# greetings\n")
    claimed(missions.claim(mission.id, "w2"))

    status = missions.status(mission.id)

    assert status.mission.id == mission.id
    assert status.counts == {"claimed": 1, "merged": 1, "ready": 1}
    assert status.progress == pytest.approx(33.3)
    assert [(t.id, t.lease_holder) for t in status.leases] == [("T2", "w2")]
    assert [task_id for task_id, _ in status.recent_verdicts] == ["T1"]
    assert status.recent_verdicts[0][1].startswith("accepted")
    assert "ship greetings" in status.roadmap
    assert all(title in status.roadmap for title in ("one", "two", "three"))
    assert [t.id for t in status.tasks] == ["T1", "T2", "T3"]


def test_finish_is_refused_while_a_task_is_claimed_and_changes_nothing(
    missions: Missions, repo: Path
) -> None:
    mission = missions.start("goal", [TaskSpec("one"), TaskSpec("two")])
    claim = claimed(missions.claim(mission.id, "w1"))
    before = checkout(repo)

    with pytest.raises(InputError, match=r"T1 \(claimed\)"):
        missions.finish(mission.id, apply=True)

    assert missions.store.get_mission(mission.id).state is MissionState.ACTIVE
    assert tasks_by_id(missions, mission.id)["T2"].state is TaskState.READY
    assert claim.worktree.is_dir()
    assert checkout(repo) == before


def test_finish_with_apply_fast_forwards_the_users_branch_cancels_leftovers_and_removes_worktrees(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = missions.start("goal", [TaskSpec("one"), TaskSpec("two"), TaskSpec("blocked one")])
    merged = merge(
        submissions, claimed(missions.claim(mission.id, "w1")), "w1", "app.py", "GREETING = 'hi'\n"
    )
    parked = claimed(missions.claim(mission.id, "w2"))
    missions.release(parked.task.id, "w2", TaskState.BLOCKED, "waiting for a person")
    (repo / "unrelated.txt").write_text("the user's own notes\n")

    outcome = missions.finish(mission.id, apply=True)

    assert outcome.applied is not None
    assert (outcome.applied.kind, outcome.applied.branch, outcome.applied.head) == (
        "fast-forward",
        "main",
        merged,
    )
    assert outcome.applied.files == ("app.py",)
    assert head_commit(repo) == merged
    assert run_git(repo, "symbolic-ref", "--short", "HEAD").line == "main"
    assert (repo / "app.py").read_text() == "GREETING = 'hi'\n"
    assert (repo / "unrelated.txt").read_text() == "the user's own notes\n"
    assert run_git(repo, "status", "--porcelain=v1").text == "?? unrelated.txt\n"
    assert sorted(outcome.cancelled) == ["T2", "T3"]
    assert outcome.mission.state is MissionState.FINISHED
    states = {t.id: t.state for t in missions.store.list_tasks(mission.id)}
    assert states == {"T1": TaskState.MERGED, "T2": TaskState.CANCELLED, "T3": TaskState.CANCELLED}
    assert not parked.worktree.exists()
    assert registered_worktrees(repo) == [str(repo)]


def test_finish_refuses_when_the_user_changed_a_file_the_mission_changes_and_leaves_everything_as_it_was(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = missions.start("goal", [TaskSpec("one"), TaskSpec("two")])
    merged = merge(
        submissions, claimed(missions.claim(mission.id, "w1")), "w1", "app.py", "GREETING = 'hi'\n"
    )
    (repo / "app.py").write_text("print('the user is still editing')\n")
    before = checkout(repo)

    with pytest.raises(WorkspaceError, match=r"uncommitted changes in files the mission changes: app\.py"):
        missions.finish(mission.id, apply=True)

    assert checkout(repo) == before
    assert missions.store.get_mission(mission.id).state is MissionState.ACTIVE
    assert tasks_by_id(missions, mission.id)["T2"].state is TaskState.READY
    assert branch_head(repo, mission.branch) == merged

    run_git(repo, "checkout", "--", "app.py")
    assert missions.finish(mission.id, apply=True).applied is not None
    assert (repo / "app.py").read_text() == "GREETING = 'hi'\n"


def test_finish_merges_when_the_user_committed_meanwhile(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = missions.start("goal", [TaskSpec("one")])
    mission_head = merge(submissions, claimed(missions.claim(mission.id, "w1")), "w1", "app.py", "A = 1\n")
    (repo / "README.md").write_text("# demo, by the user\n")
    run_git(repo, "commit", "--quiet", "--all", "-m", "user work")

    outcome = missions.finish(mission.id, apply=True)

    assert outcome.applied is not None
    assert outcome.applied.kind == "merge"
    assert run_git(repo, "rev-parse", "HEAD^2").line == mission_head
    assert (repo / "app.py").read_text() == "A = 1\n"
    assert (repo / "README.md").read_text() == "# demo, by the user\n"


def test_finish_without_apply_leaves_the_users_branch_alone_and_keeps_the_integration_branch(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = missions.start("goal", [TaskSpec("one"), TaskSpec("two")])
    before = checkout(repo)
    merged = merge(submissions, claimed(missions.claim(mission.id, "w1")), "w1", "app.py", "A = 1\n")

    outcome = missions.finish(mission.id, apply=False)

    assert outcome.applied is None
    assert outcome.cancelled == ("T2",)
    assert outcome.mission.state is MissionState.FINISHED
    assert checkout(repo) == before
    assert branch_head(repo, mission.branch) == merged
    with pytest.raises(InputError, match="already finished"):
        missions.finish(mission.id, apply=True)


def test_cancel_cancels_every_unfinished_task_removes_worktrees_and_keeps_the_branch(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = missions.start(
        "goal",
        [TaskSpec("one", priority=1), TaskSpec("two", key="two"), TaskSpec("three", depends_on=("two",))],
    )
    merged = merge(submissions, claimed(missions.claim(mission.id, "w1")), "w1", "app.py", "A = 1\n")
    working = claimed(missions.claim(mission.id, "w2"))
    (working.worktree / "app.py").write_text("A = 2\n")
    before = checkout(repo)

    outcome = missions.cancel(mission.id, reason="changed our minds")

    assert outcome.applied is None
    assert sorted(outcome.cancelled) == ["T2", "T3"]
    assert outcome.mission.state is MissionState.CANCELLED
    states = {t.id: t.state for t in missions.store.list_tasks(mission.id)}
    assert states == {"T1": TaskState.MERGED, "T2": TaskState.CANCELLED, "T3": TaskState.CANCELLED}
    assert missions.store.get_task(mission.id, "T2").lease_holder is None
    assert not working.worktree.exists()
    assert registered_worktrees(repo) == [str(repo)]
    assert branch_head(repo, mission.branch) == merged
    assert checkout(repo) == before
    with pytest.raises(InputError, match="already cancelled"):
        missions.cancel(mission.id)


def test_the_users_branch_head_and_files_stay_untouched_until_finish_applies(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    (repo / "util.py").write_text("def double(x):\n    return x * 2  # the user's edit\n")
    before = checkout(repo)
    mission = missions.start("goal", [TaskSpec("one"), TaskSpec("two"), TaskSpec("three")])

    first = claimed(missions.claim(mission.id, "w1"))
    second = claimed(missions.claim(mission.id, "w2"))
    rejected = submissions.submit(first.task.id, "w1", [WholeFile("app.py", "def greet(:\n")])
    merge(submissions, second, "w2", "README.md", "# demo\n\nmore\n")
    merge(submissions, first, "w1", "app.py", "def greet(name):\n    return name\n")
    third = claimed(missions.claim(mission.id, "w3"))
    missions.release(third.task.id, "w3", TaskState.READY, "")
    missions.finish(mission.id, apply=False)

    assert rejected.status == "rejected"
    assert checkout(repo) == before


def work_in_process(
    root: str, mission_id: str, worker: str, start: Barrier, results: Queue[tuple[str, list[str] | str]]
) -> None:
    """A worker in its own process with its own store: claim one task, wait for the other worker to hold one
    too, then keep merging and claiming until nothing is left. Reports the tasks it merged, or its error."""
    try:
        service = Missions(Path(root), DEFAULT_CONFIG, Store.open(root))
        try:
            results.put((worker, merge_until_done(service, mission_id, worker, start)))
        finally:
            service.close()
    except Exception as exc:  # the parent reports it; a traceback in a child would be lost
        results.put((worker, f"{type(exc).__name__}: {exc}"))


def merge_until_done(service: Missions, mission_id: str, worker: str, start: Barrier) -> list[str]:
    submissions = Submissions(service)
    merged: list[str] = []
    result = service.claim(mission_id, worker)
    start.wait(PROCESS_TIMEOUT_SECONDS)
    while isinstance(result, Claim):
        task = result.task
        outcome = submissions.submit(task.id, worker, [WholeFile(f"{task.id}.py", f"WHO = {worker!r}\n")])
        if outcome.status != "merged":
            raise AssertionError(f"{task.id} by {worker}: {outcome.status} {outcome.verdict.summary}")
        merged.append(task.id)
        result = service.claim(mission_id, worker)
    return merged


def test_two_processes_with_their_own_stores_merge_disjoint_tasks_each_exactly_once(
    missions: Missions, repo: Path
) -> None:
    mission = missions.start("goal", [TaskSpec(f"file {n}") for n in range(PROCESS_TASKS)])
    base = branch_head(repo, mission.branch)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    queue: Queue[tuple[str, list[str] | str]] = context.Queue()
    processes = [
        context.Process(target=work_in_process, args=(str(repo), mission.id, worker, start, queue))
        for worker in ("p1", "p2")
    ]
    for process in processes:
        process.start()
    try:
        reports = dict(queue.get(timeout=PROCESS_TIMEOUT_SECONDS) for _ in processes)
    finally:
        for process in processes:
            process.join(PROCESS_TIMEOUT_SECONDS)

    assert [process.exitcode for process in processes] == [0, 0]
    results = [reports["p1"], reports["p2"]]
    assert all(isinstance(result, list) and result for result in results), results
    merged = [task_id for result in results for task_id in result]
    assert sorted(merged) == sorted(f"T{n}" for n in range(1, PROCESS_TASKS + 1))
    tasks = missions.store.list_tasks(mission.id)
    assert {t.state for t in tasks} == {TaskState.MERGED}
    history = run_git(repo, "rev-list", "--first-parent", f"{base}..{mission.branch}").text.split()
    assert len(history) == PROCESS_TASKS
    trailers = run_git(
        repo, "log", "--format=%(trailers:key=Podium-Task,valueonly)", f"{base}..{mission.branch}"
    ).text.split()
    assert sorted(trailers) == sorted(merged)
    for task_id in merged:
        assert run_git(repo, "show", f"{mission.branch}:{task_id}.py").text.startswith("WHO = ")
    events = missions.store.events_since(0, mission_id=mission.id)
    assert sorted(str(e.task_id) for e in events if e.kind == "task.merge") == sorted(merged)
    assert verify_chain(missions.store).ok
