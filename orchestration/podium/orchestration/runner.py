"""Putting a Commander together from `podium.toml` and the flags of `podium run` (or `mission_run`).

The one place that turns the `[agents]`, `[commander]` and `[hooks]` sections into the frozen settings the
Commander and the backends take. A flag overrides the file: `--backend` picks the workers' backend (and the
planner's and reviewer's unless the file names theirs), `--workers` the worker cap.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import anyio.to_thread

from podium.orchestration.agents.base import AgentBackend
from podium.orchestration.agents.command import CommandSettings
from podium.orchestration.agents.openai import OpenAISettings
from podium.orchestration.agents.opencode_server import OpenCodeServerSettings
from podium.orchestration.agents.registry import BACKEND_KINDS, BackendSettings, backend_by_name
from podium.orchestration.agents.scripted import ScriptedSettings
from podium.orchestration.agents.worker_tools import WorktreeVerifier
from podium.orchestration.commander import Commander, CommanderSettings, RoleBackends
from podium.orchestration.config import AgentsConfig, CommanderConfig, PodiumConfig
from podium.orchestration.hooks import build_hooks, redact_secrets
from podium.orchestration.missions import Missions
from podium.orchestration.model import Mission, MissionState
from podium.orchestration.project import STATE_DIRNAME
from podium.orchestration.resilience import MemorySettings
from podium.orchestration.runreport import ProgressCallback
from podium.orchestration.scheduling import SchedulingSettings
from podium.orchestration.verify import verify_uncommitted
from podium.verification.errors import ConfigError, InputError
from podium.verification.verdict import Verdict

__all__ = [
    "LOG_DIRNAME",
    "build_backends",
    "build_commander",
    "commander_settings",
    "log_dir",
    "resumable_mission",
]

LOG_DIRNAME = "logs"
"""Task logs go to `<root>/.podium/logs/<mission>/<task>.log`."""

_MB = 1024 * 1024


def log_dir(root: Path) -> Path:
    """Where the task logs of the project at ``root`` go."""
    return root / STATE_DIRNAME / LOG_DIRNAME


def build_commander(
    missions: Missions,
    config: PodiumConfig,
    *,
    backend: str | None = None,
    workers: int | None = None,
    on_event: ProgressCallback | None = None,
) -> Commander:
    """A Commander for ``missions`` with the backends, caps and hooks of ``config`` and the flags.

    Args:
        missions: the mission service of the project.
        config: the validated `podium.toml`.
        backend: the workers' backend kind (`--backend`); None keeps `[agents] worker`.
        workers: the worker cap (`--workers`); None keeps `[commander] workers`.
        on_event: the progress callback (the live view, `mission_wait`).

    Raises:
        ConfigError: an unknown backend, a worker count below 1, or backend settings it refuses.
    """
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}")
    if backend is not None and backend not in BACKEND_KINDS:
        raise ConfigError(f"unknown backend {backend!r}; the backends are {', '.join(BACKEND_KINDS)}")
    return Commander(
        missions,
        build_backends(missions, config, backend=backend),
        commander_settings(config.commander, workers=workers),
        hooks=build_hooks(config.hooks.settings(cwd=missions.root)),
        on_event=on_event,
    )


def commander_settings(section: CommanderConfig, *, workers: int | None = None) -> CommanderSettings:
    """The Commander's settings from `[commander]`, the worker cap overridden by ``workers``."""
    budget = section.memory_budget_mb * _MB if section.memory_budget_mb is not None else None
    return CommanderSettings(
        max_attempts=section.max_attempts,
        max_split_depth=section.max_split_depth,
        review=section.review,
        stagnation_rounds=section.stagnation_rounds,
        max_rounds=section.max_rounds,
        time_limit_s=section.time_limit_s,
        shutdown_grace_s=section.shutdown_grace_s,
        scheduling=SchedulingSettings(
            planner=section.planners,
            worker=workers if workers is not None else section.workers,
            reviewer=section.reviewers,
            backend_caps=dict(section.backend_caps),
        ),
        memory=MemorySettings(budget_bytes=budget, low_priority_max=section.low_priority_max),
    )


