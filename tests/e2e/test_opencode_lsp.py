"""OpenCode as an LSP client of `podium lsp`: the findings of a rejected task show as OpenCode's diagnostics.

A mission is set up over MCP (the official Python client and `podium mcp`): its task's broken submission
is rejected with a syntax error in ``inventory/stock.py``. `podium install opencode --project` writes the
project's ``opencode.json``; then `opencode debug lsp diagnostics FILE` starts `podium lsp` from it, opens
the file, waits (up to 10 s in OpenCode 1.18) for diagnostics published after the open, and prints every
diagnostic it holds as JSON keyed by absolute path. `podium lsp` publishes the rejected task's findings
when it starts (docs/lsp.md, Feedback).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from agent_runs import FAST_GATE, agent_env, install_for_opencode, run_agent
from coding_agents import opencode_binary
from mission_scenario import BROKEN_LINE, BROKEN_STOCK, PROJECT, STOCK
from podium_e2e import MakeRepo, Repo, call, stdio_session

pytestmark = pytest.mark.e2e

STOCK_PATH = "inventory/stock.py"


async def reject_a_task(repo: Repo, log: Path) -> tuple[str, dict[str, Any]]:
    """A mission whose only task's submission was rejected: the mission id and the rejected finding."""
    async with stdio_session(repo, log) as session:
        task = {"title": "Add Stock.low", "files": [STOCK_PATH]}
        started = await call(session, "mission_start", {"goal": "Report items to reorder", "tasks": [task]})
        claimed = await call(session, "task_claim", {"mission_id": started["mission_id"], "worker": "ana"})
        assert claimed["claimed"], claimed
        edits = [{"path": STOCK_PATH, "content": BROKEN_STOCK}]
        rejected = await call(session, "task_submit", {"task_id": "T1", "worker": "ana", "edits": edits})
    assert rejected["status"] == "rejected", rejected
    (finding,) = rejected["verdict"]["findings_new"]
    return started["mission_id"], finding


def test_opencode_shows_the_findings_of_a_rejected_task_as_diagnostics(
    repo_factory: MakeRepo, tmp_path: Path
) -> None:
    opencode = opencode_binary()
    repo = repo_factory({**PROJECT, "podium.toml": FAST_GATE})
    mission_id, finding = anyio.run(reject_a_task, repo, tmp_path / "mcp.log")
    assert (finding["path"], finding["line"]) == (STOCK_PATH, BROKEN_LINE)
    env = agent_env(tmp_path, repo.root)
    install_for_opencode(repo.root, opencode, env)

    run = run_agent([str(opencode), "debug", "lsp", "diagnostics", STOCK_PATH], cwd=repo.root, env=env)
    assert run.returncode == 0, run.explain()
    shown: dict[str, list[dict[str, Any]]] = json.loads(run.stdout)
    ours = [d for d in shown.get(str(repo.root / STOCK_PATH), []) if d.get("source") == "podium"]
    assert len(ours) == 1, run.explain()
    (diagnostic,) = ours
    assert diagnostic["code"] == finding["code"] == "syntax-error"
    assert diagnostic["message"] == f"{finding['message']} ({finding['source']}, T1 of {mission_id})"
    assert diagnostic["severity"] == 1
    assert diagnostic["range"]["start"] == {"line": BROKEN_LINE - 1, "character": finding["column"] - 1}
    assert diagnostic["data"] == {"mission_id": mission_id, "task_id": "T1", "finding_source": "tree-sitter"}
    # the finding is about the task's worktree; the user's checkout itself was not touched
    assert (repo.root / STOCK_PATH).read_text() == STOCK
