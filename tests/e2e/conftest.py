"""Fixtures of the end-to-end tests: a repository per test whose processes see no machine git config.

The helpers themselves (launching `podium mcp` over stdio and HTTP, calling tools) live in
``podium_e2e.py`` so tests and the worker script can import them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

pytest.register_assert_rewrite("podium_e2e", "mission_scenario")

from podium_e2e import MakeRepo, Repo, isolated_env, make_repo  # noqa: E402


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The isolation entries of `podium_e2e.isolated_env`, also set in this test's own environment."""
    env = isolated_env(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def repo_factory(tmp_path: Path, isolated: dict[str, str]) -> MakeRepo:
    """``repo_factory({"a.py": "x = 1\\n"})``: the test's repository on main with those files committed."""

    def make(files: Mapping[str, str]) -> Repo:
        return make_repo(tmp_path, files)

    return make
