from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from podium.orchestration.errors import WorkspaceError
from podium.orchestration.git import branch_head, head_commit, is_ancestor, run_git
from podium.orchestration.merge import (
    MergeConflict,
    Merged,
    MergeOutcome,
    RejectedAfterMerge,
    commit_message,
    conflict_hunks,
    finish_onto_user_branch,
    merge_onto_branch,
)
from podium.orchestration.workspaces import (
    Worktree,
    add_worktree,
    commit_worktree,
    create_integration_branch,
    refresh_worktree,
    unresolved_conflicts,
    worktree_changes,
)
from podium.verification.changes import ChangeSet

LINES = "".join(f"line {n}\n" for n in range(1, 11))


pytestmark = pytest.mark.usefixtures("isolated_git")


def commit_all(root: Path, message: str) -> str:
    run_git(root, "add", "--all")
    run_git(root, "commit", "--quiet", "-m", message)
    return head_commit(root)


def status(root: Path) -> str:
    return run_git(root, "status", "--porcelain=v1", "--untracked-files=all").text


@pytest.fixture
def repo(make_repo: Callable[[dict[str, str]], Path]) -> Path:
    return make_repo({"a.txt": LINES, "b.txt": "b\n"})


@pytest.fixture
def branch(repo: Path) -> str:
    return create_integration_branch(repo, "m1")[0]


def task(repo: Path, branch: str, task_id: str, edits: dict[str, str | None]) -> tuple[Worktree, str]:
    """A worktree for ``task_id`` with ``edits`` (path → text, None deletes) committed in it."""
    worktree = add_worktree(repo, task_id, branch)
    for path, text in edits.items():
        if text is None:
            (worktree.path / path).unlink()
        else:
            (worktree.path / path).write_text(text)
    commit = commit_worktree(worktree, f"{task_id}: work")
    assert commit is not None
    return worktree, commit


def merge(repo: Path, branch: str, worktree: Worktree, commit: str, **options: Any) -> MergeOutcome:
    return merge_onto_branch(
        repo, branch, worktree.base_commit, commit, f"Merge {worktree.path.name}", **options
    )


def parents(repo: Path, rev: str) -> list[str]:
    return run_git(repo, "rev-list", "--parents", "-n", "1", rev).text.split()[1:]


def test_two_tasks_editing_different_files_both_merge_in_a_linear_history(repo: Path, branch: str) -> None:
    start = branch_head(repo, branch)
    first, first_commit = task(repo, branch, "T1", {"a.txt": LINES + "from T1\n"})
    second, second_commit = task(repo, branch, "T2", {"b.txt": "b from T2\n", "c.txt": "new\n"})
    user_status, user_head = status(repo), head_commit(repo)

    one = merge(repo, branch, first, first_commit)
    two = merge(repo, branch, second, second_commit)

    assert isinstance(one, Merged) and isinstance(two, Merged)
    assert (one.previous_head, two.previous_head) == (start, one.commit)
    assert not two.content_differs
    assert branch_head(repo, branch) == two.commit
    assert parents(repo, two.commit) == [one.commit]
    assert parents(repo, one.commit) == [start]
    assert run_git(repo, "show", f"{branch}:a.txt").text.endswith("from T1\n")
    assert run_git(repo, "show", f"{branch}:c.txt").text == "new\n"
    assert (status(repo), head_commit(repo)) == (user_status, user_head)


def test_trailers_are_in_the_merge_commit_for_git_log_to_read(repo: Path, branch: str) -> None:
    worktree, commit = task(repo, branch, "T1.2", {"b.txt": "changed\n"})
    trailers = {"Podium-Task": "T1.2", "Podium-Verdict": "accepted (syntax: 0 new findings)"}

    outcome = merge(repo, branch, worktree, commit, trailers=trailers)

    assert isinstance(outcome, Merged)
    log = run_git(repo, "log", "-1", "--format=%s%n%(trailers:only,unfold)", branch).text.splitlines()
    assert log[:3] == ["Merge T1.2", "Podium-Task: T1.2", "Podium-Verdict: accepted (syntax: 0 new findings)"]


def test_commit_message_refuses_trailers_git_could_not_read_back() -> None:
    assert commit_message("Subject\n", {"Podium-Task": "T1"}) == "Subject\n\nPodium-Task: T1\n"
    with pytest.raises(ValueError, match="letters, digits and dashes"):
        commit_message("Subject", {"Podium Task": "T1"})
    with pytest.raises(ValueError, match="spanning lines"):
        commit_message("Subject", {"Podium-Task": "T1\nInjected: yes"})


