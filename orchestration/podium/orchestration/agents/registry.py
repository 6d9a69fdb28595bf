"""Building a backend from its kind's name and its settings: the one place that knows every kind."""

from __future__ import annotations

from podium.orchestration.agents.base import AgentBackend
from podium.orchestration.agents.command import CommandBackend, CommandSettings
from podium.orchestration.agents.openai import OpenAIBackend, OpenAISettings
from podium.orchestration.agents.opencode_server import OpenCodeServerBackend, OpenCodeServerSettings
from podium.orchestration.agents.scripted import ScriptedBackend, ScriptedSettings
from podium.orchestration.agents.worker_tools import WorktreeVerifier, syntax_verifier
from podium.verification.errors import ConfigError

__all__ = ["BACKEND_KINDS", "BackendSettings", "backend_by_name"]

BACKEND_KINDS: tuple[str, ...] = ("scripted", "command", "openai", "opencode-server")
"""The backend kinds Podium ships, as named in `podium.toml` and `--backend`."""

BackendSettings = ScriptedSettings | CommandSettings | OpenAISettings | OpenCodeServerSettings

_SETTINGS: dict[str, type[BackendSettings]] = {
    "scripted": ScriptedSettings,
    "command": CommandSettings,
    "openai": OpenAISettings,
    "opencode-server": OpenCodeServerSettings,
}


def backend_by_name(
    name: str, settings: BackendSettings | None = None, *, verifier: WorktreeVerifier = syntax_verifier
) -> AgentBackend:
    """The backend of kind ``name`` built from ``settings`` (that kind's defaults when None).

    ``verifier`` is the `verify` tool of model-driven workers (the mission's gate, ideally).

    Raises:
        ConfigError: an unknown kind, settings of another kind, or settings the backend refuses (a command
            backend without `argv`, an unreadable script, no `opencode` to start …).
    """
    expected = _SETTINGS.get(name)
    if expected is None:
        raise ConfigError(f"unknown backend {name!r}; the backends are {', '.join(BACKEND_KINDS)}")
    if settings is not None and not isinstance(settings, expected):
        raise ConfigError(f"backend {name!r} needs {expected.__name__}, not {type(settings).__name__}")
    match settings:
        case ScriptedSettings():
            return ScriptedBackend.from_settings(settings)
        case CommandSettings():
            return CommandBackend(settings)
        case OpenAISettings():
            return OpenAIBackend(settings, verifier=verifier)
        case OpenCodeServerSettings():
            return OpenCodeServerBackend(settings)
        case None:
            return backend_by_name(name, expected(), verifier=verifier)
