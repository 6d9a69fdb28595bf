"""Running the real OpenCode and Claude Code CLIs against a scripted model and `podium mcp`/`podium lsp`.

What the OpenCode and Claude Code end-to-end tests share: the configuration that points each CLI at the
scripted model server (`scripted_llm.ScriptedLLM`) and at Podium, a bounded run of the CLI in its own
process group (killed whole on timeout, so no MCP or LSP child outlives the test), and the parsing of
OpenCode's ``--format json`` event lines.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from coding_agents import sealed_env
from scripted_llm import ScriptedLLM

PODIUM_BIN = Path(sys.executable).with_name("podium")
"""The venv's `podium` console script: what a user's client config names."""

AGENT_TIMEOUT = 150.0
"""Seconds one CLI run may take (OpenCode needs 5–10 s to boot on an idle machine; CI has two cores)."""

KILL_TIMEOUT = 10.0

PROVIDER = "scripted"

FAST_GATE = "[gate]\ndiagnostics = false\n"
"""A podium.toml whose gate checks syntax with tree-sitter only: no language server to start per submit."""

UNREACHABLE_REGISTRY = "http://127.0.0.1:9/"
"""OpenCode installs ``@opencode-ai/plugin`` into every config directory in the background with its built-in
npm client; pointed here, that install fails at once instead of reaching registry.npmjs.org."""


def agent_env(base: Path, project: Path | None = None, **extra: str) -> dict[str, str]:
    """`coding_agents.sealed_env` that also keeps OpenCode's background npm install off the network."""
    env = sealed_env(base, project)
    env["npm_config_registry"] = UNREACHABLE_REGISTRY
    env["OPENCODE_DISABLE_LSP_DOWNLOAD"] = "1"
    env.update(extra)
    return env


def provider_config(llm: ScriptedLLM) -> dict[str, Any]:
    """OpenCode configuration making the scripted server its only model (``model`` and ``small_model``)."""
    return {
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            PROVIDER: {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Scripted model",
                "options": {"baseURL": llm.openai_base_url, "apiKey": "test"},
                "models": {llm.model: {"name": "Scripted model", "tool_call": True}},
            }
        },
        "model": f"{PROVIDER}/{llm.model}",
        "small_model": f"{PROVIDER}/{llm.model}",
        "autoupdate": False,
        "share": "disabled",
    }


def install_for_opencode(project: Path, opencode: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """`podium install opencode --project`, as a user runs it; the ``opencode.json`` it wrote.

    The installer asks ``opencode --version`` which config shape to write, so it gets the sealed
    environment too. Only the model (`provider_config`) is left for the test to add.
    """
    done = subprocess.run(
        [
            str(PODIUM_BIN),
            "install",
            "opencode",
            "--project",
            "--root",
            str(project),
            "--opencode",
            str(opencode),
        ],
        cwd=project,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=AGENT_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"podium install opencode failed:\n{done.stdout}\n{done.stderr}"
    config: dict[str, Any] = json.loads((project / "opencode.json").read_text())
    assert config["mcp"]["podium"]["command"][-1] == "mcp", config["mcp"]
    assert ".py" in config["lsp"]["podium"]["extensions"], config["lsp"]
    return config


def claude_mcp_config() -> dict[str, Any]:
    return {"mcpServers": {"podium": {"type": "stdio", "command": str(PODIUM_BIN), "args": ["mcp"]}}}


@dataclass(frozen=True, slots=True)
class Finished:
    """A CLI run that ended: its exit status and output."""

    argv: Sequence[str]
    returncode: int
    stdout: str
    stderr: str

    def explain(self) -> str:
        command = " ".join(self.argv)
        stderr = self.stderr[-4000:]
        return f"$ {command}\nexit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{stderr}"


def run_agent(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float = AGENT_TIMEOUT
) -> Finished:
    """Run a CLI in a new session; on timeout the whole process group (MCP and LSP children too) is killed
    and the test fails with what it printed so far."""
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        stdout, stderr = process.communicate(timeout=KILL_TIMEOUT)
        finished = Finished(argv, process.returncode, stdout, stderr)
        raise AssertionError(f"{argv[0]} did not finish within {timeout} s\n{finished.explain()}") from None
    finally:
        _kill_group(process)
    return Finished(argv, process.returncode, stdout, stderr)


def _kill_group(process: subprocess.Popen[str]) -> None:
    """Kill what is left of the CLI's process group (its MCP/LSP servers may outlive a crashed CLI)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    except PermissionError:
        return


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL stream (OpenCode ``--format json``, Claude ``stream-json``)."""
    events: list[dict[str, Any]] = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            value: object = json.loads(line)
            if isinstance(value, dict):
                events.append(cast(dict[str, Any], value))
    return events


def opencode_tool_uses(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``part`` of each ``tool_use`` event: ``tool``, ``state.status``/``input``/``output``."""
    return [cast(dict[str, Any], event["part"]) for event in events if event.get("type") == "tool_use"]
