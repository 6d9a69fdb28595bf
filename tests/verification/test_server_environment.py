"""Language servers see the project's Python, else one with no packages: never Podium's own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from podium.verification.serverenv import server_environment


def test_the_projects_virtual_environment_comes_first(tmp_path: Path) -> None:
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python3").write_text("#!/bin/sh\n")

    path = server_environment(tmp_path)["PATH"].split(os.pathsep)

    assert path[0] == str(bin_dir)


def test_without_one_a_python_without_podiums_packages_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    project = tmp_path / "project"
    project.mkdir()

    env = server_environment(project)
    first = Path(env["PATH"].split(os.pathsep)[0])
    probe = "import importlib.util, sys; print(sys.version_info[:2], importlib.util.find_spec('pydantic'))"
    shown = subprocess.run(
        [str(first / "python3"), "-c", probe], capture_output=True, text=True, check=True, env=env
    ).stdout

    assert first.is_relative_to(tmp_path / "cache")
    # The same Python version Podium runs on, but pydantic (Podium's dependency) is not importable there.
    assert shown.strip() == f"{tuple(sys.version_info[:2])} None"
    assert env["PATH"].split(os.pathsep)[1:] == os.environ.get("PATH", "").split(os.pathsep)
    # Made once: a second start reuses it.
    assert server_environment(project)["PATH"] == env["PATH"]


def test_an_unwritable_cache_falls_back_to_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)

    assert server_environment(tmp_path)["PATH"] == os.environ.get("PATH", "")
