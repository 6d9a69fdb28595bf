"""Language servers start with a real interpreter first on PATH (not a version manager's shim)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from podium.verification.lspclient import server_environment


def test_the_projects_virtual_environment_comes_first(tmp_path: Path) -> None:
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python3").write_text("#!/bin/sh\n")

    path = server_environment(tmp_path)["PATH"].split(os.pathsep)

    assert path[0] == str(bin_dir)


def test_without_one_the_interpreter_podium_runs_on_comes_first(tmp_path: Path) -> None:
    path = server_environment(tmp_path)["PATH"].split(os.pathsep)

    assert path[0] == str(Path(sys.executable).parent)
    assert path[1:] == os.environ.get("PATH", "").split(os.pathsep)
