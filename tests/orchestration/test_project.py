"""Locating `.podium/` under a project root and keeping it out of git (`info/exclude`, worktrees included)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from podium.orchestration.project import (
    database_path,
    ensure_git_exclude,
    find_project_root,
    git_common_dir,
    prepare_project,
)
from podium.orchestration.store import Store


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / "a.txt").write_text("a\n")
    git(path, "add", "a.txt")
    git(path, "commit", "-q", "-m", "first")
    return path


def exclude_lines(repo: Path) -> list[str]:
    return (repo / ".git" / "info" / "exclude").read_text(encoding="utf-8").splitlines()


def test_opening_a_store_in_a_git_repository_excludes_podium_exactly_once(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    Store.open(repo).close()
    Store.open(repo).close()
    assert exclude_lines(repo).count(".podium/") == 1
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert ".podium" not in status.stdout


def test_the_exclude_line_is_appended_on_a_line_of_its_own(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    exclude = repo / ".git" / "info" / "exclude"
    exclude.write_text("*.log", encoding="utf-8")
    assert ensure_git_exclude(repo) is True
    assert exclude.read_text(encoding="utf-8") == "*.log\n.podium/\n"


def test_an_equivalent_exclude_line_is_left_alone(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    exclude = repo / ".git" / "info" / "exclude"
    exclude.write_text("/.podium\n", encoding="utf-8")
    assert ensure_git_exclude(repo) is False
    assert exclude.read_text(encoding="utf-8") == "/.podium\n"


def test_a_linked_worktree_excludes_podium_in_the_common_git_dir(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    worktree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(worktree), "-b", "feature")
    assert git_common_dir(worktree) == (repo / ".git").resolve()
    Store.open(worktree).close()
    assert exclude_lines(repo).count(".podium/") == 1
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=worktree, capture_output=True, text=True, check=True
    )
    assert ".podium" not in status.stdout


def test_a_gitdir_file_without_commondir_is_its_own_common_dir(tmp_path: Path) -> None:
    module_git = tmp_path / "outer" / ".git" / "modules" / "sub"
    module_git.mkdir(parents=True)
    sub = tmp_path / "outer" / "sub"
    sub.mkdir()
    (sub / ".git").write_text("gitdir: ../.git/modules/sub\n", encoding="utf-8")
    assert git_common_dir(sub) == module_git.resolve()
    assert ensure_git_exclude(sub) is True
    assert (module_git / "info" / "exclude").read_text(encoding="utf-8") == ".podium/\n"


def test_a_directory_outside_git_gets_a_state_dir_and_no_exclude(tmp_path: Path) -> None:
    paths = prepare_project(tmp_path)
    assert paths.state_dir.is_dir()
    assert paths.db_path == database_path(tmp_path).resolve()
    assert ensure_git_exclude(tmp_path) is False
    assert not (tmp_path / ".git").exists()


def test_find_project_root_prefers_a_podium_dir_over_a_git_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    nested = repo / "pkg" / "deep"
    nested.mkdir(parents=True)
    assert find_project_root(nested) == repo.resolve()
    (repo / "pkg" / ".podium").mkdir()
    assert find_project_root(nested) == (repo / "pkg").resolve()
