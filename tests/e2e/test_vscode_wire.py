"""What VS Code would see from `podium lsp`: VS Code's wire stack under Node drives the server over stdio.

VS Code itself cannot be downloaded here, so ``node/vscode_wire.mjs`` speaks to the server through
`vscode-languageserver-protocol` (the package VS Code's language client is built on), announcing itself
with the client info and capabilities of a recorded VS Code (shipped by pytest-lsp). The package comes from
tests/e2e/node (pinned; `make test` installs it). Without it the test skips, unless
``PODIUM_REQUIRE_E2E_TOOLS=1`` (set by `make test`) makes its absence a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from podium_e2e import PODIUM, Repo, make_repo

from podium.server.tooldocs import scratch_registry

pytestmark = pytest.mark.e2e

NODE_DIR = Path(__file__).parent / "node"
SCRIPT = NODE_DIR / "vscode_wire.mjs"
PROTOCOL_PACKAGE = NODE_DIR / "node_modules" / "vscode-languageserver-protocol" / "package.json"
RECORDED_CLIENT = "visual_studio_code_v1.65.2.json"
REQUIRE_ENV = "PODIUM_REQUIRE_E2E_TOOLS"
DEADLINE_MS = 120_000
STEP_MS = 60_000
PROCESS_TIMEOUT = 180.0
WORKER = "vscode-wire"

TASK_FILE = "app/prices.py"
PRICES = "def total(prices: list[float]) -> float:\n    return sum(prices)\n"
BROKEN = PRICES + "\n\ndef average(prices: list[float]) -> float\n    return total(prices) / len(prices)\n"
FIXED = PRICES + "\n\ndef average(prices: list[float]) -> float:\n    return total(prices) / len(prices)\n"
BROKEN_LINE = BROKEN.splitlines().index("def average(prices: list[float]) -> float") + 1


@pytest.fixture(scope="module")
def node() -> str:
    missing = None
    node_path = shutil.which("node")
    if node_path is None:
        missing = "node is not on PATH"
    elif not PROTOCOL_PACKAGE.exists():
        missing = f"{PROTOCOL_PACKAGE.parent} is not installed (make node-tools)"
    if missing is None and node_path is not None:
        return node_path
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"VS Code's wire stack is required ({REQUIRE_ENV}=1) but {missing}")
    pytest.skip(f"vscode-languageserver-protocol unavailable: {missing}")


def recorded_vscode() -> dict[str, Any]:
    """Client info and capabilities of a real VS Code, as pytest-lsp recorded them."""
    text = resources.files("pytest_lsp.clients").joinpath(RECORDED_CLIENT).read_text()
    recorded: dict[str, Any] = json.loads(text)
    return recorded


def drive(node: str, repo: Repo, base: Path) -> dict[str, Any]:
    """Run the wire script against `podium lsp` in ``repo``; everything it saw."""
    recorded = recorded_vscode()
    plan = base / "wire-plan.json"
    plan.write_text(
        json.dumps(
            {
                "command": [*PODIUM, "lsp"],
                "cwd": str(repo.root),
                "env": repo.full_env(),
                "client_info": recorded["clientInfo"],
                "capabilities": recorded["capabilities"],
                "goal": "Report average prices",
                "task": {"title": "Add average", "files": [TASK_FILE]},
                "file": TASK_FILE,
                "language_id": "python",
                "broken": BROKEN,
                "fixed": FIXED,
                "worker": WORKER,
                "deadline_ms": DEADLINE_MS,
                "step_ms": STEP_MS,
            }
        )
    )
    done = subprocess.run(
        [node, str(SCRIPT), str(plan)],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"the wire script printed nothing (exit {done.returncode}):\n{done.stderr}"
    seen: dict[str, Any] = json.loads(lines[-1])
    assert seen["error"] is None, f"{seen['error']}\nserver stderr:\n{seen['stderr_tail']}"
    assert done.returncode == 0, done.stderr
    return seen


def results(seen: dict[str, Any], command: str) -> list[dict[str, Any]]:
    return [step for step in seen["steps"] if step["command"] == command]


@dataclass(frozen=True)
class WireRun:
    """One run of the wire script: the repository it worked on and everything the client saw."""

    repo: Repo
    seen: dict[str, Any]


@pytest.fixture(scope="module")
def wire(node: str, tmp_path_factory: pytest.TempPathFactory) -> WireRun:
    base = tmp_path_factory.mktemp("vscode-wire")
    repo = make_repo(base, {"app/__init__.py": "", TASK_FILE: PRICES})
    return WireRun(repo, drive(node, repo, base))


def test_vscode_is_offered_every_operation_as_an_execute_command(wire: WireRun) -> None:
    provider = wire.seen["initialize"]["capabilities"]["executeCommandProvider"]
    with scratch_registry() as registry:
        assert set(provider["commands"]) >= {f"podium.{operation}" for operation in registry.names}


def test_commands_answer_with_the_operations_results(wire: WireRun) -> None:
    (started,) = results(wire.seen, "podium.mission_start")
    mission_id = started["result"]["mission_id"]
    first_status, last_status = results(wire.seen, "podium.mission_status")
    (mission,) = first_status["result"]["missions"]
    assert mission["mission_id"] == mission_id and "T1: Add average" in mission["roadmap"]
    _, claimed = results(wire.seen, "podium.task_claim")
    assert claimed["result"]["claimed"] and claimed["result"]["task"]["id"] == "T1"
    assert (wire.seen["rejected_status"], wire.seen["merged_status"]) == ("rejected", "merged")
    (final,) = last_status["result"]["missions"]
    assert final["counts"] == {"merged": 1}


def test_a_refused_command_is_a_json_rpc_error_with_the_podium_code(wire: WireRun) -> None:
    refused, _ = results(wire.seen, "podium.task_claim")

    assert "result" not in refused
    assert refused["error"]["message"] == "not_found: no mission no-such-mission", refused
    assert refused["error"]["data"]["code"] == "not_found"


def test_a_rejected_submission_is_published_as_diagnostics_on_the_workspace_file(wire: WireRun) -> None:
    published = wire.seen["diagnostics_after_rejection"]
    podium = [d for params in published for d in params["diagnostics"] if d["source"] == "podium"]

    assert podium, published
    assert BROKEN_LINE - 1 in {d["range"]["start"]["line"] for d in podium}, podium
    assert {params["uri"] for params in published} == {(wire.repo.root / TASK_FILE).as_uri()}


def test_the_diagnostics_are_cleared_once_the_fix_merges(wire: WireRun) -> None:
    cleared = wire.seen["diagnostics_after_merge"]

    assert cleared and all(entry["diagnostics"] == [] for entry in cleared), cleared


def test_the_rejection_and_the_merge_are_shown_as_messages(wire: WireRun) -> None:
    shown = [params["message"] for params in wire.seen["seen"]["showMessage"]]

    assert any("T1 rejected" in text for text in shown), shown
    assert any("T1 merged" in text for text in shown), shown


def test_work_done_progress_uses_created_tokens_and_each_submission_begins_and_ends(wire: WireRun) -> None:
    created = wire.seen["seen"]["progressCreate"]
    kinds: dict[str, list[str]] = {}
    for params in wire.seen["seen"]["progress"]:
        assert params["token"] in created, f"progress on a token never created: {params}"
        kinds.setdefault(params["token"], []).append(params["value"]["kind"])

    assert kinds, "no $/progress at all"
    assert all(sequence[0] == "begin" for sequence in kinds.values()), kinds
    ended = [sequence for sequence in kinds.values() if sequence[-1] == "end"]
    assert len(ended) >= 2, f"expected both submissions' progress to end: {kinds}"
    assert all(set(sequence[1:-1]) <= {"report"} for sequence in ended), kinds


def test_the_server_exits_cleanly_after_shutdown_and_exit(wire: WireRun) -> None:
    assert wire.seen["exit"] == {"code": 0, "signal": None}
