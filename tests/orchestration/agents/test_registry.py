"""Building backends by kind name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from podium.orchestration.agents.base import AgentBackend
from podium.orchestration.agents.command import CommandBackend, CommandSettings
from podium.orchestration.agents.openai import OpenAIBackend, OpenAISettings
from podium.orchestration.agents.opencode_server import OpenCodeServerBackend, OpenCodeServerSettings
from podium.orchestration.agents.registry import BACKEND_KINDS, backend_by_name
from podium.orchestration.agents.scripted import ScriptedBackend, ScriptedSettings
from podium.verification.errors import ConfigError

FIXTURES = Path(__file__).parents[2] / "fixtures" / "agents"


def test_each_kind_builds_its_backend_under_the_configured_name() -> None:
    scripted = backend_by_name("scripted", ScriptedSettings(script=FIXTURES / "mission.yaml", name="demo"))
    command = backend_by_name("command", CommandSettings(argv=(sys.executable, "{prompt}"), name="claude"))
    openai = backend_by_name("openai", OpenAISettings(base_url="http://127.0.0.1:1/v1"))
    opencode = backend_by_name("opencode-server", OpenCodeServerSettings(url="http://127.0.0.1:1"))

    assert isinstance(scripted, ScriptedBackend) and scripted.name == "demo"
    assert isinstance(command, CommandBackend) and command.name == "claude"
    assert isinstance(openai, OpenAIBackend) and openai.name == "openai"
    assert isinstance(opencode, OpenCodeServerBackend) and opencode.name == "opencode-server"
    assert all(isinstance(b, AgentBackend) for b in (scripted, command, openai, opencode))
    assert BACKEND_KINDS == ("scripted", "command", "openai", "opencode-server")


def test_kinds_without_settings_use_their_defaults() -> None:
    assert isinstance(backend_by_name("scripted"), ScriptedBackend)
    assert isinstance(backend_by_name("openai"), OpenAIBackend)


@pytest.mark.parametrize(
    ("name", "settings", "message"),
    [
        (
            "opencode",
            None,
            "unknown backend 'opencode'; the backends are scripted, command, openai, opencode-server",
        ),
        ("command", None, "`argv` is empty"),
        ("command", ScriptedSettings(), "needs CommandSettings, not ScriptedSettings"),
        ("scripted", ScriptedSettings(script=Path("/nonexistent/script.yaml")), "cannot read"),
        ("openai", OpenAISettings(base_url="ftp://x"), "must be an http"),
        ("openai", OpenAISettings(max_turns=0), "max_turns"),
    ],
)
def test_unusable_backends_are_config_errors(
    name: str, settings: ScriptedSettings | OpenAISettings | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        backend_by_name(name, settings)
