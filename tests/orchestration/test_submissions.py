"""Submitting and reviewing work over real repositories: edits, the gate, conflicts, verified merges, audit.

Leases are expired with the store's injectable clock, never by waiting.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from podium.orchestration.audit import verify_chain
from podium.orchestration.config import DEFAULT_CONFIG
from podium.orchestration.errors import LeaseError, WorkspaceError
from podium.orchestration.events import Event
from podium.orchestration.git import branch_head, diff_hash, head_commit, run_git
from podium.orchestration.missions import Claim, Missions, NoTask, TaskSpec
from podium.orchestration.model import Mission, TaskState
from podium.orchestration.store import Store
from podium.orchestration.submissions import Submissions, SubmitOutcome
from podium.verification.edits import DeleteFile, DiffEdit, Edit, SearchReplace, WholeFile
from podium.verification.errors import InputError, PodiumError

LEASE = DEFAULT_CONFIG.missions.lease_seconds
APP = (
    "def greet(name):\n"
    "    return f'hello {name}'\n"
    "\n"
    "\n"
    "def first(name):\n"
    "    return name.split()[0]\n"
    "\n"
    "\n"
    "def shout(name):\n"
    "    return greet(name).upper()\n"
)
FLOW = "try:\n    run()\nexcept ValueError:\n    pass\n    # handled\nfinally:\n    done()\n"
FILES = {
    "app.py": APP,
    "util.py": "def double(x):\n    return 2 * x\n",
    "flow.py": FLOW,
    "broken.py": "def legacy(:\n    pass\n",
    "README.md": "# demo\n",
}


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


def start(missions: Missions, *specs: TaskSpec) -> Mission:
    return missions.start("improve the demo", specs or (TaskSpec("one"),))


def claim(missions: Missions, mission: Mission, worker: str) -> Claim:
    result = missions.claim(mission.id, worker)
    assert isinstance(result, Claim), result
    return result


def on_branch(repo: Path, mission: Mission, path: str) -> str:
    return run_git(repo, "show", f"{mission.branch}:{path}").text


def merged(outcome: SubmitOutcome) -> str:
    assert outcome.status == "merged", outcome.verdict
    assert outcome.merged_commit is not None
    return outcome.merged_commit


def merge_events(missions: Missions, mission: Mission) -> list[Event]:
    return [e for e in missions.store.events_since(0, mission_id=mission.id) if e.kind == "task.merge"]


def trailer(repo: Path, commit: str, key: str) -> str:
    return run_git(repo, "log", "-1", f"--format=%(trailers:key={key},valueonly)", commit).text.strip()


def worktree_status(claim: Claim) -> str:
    return run_git(claim.worktree, "status", "--porcelain=v1", "--untracked-files=all").text


def snapshot(missions: Missions, repo: Path, mission: Mission, task_id: str) -> tuple[object, ...]:
    """Everything a refused submission must leave alone: the task row, the event log and the branch."""
    return (
        missions.store.get_task(mission.id, task_id),
        missions.store.last_seq(),
        branch_head(repo, mission.branch),
    )


def test_whole_file_submission_merges_onto_the_integration_branch_and_retires_the_worktree(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = start(missions)
    work = claim(missions, mission, "w1")

    outcome = submissions.submit("T1", "w1", [WholeFile("util.py", "def double(x):\n    return x + x\n")])

    commit = merged(outcome)
    assert outcome.verdict.accepted
    assert branch_head(repo, mission.branch) == commit
    assert run_git(repo, "rev-parse", f"{commit}^").line == work.base_commit
    assert run_git(repo, "rev-list", "--parents", "-1", commit).text.split()[1:] == [work.base_commit]
    assert on_branch(repo, mission, "util.py") == "def double(x):\n    return x + x\n"
    task = missions.store.get_task(mission.id, "T1")
    assert (task.state, task.lease_holder, task.lease_expires) == (TaskState.MERGED, None, None)
    assert outcome.task == task
    assert json.loads(task.last_verdict or "{}")["accepted"] is True
    assert not work.worktree.exists()


def test_search_replace_submission_merges(missions: Missions, submissions: Submissions, repo: Path) -> None:
    mission = start(missions)
    claim(missions, mission, "w1")

    outcome = submissions.submit("T1", "w1", [SearchReplace("app.py", "name.split()[0]", "name.split()[-1]")])

    merged(outcome)
    assert on_branch(repo, mission, "app.py") == APP.replace("name.split()[0]", "name.split()[-1]")


def test_unified_diff_submission_merges(missions: Missions, submissions: Submissions, repo: Path) -> None:
    mission = start(missions)
    claim(missions, mission, "w1")
    diff = (
        "--- a/util.py\n"
        "+++ b/util.py\n"
        "@@ -1,2 +1,5 @@\n"
        " def double(x):\n"
        "     return 2 * x\n"
        "+\n"
        "+\n"
        "+TWICE = double\n"
    )

    merged(submissions.submit("T1", "w1", [DiffEdit(diff)]))

    assert on_branch(repo, mission, "util.py") == "def double(x):\n    return 2 * x\n\n\nTWICE = double\n"


def test_several_edit_shapes_in_one_submission_land_as_one_commit(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = start(missions)
    work = claim(missions, mission, "w1")

    commit = merged(
        submissions.submit(
            "T1",
            "w1",
            [
                WholeFile("pkg/new.py", "VALUE = 1\n"),
                SearchReplace("README.md", "# demo", "# demo app"),
                DeleteFile("util.py"),
            ],
        )
    )

    changed = run_git(repo, "diff-tree", "-r", "--name-status", "--no-commit-id", commit).text.split()
    assert changed == ["M", "README.md", "A", "pkg/new.py", "D", "util.py"]
    assert run_git(repo, "rev-list", "--count", f"{work.base_commit}..{commit}").line == "1"


def test_submission_without_edits_takes_the_changes_made_in_the_worktree(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = start(missions)
    work = claim(missions, mission, "w1")
    (work.worktree / "util.py").write_text("def double(x):\n    return x << 1\n")
    (work.worktree / "docs").mkdir()
    (work.worktree / "docs" / "guide.md").write_text("# guide\n")
    (work.worktree / "README.md").unlink()

    merged(submissions.submit("T1", "w1"))

    assert on_branch(repo, mission, "util.py") == "def double(x):\n    return x << 1\n"
    assert on_branch(repo, mission, "docs/guide.md") == "# guide\n"
    listing = run_git(repo, "ls-tree", "--name-only", mission.branch).text.split()
    assert "README.md" not in listing


def test_syntax_error_is_rejected_with_a_finding_at_its_line_and_the_branch_does_not_move(
    missions: Missions, submissions: Submissions, repo: Path, clock: FakeClock
) -> None:
    mission = start(missions)
    work = claim(missions, mission, "w1")
    clock.advance(100)
    broken = APP + "\n\ndef whisper(name:\n    return greet(name).lower()\n"

    outcome = submissions.submit("T1", "w1", [WholeFile("app.py", broken)])

    assert outcome.status == "rejected"
    assert not outcome.verdict.accepted
    assert outcome.merged_commit is None
    assert outcome.worktree == work.worktree
    assert {(f.path, f.line) for f in outcome.verdict.findings_new} == {("app.py", 13)}
    assert branch_head(repo, mission.branch) == work.base_commit
    task = missions.store.get_task(mission.id, "T1")
    assert task.state is TaskState.REJECTED
    assert task.lease_holder == "w1"
    assert task.lease_expires == clock.now + LEASE
    record = json.loads(task.last_verdict or "{}")
    assert record["accepted"] is False
    assert [(f["path"], f["line"]) for f in record["findings_new"]] == [("app.py", 13)]
    assert (work.worktree / "app.py").read_text() == broken


def test_resubmission_after_a_rejection_merges_the_corrected_work_as_one_commit(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = start(missions)
    work = claim(missions, mission, "w1")
    rejected = submissions.submit("T1", "w1", [WholeFile("util.py", "def double(x:\n    return x + x\n")])
    assert rejected.status == "rejected"

    commit = merged(
        submissions.submit("T1", "w1", [WholeFile("util.py", "def double(x):\n    return x + x\n")])
    )

    assert on_branch(repo, mission, "util.py") == "def double(x):\n    return x + x\n"
    assert run_git(repo, "rev-list", "--count", f"{work.base_commit}..{commit}").line == "1"
    assert missions.store.get_task(mission.id, "T1").attempts == 1


def test_problem_already_in_the_repository_does_not_block_an_edit_that_leaves_it_alone(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = start(missions)
    claim(missions, mission, "w1")

    outcome = submissions.submit(
        "T1", "w1", [WholeFile("broken.py", FILES["broken.py"] + "\n\nVERSION = 2\n")]
    )

    merged(outcome)
    assert outcome.verdict.findings_new == ()
    assert {f.path for f in outcome.verdict.findings_preexisting} == {"broken.py"}


def test_conflicting_edits_leave_markers_to_resolve_and_the_resolution_merges(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = start(missions, TaskSpec("formal greeting"), TaskSpec("casual greeting"))
    first = claim(missions, mission, "w1")
    second = claim(missions, mission, "w2")
    formal = merged(
        submissions.submit("T1", "w1", [SearchReplace("app.py", "f'hello {name}'", "f'good day {name}'")])
    )

    outcome = submissions.submit("T2", "w2", [SearchReplace("app.py", "f'hello {name}'", "f'hey {name}'")])

    assert outcome.status == "conflict"
    assert [(f.path, f.source) for f in outcome.verdict.findings_new] == [("app.py", "git-merge")]
    assert outcome.verdict.findings_new[0].code.startswith("conflict-")
    assert outcome.verdict.findings_new[0].line == 2
    assert (
        "good day" in outcome.verdict.findings_new[0].frame and "hey" in outcome.verdict.findings_new[0].frame
    )
    assert (outcome.worktree, outcome.base_commit) == (second.worktree, formal)
    assert outcome.task.state is TaskState.REJECTED
    assert branch_head(repo, mission.branch) == formal
    in_worktree = (second.worktree / "app.py").read_text()
    assert "<<<<<<<" in in_worktree and ">>>>>>>" in in_worktree

    with pytest.raises(InputError, match=r"resolve the conflict markers in app\.py"):
        submissions.submit("T2", "w2")
    assert missions.store.get_task(mission.id, "T2").state is TaskState.REJECTED

    resolved = APP.replace("f'hello {name}'", "f'good day, hey {name}'")
    final = merged(submissions.submit("T2", "w2", [WholeFile("app.py", resolved)]))

    assert on_branch(repo, mission, "app.py") == resolved
    assert run_git(repo, "rev-list", "--parents", "-1", final).text.split()[1:] == [formal]
    history = run_git(
        repo, "rev-list", "--first-parent", f"{first.base_commit}..{mission.branch}"
    ).text.split()
    assert history == [final, formal]


def test_clean_merge_onto_a_moved_head_is_judged_again_on_the_merged_files(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = start(missions, TaskSpec("top"), TaskSpec("bottom"))
    claim(missions, mission, "w1")
    claim(missions, mission, "w2")
    merged(submissions.submit("T1", "w1", [SearchReplace("app.py", "f'hello {name}'", "f'hi {name}'")]))

    outcome = submissions.submit("T2", "w2", [SearchReplace("app.py", ".upper()", ".upper() + '!'")])

    merged(outcome)
    assert on_branch(repo, mission, "app.py") == APP.replace("f'hello {name}'", "f'hi {name}'").replace(
        ".upper()", ".upper() + '!'"
    )
    rechecked = {e.task_id: e.payload["rechecked_after_merge"] for e in merge_events(missions, mission)}
    assert rechecked == {"T1": False, "T2": True}


def test_merge_that_breaks_what_each_side_left_working_is_rejected_and_the_worktree_refreshed(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = start(missions, TaskSpec("drop the handler"), TaskSpec("drop the cleanup"))
    claim(missions, mission, "w1")
    second = claim(missions, mission, "w2")
    # each side alone keeps a valid `try`; together they leave it with neither `except` nor `finally`
    without_handler = merged(
        submissions.submit("T1", "w1", [SearchReplace("flow.py", "except ValueError:\n    pass\n", "")])
    )

    outcome = submissions.submit("T2", "w2", [SearchReplace("flow.py", "finally:\n    done()\n", "")])

    assert outcome.status == "rejected"
    assert [(f.path, f.line) for f in outcome.verdict.findings_new] == [("flow.py", 3)]
    assert branch_head(repo, mission.branch) == without_handler
    assert outcome.base_commit == without_handler
    assert (second.worktree / "flow.py").read_text() == "try:\n    run()\n    # handled\n"
    assert missions.store.get_task(mission.id, "T2").state is TaskState.REJECTED

    repaired = "try:\n    run()\n    # handled\nexcept Exception:\n    raise\n"
    merged(submissions.submit("T2", "w2", [WholeFile("flow.py", repaired)]))
    assert on_branch(repo, mission, "flow.py") == repaired


def test_merge_commit_carries_task_worker_and_verdict_trailers(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = start(missions, TaskSpec("double differently"))
    claim(missions, mission, "w1")

    commit = merged(
        submissions.submit("T1", "w1", [WholeFile("util.py", "def double(x):\n    return x + x\n")])
    )

    assert run_git(repo, "log", "-1", "--format=%s", commit).line == "T1: double differently"
    assert trailer(repo, commit, "Podium-Task") == "T1"
    assert trailer(repo, commit, "Podium-Mission") == mission.id
    assert trailer(repo, commit, "Podium-Worker") == "w1"
    assert trailer(repo, commit, "Podium-Verdict").startswith("accepted: 0 new problems")
    assert "tree-sitter" in trailer(repo, commit, "Podium-Verdict")


def test_merge_event_records_the_evidence_and_the_chain_verifies(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = start(missions)
    work = claim(missions, mission, "w1")
    (work.worktree / "util.py").write_text("def double(x):\n    return x + x\n")
    run_git(work.worktree, "add", "--all")
    run_git(work.worktree, "commit", "--quiet", "-m", "worker's own commit")
    task_commit = head_commit(work.worktree)

    commit = merged(submissions.submit("T1", "w1"))

    [event] = merge_events(missions, mission)
    payload = event.payload
    assert (event.task_id, event.actor) == ("T1", "w1")
    assert payload["worker"] == "w1"
    assert payload["base_commit"] == work.base_commit
    assert payload["task_commit"] == task_commit
    assert payload["merged_commit"] == commit
    assert payload["previous_head"] == work.base_commit
    assert payload["diff_sha256"] == diff_hash(repo, work.base_commit, task_commit)
    assert payload["rechecked_after_merge"] is False
    verdict = payload["verdict"]
    assert isinstance(verdict, dict) and verdict["accepted"] is True
    assert verify_chain(missions.store).ok


def test_submission_by_a_worker_who_does_not_hold_the_task_is_refused_and_changes_nothing(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = start(missions)
    work = claim(missions, mission, "w1")
    before = snapshot(missions, repo, mission, "T1")

    with pytest.raises(LeaseError, match="held by w1, not intruder"):
        submissions.submit("T1", "intruder", [WholeFile("util.py", "STOLEN = True\n")])

    assert snapshot(missions, repo, mission, "T1") == before
    assert worktree_status(work) == ""


def test_submission_after_the_lease_ran_out_is_refused_and_changes_nothing(
    missions: Missions, submissions: Submissions, repo: Path, clock: FakeClock
) -> None:
    mission = start(missions)
    work = claim(missions, mission, "w1")
    clock.advance(LEASE)
    before = snapshot(missions, repo, mission, "T1")

    with pytest.raises(LeaseError, match="expired"):
        submissions.submit("T1", "w1", [WholeFile("util.py", "LATE = True\n")])

    assert snapshot(missions, repo, mission, "T1") == before
    assert worktree_status(work) == ""


def test_submitting_a_merged_task_again_is_refused_naming_its_state(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = start(missions)
    claim(missions, mission, "w1")
    merged(submissions.submit("T1", "w1", [WholeFile("util.py", "A = 1\n")]))
    before = snapshot(missions, repo, mission, "T1")

    with pytest.raises(InputError, match="T1 is merged"):
        submissions.submit("T1", "w1", [WholeFile("util.py", "A = 2\n")])

    assert snapshot(missions, repo, mission, "T1") == before


@pytest.mark.parametrize(
    "edit",
    [
        WholeFile("../outside.py", "ESCAPED = True\n"),
        WholeFile("/tmp/podium-absolute.py", "ESCAPED = True\n"),
        SearchReplace("../repo/app.py", "hello", "bye"),
        DiffEdit("--- a/../outside.py\n+++ b/../outside.py\n@@ -0,0 +1 @@\n+ESCAPED = True\n"),
    ],
    ids=["whole-file-dotdot", "whole-file-absolute", "search-replace-dotdot", "diff-dotdot"],
)
def test_edit_with_a_path_outside_the_worktree_is_an_input_error_that_changes_nothing(
    missions: Missions, submissions: Submissions, repo: Path, edit: Edit
) -> None:
    mission = start(missions)
    work = claim(missions, mission, "w1")
    before = snapshot(missions, repo, mission, "T1")
    good = WholeFile("util.py", "GOOD = 1\n")

    with pytest.raises(InputError):
        submissions.submit("T1", "w1", [good, edit])

    assert snapshot(missions, repo, mission, "T1") == before
    assert worktree_status(work) == ""
    assert head_commit(work.worktree) == work.base_commit
    assert not (work.worktree.parent / "outside.py").exists()
    assert not (repo.parent / "outside.py").exists()
    assert not Path("/tmp/podium-absolute.py").exists()


def test_edit_that_does_not_apply_is_an_input_error_naming_the_file_and_changes_nothing(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = start(missions)
    work = claim(missions, mission, "w1")
    before = snapshot(missions, repo, mission, "T1")

    with pytest.raises(InputError, match=r"app\.py: search text not found"):
        submissions.submit(
            "T1", "w1", [WholeFile("util.py", "A = 1\n"), SearchReplace("app.py", "absent", "x")]
        )

    assert snapshot(missions, repo, mission, "T1") == before
    assert worktree_status(work) == ""


@pytest.mark.parametrize(
    "edits", [None, [WholeFile("README.md", FILES["README.md"])]], ids=["no-edits", "no-op"]
)
def test_submission_with_nothing_changed_is_an_input_error(
    missions: Missions, submissions: Submissions, repo: Path, edits: list[Edit] | None
) -> None:
    mission = start(missions)
    claim(missions, mission, "w1")
    before = snapshot(missions, repo, mission, "T1")

    with pytest.raises(InputError, match="nothing to submit"):
        submissions.submit("T1", "w1", edits)

    assert snapshot(missions, repo, mission, "T1") == before


def test_submission_the_merge_refuses_goes_back_to_its_worker_who_can_submit_again(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = start(missions)
    claim(missions, mission, "w1")
    # git refuses to move a branch someone has checked out; the task must not stay stuck in `submitted`
    run_git(repo, "checkout", "--quiet", mission.branch)

    with pytest.raises(WorkspaceError, match="is checked out"):
        submissions.submit("T1", "w1", [WholeFile("util.py", "A = 1\n")])

    task = missions.store.get_task(mission.id, "T1")
    assert (task.state, task.lease_holder) == (TaskState.REJECTED, "w1")
    assert "is checked out" in json.loads(task.last_verdict or "{}")["notes"][0]
    run_git(repo, "checkout", "--quiet", "main")
    merged(submissions.submit("T1", "w1"))
    assert on_branch(repo, mission, "util.py") == "A = 1\n"


def test_task_that_needs_review_waits_in_review_and_merges_when_approved(
    missions: Missions, submissions: Submissions, repo: Path
) -> None:
    mission = start(missions, TaskSpec("careful change", review=True))
    work = claim(missions, mission, "w1")

    submitted = submissions.submit("T1", "w1", [WholeFile("util.py", "def double(x):\n    return x + x\n")])

    assert submitted.status == "review"
    assert submitted.verdict.accepted
    assert submitted.task.state is TaskState.REVIEW
    assert branch_head(repo, mission.branch) == work.base_commit
    assert isinstance(missions.claim(mission.id, "w2"), NoTask)
    with pytest.raises(InputError, match="T1 is review"):
        submissions.submit("T1", "w1", [WholeFile("util.py", "A = 1\n")])

    approved = submissions.review("T1", "r1", approve=True, comments="looks right")

    commit = merged(approved)
    assert on_branch(repo, mission, "util.py") == "def double(x):\n    return x + x\n"
    assert trailer(repo, commit, "Podium-Worker") == "w1"
    [event] = merge_events(missions, mission)
    assert (event.payload["worker"], event.payload["approved_by"]) == ("w1", "r1")


def test_rejected_review_returns_the_task_with_the_comments_and_the_worker_resubmits(
    missions: Missions, submissions: Submissions, repo: Path, clock: FakeClock
) -> None:
    mission = start(missions, TaskSpec("careful change", review=True))
    work = claim(missions, mission, "w1")
    submissions.submit("T1", "w1", [WholeFile("util.py", "def double(x):\n    return x + x\n")])
    clock.advance(LEASE - 1)

    rejected = submissions.review("T1", "r1", approve=False, comments="name the constant")

    assert rejected.status == "rejected"
    assert not rejected.verdict.accepted
    task = missions.store.get_task(mission.id, "T1")
    assert (task.state, task.lease_holder, task.lease_expires) == (
        TaskState.REJECTED,
        "w1",
        clock.now + LEASE,
    )
    record = json.loads(task.last_verdict or "{}")
    assert record["comments"] == "name the constant"
    assert any("r1" in note for note in record["notes"])
    assert branch_head(repo, mission.branch) == work.base_commit

    again = submissions.submit(
        "T1", "w1", [WholeFile("util.py", "FACTOR = 2\n\n\ndef double(x):\n    return FACTOR * x\n")]
    )
    assert again.status == "review"
    merged(submissions.review("T1", "r1", approve=True, comments=""))
    assert on_branch(repo, mission, "util.py") == "FACTOR = 2\n\n\ndef double(x):\n    return FACTOR * x\n"


def test_review_of_a_task_that_is_not_in_review_is_refused(
    missions: Missions, submissions: Submissions
) -> None:
    mission = start(missions)
    claim(missions, mission, "w1")

    with pytest.raises(InputError, match="not in review"):
        submissions.review("T1", "r1", approve=True, comments="")

    assert missions.store.get_task(mission.id, "T1").state is TaskState.CLAIMED


def test_errors_of_submit_and_review_are_podium_errors_with_codes(
    missions: Missions, submissions: Submissions
) -> None:
    mission = start(missions)
    claim(missions, mission, "w1")
    failures: list[PodiumError] = []
    for attempt in (
        lambda: submissions.submit("T1", "w2"),
        lambda: submissions.submit("T1", "w1"),
        lambda: submissions.submit("T9", "w1"),
        lambda: submissions.review("T1", "r1", approve=True, comments=""),
    ):
        with pytest.raises(PodiumError) as caught:
            attempt()
        failures.append(caught.value)

    assert [type(f).code for f in failures] == ["lease_error", "input_error", "not_found", "input_error"]


def test_language_servers_see_what_earlier_tasks_merged_not_only_the_users_checkout(
    make_repo: Callable[[Mapping[str, str]], Path],
) -> None:
    """Regression: a task using a method an earlier task added was rejected by basedpyright as unknown,
    because the servers read untouched files from the user's checkout, not the integration branch."""
    root = make_repo(
        {
            "shop/__init__.py": "",
            "shop/stock.py": "class Stock:\n    def total(self) -> int:\n        return 0\n",
            "shop/report.py": (
                "from shop.stock import Stock\n\n\ndef report(s: Stock) -> str:\n    return str(s.total())\n"
            ),
        }
    )
    missions = Missions.open(root, DEFAULT_CONFIG)
    try:
        submissions = Submissions(missions)
        mission = missions.start(
            "low stock",
            [
                TaskSpec(title="add low", key="a", files=("shop/stock.py",)),
                TaskSpec(title="use low", key="b", files=("shop/report.py",), depends_on=("a",)),
            ],
        )
        first = missions.claim(mission.id, "w1")
        assert isinstance(first, Claim)
        added = "    def low(self) -> list[str]:\n        return []\n"
        stock = "class Stock:\n    def total(self) -> int:\n        return 0\n\n" + added
        assert submissions.submit(first.task.id, "w1", [WholeFile("shop/stock.py", stock)]).status == "merged"
        second = missions.claim(mission.id, "w2")
        assert isinstance(second, Claim)
        use = SearchReplace("shop/report.py", "return str(s.total())", "return str(s.total()) + str(s.low())")
        outcome = submissions.submit(second.task.id, "w2", [use])
        assert outcome.status == "merged", outcome.verdict.findings_new
        broken = SearchReplace("shop/stock.py", "return 0", "return undefined_name")
        third_tasks = missions.add_tasks(mission.id, [TaskSpec(title="break", files=("shop/stock.py",))])
        third = missions.claim(mission.id, "w3")
        assert isinstance(third, Claim) and third.task.id == third_tasks[0].id
        rejected = submissions.submit(third.task.id, "w3", [broken])
        assert rejected.status == "rejected"
        assert {f.source for f in rejected.verdict.findings_new} & {"ruff", "basedpyright"}
    finally:
        missions.close()
