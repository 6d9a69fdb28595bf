"""The real coding-agent CLIs the end-to-end tests drive (OpenCode, Claude Code) and the sealed environment
they run in.

Both are pinned in ``tests/e2e/agent_clients/package-lock.json`` and installed by `make test`. A test that
needs one skips when it is missing, unless ``PODIUM_REQUIRE_E2E_TOOLS=1`` (set by `make test`) makes the
absence a failure. Every run gets its own HOME and XDG directories so no user config, auth file, cache or
plugin leaks in, and nothing tries to update itself.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

AGENT_BIN = Path(__file__).parent / "agent_clients" / "node_modules" / ".bin"
REQUIRE_ENV = "PODIUM_REQUIRE_E2E_TOOLS"


def agent_binary(name: str) -> Path:
    """The pinned CLI ``name`` (``opencode`` or ``claude``); skips (fails under `make test`) when absent."""
    path = AGENT_BIN / name
    if not path.exists():
        message = f"{path} is missing: run `make node-tools` (npm ci in tests/e2e/agent_clients)"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def opencode_binary() -> Path:
    return agent_binary("opencode")


def claude_binary() -> Path:
    return agent_binary("claude")


def sealed_env(base: Path, project: Path | None = None) -> dict[str, str]:
    """A full environment for an agent CLI: private HOME and XDG dirs under ``base``, no auto-update, no git
    config from the machine, and (OpenCode reads it instead of the working directory) PWD set to ``project``.
    """
    home = base / "agent-home"
    dirs = {
        "HOME": home,
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_STATE_HOME": home / ".local" / "state",
        "XDG_CACHE_HOME": home / ".cache",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENCODE", "ANTHROPIC"))}
    env.update({key: str(path) for key, path in dirs.items()})
    env.update(
        {
            "OPENCODE_DISABLE_AUTOUPDATE": "1",
            "OPENCODE_DISABLE_SHARE": "1",
            "OPENCODE_DISABLE_MODELS_FETCH": "1",
            "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
            # OpenCode npm-installs its plugin package into the config dir in the background; nothing of
            # a test may reach the internet, so the registry is a closed local port.
            "npm_config_registry": "http://127.0.0.1:9/",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if project is not None:
        env["PWD"] = str(project)
    return env
