"""`podium install opencode|claude` against the real, pinned OpenCode and Claude Code binaries (no API key).

After `podium install opencode --project` in a fresh repository, OpenCode itself must connect to Podium's
MCP server, list Podium's subagents, and load `/task` and `/status` as commands; installing again must
change nothing, and uninstalling must give back the original file byte for byte. Claude Code must list the
server `podium install claude` adds.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from coding_agents import claude_binary, opencode_binary, sealed_env

pytestmark = pytest.mark.e2e

PODIUM = [sys.executable, "-m", "podium.server"]
COMMAND_TIMEOUT = 120.0
SERVE_READY_TIMEOUT = 60.0
HEALTH_REQUEST_TIMEOUT = 2.0
"""One health request; OpenCode's first requests can hang, so each try is short and retried."""
COMMAND_REQUEST_TIMEOUT = 60.0
POLL_INTERVAL = 0.2
"""Seconds between looks at the server's log and health while waiting for it, bounded by the deadline."""
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PINNED_OPENCODE = "1.18.33"

USER_JSONC = """\
// this project's OpenCode settings
{
  "$schema": "https://opencode.ai/config.json",
  "mcp": {
    /* a server of mine, off for now */
    "notes": {"type": "local", "command": ["true"], "enabled": false},
  },
}
"""


def run(command: list[str], project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )


def make_project(base: Path) -> tuple[Path, dict[str, str]]:
    """A git repository with one commit and the sealed environment for it (OpenCode's PWD included)."""
    project = base / "project"
    project.mkdir()
    env = sealed_env(base, project)
    env["PODIUM_OPENCODE"] = str(opencode_binary())
    git = ["git", "-c", "user.name=Tester", "-c", "user.email=tester@example.com"]
    (project / "app.py").write_text("def main():\n    return 1\n")
    for args in (["init", "-q", "--initial-branch=main"], ["add", "app.py"], ["commit", "-q", "-m", "start"]):
        assert run([*git, *args], project, env).returncode == 0
    return project, env


def podium(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = run([*PODIUM, *args], project, env)
    assert done.returncode == 0, done.stderr
    return done


def mcp_servers(project: Path, env: dict[str, str]) -> dict[str, str]:
    """`opencode mcp list` as {server: status line}; its exit status is 0 even when a server fails."""
    done = run([str(opencode_binary()), "mcp", "list"], project, env)
    lines = ANSI.sub("", done.stdout + done.stderr).splitlines()
    found: dict[str, str] = {}
    for line in lines:
        match = re.search(r"[✓✗○]\s+(\S+)\s+(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def test_opencode_connects_to_podium_lists_its_agents_and_loads_its_commands(tmp_path: Path) -> None:
    project, env = make_project(tmp_path)

    installed = podium(project, env, "install", "opencode", "--project")

    assert f"OpenCode config shape V1: OpenCode {PINNED_OPENCODE} at" in installed.stderr
    config_path = project / "opencode.json"
    assert mcp_servers(project, env).get("podium", "").startswith("connected"), mcp_servers(project, env)

    agents = run([str(opencode_binary()), "agent", "list"], project, env).stdout
    for name in ("podium-planner", "podium-worker", "podium-reviewer"):
        assert f"{name} (subagent)" in agents

    resolved = json.loads(run([str(opencode_binary()), "debug", "config"], project, env).stdout)
    assert "podium_mission_start" in resolved["command"]["task"]["template"]
    assert resolved["lsp"]["podium"]["command"][-1] == "lsp"
    with opencode_server(project, env) as url:
        commands = fetch_json(f"{url}/command?directory={project}", COMMAND_REQUEST_TIMEOUT)
    by_name = {entry["name"]: entry for entry in commands}
    assert "$ARGUMENTS" in by_name["task"]["template"]
    assert "podium_mission_status" in by_name["status"]["template"]

    written = config_path.read_bytes()
    again = podium(project, env, "install", "opencode", "--project")
    assert again.stdout == f"opencode: {config_path}: nothing to change\n"
    assert config_path.read_bytes() == written

    podium(project, env, "uninstall", "opencode")
    assert not config_path.exists()


def test_a_jsonc_config_keeps_its_comments_and_is_restored_byte_for_byte(tmp_path: Path) -> None:
    project, env = make_project(tmp_path)
    config_path = project / "opencode.jsonc"
    config_path.write_text(USER_JSONC)

    podium(project, env, "install", "opencode")

    text = config_path.read_text()
    assert "// this project's OpenCode settings" in text and "/* a server of mine, off for now */" in text
    servers = mcp_servers(project, env)
    assert servers.get("podium", "").startswith("connected"), servers
    assert servers.get("notes", "").startswith("disabled"), servers

    podium(project, env, "uninstall", "opencode")
    assert config_path.read_text() == USER_JSONC


def test_a_malformed_opencode_config_is_refused_and_left_untouched(tmp_path: Path) -> None:
    project, env = make_project(tmp_path)
    config_path = project / "opencode.json"
    config_path.write_text('{\n  "mcp": {\n}\n')

    done = run([*PODIUM, "install", "opencode"], project, env)

    assert done.returncode == 2
    assert f"{config_path}: line 1, column 1: an object is never closed" in done.stderr
    assert config_path.read_text() == '{\n  "mcp": {\n}\n'
    assert not (project / ".podium").exists()


def test_claude_code_lists_the_server_podium_install_claude_adds(tmp_path: Path) -> None:
    project, env = make_project(tmp_path)
    claude = str(claude_binary())

    podium(project, env, "install", "claude", "--project")
    project_scope = run([claude, "mcp", "get", "podium"], project, env)
    podium(project, env, "install", "claude", "--global")
    listed = run([claude, "mcp", "list"], project, env)

    assert project_scope.returncode == 0, project_scope.stderr
    assert "Scope: Project config (shared via .mcp.json)" in project_scope.stdout
    podium_lines = [line for line in listed.stdout.splitlines() if line.startswith("podium:")]
    assert podium_lines and all(line.rstrip().endswith("Connected") for line in podium_lines), listed.stdout


@contextmanager
def opencode_server(project: Path, env: dict[str, str]) -> Iterator[str]:
    """`opencode serve` on a free loopback port; yields its URL once `/global/health` answers."""
    log_path = project.parent / "opencode-serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(opencode_binary()), "serve", "--hostname", "127.0.0.1", "--port", "0"],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield wait_until_healthy(process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def wait_until_healthy(process: subprocess.Popen[bytes], log_path: Path) -> str:
    """Poll (with a deadline) for the URL `opencode serve` announces, then for its health endpoint."""
    deadline = time.monotonic() + SERVE_READY_TIMEOUT
    url = None
    while time.monotonic() < deadline and process.poll() is None:
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", log_path.read_text(errors="replace"))
        if match:
            url = match.group(1)
            try:
                if fetch_json(f"{url}/global/health", HEALTH_REQUEST_TIMEOUT).get("healthy"):
                    return url
            except (OSError, ValueError):
                pass  # not answering yet: try again until the deadline
        time.sleep(POLL_INTERVAL)
    raise AssertionError(f"opencode serve never became healthy at {url}:\n{log_path.read_text()}")


def fetch_json(url: str, timeout: float) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())
