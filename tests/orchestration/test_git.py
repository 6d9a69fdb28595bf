import hashlib
import os
from pathlib import Path

import pytest

from podium.orchestration.errors import WorkspaceError
from podium.orchestration.git import (
    PODIUM_EMAIL,
    PODIUM_NAME,
    audit_diff,
    branch_head,
    changes_between,
    diff_hash,
    head_commit,
    is_ancestor,
    read_blobs,
    repository_root,
    run_git,
)


@pytest.fixture(autouse=True)
def _isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{role}_NAME", raising=False)
        monkeypatch.delenv(f"GIT_{role}_EMAIL", raising=False)


def commit_all(root: Path, message: str) -> str:
    run_git(root, "add", "--all")
    run_git(root, "commit", "--quiet", "-m", message)
    return head_commit(root)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    run_git(root, "init", "--quiet", "--initial-branch=main")
    (root / "a.py").write_text("x = 1\n")
    (root / "old_name.txt").write_text("one\ntwo\nthree\nfour\n")
    (root / "gone.txt").write_text("bye\n")
    commit_all(root, "initial")
    return root


def test_failed_call_raises_workspace_error_with_command_and_git_stderr(repo: Path) -> None:
    with pytest.raises(WorkspaceError) as caught:
        run_git(repo, "cat-file", "-p", "no-such-object")
    assert "git cat-file -p no-such-object" in caught.value.message
    assert "no-such-object" in caught.value.message.split("):", 1)[1]
    assert caught.value.code == "workspace_error"


def test_exit_codes_listed_as_ok_are_answers_not_errors(repo: Path) -> None:
    result = run_git(repo, "diff-index", "--quiet", "HEAD", ok=(0, 1))
    assert result.returncode == 0
    (repo / "a.py").write_text("x = 2\n")
    assert run_git(repo, "diff-index", "--quiet", "HEAD", ok=(0, 1)).returncode == 1


def test_call_that_blocks_is_killed_at_its_timeout(repo: Path) -> None:
    fifo = repo / "never-written"
    os.mkfifo(fifo)
    with pytest.raises(WorkspaceError, match="timed out after 0.2 s"):
        run_git(repo, "hash-object", str(fifo), timeout=0.2)


def test_missing_directory_is_reported_as_such(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="does not exist"):
        run_git(tmp_path / "nowhere", "status")


def test_commits_are_authored_by_podium_when_environment_names_nobody(repo: Path) -> None:
    assert (
        run_git(repo, "log", "-1", "--format=%an <%ae> / %cn").line
        == f"{PODIUM_NAME} <{PODIUM_EMAIL}> / Podium"
    )


def test_identity_from_environment_wins_over_podium(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ada")
    (repo / "a.py").write_text("x = 3\n")
    commit_all(repo, "by Ada")
    assert run_git(repo, "log", "-1", "--format=%an").line == "Ada"


def test_repository_variables_inherited_from_a_parent_process_are_ignored(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    run_git(other, "init", "--quiet")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    assert repository_root(repo) == repo.resolve()
    assert run_git(repo, "ls-files").text.split() == ["a.py", "gone.txt", "old_name.txt"]


def test_plain_directory_is_not_a_git_repository_and_the_error_says_run_git_init(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(WorkspaceError, match=r"is not a git repository; run `git init`"):
        repository_root(plain)


def test_repository_without_commits_asks_for_a_first_commit(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    run_git(empty, "init", "--quiet")
    with pytest.raises(WorkspaceError, match="has no commits yet; commit once"):
        head_commit(empty)


def test_branch_head_names_a_missing_branch(repo: Path) -> None:
    assert branch_head(repo, "main") == head_commit(repo)
    with pytest.raises(WorkspaceError, match="no branch 'podium/missing'"):
        branch_head(repo, "podium/missing")


def test_is_ancestor_follows_history_one_way(repo: Path) -> None:
    first = head_commit(repo)
    (repo / "a.py").write_text("x = 2\n")
    second = commit_all(repo, "second")
    assert is_ancestor(repo, first, second)
    assert not is_ancestor(repo, second, first)


def test_changes_between_gives_texts_of_added_deleted_modified_and_renamed_files(repo: Path) -> None:
    base = head_commit(repo)
    (repo / "a.py").write_text("x = 2\n")
    (repo / "new.py").write_text("y = 1\n")
    (repo / "gone.txt").unlink()
    (repo / "old_name.txt").rename(repo / "new_name.txt")
    after = commit_all(repo, "all kinds")

    changes = changes_between(repo, base, after)

    by_path = {change.path: change for change in changes.files}
    assert changes.paths == ("a.py", "gone.txt", "new.py", "new_name.txt")
    assert (by_path["a.py"].before, by_path["a.py"].after, by_path["a.py"].status) == (
        "x = 1\n",
        "x = 2\n",
        "modified",
    )
    assert (by_path["new.py"].before, by_path["new.py"].status) == (None, "added")
    assert (by_path["gone.txt"].after, by_path["gone.txt"].status) == (None, "deleted")
    renamed = by_path["new_name.txt"]
    assert (renamed.old_path, renamed.status, renamed.after) == (
        "old_name.txt",
        "renamed",
        "one\ntwo\nthree\nfour\n",
    )


def test_changes_between_can_be_limited_to_some_paths(repo: Path) -> None:
    base = head_commit(repo)
    (repo / "a.py").write_text("x = 2\n")
    (repo / "gone.txt").unlink()
    after = commit_all(repo, "two files")
    assert changes_between(repo, base, after, only={"gone.txt"}).paths == ("gone.txt",)


def test_read_blobs_leaves_out_missing_names_only_when_asked(repo: Path) -> None:
    blobs = read_blobs(repo, ["HEAD:a.py", "HEAD:nope.py"], missing_ok=True)
    assert blobs == {"HEAD:a.py": b"x = 1\n"}
    with pytest.raises(WorkspaceError, match="HEAD:nope.py is missing"):
        read_blobs(repo, ["HEAD:nope.py"])


def test_diff_hash_is_the_sha256_of_the_git_diff_between_two_commits(repo: Path) -> None:
    base = head_commit(repo)
    (repo / "a.py").write_text("x = 2\n")
    after = commit_all(repo, "change")

    diff = audit_diff(repo, base, after)

    assert diff.startswith(b"diff --git a/a.py b/a.py\n")
    assert b"-x = 1\n+x = 2\n" in diff
    assert diff_hash(repo, base, after) == hashlib.sha256(diff).hexdigest()
    assert diff_hash(repo, base, after) != diff_hash(repo, after, base)


def test_diff_hash_does_not_depend_on_the_users_diff_settings(repo: Path) -> None:
    base = head_commit(repo)
    (repo / "old_name.txt").write_text("one\ntwo\nTHREE\nfour\n")
    after = commit_all(repo, "change")
    before = diff_hash(repo, base, after)
    for setting in (
        "diff.noprefix=true",
        "diff.context=10",
        "diff.mnemonicPrefix=true",
        "diff.algorithm=patience",
    ):
        name, value = setting.split("=")
        run_git(repo, "config", name, value)
    assert diff_hash(repo, base, after) == before
