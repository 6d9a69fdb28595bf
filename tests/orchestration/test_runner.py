"""`runner`: the `[agents]`, `[commander]` and `[hooks]` sections, and the Commander built from them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from podium.orchestration.commander import CommanderSettings
from podium.orchestration.config import DEFAULT_CONFIG, parse_config
from podium.orchestration.missions import Missions
from podium.orchestration.runner import (
    build_commander,
    commander_settings,
    log_dir,
    resumable_mission,
)
from podium.verification.errors import ConfigError, InputError

FAST = {"gate": {"diagnostics": False}}
SCRIPT = "plan: []\n"


@pytest.fixture
def root(make_repo: Callable[[Mapping[str, str]], Path]) -> Path:
    repo = make_repo({"app.py": "x = 1\n"})
    (repo / "script.yaml").write_text(SCRIPT)
    return repo


@pytest.fixture
def open_missions(root: Path) -> Iterator[Missions]:
    missions = Missions.open(root, parse_config(FAST))
    yield missions
    missions.close()


def test_default_commander_section_gives_the_commanders_own_defaults() -> None:
    assert commander_settings(DEFAULT_CONFIG.commander) == CommanderSettings()


def test_commander_section_sets_attempts_review_caps_and_memory() -> None:
    section = parse_config(
        {
            "commander": {
                "max_attempts": 5,
                "review": "always",
                "stagnation_rounds": 4,
                "workers": 3,
                "reviewers": 1,
                "backend_caps": {"openai": 2},
                "memory_budget_mb": 512,
            }
        }
    ).commander
    settings = commander_settings(section)
    assert (settings.max_attempts, settings.review, settings.stagnation_rounds) == (5, "always", 4)
    assert (settings.scheduling.worker, settings.scheduling.reviewer) == (3, 1)
    assert settings.scheduling.backend_cap("openai") == 2
    assert settings.memory.budget_bytes == 512 * 1024 * 1024


def test_workers_flag_overrides_the_configured_cap() -> None:
    section = parse_config({"commander": {"workers": 3}}).commander
    assert commander_settings(section, workers=12).scheduling.worker == 12


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"agents": {"wroker": "command"}}, "agents.wroker"),
        ({"agents": {"worker": "gpt"}}, "agents.worker"),
        ({"agents": {"command": {"argv": [""]}}}, "agents.command.argv"),
        ({"commander": {"review": "sometimes"}}, "commander.review"),
        ({"commander": {"backend_caps": {"openai": 0}}}, "commander.backend_caps"),
        ({"hooks": {"scope_policy": "shout"}}, "hooks.scope_policy"),
        ({"hooks": {"commands": [{"name": "h", "argv": ["x"], "events": ["never"]}]}}, "hooks.commands.0"),
    ],
)
def test_bad_run_settings_are_config_errors_naming_the_key(raw: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        parse_config(raw)


def test_a_hook_dependency_cycle_is_a_config_error_naming_the_cycle() -> None:
    commands = [
        {"name": "a", "argv": ["true"], "events": ["after_merge"], "depends_on": ["b"]},
        {"name": "b", "argv": ["true"], "events": ["after_merge"], "depends_on": ["a"]},
    ]
    with pytest.raises(ConfigError, match="a → b → a"):
        parse_config({"hooks": {"commands": commands}})


def test_backend_flag_replaces_the_worker_planner_and_reviewer_unless_configured(
    open_missions: Missions,
) -> None:
    cfg = parse_config(
        {**FAST, "agents": {"reviewer": "scripted", "command": {"argv": ["agent", "{prompt}"]}}}
    )
    commander = build_commander(open_missions, cfg, backend="command")
    backends = commander.backends
    assert backends.for_role("worker").name == "command"
    assert backends.for_role("planner").name == "command"
    assert backends.for_role("reviewer").name == "scripted"


def test_roles_of_one_backend_share_one_instance(open_missions: Missions) -> None:
    cfg = parse_config({**FAST, "agents": {"scripted": {"script": "script.yaml"}}})
    backends = build_commander(open_missions, cfg).backends
    assert backends.for_role("planner") is backends.for_role("worker") is backends.for_role("reviewer")


def test_command_backend_without_argv_is_a_config_error(open_missions: Missions) -> None:
    with pytest.raises(ConfigError, match=r"\[agents.command\] argv"):
        build_commander(open_missions, parse_config(FAST), backend="command")


def test_unknown_backend_and_zero_workers_are_config_errors(open_missions: Missions) -> None:
    with pytest.raises(ConfigError, match="unknown backend 'nope'"):
        build_commander(open_missions, parse_config(FAST), backend="nope")
    with pytest.raises(ConfigError, match="--workers"):
        build_commander(open_missions, parse_config(FAST), workers=0)


def test_configured_hooks_are_built_in_order(open_missions: Missions) -> None:
    cfg = parse_config(
        {
            **FAST,
            "hooks": {
                "redact_secrets": False,
                "scope_policy": "off",
                "commands": [
                    {"name": "late", "argv": ["true"], "events": ["after_merge"], "phase": "late"},
                    {"name": "first", "argv": ["true"], "events": ["after_merge"], "priority": 9},
                ],
            },
        }
    )
    assert build_commander(open_missions, cfg).hooks.order == ("forbidden-paths", "first", "late")


def test_scripted_script_is_read_relative_to_the_project(open_missions: Missions, root: Path) -> None:
    (root / "script.yaml").write_text("plan: {bad: 1}\n")
    cfg = parse_config({**FAST, "agents": {"scripted": {"script": "script.yaml"}}})
    with pytest.raises(ConfigError):
        build_commander(open_missions, cfg)


def test_task_logs_go_under_the_state_directory(root: Path) -> None:
    assert log_dir(root) == root / ".podium" / "logs"


def test_resume_picks_the_newest_active_mission(open_missions: Missions) -> None:
    first = open_missions.start("first")
    second = open_missions.start("second")
    assert resumable_mission(open_missions).id == second.id
    assert resumable_mission(open_missions, first.id).id == first.id


def test_resume_refuses_a_finished_mission_and_an_empty_store(open_missions: Missions) -> None:
    with pytest.raises(InputError, match="no active mission"):
        resumable_mission(open_missions)
    mission = open_missions.start("done soon")
    open_missions.finish(mission.id, apply=False)
    with pytest.raises(InputError, match="nothing to resume"):
        resumable_mission(open_missions, mission.id)


def test_the_opencode_section_builds_the_opencode_server_backend(open_missions: Missions, root: Path) -> None:
    fake = root / "tools" / "opencode"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    cfg = parse_config({**FAST, "agents": {"opencode": {"binary": "tools/opencode", "model": "p/m"}}})
    backends = build_commander(open_missions, cfg, backend="opencode-server").backends
    assert backends.for_role("worker").name == "opencode-server"
    assert backends.for_role("reviewer") is backends.for_role("worker")

    missing = parse_config({**FAST, "agents": {"opencode": {"binary": "tools/none"}}})
    with pytest.raises(ConfigError, match=r"cannot find the OpenCode executable .*tools/none"):
        build_commander(open_missions, missing, backend="opencode-server")
    with pytest.raises(ConfigError, match=r"agents\.opencode\.model"):
        parse_config({"agents": {"opencode": {"model": "no-provider"}}})
