"""`podium install` / `podium uninstall` as subprocesses: output, exit statuses, what they leave behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from install_sandbox import Sandbox, make_sandbox


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path)


def test_dry_run_prints_the_diff_and_writes_nothing(box: Sandbox) -> None:
    before = box.files()

    done = box.podium("install", "opencode", "--dry-run", "--shape", "v1")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"--- /dev/null\n+++ {box.root / 'opencode.json'}\n")
    assert '+    "podium": {' in done.stdout
    assert box.files() == before


def test_install_from_a_subdirectory_writes_at_the_git_top_level_and_twice_changes_nothing(
    box: Sandbox,
) -> None:
    sub = box.root / "src" / "pkg"
    sub.mkdir(parents=True)

    first = box.podium("install", "opencode", "--shape", "v1", cwd=sub)
    after_first = box.files()
    second = box.podium("install", "opencode", "--shape", "v1", cwd=sub)

    assert first.returncode == 0, first.stderr
    assert f"opencode: {box.root / 'opencode.json'}: updated" in first.stdout
    assert "  add mcp.podium\n" in first.stdout and "  add agent.podium-worker\n" in first.stdout
    assert second.returncode == 0, second.stderr
    assert second.stdout == f"opencode: {box.root / 'opencode.json'}: nothing to change\n"
    assert box.files() == after_first
    assert not (sub / "opencode.json").exists()


def test_uninstall_restores_the_original_bytes(box: Sandbox) -> None:
    path = box.root / "opencode.jsonc"
    original = b'// mine\n{\n  "model": "a/b", // keep\n}'
    path.write_bytes(original)

    installed = box.podium("install", "opencode", "--shape", "v1")
    removed = box.podium("uninstall", "opencode")

    assert installed.returncode == 0 and removed.returncode == 0, installed.stderr + removed.stderr
    assert "  remove mcp.podium\n" in removed.stdout
    assert "backup: " in removed.stdout
    assert path.read_bytes() == original


def test_a_malformed_config_exits_2_naming_the_line_and_is_left_untouched(box: Sandbox) -> None:
    (box.root / "opencode.json").write_text('{\n  "mcp": {\n    "x": [1,, 2]\n  }\n}\n')
    before = box.files()

    done = box.podium("install", "opencode", "--shape", "v1")

    assert done.returncode == 2
    assert f"{box.root / 'opencode.json'}: line 3, column 13: expected a value" in done.stderr
    assert done.stdout == ""
    assert box.files() == before


def test_a_colliding_user_key_exits_2_and_writes_nothing(box: Sandbox) -> None:
    (box.root / ".mcp.json").write_text(json.dumps({"mcpServers": {"podium": {"command": "elsewhere"}}}))
    before = box.files()

    done = box.podium("install", "claude")

    assert done.returncode == 2
    assert "'mcpServers.podium' exists with other content; Podium never overwrites" in done.stderr
    assert box.files() == before


def test_an_unknown_target_exits_2_with_the_list_of_targets(box: Sandbox) -> None:
    done = box.podium("install", "emacs")

    assert done.returncode == 2
    assert "unknown target 'emacs'; targets: opencode, claude, vscode" in done.stderr


def test_vscode_has_no_global_scope(box: Sandbox) -> None:
    done = box.podium("install", "vscode", "--global")

    assert done.returncode == 2
    assert "vscode: only --project is supported" in done.stderr


def test_without_opencode_the_shape_comes_from_the_file_and_stderr_says_why(box: Sandbox) -> None:
    (box.root / "opencode.json").write_text('{"mcp": {"servers": {"other": {"type": "local"}}}}')
    env_path = box.env["PATH"]
    box.env["PATH"] = (
        str(box.home / "no-bin")
        + ":"
        + ":".join(part for part in env_path.split(":") if not (Path(part) / "opencode").exists())
    )

    done = box.podium("install", "opencode", "--dry-run")

    assert done.returncode == 0, done.stderr
    assert "podium: OpenCode config shape V2: no OpenCode found (PATH" in done.stderr
    assert "the file already uses the V2 shape" in done.stderr
    assert '"disabled": false' in done.stdout
