"""Claude Code end to end: the real `claude -p`, with a scripted Anthropic Messages model, claims and submits.

A mission with one task is started beforehand over MCP. Claude Code starts `podium mcp` from an
``--mcp-config`` file and shows Podium's tools to its model as deferred ``mcp__podium__*`` tools (names
only, in a system message); the scripted model does what a real one does: loads the two it needs with
``ToolSearch``, claims the task, and submits an edit built from what the claim returned. The edit is
verified and merged onto the mission's branch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from agent_runs import FAST_GATE, agent_env, claude_mcp_config, json_lines, run_agent
from coding_agents import claude_binary
from mission_scenario import PROJECT, STOCK, STOCK_WITH_LOW
from podium_e2e import MakeRepo, Repo, call, stdio_session
from scripted_llm import ChatRequest, Reply, Script, ScriptedLLM

pytestmark = pytest.mark.e2e

CLAIM = "mcp__podium__task_claim"
SUBMIT = "mcp__podium__task_submit"
WORKER = "claude"
STOCK_PATH = "inventory/stock.py"


async def start_mission(repo: Repo, log: Path) -> str:
    async with stdio_session(repo, log) as session:
        task = {"title": "Add Stock.low", "files": [STOCK_PATH]}
        started = await call(session, "mission_start", {"goal": "Report items to reorder", "tasks": [task]})
    return str(started["mission_id"])


async def mission_counts(repo: Repo, log: Path, mission_id: str) -> dict[str, int]:
    async with stdio_session(repo, log) as session:
        (status,) = (await call(session, "mission_status", {"mission_id": mission_id}))["missions"]
    counts: dict[str, int] = status["counts"]
    return counts


def claude_policy(mission_id: str) -> Script:
    def claim(request: ChatRequest) -> Reply:
        # ToolSearch answered: both tools now come with their schemas
        assert {CLAIM, SUBMIT} <= set(request.tools), request.tools
        schema = next(t for t in request.body["tools"] if t["name"] == CLAIM)["input_schema"]
        assert {"mission_id", "worker"} <= set(schema["properties"]), schema
        return Reply.call(CLAIM, mission_id=mission_id, worker=WORKER)

    def submit(request: ChatRequest) -> Reply:
        found = request.result_of(CLAIM)
        assert found is not None and not found.is_error, found
        claimed: dict[str, Any] = found.json()
        assert claimed["claimed"], claimed
        assert (Path(claimed["worktree"]) / STOCK_PATH).read_text() == STOCK
        edits = [{"path": STOCK_PATH, "content": STOCK_WITH_LOW}]
        return Reply.call(SUBMIT, task_id=claimed["task"]["id"], worker=WORKER, edits=edits)

    def conclude(request: ChatRequest) -> Reply:
        found = request.result_of(SUBMIT)
        assert found is not None
        return Reply.say(f"Submitted: {found.json()['status']}")

    search = Reply.call("ToolSearch", query=f"select:{CLAIM},{SUBMIT}", max_results=5)
    return Script(search, claim, submit, conclude)


def test_claude_code_claims_and_submits_a_task_through_podiums_tools(
    repo_factory: MakeRepo, tmp_path: Path
) -> None:
    claude = claude_binary()
    repo = repo_factory({**PROJECT, "podium.toml": FAST_GATE})
    initial = repo.head()
    mission_id = anyio.run(start_mission, repo, tmp_path / "mcp.log")
    mcp_config = tmp_path / "mcp.json"
    mcp_config.write_text(json.dumps(claude_mcp_config()))
    script = claude_policy(mission_id)

    with ScriptedLLM(script) as llm:
        env = agent_env(
            tmp_path, repo.root, ANTHROPIC_BASE_URL=llm.anthropic_base_url, ANTHROPIC_API_KEY="test"
        )
        run = run_agent(
            [
                str(claude),
                "-p",
                f"Claim the next task of Podium mission {mission_id} and submit it.",
                "--mcp-config",
                str(mcp_config),
                "--strict-mcp-config",
                "--allowedTools",
                f"{CLAIM},{SUBMIT}",
                "--output-format",
                "stream-json",
                "--verbose",
            ],
            cwd=repo.root,
            env=env,
        )
    story = f"{run.explain()}\n--- model server\n{llm.describe()}"
    assert not llm.errors, story
    assert run.returncode == 0, story
    assert script.finished, story

    events = json_lines(run.stdout)
    init = next(e for e in events if e.get("type") == "system" and e.get("subtype") == "init")
    assert {"name": "podium", "status": "connected"}.items() <= init["mcp_servers"][0].items(), init
    calls = [
        block
        for event in events
        if event.get("type") == "assistant"
        for block in event["message"]["content"]
        if block["type"] == "tool_use"
    ]
    assert [c["name"] for c in calls] == ["ToolSearch", CLAIM, SUBMIT], story
    results = {
        block["tool_use_id"]: block
        for event in events
        if event.get("type") == "user"
        for block in event["message"]["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    }
    submitted = results[calls[2]["id"]]
    assert not submitted.get("is_error"), submitted
    merged = json.loads(
        submitted["content"] if isinstance(submitted["content"], str) else submitted["content"][0]["text"]
    )
    assert (merged["status"], merged["task"]["id"]) == ("merged", "T1"), merged
    (result,) = [e for e in events if e.get("type") == "result"]
    assert (result["subtype"], result["is_error"], result["permission_denials"]) == ("success", False, []), (
        result
    )
    assert result["result"] == "Submitted: merged"

    branch = f"podium/{mission_id}"
    assert repo.head(branch) == merged["merged_commit"]
    assert repo.git("show", f"{branch}:{STOCK_PATH}") == STOCK_WITH_LOW
    assert repo.task_trailers(branch, since=initial) == ["T1"]
    assert repo.head("main") == initial, "the mission is not finished: main must be untouched"
    assert anyio.run(mission_counts, repo, tmp_path / "mcp.log", mission_id) == {"merged": 1}
    audit = repo.podium("audit", "verify", "--root", str(repo.root))
    assert audit.returncode == 0, audit.stdout + audit.stderr
