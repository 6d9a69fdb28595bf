"""The OpenCode commands and agents Podium ships: the copies in clients/opencode/ match the packaged ones,
and every Podium tool and argument the prompts name exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from podium.server.install.definitions import ASSET_FILES, agent, asset_text, command
from podium.server.models import TaskInput
from podium.server.tooldocs import scratch_registry

CLIENT_DIR = Path(__file__).resolve().parents[2] / "clients" / "opencode"

# The arguments each prompt tells the model to pass, per tool: they must be the tool's real fields.
ARGUMENTS = {
    "mission_start": {"goal"},
    "roadmap_add": {"mission_id", "tasks"},
    "task_claim": {"mission_id", "worker"},
    "task_heartbeat": {"task_id", "worker"},
    "task_submit": {"task_id", "worker", "edits"},
    "task_release": {"task_id", "worker", "status", "reason"},
    "task_review": {"task_id", "reviewer", "approve", "comments"},
    "mission_status": {"mission_id"},
    "mission_finish": {"mission_id", "apply"},
    "mission_run": {"mission_id"},
    "mission_wait": {"mission_id", "timeout_s"},
}
TASK_FIELDS = {"key", "title", "description", "files", "depends_on", "size", "review"}


@pytest.mark.parametrize("relative", ASSET_FILES)
def test_the_copy_in_clients_opencode_is_identical_to_the_packaged_file(relative: str) -> None:
    assert (CLIENT_DIR / relative).read_text(encoding="utf-8") == asset_text(relative), (
        f"clients/opencode/{relative} differs: copy server/podium/server/install/assets/{relative} over it"
    )


def test_clients_opencode_holds_no_stray_definition() -> None:
    shipped = {p.relative_to(CLIENT_DIR).as_posix() for p in CLIENT_DIR.rglob("*/*.md")}

    assert shipped == set(ASSET_FILES)


def test_every_tool_and_argument_the_prompts_name_exists() -> None:
    texts = [asset_text(relative) for relative in ASSET_FILES]
    named = {name for text in texts for name in re.findall(r"`podium_([a-z_]+)`", text)}

    with scratch_registry() as registry:
        assert named <= set(registry.names), named - set(registry.names)
        for tool, arguments in ARGUMENTS.items():
            fields = set(registry[tool].input_model.model_fields)
            assert arguments <= fields, (tool, arguments - fields)
    assert named == set(ARGUMENTS)
    assert set(TaskInput.model_fields) >= TASK_FIELDS
    planner = agent("podium-planner")["prompt"]
    assert all(f"`{field}`" in planner for field in TASK_FIELDS)


def test_the_worker_is_told_to_claim_submit_and_fix_the_verdicts_findings() -> None:
    prompt = agent("podium-worker")["prompt"]

    for phrase in ("podium_task_claim", "podium_task_submit", "worktree", "findings_new", "rejected"):
        assert f"`{phrase}`" in prompt
    assert agent("podium-worker")["mode"] == "subagent"
    assert agent("podium-planner")["permission"] == {"edit": "deny"}


def test_the_two_task_modes_start_the_mission_differently() -> None:
    client = command("task", "client")["template"]
    server = command("task", "server")["template"]

    assert "$ARGUMENTS" in client and "$ARGUMENTS" in server
    assert "`podium-worker`" in client and "`podium_mission_run`" not in client
    assert "`podium_mission_run`" in server and "`podium_mission_wait`" in server
    assert command("status", "client") == command("status", "server")
