"""Shared fixtures of the orchestration tests: git blind to the machine's config, and small repositories."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from podium.orchestration.git import run_git

MakeRepo = Callable[[Mapping[str, str]], Path]
"""``make_repo({"a.py": "x = 1\\n"})``: a repository on ``main`` with those files in its first commit."""


@pytest.fixture
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Git reads no global or system config and never finds a repository above ``tmp_path``.

    Set in the environment, so git processes and spawned Python processes started by the test inherit it.
    """
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


@pytest.fixture
def make_repo(tmp_path: Path, isolated_git: None) -> MakeRepo:
    """A factory of repositories at ``tmp_path/repo`` (one per test) with the given files committed."""

    def make(files: Mapping[str, str]) -> Path:
        root = tmp_path / "repo"
        root.mkdir()
        run_git(root, "init", "--quiet", "--initial-branch=main")
        for path, text in files.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
        run_git(root, "add", "--all")
        run_git(root, "commit", "--quiet", "-m", "initial")
        return root

    return make
