"""`podium doctor`'s look at the environment and at Podium's entries in each client's config.

Read only: nothing is written, no client is started (only ``git --version`` and ``opencode --version``).
Each client config gets a status per Podium entry — ``present`` (what this Podium would write), ``outdated``
(different, e.g. an older Podium or another task mode), ``broken`` (its command names an executable that no
longer exists), ``absent`` — and a ``fix:`` line per problem. A check that makes Podium unusable (no git, a
config that does not parse, a broken entry) is ``hard``: `podium doctor` then exits 1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from podium.server.install import jsonc
from podium.server.install.clientconfig import (
    Entry,
    OpenCodeInstall,
    Scope,
    Shape,
    claude_entry,
    claude_path,
    opencode_dir,
    opencode_entries,
    opencode_path,
    podium_command,
    shape_in_use,
    vscode_entry,
)
from podium.server.install.jsonc import as_object

__all__ = ["client_checks", "environment_checks"]

MIN_PYTHON = (3, 11)
GIT_TIMEOUT_S = 30.0


def environment_checks(env: Mapping[str, str], opencode: OpenCodeInstall) -> dict[str, Any]:
    """git and Python (hard requirements) and the OpenCode found, as JSON-able data."""
    git = shutil.which("git", path=env.get("PATH"))
    git_version = None
    if git is not None:
        try:
            done = subprocess.run(
                [git, "--version"], capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False
            )
            git_version = done.stdout.strip() or None
        except (OSError, subprocess.TimeoutExpired):
            git_version = None
    python_ok = sys.version_info[:2] >= MIN_PYTHON
    problems: list[str] = []
    if git_version is None:
        problems.append("git not found on PATH; Podium needs git (install it, e.g. `apt install git`)")
    if not python_ok:
        problems.append(f"Python {sys.version.split()[0]} is older than 3.11; reinstall Podium on 3.11+")
    return {
        "git": {"path": git, "version": git_version, "ok": git_version is not None},
        "python": {"path": sys.executable, "version": sys.version.split()[0], "ok": python_ok},
        "opencode": {
            "path": None if opencode.path is None else str(opencode.path),
            "version": opencode.version,
            "shape": _shape_for(opencode),
        },
        "problems": problems,
        "hard": bool(problems),
    }


def _shape_for(opencode: OpenCodeInstall) -> Shape | None:
    major = opencode.major
    return None if major is None else ("v1" if major < 2 else "v2")


def client_checks(root: Path, env: Mapping[str, str], opencode: OpenCodeInstall) -> list[dict[str, Any]]:
    """One check per client config file Podium can install into."""
    podium = podium_command()
    expected = _shape_for(opencode)
    checks = [_check_opencode(scope, root, env, podium, expected) for scope in ("project", "global")]
    for scope in ("project", "global"):
        flag = "" if scope == "project" else " --global"
        checks.append(
            _check("claude", scope, claude_path(scope, root, env), [claude_entry(podium)], f"claude{flag}")
        )
    vscode = root / ".vscode" / "mcp.json"
    checks.append(_check("vscode", "project", vscode, [vscode_entry(podium)], "vscode"))
    return checks


def _check_opencode(
    scope: Scope, root: Path, env: Mapping[str, str], podium: list[str], expected: Shape | None
) -> dict[str, Any]:
    path = opencode_path(opencode_dir(scope, root, env))
    flag = "" if scope == "project" else " --global"
    config = _load(path)
    in_use = shape_in_use(config.get("value")) if config.get("parses") else None
    shape: Shape = expected or in_use or "v1"
    variants = [*opencode_entries(shape, podium, "client"), *opencode_entries(shape, podium, "server")]
    check = _check("opencode", scope, path, variants, f"opencode{flag}", config)
    check["shape"] = in_use
    check["expected_shape"] = expected
    if expected is not None and in_use is not None and in_use != expected:
        old = [*opencode_entries(in_use, podium, "client"), *opencode_entries(in_use, podium, "server")]
        if _check("opencode", scope, path, old, "", config)["installed"]:
            check["installed"] = True
            check["problems"].append(
                f"Podium's entries have OpenCode's {in_use.upper()} shape, the installed OpenCode reads "
                f"{expected.upper()}"
            )
            check["fixes"].append(f"run `podium install opencode{flag}` (it moves Podium's entries)")
    return check


def _load(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {"exists": False, "parses": None, "error": None}
    except OSError as exc:
        return {"exists": True, "parses": False, "error": exc.strerror}
    try:
        doc = jsonc.parse(data.decode("utf-8"))
    except UnicodeDecodeError:
        return {"exists": True, "parses": False, "error": "not UTF-8 text"}
    except jsonc.JsoncError as exc:
        return {"exists": True, "parses": False, "error": exc.message}
    value = as_object(doc.root.python if doc.root is not None else {})
    if value is None:
        return {"exists": True, "parses": False, "error": "the top level is not an object"}
    return {"exists": True, "parses": True, "error": None, "value": value}


def _lookup(config: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        holder = as_object(config)
        if holder is None or key not in holder:
            return None
        config = holder[key]
    return config


def _executable(value: Any) -> str | None:
    """The program an MCP/LSP entry starts: ``command[0]`` (OpenCode) or ``command`` (Claude, VS Code)."""
    command: Any = (as_object(value) or {}).get("command")
    if isinstance(command, list) and command and isinstance(command[0], str):
        return command[0]
    return command if isinstance(command, str) else None


def _entry_status(value: Any, wanted: list[Any]) -> str:
    if value is None:
        return "absent"
    if value in wanted:
        return "present"
    program = _executable(value)
    if program is not None and os.path.isabs(program) and not os.access(program, os.X_OK):
        return "broken"
    return "outdated"


def _check(
    target: str,
    scope: Scope,
    path: Path,
    variants: list[Entry],
    install_args: str,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    config = _load(path) if config is None else config
    wanted: dict[tuple[str, ...], list[Any]] = {}
    for entry in variants:
        wanted.setdefault(entry.path, []).append(entry.value)
    entries: dict[str, str] = {}
    if config["parses"]:
        for key_path, values in wanted.items():
            entries[".".join(key_path)] = _entry_status(_lookup(config["value"], key_path), values)
    problems: list[str] = []
    fixes: list[str] = []
    hard = False
    installed = any(status != "absent" for status in entries.values())
    if config["parses"] is False:
        hard = True
        problems.append(f"{path} does not parse: {config['error']}")
        fixes.append(f"fix {path} by hand (Podium never rewrites a file it cannot parse)")
    broken = [name for name, status in entries.items() if status == "broken"]
    if broken:
        hard = True
        problems.append(f"{', '.join(broken)} start(s) a program that no longer exists")
    outdated = [name for name, status in entries.items() if status == "outdated"]
    if outdated:
        problems.append(f"{', '.join(outdated)} differ(s) from what this Podium writes")
    missing = [name for name, status in entries.items() if status == "absent"]
    if installed and missing:
        problems.append(f"{', '.join(missing)} missing")
    if broken or outdated or (installed and missing):
        fixes.append(f"run `podium install {install_args}`")
    return {
        "client": target,
        "scope": scope,
        "path": str(path),
        "exists": config["exists"],
        "parses": config["parses"],
        "installed": installed,
        "entries": entries,
        "problems": problems,
        "fixes": fixes,
        "hard": hard,
        "install": f"podium install {install_args}",
    }
