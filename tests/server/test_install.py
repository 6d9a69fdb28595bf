"""`podium install` / `uninstall` as functions: what lands in each client's config, and the safety rules."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from install_sandbox import Sandbox, make_sandbox

from podium.server.install import jsonc
from podium.server.install.clientconfig import OpenCodeInstall, podium_command
from podium.server.install.definitions import agent, command
from podium.server.install.editplan import ConfigCollision, InstallError, MalformedConfig, ManualEditRequired
from podium.server.install.filewrite import KEEP_BACKUPS, backup, backups_of
from podium.server.install.installer import choose_shape, install, uninstall
from podium.verification.errors import InputError

USER_JSONC = """\
// my OpenCode settings
{
  "$schema": "https://opencode.ai/config.json",
  /* the model I like */
  "model": "anthropic/claude-sonnet-4-5",
  "mcp": {
    "github": {"type": "remote", "url": "https://example.invalid/mcp", "enabled": true}, // work
  },
}
"""


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path)


def config_of(path: Path) -> dict[str, Any]:
    doc = jsonc.parse(path.read_text(encoding="utf-8"))
    assert doc.root is not None
    return doc.root.python


def test_install_creates_opencode_json_with_the_server_lsp_commands_and_agents(box: Sandbox) -> None:
    outcome = install(box.options(), box.env)

    podium = podium_command()
    config = config_of(box.root / "opencode.json")
    assert outcome.written and outcome.backup is None
    assert config["$schema"] == "https://opencode.ai/config.json"
    assert config["mcp"]["podium"] == {"type": "local", "command": [*podium, "mcp"], "enabled": True}
    assert config["lsp"]["podium"]["command"] == [*podium, "lsp"]
    assert {".py", ".ts", ".tsx", ".js", ".jsx", ".go", ".rs"} <= set(config["lsp"]["podium"]["extensions"])
    assert config["command"]["task"] == command("task", "client")
    assert "$ARGUMENTS" in config["command"]["task"]["template"]
    assert set(config["command"]) == {"task", "status"}
    assert set(config["agent"]) == {"podium-planner", "podium-worker", "podium-reviewer"}
    assert config["agent"]["podium-worker"]["mode"] == "subagent"
    assert "podium_task_submit" in config["agent"]["podium-worker"]["prompt"]


def test_installing_twice_changes_nothing(box: Sandbox) -> None:
    (box.root / "opencode.jsonc").write_text(USER_JSONC)
    install(box.options(), box.env)
    after_first = box.files()

    again = install(box.options(), box.env)

    assert not again.written and not again.plan.changed
    assert {change.action for change in again.plan.changes} == {"keep"}
    assert box.files() == after_first


def test_uninstall_gives_back_the_original_file_byte_for_byte(box: Sandbox) -> None:
    original = USER_JSONC.replace("\n", "\r\n").encode()
    path = box.root / "opencode.jsonc"
    path.write_bytes(original)
    install(box.options(), box.env)
    assert path.read_bytes() != original

    outcome = uninstall(box.options(), box.env)

    assert outcome.written
    assert path.read_bytes() == original


def test_uninstall_deletes_a_file_podium_created(box: Sandbox) -> None:
    install(box.options(), box.env)

    uninstall(box.options(), box.env)

    assert not (box.root / "opencode.json").exists()
    assert not (box.root / "opencode.jsonc").exists()


def test_comments_and_trailing_commas_of_a_jsonc_file_are_kept(box: Sandbox) -> None:
    path = box.root / "opencode.jsonc"
    path.write_text(USER_JSONC)

    install(box.options(), box.env)

    text = path.read_text()
    for kept in ("// my OpenCode settings", "/* the model I like */", "// work", '"model": "anthropic'):
        assert kept in text
    assert text.startswith(USER_JSONC.split('"mcp"')[0])
    config = config_of(path)
    assert config["mcp"]["github"]["url"] == "https://example.invalid/mcp"
    assert config["mcp"]["podium"]["enabled"] is True
    assert not (box.root / "opencode.json").exists()


@pytest.mark.parametrize(
    ("user_value", "key"),
    [
        ({"type": "local", "command": ["my-podium", "mcp"], "enabled": True}, "mcp.podium"),
        ({"template": "my own task command"}, "command.task"),
    ],
)
def test_a_key_the_user_wrote_is_refused_and_nothing_is_written(
    box: Sandbox, user_value: dict[str, Any], key: str
) -> None:
    first, second = key.split(".")
    (box.root / "opencode.json").write_text(json.dumps({first: {second: user_value}}, indent=2))
    before = box.files()

    with pytest.raises(ConfigCollision) as caught:
        install(box.options(), box.env)

    assert f"'{key}' exists with other content" in caught.value.message
    assert box.files() == before


def test_a_container_of_another_type_is_a_collision(box: Sandbox) -> None:
    (box.root / "opencode.json").write_text('{"lsp": false}')

    with pytest.raises(ConfigCollision, match="'lsp' exists and is not an object"):
        install(box.options(), box.env)


def test_a_malformed_config_is_refused_and_left_untouched(box: Sandbox) -> None:
    (box.root / "opencode.json").write_text('{\n  "model": "x"\n  "mcp": {}\n}\n')
    before = box.files()

    with pytest.raises(MalformedConfig) as caught:
        install(box.options(), box.env)

    assert "opencode.json: line 3, column 3: expected ',' or '}'" in caught.value.message
    assert "left untouched" in caught.value.message
    assert box.files() == before


def test_a_key_that_appears_twice_is_refused_with_what_to_add_by_hand(box: Sandbox) -> None:
    (box.root / "opencode.json").write_text('{"mcp": {}, "mcp": {}}')
    before = box.files()

    with pytest.raises(ManualEditRequired) as caught:
        install(box.options(), box.env)

    assert "'mcp' appears 2 times" in caught.value.message
    assert '"mcp.podium": {' in caught.value.message
    assert box.files() == before


def test_an_entry_podium_wrote_and_the_user_changed_is_not_overwritten(box: Sandbox) -> None:
    install(box.options(), box.env)
    path = box.root / "opencode.json"
    path.write_text(path.read_text().replace('"enabled": true', '"enabled": false'))
    before = box.files()

    with pytest.raises(ConfigCollision, match="'mcp.podium' was changed since Podium wrote it"):
        install(box.options(task_mode="server"), box.env)

    assert box.files() == before


def test_an_update_inside_a_commented_entry_is_refused(box: Sandbox) -> None:
    install(box.options(podium=["/old/podium"]), box.env)
    path = box.root / "opencode.json"
    path.write_text(path.read_text().replace('"enabled": true', '"enabled": true // mine'))

    with pytest.raises(ManualEditRequired, match="'mcp.podium' has comments inside it"):
        install(box.options(), box.env)


def test_dry_run_writes_nothing_and_shows_the_diff(box: Sandbox) -> None:
    before = box.files()

    outcome = install(box.options(dry_run=True), box.env)

    assert not outcome.written
    assert box.files() == before
    assert not (box.root / ".podium").exists()
    diff = outcome.plan.diff()
    assert diff.startswith(f"--- /dev/null\n+++ {box.root / 'opencode.json'}\n")
    assert '+  "mcp": {' in diff


def test_backups_keep_the_newest_five(box: Sandbox) -> None:
    path = box.root / "opencode.json"
    path.write_text("{}\n")
    versions: list[bytes] = []
    for round_ in range(7):
        versions.append(path.read_bytes())
        install(box.options(task_mode="server" if round_ % 2 else "client"), box.env)

    backups = backups_of(box.root / ".podium" / "backups", "opencode.json")
    assert len(backups) == KEEP_BACKUPS
    assert [b.read_bytes() for b in backups] == versions[-KEEP_BACKUPS:]


def test_a_failed_read_back_rolls_the_change_back(box: Sandbox) -> None:
    path = box.root / "opencode.jsonc"
    path.write_text(USER_JSONC)
    os.chmod(path, 0o640)
    manifest = box.root / ".podium" / "install.json"

    with pytest.raises(InstallError, match="does not read back as written; rolled back"):
        install(box.options(), box.env, read_back=lambda _: b'{"not": "what was written"}')

    assert path.read_text() == USER_JSONC
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert not manifest.exists()
    assert [p.name for p in box.root.iterdir() if p.name.startswith(".opencode")] == []


def test_a_failed_read_back_of_a_new_file_removes_it_and_its_directory(box: Sandbox) -> None:
    with pytest.raises(InstallError, match="rolled back"):
        install(box.options("vscode"), box.env, read_back=lambda _: None)

    assert not (box.root / ".vscode").exists()


@pytest.mark.parametrize(
    ("found", "existing", "shape"),
    [
        (OpenCodeInstall(Path("/usr/bin/opencode"), "1.18.33", "PATH"), {"mcp": {"servers": {}}}, "v1"),
        (OpenCodeInstall(Path("/usr/bin/opencode"), "2.0.4", "PATH"), None, "v2"),
        (OpenCodeInstall(None, None, "PATH"), {"mcp": {"servers": {"x": {"type": "local"}}}}, "v2"),
        (OpenCodeInstall(None, None, "PATH"), {"mcp": {"x": {"type": "local", "enabled": True}}}, "v1"),
        (OpenCodeInstall(None, None, "PATH"), {"agents": {}}, "v2"),
        (OpenCodeInstall(None, None, "PATH"), None, "v1"),
    ],
)
def test_the_shape_follows_the_installed_opencode_then_the_file(
    found: OpenCodeInstall, existing: Any, shape: str
) -> None:
    chosen, why = choose_shape(None, found, existing)

    assert chosen == shape
    expected_reason = f"OpenCode {found.version} at" if found.version else "no OpenCode found (PATH"
    assert expected_reason in why


def test_backups_within_one_second_count_on_and_only_the_newest_five_stay(tmp_path: Path) -> None:
    source = tmp_path / "opencode.json"
    source.write_text("{}")
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    made = [backup(tmp_path / "backups", source, f"v{n}".encode(), now=moment) for n in range(7)]

    kept = backups_of(tmp_path / "backups", "opencode.json")
    assert [p.name for p in made[:2]] == [
        "opencode.json.20260102T030405Z.bak",
        "opencode.json.20260102T030405Z-1.bak",
    ]
    assert kept == made[2:]
    assert [p.read_bytes() for p in kept] == [b"v2", b"v3", b"v4", b"v5", b"v6"]


def test_the_v2_shape_nests_the_server_and_uses_plural_keys(box: Sandbox) -> None:
    install(box.options(shape="v2"), box.env)

    config = config_of(box.root / "opencode.json")
    assert config["mcp"] == {
        "servers": {"podium": {"type": "local", "command": [*podium_command(), "mcp"], "disabled": False}}
    }
    assert set(config["commands"]) == {"task", "status"}
    assert config["agents"]["podium-planner"] == agent("podium-planner")
    assert "command" not in config and "agent" not in config


def test_switching_shape_moves_podiums_entries_and_uninstall_still_restores(box: Sandbox) -> None:
    path = box.root / "opencode.jsonc"
    path.write_text(USER_JSONC)
    install(box.options(shape="v1"), box.env)

    outcome = install(box.options(shape="v2"), box.env)

    config = config_of(path)
    removed = {".".join(c.path) for c in outcome.plan.changes if c.action == "remove"}
    assert removed == {
        "mcp.podium",
        "command.task",
        "command.status",
        *(f"agent.podium-{r}" for r in ("planner", "worker", "reviewer")),
    }
    assert set(config["mcp"]) == {"github", "servers"}
    uninstall(box.options(), box.env)
    assert path.read_text() == USER_JSONC


def test_claude_project_scope_writes_what_claude_mcp_add_writes(box: Sandbox) -> None:
    install(box.options("claude"), box.env)

    podium = podium_command()
    assert config_of(box.root / ".mcp.json") == {
        "mcpServers": {
            "podium": {"type": "stdio", "command": podium[0], "args": [*podium[1:], "mcp"], "env": {}}
        }
    }


def test_claude_user_scope_edits_claude_json_keeping_its_keys_and_mode(box: Sandbox) -> None:
    path = box.home / ".claude.json"
    original = b'{\n  "numStartups": 3,\n  "userID": "abc",\n  "projects": {}\n}'
    path.write_bytes(original)
    os.chmod(path, 0o600)

    install(box.options("claude", scope="global"), box.env)

    config = config_of(path)
    assert config["numStartups"] == 3 and config["userID"] == "abc"
    assert config["mcpServers"]["podium"]["args"][-1] == "mcp"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (box.state / "install.json").exists()
    assert stat.S_IMODE((box.state / "install.json").stat().st_mode) == 0o600
    assert len(backups_of(box.state / "backups", ".claude.json")) == 1
    assert not (box.root / ".podium").exists()
    uninstall(box.options("claude", scope="global"), box.env)
    assert path.read_bytes() == original


def test_vscode_gets_dot_vscode_mcp_json_and_only_at_project_scope(box: Sandbox) -> None:
    install(box.options("vscode"), box.env)

    podium = podium_command()
    assert config_of(box.root / ".vscode" / "mcp.json")["servers"]["podium"] == {
        "type": "stdio",
        "command": podium[0],
        "args": [*podium[1:], "mcp", "--root", "${workspaceFolder}"],
    }
    uninstall(box.options("vscode"), box.env)
    assert not (box.root / ".vscode").exists()
    with pytest.raises(InputError, match="only --project"):
        install(box.options("vscode", scope="global"), box.env)


def test_uninstall_after_the_user_edited_the_file_removes_only_podiums_keys(box: Sandbox) -> None:
    path = box.root / "opencode.jsonc"
    path.write_text(USER_JSONC)
    install(box.options(), box.env)
    path.write_text(
        path.read_text().replace('"model": "anthropic/claude-sonnet-4-5"', '"model": "openai/gpt-5"')
    )

    outcome = uninstall(box.options(), box.env)

    assert outcome.written
    assert path.read_text() == USER_JSONC.replace("anthropic/claude-sonnet-4-5", "openai/gpt-5")


def test_uninstall_leaves_an_entry_the_user_changed(box: Sandbox) -> None:
    install(box.options(), box.env)
    path = box.root / "opencode.json"
    config = config_of(path)
    path.write_text(path.read_text().replace('"enabled": true', '"enabled": false'))

    outcome = uninstall(box.options(), box.env)

    left = config_of(path)
    assert left["mcp"]["podium"] == {**config["mcp"]["podium"], "enabled": False}
    assert "lsp" not in left and "command" not in left and "agent" not in left
    assert "left mcp.podium: not as Podium wrote it" in outcome.notes


def test_an_entry_podium_wrote_for_an_older_podium_is_updated(box: Sandbox) -> None:
    install(box.options(podium=["/old/venv/bin/podium"]), box.env)

    outcome = install(box.options(), box.env)

    actions = {".".join(c.path): c.action for c in outcome.plan.changes}
    assert actions["mcp.podium"] == "update" and actions["lsp.podium"] == "update"
    assert actions["command.task"] == "keep"
    assert config_of(box.root / "opencode.json")["mcp"]["podium"]["command"] == [*podium_command(), "mcp"]


def test_a_symlinked_config_is_edited_through_the_link(box: Sandbox) -> None:
    dotfiles = box.home / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "opencode.json").write_text("{}\n")
    (box.root / "opencode.json").symlink_to(dotfiles / "opencode.json")

    install(box.options(), box.env)

    assert (box.root / "opencode.json").is_symlink()
    assert "podium" in config_of(dotfiles / "opencode.json")["mcp"]
    uninstall(box.options(), box.env)
    assert (dotfiles / "opencode.json").read_text() == "{}\n"


def test_opencode_global_scope_edits_the_user_config_dir_and_keeps_state_there(box: Sandbox) -> None:
    config_dir = box.config / "opencode"
    config_dir.mkdir()
    (config_dir / "opencode.jsonc").write_text('{\n  "$schema": "https://opencode.ai/config.json"\n}')

    install(box.options(scope="global"), box.env)

    assert config_of(config_dir / "opencode.jsonc")["mcp"]["podium"]["enabled"] is True
    assert not (config_dir / "opencode.json").exists()
    assert str(config_dir / "opencode.jsonc") in json.loads((box.state / "install.json").read_text())["files"]
    assert not (box.root / ".podium").exists() and not (box.root / "opencode.json").exists()