def test_second_task_editing_the_same_lines_gets_a_conflict_naming_the_file(repo: Path, branch: str) -> None:
    first, first_commit = task(repo, branch, "T1", {"a.txt": LINES.replace("line 5\n", "line five (T1)\n")})
    second, second_commit = task(repo, branch, "T2", {"a.txt": LINES.replace("line 5\n", "line 5 by T2\n")})
    merged = merge(repo, branch, first, first_commit)
    assert isinstance(merged, Merged)

    outcome = merge(repo, branch, second, second_commit)

    assert isinstance(outcome, MergeConflict)
    assert outcome.paths == ("a.txt",)
    assert outcome.head == merged.commit
    finding = outcome.conflicts[0]
    assert finding.kind == "contents"
    assert "a.txt" in finding.message
    [hunk] = finding.hunks
    assert (hunk.head_text, hunk.task_text) == ("line five (T1)\n", "line 5 by T2\n")
    assert branch_head(repo, branch) == merged.commit


def test_edit_against_a_deletion_is_a_modify_delete_conflict(repo: Path, branch: str) -> None:
    first, first_commit = task(repo, branch, "T1", {"b.txt": None})
    second, second_commit = task(repo, branch, "T2", {"b.txt": "b edited\n"})
    assert isinstance(merge(repo, branch, first, first_commit), Merged)

    outcome = merge(repo, branch, second, second_commit)

    assert isinstance(outcome, MergeConflict)
    assert [(finding.path, finding.kind) for finding in outcome.conflicts] == [("b.txt", "modify/delete")]


def test_refresh_leaves_markers_the_worker_resolves_and_the_resubmission_merges(
    repo: Path, branch: str
) -> None:
    first, first_commit = task(repo, branch, "T1", {"a.txt": LINES.replace("line 5\n", "line five (T1)\n")})
    second, second_commit = task(repo, branch, "T2", {"a.txt": LINES.replace("line 5\n", "line 5 by T2\n")})
    head = merge(repo, branch, first, first_commit)
    assert isinstance(head, Merged)
    assert isinstance(merge(repo, branch, second, second_commit), MergeConflict)

    new_base = refresh_worktree(second, branch)

    assert new_base == head.commit
    assert unresolved_conflicts(second) == ("a.txt",)
    assert "<<<<<<< " in (second.path / "a.txt").read_text()
    with pytest.raises(WorkspaceError, match="unresolved conflicts in a.txt"):
        refresh_worktree(second, branch)
    resolved = LINES.replace("line 5\n", "line five (T1 and T2)\n")
    (second.path / "a.txt").write_text(resolved)
    assert unresolved_conflicts(second) == ()
    refreshed = Worktree(second.path, new_base)
    assert [(c.path, c.before, c.after) for c in worktree_changes(refreshed).files] == [
        ("a.txt", run_git(repo, "show", f"{branch}:a.txt").text, resolved)
    ]
    resubmitted = commit_worktree(refreshed, "T2: resolve")
    assert resubmitted is not None

    outcome = merge(repo, branch, refreshed, resubmitted)

    assert isinstance(outcome, Merged)
    assert run_git(repo, "show", f"{branch}:a.txt").text == resolved
    assert parents(repo, outcome.commit) == [head.commit]


def test_refresh_without_conflicts_brings_in_the_branch_and_keeps_the_workers_edits(
    repo: Path, branch: str
) -> None:
    first, first_commit = task(repo, branch, "T1", {"b.txt": "b from T1\n"})
    second = add_worktree(repo, "T2", branch)
    (second.path / "a.txt").write_text("uncommitted T2 work\n")
    head = merge(repo, branch, first, first_commit)
    assert isinstance(head, Merged)

    new_base = refresh_worktree(second, branch)

    assert new_base == head.commit
    assert (second.path / "b.txt").read_text() == "b from T1\n"
    assert (second.path / "a.txt").read_text() == "uncommitted T2 work\n"
    assert add_worktree(repo, "T2", branch).base_commit == new_base
    assert worktree_changes(Worktree(second.path, new_base)).paths == ("a.txt",)


