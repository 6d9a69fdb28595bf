import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from podium.orchestration.errors import WorkspaceError
from podium.orchestration.git import branch_head, head_commit, resolve_commit, run_git
from podium.orchestration.workspaces import (
    BASE_REF,
    Worktree,
    add_worktree,
    commit_worktree,
    create_integration_branch,
    prune_worktrees,
    remove_worktree,
    unresolved_conflicts,
    worktree_changes,
    worktree_path,
)

pytestmark = pytest.mark.usefixtures("isolated_git")


def commit_all(root: Path, message: str) -> str:
    run_git(root, "add", "--all")
    run_git(root, "commit", "--quiet", "-m", message)
    return head_commit(root)


def status(root: Path) -> str:
    return run_git(root, "status", "--porcelain=v1", "--untracked-files=all").text


@pytest.fixture
def repo(make_repo: Callable[[dict[str, str]], Path]) -> Path:
    return make_repo({"a.py": "x = 1\n", "b.py": "y = 1\n"})


def test_branch_and_worktree_creation_leave_the_users_branch_and_files_untouched(repo: Path) -> None:
    (repo / "a.py").write_text("x = 'user is editing'\n")
    (repo / "scratch.txt").write_text("untracked\n")
    head_before, status_before = head_commit(repo), status(repo)

    branch, base = create_integration_branch(repo, "m1")
    worktree = add_worktree(repo, "T1.2", branch)

    assert (branch, base) == ("podium/m1", head_before)
    assert run_git(repo, "symbolic-ref", "--short", "HEAD").line == "main"
    assert head_commit(repo) == head_before
    assert status(repo) == status_before
    assert (repo / "a.py").read_text() == "x = 'user is editing'\n"
    assert worktree.path == repo / ".podium" / "worktrees" / "T1.2"


def test_integration_branch_honours_a_configured_prefix(repo: Path) -> None:
    branch, _ = create_integration_branch(repo, "m1", prefix="agents/")
    assert branch == "agents/m1"
    assert branch_head(repo, "agents/m1") == head_commit(repo)


def test_creating_an_existing_integration_branch_returns_it_where_it_is(repo: Path) -> None:
    branch, first = create_integration_branch(repo, "m1")
    (repo / "a.py").write_text("x = 2\n")
    commit_all(repo, "user moves on")

    assert create_integration_branch(repo, "m1") == (branch, first)


def test_mission_id_that_makes_no_branch_name_is_refused(repo: Path) -> None:
    with pytest.raises(WorkspaceError, match="not a valid git branch name"):
        create_integration_branch(repo, "bad..id")


def test_integration_branch_outside_a_repository_says_run_git_init(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match=r"is not a git repository; run `git init`"):
        create_integration_branch(tmp_path, "m1")


