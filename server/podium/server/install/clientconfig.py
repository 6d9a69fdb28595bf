"""Where each client keeps its configuration, and the entries Podium puts there.

| target | project scope | global scope |
| --- | --- | --- |
| opencode | ``<root>/opencode.jsonc`` or ``opencode.json`` | ``$XDG_CONFIG_HOME/opencode/`` (same names) |
| claude | ``<root>/.mcp.json`` | ``~/.claude.json`` (user scope) |
| vscode | ``<root>/.vscode/mcp.json`` | — |

OpenCode gets the MCP server, the LSP server, `/task`, `/status` and three subagents; Claude Code the MCP
server as `claude mcp add` writes it; VS Code the MCP server. OpenCode changed its configuration shape between
majors: 1.x (V1) has ``mcp.<name>`` with ``enabled``, ``command`` and ``agent``; 2.x (V2) nests servers under
``mcp.servers`` with ``disabled`` and names the other two ``commands`` and ``agents``. The installed
OpenCode's ``--version`` decides which one Podium writes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from podium.server.install import definitions
from podium.server.install.definitions import TaskMode
from podium.server.install.jsonc import as_object
from podium.verification.errors import InputError
from podium.verification.languages import LANGUAGES

__all__ = [
    "OPENCODE_ENV",
    "OPENCODE_SCHEMA",
    "TARGETS",
    "ClientFile",
    "Entry",
    "OpenCodeInstall",
    "Scope",
    "Shape",
    "client_file",
    "find_opencode",
    "lsp_extensions",
    "opencode_entries",
    "podium_command",
    "project_root",
    "shape_in_use",
]

TARGETS = ("opencode", "claude", "vscode")
OPENCODE_ENV = "PODIUM_OPENCODE"
"""Environment variable naming the `opencode` executable whose version picks the config shape."""
OPENCODE_SCHEMA = "https://opencode.ai/config.json"
VERSION_TIMEOUT_S = 30.0
"""`opencode --version` starts a large binary; the first run on a cold disk can take seconds."""

Scope = Literal["project", "global"]
Shape = Literal["v1", "v2"]
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True, slots=True)
class Entry:
    """One value Podium owns in a config file, at a key path such as ``("mcp", "podium")``."""

    path: tuple[str, ...]
    value: Any

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True, slots=True)
class ClientFile:
    """A config file of one client and scope: where it is, what a new one starts as, what Podium adds."""

    target: str
    scope: Scope
    path: Path
    skeleton: str
    entries: tuple[Entry, ...]
    shape: Shape | None = None


@dataclass(frozen=True, slots=True)
class OpenCodeInstall:
    """The `opencode` found on this machine (``path`` None when none was) and its version."""

    path: Path | None
    version: str | None
    looked_in: str

    @property
    def major(self) -> int | None:
        match = _VERSION.search(self.version or "")
        return int(match.group(1)) if match else None


def podium_command() -> list[str]:
    """How a client starts this Podium: the `podium` script next to the running interpreter, by absolute
    path (clients often start servers without the user's shell PATH), else ``python -m podium.server``."""
    bin_dir = Path(os.path.abspath(sys.executable)).parent
    for name in ("podium", "podium.exe"):
        script = bin_dir / name
        if script.is_file() and os.access(script, os.X_OK):
            return [str(script)]
    return [os.path.abspath(sys.executable), "-m", "podium.server"]


def project_root(directory: Path) -> Path:
    """The git top level of ``directory`` (where OpenCode and Claude Code look for project config), or
    ``directory`` itself outside git (`podium mcp` will then refuse to start until it is a repository)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return directory
    top = done.stdout.strip()
    return Path(top) if done.returncode == 0 and top else directory


def lsp_extensions() -> list[str]:
    """Every file extension the gate parses: OpenCode attaches `podium lsp` to files with these."""
    return sorted({ext for spec in LANGUAGES for ext in spec.extensions})


def find_opencode(explicit: Path | None, env: Mapping[str, str]) -> OpenCodeInstall:
    """The `opencode` to ask for its version: ``--opencode``, then ``$PODIUM_OPENCODE``, then ``PATH``."""
    import shutil

    if explicit is not None:
        candidate, looked = str(explicit), f"--opencode {explicit}"
    elif env.get(OPENCODE_ENV):
        candidate, looked = env[OPENCODE_ENV], f"${OPENCODE_ENV}={env[OPENCODE_ENV]}"
    else:
        candidate, looked = "opencode", "PATH"
    found = shutil.which(candidate, path=env.get("PATH"))
    if found is None:
        return OpenCodeInstall(None, None, looked)
    try:
        done = subprocess.run(
            [found, "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT_S,
            env={**env, "OPENCODE_DISABLE_AUTOUPDATE": "1"},
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return OpenCodeInstall(Path(found), None, looked)
    match = _VERSION.search(done.stdout)
    return OpenCodeInstall(Path(found), match.group(0) if match else None, looked)


def shape_in_use(config: Any) -> Shape | None:
    """The OpenCode shape a parsed config already uses, if it says: V2 nests servers under ``mcp.servers``
    and uses the plural ``commands``/``agents``; V1 has servers (objects with a ``type``) right under ``mcp``.
    """
    config = as_object(config)
    if config is None:
        return None
    mcp = as_object(config.get("mcp"))
    if mcp is not None:
        servers = as_object(mcp.get("servers"))
        if servers is not None and all(as_object(value) is not None for value in servers.values()):
            return "v2"
        if any("type" in (as_object(value) or {}) for value in mcp.values()):
            return "v1"
    if "commands" in config or "agents" in config:
        return "v2"
    if "command" in config or "agent" in config:
        return "v1"
    return None


def opencode_entries(shape: Shape, podium: list[str], task_mode: TaskMode) -> tuple[Entry, ...]:
    """Podium's entries in ``opencode.json`` for ``shape``."""
    server = {"type": "local", "command": [*podium, "mcp"]}
    if shape == "v1":
        mcp = Entry(("mcp", "podium"), {**server, "enabled": True})
        commands, agents = "command", "agent"
    else:
        mcp = Entry(("mcp", "servers", "podium"), {**server, "disabled": False})
        commands, agents = "commands", "agents"
    return (
        mcp,
        Entry(("lsp", "podium"), {"command": [*podium, "lsp"], "extensions": lsp_extensions()}),
        Entry((commands, "task"), definitions.command("task", task_mode)),
        Entry((commands, "status"), definitions.command("status", task_mode)),
        *(Entry((agents, name), definitions.agent(name)) for name in definitions.AGENTS),
    )


def claude_entry(podium: list[str]) -> Entry:
    """The entry `claude mcp add podium -- podium mcp` would write."""
    return Entry(
        ("mcpServers", "podium"),
        {"type": "stdio", "command": podium[0], "args": [*podium[1:], "mcp"], "env": {}},
    )


def vscode_entry(podium: list[str]) -> Entry:
    """VS Code's ``.vscode/mcp.json`` entry; VS Code starts servers outside the folder, hence ``--root``."""
    return Entry(
        ("servers", "podium"),
        {"type": "stdio", "command": podium[0], "args": [*podium[1:], "mcp", "--root", "${workspaceFolder}"]},
    )


def opencode_dir(scope: Scope, root: Path, env: Mapping[str, str]) -> Path:
    if scope == "project":
        return root
    config_home = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(config_home) / "opencode"


def opencode_path(directory: Path) -> Path:
    """``opencode.jsonc`` when it exists (the user chose comments), else ``opencode.json``."""
    jsonc = directory / "opencode.jsonc"
    return jsonc if jsonc.exists() else directory / "opencode.json"


def claude_path(scope: Scope, root: Path, env: Mapping[str, str]) -> Path:
    if scope == "project":
        return root / ".mcp.json"
    config_dir = env.get("CLAUDE_CONFIG_DIR")
    home = Path(config_dir) if config_dir else Path(env.get("HOME") or Path.home())
    return home / ".claude.json"


def client_file(
    target: str,
    scope: Scope,
    root: Path,
    env: Mapping[str, str],
    *,
    podium: list[str],
    shape: Shape = "v1",
    task_mode: TaskMode = "client",
) -> ClientFile:
    """The config file ``target`` uses in ``scope`` and Podium's entries for it.

    Raises:
        InputError: an unknown target, or a scope the target does not have.
    """
    if target == "opencode":
        path = opencode_path(opencode_dir(scope, root, env))
        skeleton = f'{{\n  "$schema": "{OPENCODE_SCHEMA}"\n}}\n'
        return ClientFile(target, scope, path, skeleton, opencode_entries(shape, podium, task_mode), shape)
    if target == "claude":
        return ClientFile(target, scope, claude_path(scope, root, env), "{}\n", (claude_entry(podium),))
    if target == "vscode":
        if scope == "global":
            raise InputError(
                "vscode: only --project is supported (VS Code's user-level MCP settings live in its profile; "
                "run `podium install vscode` in each workspace)"
            )
        return ClientFile(target, scope, root / ".vscode" / "mcp.json", "{}\n", (vscode_entry(podium),))
    raise InputError(f"unknown target {target!r}; targets: {', '.join(TARGETS)}")