def build_backends(missions: Missions, config: PodiumConfig, *, backend: str | None = None) -> RoleBackends:
    """One backend per kind in use, shared by the roles that use it (a script's cursors stay whole)."""
    agents = config.agents
    worker_kind = backend or agents.worker
    kinds = {
        "worker": worker_kind,
        "planner": agents.planner or worker_kind,
        "reviewer": agents.reviewer or worker_kind,
    }
    built: dict[str, AgentBackend] = {}
    for kind in dict.fromkeys(kinds.values()):
        settings = _backend_settings(kind, agents, missions.root, redact=config.hooks.redact_secrets)
        built[kind] = backend_by_name(kind, settings, verifier=_gate_verifier(missions))
    return RoleBackends(
        worker=built[kinds["worker"]], planner=built[kinds["planner"]], reviewer=built[kinds["reviewer"]]
    )


def _backend_settings(kind: str, agents: AgentsConfig, root: Path, *, redact: bool) -> BackendSettings:
    match kind:
        case "scripted":
            section = agents.scripted
            script = _project_path(root, section.script) if section.script is not None else None
            return ScriptedSettings(script=script, time_scale=section.time_scale)
        case "command":
            command = agents.command
            if not command.argv:
                raise ConfigError(
                    "[agents.command] argv is empty; give the agent's command line, "
                    'e.g. argv = ["opencode", "run", "{prompt}"]'
                )
            settings = CommandSettings(
                argv=tuple(command.argv),
                plan_argv=tuple(command.plan_argv),
                review_argv=tuple(command.review_argv),
                log_dir=log_dir(root),
                log_filter=redact_secrets if redact else None,
            )
            if command.timeout_s is not None:
                settings = replace(settings, timeout_s=command.timeout_s)
            return settings
        case "openai":
            given = agents.openai.model_dump(exclude_none=True)
            return OpenAISettings(**given)
        case "opencode-server":
            return _opencode_settings(agents, root, redact=redact)
        case _:
            raise ConfigError(f"unknown backend {kind!r}; the backends are {', '.join(BACKEND_KINDS)}")


def _opencode_settings(agents: AgentsConfig, root: Path, *, redact: bool) -> OpenCodeServerSettings:
    section = agents.opencode
    given = section.model_dump(exclude_none=True, exclude={"binary", "extra_env"})
    settings = OpenCodeServerSettings(
        **given,
        cwd=root,
        env=tuple(section.extra_env.items()),
        log_dir=log_dir(root),
        log_filter=redact_secrets if redact else None,
    )
    if section.binary is not None:
        # a bare name is looked up on PATH; a path is relative to the project
        binary = Path(section.binary)
        settings = replace(
            settings, binary=binary if len(binary.parts) == 1 else _project_path(root, section.binary)
        )
    return settings


def _project_path(root: Path, path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else root / candidate


def _gate_verifier(missions: Missions) -> WorktreeVerifier:
    """The `verify` tool of model-driven workers: the mission's gate, so `verify` agrees with the merge."""

    async def verify(worktree: Path) -> Verdict:
        return await anyio.to_thread.run_sync(verify_uncommitted, worktree, missions.config, missions.gate)

    return verify


def resumable_mission(missions: Missions, mission_id: str | None = None) -> Mission:
    """The mission `podium run --resume [MISSION]` continues: the one named, else the newest active one.

    Raises:
        InputError: there is no active mission, or the one named is not active.
        NotFoundError: no mission has that id.
    """
    if mission_id is not None:
        mission = missions.store.get_mission(mission_id)
        if mission.state is not MissionState.ACTIVE:
            raise InputError(f"mission {mission_id} is {mission.state.value}; there is nothing to resume")
        return mission
    active = missions.store.list_missions(MissionState.ACTIVE)
    if not active:
        raise InputError('no active mission to resume; start one with `podium run "goal"`')
    return active[-1]
