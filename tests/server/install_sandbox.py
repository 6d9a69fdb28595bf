"""A sandbox for the `podium install` tests: a real git repository and a private HOME with its XDG dirs.

Nothing a test does reaches the machine's own client configs: HOME, XDG_CONFIG_HOME and XDG_STATE_HOME all
point inside the test's directory, and git reads no global or system config.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.server.install.clientconfig import podium_command
from podium.server.install.installer import InstallOptions

PODIUM = [sys.executable, "-m", "podium.server"]
COMMAND_TIMEOUT = 120.0


@dataclass(frozen=True)
class Sandbox:
    """The project (a git repository with one commit) and the environment every step runs with."""

    root: Path
    home: Path
    env: dict[str, str]

    @property
    def state(self) -> Path:
        return self.home / ".local" / "state" / "podium"

    @property
    def config(self) -> Path:
        return self.home / ".config"

    def options(self, target: str = "opencode", **changes: Any) -> InstallOptions:
        values: dict[str, Any] = {
            "target": target,
            "scope": "project",
            "root": self.root,
            "podium": podium_command(),
            "shape": "v1" if target == "opencode" else None,
        }
        values.update(changes)
        return InstallOptions(**values)

    def podium(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """`podium ARGS` as a subprocess in the project."""
        return subprocess.run(
            [*PODIUM, *args],
            cwd=cwd or self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )

    def files(self) -> dict[str, bytes]:
        """Every file of the project and of HOME, outside .git: what a refused command must leave alone."""
        found: dict[str, bytes] = {}
        for base in (self.root, self.home):
            for path in sorted(base.rglob("*")):
                if path.is_file() and ".git" not in path.relative_to(base).parts:
                    found[str(path)] = path.read_bytes()
        return found


def make_sandbox(base: Path) -> Sandbox:
    home = base / "home"
    root = base / "project"
    for directory in (home / ".config", home / ".local" / "state", root):
        directory.mkdir(parents=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("XDG_", "PODIUM_", "OPENCODE", "CLAUDE_"))
    }
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CEILING_DIRECTORIES": str(base),
        }
    )
    git = ["git", "-c", "user.name=Tester", "-c", "user.email=tester@example.com"]
    for args in (
        ["init", "--quiet", "--initial-branch=main"],
        ["commit", "--quiet", "--allow-empty", "-m", "0"],
    ):
        subprocess.run([*git, *args], cwd=root, env=env, check=True, capture_output=True, timeout=60)
    return Sandbox(root, home, env)