def test_verify_judges_merged_files_when_the_head_moved_under_them(repo: Path, branch: str) -> None:
    first, first_commit = task(repo, branch, "T1", {"a.txt": LINES.replace("line 1\n", "line 1 (T1)\n")})
    second, second_commit = task(repo, branch, "T2", {"a.txt": LINES.replace("line 10\n", "line 10 (T2)\n")})
    head = merge(repo, branch, first, first_commit)
    assert isinstance(head, Merged)
    seen: list[ChangeSet] = []

    def refuse(changes: ChangeSet) -> bool:
        seen.append(changes)
        return False

    outcome = merge(repo, branch, second, second_commit, verify=refuse)

    assert isinstance(outcome, RejectedAfterMerge)
    assert branch_head(repo, branch) == head.commit
    [change] = seen[0].files
    assert change.path == "a.txt"
    assert change.before == LINES.replace("line 1\n", "line 1 (T1)\n")
    assert change.after == LINES.replace("line 1\n", "line 1 (T1)\n").replace("line 10\n", "line 10 (T2)\n")
    assert outcome.changes == seen[0]

    accepted = merge(repo, branch, second, second_commit, verify=lambda changes: True)

    assert isinstance(accepted, Merged)
    assert (accepted.content_differs, accepted.verified) == (True, True)


def test_verify_is_not_asked_when_the_merge_left_the_tasks_files_as_committed(
    repo: Path, branch: str
) -> None:
    first, first_commit = task(repo, branch, "T1", {"b.txt": "b from T1\n"})
    second, second_commit = task(repo, branch, "T2", {"a.txt": "all new\n"})
    assert isinstance(merge(repo, branch, first, first_commit), Merged)
    calls: list[ChangeSet] = []

    outcome = merge(
        repo, branch, second, second_commit, verify=lambda changes: calls.append(changes) or False
    )

    assert isinstance(outcome, Merged)
    assert (outcome.content_differs, outcome.verified, calls) == (False, False, [])


def test_lost_race_retries_on_the_new_head_and_loses_no_commit(repo: Path, branch: str) -> None:
    first, first_commit = task(repo, branch, "T1", {"a.txt": LINES + "from T1\n"})
    second, second_commit = task(repo, branch, "T2", {"b.txt": "b from T2\n"})
    raced: list[MergeOutcome] = []

    def another_merge_lands_first(_commit: str) -> None:
        if not raced:
            raced.append(merge(repo, branch, first, first_commit))

    outcome = merge(repo, branch, second, second_commit, before_update=another_merge_lands_first)

    [rival] = raced
    assert isinstance(rival, Merged) and isinstance(outcome, Merged)
    assert outcome.attempts == 2
    assert outcome.previous_head == rival.commit
    assert branch_head(repo, branch) == outcome.commit
    assert parents(repo, outcome.commit) == [rival.commit]
    assert run_git(repo, "show", f"{branch}:a.txt").text.endswith("from T1\n")
    assert run_git(repo, "show", f"{branch}:b.txt").text == "b from T2\n"


def test_branch_that_never_stops_moving_makes_the_merge_give_up(repo: Path, branch: str) -> None:
    worktree, commit = task(repo, branch, "T1", {"b.txt": "b from T1\n"})

    def someone_else_moves_the_branch(_commit: str) -> None:
        tree = run_git(repo, "rev-parse", f"{branch}^{{tree}}").line
        other = run_git(repo, "commit-tree", tree, "-p", branch, "-m", "someone else").line
        run_git(repo, "update-ref", f"refs/heads/{branch}", other)

    with pytest.raises(WorkspaceError, match="kept moving"):
        merge(repo, branch, worktree, commit, max_attempts=3, before_update=someone_else_moves_the_branch)
    assert run_git(repo, "rev-list", "--count", branch).line == "4"


def test_merge_refuses_a_task_commit_not_based_on_the_given_base(repo: Path, branch: str) -> None:
    worktree, commit = task(repo, branch, "T1", {"b.txt": "x\n"})
    (repo / "b.txt").write_text("user\n")
    unrelated = commit_all(repo, "user commit")
    with pytest.raises(WorkspaceError, match="is not based on"):
        merge_onto_branch(repo, branch, unrelated, commit, "m")
    assert worktree.base_commit != unrelated


