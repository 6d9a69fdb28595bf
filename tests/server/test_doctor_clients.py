"""`podium doctor`'s environment and client-config checks: what it finds, what it says to fix, its exit."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from install_sandbox import Sandbox, make_sandbox

from podium.orchestration.config import DEFAULT_CONFIG
from podium.server.doctor import doctor_report, render_doctor
from podium.server.install.clientconfig import OpenCodeInstall
from podium.server.install.health import client_checks
from podium.server.install.installer import install


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path)


def check_of(report: dict[str, Any], client: str, scope: str) -> dict[str, Any]:
    return next(c for c in report["clients"] if c["client"] == client and c["scope"] == scope)


def test_a_fresh_project_passes_and_says_how_to_install_each_client(box: Sandbox) -> None:
    report = doctor_report(box.root, DEFAULT_CONFIG, box.env)
    text = render_doctor(report)

    assert report["failed"] is False
    assert report["environment"]["git"]["ok"] and report["environment"]["python"]["ok"]
    assert {(c["client"], c["scope"]) for c in report["clients"]} == {
        ("opencode", "project"),
        ("opencode", "global"),
        ("claude", "project"),
        ("claude", "global"),
        ("vscode", "project"),
    }
    assert check_of(report, "claude", "global")["path"] == str(box.home / ".claude.json")
    assert "not installed (to add: podium install opencode --global)" in text
    assert "git: git version " in text


def test_installed_entries_are_reported_current(box: Sandbox) -> None:
    install(box.options(), box.env)
    install(box.options("claude"), box.env)

    report = doctor_report(box.root, DEFAULT_CONFIG, box.env)

    opencode = check_of(report, "opencode", "project")
    assert opencode["installed"] and opencode["shape"] == "v1"
    assert set(opencode["entries"].values()) == {"present"}
    assert check_of(report, "claude", "project")["entries"] == {"mcpServers.podium": "present"}
    assert "installed (7/7 entries current)" in render_doctor(report)
    assert report["failed"] is False


def test_an_entry_whose_program_is_gone_fails_with_the_fix(box: Sandbox) -> None:
    install(box.options(podium=[str(box.home / "old-venv" / "bin" / "podium")]), box.env)

    report = doctor_report(box.root, DEFAULT_CONFIG, box.env)
    done = box.podium("doctor")

    opencode = check_of(report, "opencode", "project")
    assert opencode["entries"]["mcp.podium"] == "broken"
    assert opencode["hard"] and report["failed"]
    assert done.returncode == 1
    assert "problem: mcp.podium, lsp.podium start(s) a program that no longer exists" in done.stdout
    assert "fix: run `podium install opencode`" in done.stdout


def test_a_config_that_does_not_parse_fails_and_names_the_place(box: Sandbox) -> None:
    (box.root / ".vscode").mkdir()
    (box.root / ".vscode" / "mcp.json").write_text('{"servers": {,}}')

    done = box.podium("doctor", "--json")

    report = json.loads(done.stdout)
    vscode = check_of(report, "vscode", "project")
    assert done.returncode == 1
    assert vscode["parses"] is False and vscode["hard"] is True
    assert vscode["problems"] == [
        f"{box.root / '.vscode' / 'mcp.json'} does not parse: line 1, column 14: "
        "expected a double-quoted key or '}'"
    ]


def test_an_entry_that_differs_is_outdated_but_not_a_failure(box: Sandbox) -> None:
    entry = {"command": sys.executable, "args": ["-m", "podium.server", "mcp"]}
    (box.root / ".mcp.json").write_text(json.dumps({"mcpServers": {"podium": entry}}))

    report = doctor_report(box.root, DEFAULT_CONFIG, box.env)

    claude = check_of(report, "claude", "project")
    assert claude["entries"] == {"mcpServers.podium": "outdated"}
    assert claude["fixes"] == ["run `podium install claude`"]
    assert report["failed"] is False


def test_entries_in_the_shape_the_installed_opencode_does_not_read_are_flagged(box: Sandbox) -> None:
    install(box.options(shape="v1"), box.env)

    checks = client_checks(box.root, box.env, OpenCodeInstall(Path("/usr/bin/opencode"), "2.0.0", "PATH"))

    opencode = next(c for c in checks if c["client"] == "opencode" and c["scope"] == "project")
    assert opencode["expected_shape"] == "v2" and opencode["shape"] == "v1"
    assert (
        "Podium's entries have OpenCode's V1 shape, the installed OpenCode reads V2" in opencode["problems"]
    )
    assert "run `podium install opencode` (it moves Podium's entries)" in opencode["fixes"]


def test_without_git_doctor_fails_and_says_so(box: Sandbox) -> None:
    env = {**box.env, "PATH": str(box.home / "empty")}

    report = doctor_report(box.root, DEFAULT_CONFIG, env)

    assert report["failed"] is True
    assert report["environment"]["git"] == {"path": None, "version": None, "ok": False}
    assert "git: NOT FOUND" in render_doctor(report)
    assert "  fix: git not found on PATH" in render_doctor(report)