def test_integration_branch_in_a_repository_without_commits_asks_for_one(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    run_git(empty, "init", "--quiet")
    with pytest.raises(WorkspaceError, match="no commits yet"):
        create_integration_branch(empty, "m1")


def test_worktree_is_detached_at_the_branch_head_and_records_its_base(repo: Path) -> None:
    branch, base = create_integration_branch(repo, "m1")
    worktree = add_worktree(repo, "T1", branch)

    assert worktree.base_commit == base
    assert head_commit(worktree.path) == base
    assert run_git(worktree.path, "symbolic-ref", "--quiet", "HEAD", ok=(0, 1)).returncode == 1
    assert resolve_commit(worktree.path, BASE_REF) == base
    assert (worktree.path / "a.py").read_text() == "x = 1\n"


def test_existing_worktree_is_handed_back_as_it_was_left(repo: Path) -> None:
    branch, base = create_integration_branch(repo, "m1")
    first = add_worktree(repo, "T1", branch)
    (first.path / "a.py").write_text("x = 'half done'\n")
    run_git(repo, "update-ref", f"refs/heads/{branch}", commit_all_elsewhere(repo, branch))

    again = add_worktree(repo, "T1", branch)

    assert again == Worktree(first.path, base)
    assert (again.path / "a.py").read_text() == "x = 'half done'\n"


def test_a_worktree_whose_base_was_never_recorded_gets_it_back_from_the_branch(repo: Path) -> None:
    # A run killed between `git worktree add` and recording the base, then work committed there by a later
    # run (its submission cut short too): the base must not become the worktree's HEAD, or the work would
    # count as the base and its resubmission as "nothing to submit".
    branch, base = create_integration_branch(repo, "m1")
    first = add_worktree(repo, "T1", branch)
    run_git(first.path, "update-ref", "-d", BASE_REF)
    (first.path / "a.py").write_text("x = 'done'\n")
    commit_all(first.path, "T1: work")

    again = add_worktree(repo, "T1", branch)

    assert again == Worktree(first.path, base)
    assert resolve_commit(first.path, BASE_REF) == base
    assert "a.py" in worktree_changes(again).paths


def commit_all_elsewhere(repo: Path, branch: str) -> str:
    """A commit on top of ``branch`` made with plumbing, as another task's merge would."""
    tree = run_git(repo, "rev-parse", f"{branch}^{{tree}}").line
    return run_git(repo, "commit-tree", tree, "-p", branch, "-m", "another task").line


def test_directory_in_the_way_that_is_not_a_worktree_is_refused(repo: Path) -> None:
    branch, _ = create_integration_branch(repo, "m1")
    squatter = worktree_path(repo, "T1")
    squatter.mkdir(parents=True)
    (squatter / "precious.txt").write_text("keep me\n")

    with pytest.raises(WorkspaceError, match="not a git worktree"):
        add_worktree(repo, "T1", branch)
    with pytest.raises(WorkspaceError, match="not removing it"):
        remove_worktree(repo, "T1")
    assert (squatter / "precious.txt").exists()


def test_worktree_whose_directory_was_deleted_is_created_afresh(repo: Path) -> None:
    branch, base = create_integration_branch(repo, "m1")
    worktree = add_worktree(repo, "T1", branch)
    shutil.rmtree(worktree.path)

    again = add_worktree(repo, "T1", branch)

    assert again == Worktree(worktree.path, base)
    assert (again.path / "a.py").read_text() == "x = 1\n"


def test_task_id_that_is_not_a_directory_name_is_refused(repo: Path) -> None:
    with pytest.raises(WorkspaceError, match="cannot name a worktree directory"):
        worktree_path(repo, "../escape")


def test_removing_a_worktree_deletes_it_and_removing_again_does_nothing(repo: Path) -> None:
    branch, _ = create_integration_branch(repo, "m1")
    worktree = add_worktree(repo, "T1", branch)
    (worktree.path / "a.py").write_text("x = 'unsaved'\n")

    remove_worktree(repo, "T1")
    remove_worktree(repo, "T1")

    assert not worktree.path.exists()
    assert str(worktree.path) not in run_git(repo, "worktree", "list").text


def test_prune_forgets_worktrees_deleted_by_hand(repo: Path) -> None:
    branch, _ = create_integration_branch(repo, "m1")
    worktree = add_worktree(repo, "T1", branch)
    shutil.rmtree(worktree.path)
    assert "T1" in run_git(repo, "worktree", "list").text

    prune_worktrees(repo)

    assert "T1" not in run_git(repo, "worktree", "list").text


def test_concurrent_worktree_adds_do_not_die_on_each_others_half_written_entries(repo: Path) -> None:
    # Regression: `git worktree add` and `worktree list` read every worktree's administrative files and
    # died ("failed to read .../commondir") on one another add was still writing.
    branch, base = create_integration_branch(repo, "m1")
    threads = 8
    start = threading.Barrier(threads)

    def work(n: int) -> list[Worktree]:
        start.wait()
        made = [add_worktree(repo, f"T{n}.{k}", branch) for k in range(1, 5)]
        remove_worktree(repo, f"T{n}.1")
        return made[1:]

    with ThreadPoolExecutor(threads) as pool:
        kept = [worktree for made in pool.map(work, range(1, threads + 1)) for worktree in made]

    assert len(kept) == threads * 3
    assert all(head_commit(worktree.path) == base == worktree.base_commit for worktree in kept)
    listed = run_git(repo, "worktree", "list", "--porcelain").text
    assert listed.count("worktree ") == 1 + threads * 3


def test_commit_stages_new_changed_and_deleted_files(repo: Path) -> None:
    branch, base = create_integration_branch(repo, "m1")
    worktree = add_worktree(repo, "T1", branch)
    (worktree.path / "a.py").write_text("x = 2\n")
    (worktree.path / "b.py").unlink()
    (worktree.path / "pkg").mkdir()
    (worktree.path / "pkg" / "c.py").write_text("z = 1\n")

    commit = commit_worktree(worktree, "T1: edit")

    assert commit is not None
    assert run_git(worktree.path, "rev-parse", "HEAD^").line == base
    listing = run_git(worktree.path, "diff-tree", "-r", "--name-status", "--no-commit-id", commit).text
    assert listing.split() == ["M", "a.py", "D", "b.py", "A", "pkg/c.py"]
    assert branch_head(repo, branch) == base


def test_commit_with_nothing_changed_returns_none(repo: Path) -> None:
    branch, base = create_integration_branch(repo, "m1")
    worktree = add_worktree(repo, "T1", branch)
    assert commit_worktree(worktree, "nothing") is None
    assert head_commit(worktree.path) == base


def test_changes_cover_committed_uncommitted_untracked_and_renamed_files(repo: Path) -> None:
    branch, _ = create_integration_branch(repo, "m1")
    worktree = add_worktree(repo, "T1", branch)
    (worktree.path / "a.py").write_text("x = 2\n")
    commit_worktree(worktree, "committed part")
    (worktree.path / "b.py").rename(worktree.path / "renamed.py")
    (worktree.path / "fresh.py").write_text("new = True\n")
    status_before = status(worktree.path)

    changes = worktree_changes(worktree)

    by_path = {change.path: change for change in changes.files}
    assert changes.paths == ("a.py", "fresh.py", "renamed.py")
    assert (by_path["a.py"].before, by_path["a.py"].after) == ("x = 1\n", "x = 2\n")
    assert (by_path["fresh.py"].status, by_path["fresh.py"].after) == ("added", "new = True\n")
    assert (by_path["renamed.py"].status, by_path["renamed.py"].old_path) == ("renamed", "b.py")
    assert status(worktree.path) == status_before


def test_changes_of_an_untouched_worktree_are_empty(repo: Path) -> None:
    branch, _ = create_integration_branch(repo, "m1")
    worktree = add_worktree(repo, "T1", branch)
    assert worktree_changes(worktree).files == ()


def test_clean_worktree_has_no_unresolved_conflicts(repo: Path) -> None:
    branch, _ = create_integration_branch(repo, "m1")
    worktree = add_worktree(repo, "T1", branch)
    (worktree.path / "a.py").write_text("<<<<<<< looks like a marker but no merge is going on\n")
    assert unresolved_conflicts(worktree) == ()