def test_merge_refuses_to_move_a_branch_someone_has_checked_out(repo: Path, branch: str) -> None:
    worktree, commit = task(repo, branch, "T1", {"b.txt": "x\n"})
    run_git(repo, "switch", "--quiet", branch)
    with pytest.raises(WorkspaceError, match="is checked out in"):
        merge(repo, branch, worktree, commit)


def test_conflict_hunks_read_diff3_style_markers_and_skip_the_base() -> None:
    text = "keep\n<<<<<<< ours\nmine\n||||||| base\norig\n=======\ntheirs\n>>>>>>> theirs\nend\n"
    [hunk] = conflict_hunks(text)
    assert (hunk.start_line, hunk.end_line, hunk.head_text, hunk.task_text) == (2, 8, "mine\n", "theirs\n")


def test_finish_fast_forwards_the_users_branch(repo: Path, branch: str) -> None:
    worktree, commit = task(repo, branch, "T1", {"b.txt": "b from T1\n"})
    merged = merge(repo, branch, worktree, commit)
    assert isinstance(merged, Merged)
    before = head_commit(repo)

    finished = finish_onto_user_branch(repo, branch)

    assert (finished.branch, finished.kind, finished.previous_head) == ("main", "fast-forward", before)
    assert head_commit(repo) == merged.commit == finished.head
    assert (repo / "b.txt").read_text() == "b from T1\n"
    assert status(repo) == ""
    assert finish_onto_user_branch(repo, branch).kind == "up-to-date"


def test_finish_merges_when_the_user_committed_meanwhile(repo: Path, branch: str) -> None:
    worktree, commit = task(repo, branch, "T1", {"b.txt": "b from T1\n"})
    merged = merge(repo, branch, worktree, commit)
    assert isinstance(merged, Merged)
    (repo / "user.txt").write_text("mine\n")
    user_commit = commit_all(repo, "user work")

    finished = finish_onto_user_branch(repo, branch)

    assert finished.kind == "merge"
    assert parents(repo, "HEAD") == [user_commit, merged.commit]
    assert finished.files == ("b.txt",)
    assert (repo / "b.txt").read_text() == "b from T1\n"
    assert is_ancestor(repo, merged.commit, head_commit(repo))


def test_finish_refuses_while_the_user_has_uncommitted_changes_in_affected_files(
    repo: Path, branch: str
) -> None:
    worktree, commit = task(repo, branch, "T1", {"b.txt": "b from T1\n", "new.txt": "from T1\n"})
    assert isinstance(merge(repo, branch, worktree, commit), Merged)
    (repo / "b.txt").write_text("user edit in progress\n")
    (repo / "new.txt").write_text("user's own untracked file\n")
    (repo / "a.txt").write_text("unrelated user edit\n")
    before = head_commit(repo)

    with pytest.raises(
        WorkspaceError, match=r"uncommitted changes in files the mission changes: b.txt, new.txt"
    ):
        finish_onto_user_branch(repo, branch)

    assert head_commit(repo) == before
    assert (repo / "b.txt").read_text() == "user edit in progress\n"


def test_finish_goes_ahead_when_only_unaffected_files_are_dirty(repo: Path, branch: str) -> None:
    worktree, commit = task(repo, branch, "T1", {"b.txt": "b from T1\n"})
    assert isinstance(merge(repo, branch, worktree, commit), Merged)
    (repo / "a.txt").write_text("unrelated user edit\n")

    assert finish_onto_user_branch(repo, branch).kind == "fast-forward"
    assert (repo / "a.txt").read_text() == "unrelated user edit\n"


def test_finish_refuses_a_merge_that_would_conflict_and_leaves_the_tree_alone(
    repo: Path, branch: str
) -> None:
    worktree, commit = task(repo, branch, "T1", {"b.txt": "b from T1\n"})
    assert isinstance(merge(repo, branch, worktree, commit), Merged)
    (repo / "b.txt").write_text("b from the user\n")
    user_commit = commit_all(repo, "user edits b")

    with pytest.raises(WorkspaceError, match=r"the merge conflicts in b.txt"):
        finish_onto_user_branch(repo, branch)

    assert head_commit(repo) == user_commit
    assert status(repo) == ""


def test_finish_refuses_a_detached_head(repo: Path, branch: str) -> None:
    run_git(repo, "switch", "--quiet", "--detach")
    with pytest.raises(WorkspaceError, match="HEAD is detached"):
        finish_onto_user_branch(repo, branch)
