"""OpenCode end to end: the real `opencode run`, with a scripted model, works a whole mission through Podium.

The scripted model (an OpenAI-compatible chat-completions server on 127.0.0.1) is OpenCode's only model.
Its policy reads the ids it needs (mission, task, worktree) from the tool results OpenCode sends back, the
way a model would, and drives OpenCode's agent through `podium_mission_start`, `podium_roadmap_add`,
`podium_task_claim`, a broken `podium_task_submit` (rejected, the finding in the tool result), a fixed one
(merged) and `podium_mission_finish(apply=true)`. The project is set up as a user does it:
`podium install opencode --project` writes ``opencode.json`` (OpenCode starts `podium mcp` from it), and the
run is the installed ``/task`` command (`opencode run --command task GOAL`); the test adds only the model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from agent_runs import (
    FAST_GATE,
    PROVIDER,
    agent_env,
    install_for_opencode,
    json_lines,
    opencode_tool_uses,
    provider_config,
    run_agent,
)
from coding_agents import opencode_binary
from mission_scenario import BROKEN_LINE, BROKEN_STOCK, PROJECT, STOCK, STOCK_WITH_LOW
from podium_e2e import MakeRepo
from scripted_llm import ChatRequest, Reply, Script, ScriptedLLM

pytestmark = pytest.mark.e2e

WORKER = "opencode"
GOAL = "Report items to reorder"
TOOLS = [
    "podium_mission_start",
    "podium_roadmap_add",
    "podium_task_claim",
    "podium_task_submit",
    "podium_task_submit",
    "podium_mission_finish",
]
STOCK_PATH = "inventory/stock.py"


def result(request: ChatRequest, tool: str, *, last: bool = True) -> dict[str, Any]:
    """The JSON result of the latest call of ``tool`` in the conversation; with ``last``, that call must be
    the one just answered."""
    found = request.result_of(tool)
    assert found is not None, f"no result of {tool} in the conversation"
    if last:
        assert request.trailing_tool_results[-1] == found, f"the call just answered is not {tool}"
    value: dict[str, Any] = found.json()
    return value


def mission_policy() -> Script:
    """The model's side of the mission, one step per turn; each step checks what the previous call said."""

    def start(request: ChatRequest) -> Reply:
        # what the model is asked is the installed /task command's template, with the goal in it
        prompt = request.last_user_text()
        assert GOAL in prompt and "podium_mission_start" in prompt, prompt
        assert set(TOOLS) <= set(request.tools), request.tools
        return Reply.call("podium_mission_start", goal=GOAL)

    def add_task(request: ChatRequest) -> Reply:
        mission_id = result(request, "podium_mission_start")["mission_id"]
        task = {"key": "low", "title": "Add Stock.low", "files": [STOCK_PATH], "size": "S"}
        return Reply.call("podium_roadmap_add", mission_id=mission_id, tasks=[task])

    def claim(request: ChatRequest) -> Reply:
        added = result(request, "podium_roadmap_add")
        assert added["ids"] == ["T1"], added
        return Reply.call("podium_task_claim", mission_id=added["mission_id"], worker=WORKER)

    def submit_broken(request: ChatRequest) -> Reply:
        claimed = result(request, "podium_task_claim")
        assert claimed["claimed"], claimed
        assert (Path(claimed["worktree"]) / STOCK_PATH).read_text() == STOCK
        edits = [{"path": STOCK_PATH, "content": BROKEN_STOCK}]
        return Reply.call("podium_task_submit", task_id=claimed["task"]["id"], worker=WORKER, edits=edits)

    def submit_fixed(request: ChatRequest) -> Reply:
        rejected = result(request, "podium_task_submit")
        assert rejected["status"] == "rejected", rejected
        where = [(f["path"], f["line"]) for f in rejected["verdict"]["findings_new"]]
        assert (STOCK_PATH, BROKEN_LINE) in where, rejected["verdict"]
        edits = [{"path": STOCK_PATH, "content": STOCK_WITH_LOW}]
        return Reply.call("podium_task_submit", task_id=rejected["task"]["id"], worker=WORKER, edits=edits)

    def finish(request: ChatRequest) -> Reply:
        merged = result(request, "podium_task_submit")
        assert merged["status"] == "merged", merged
        mission_id = result(request, "podium_mission_start", last=False)["mission_id"]
        return Reply.call("podium_mission_finish", mission_id=mission_id, apply=True)

    def conclude(request: ChatRequest) -> Reply:
        finished = result(request, "podium_mission_finish")
        return Reply.say(f"Mission {finished['mission_id']} {finished['state']}.")

    return Script(start, add_task, claim, submit_broken, submit_fixed, finish, conclude)


def test_opencode_works_a_mission_through_podiums_tools(repo_factory: MakeRepo, tmp_path: Path) -> None:
    opencode = opencode_binary()
    repo = repo_factory({**PROJECT, "podium.toml": FAST_GATE})
    initial = repo.head()
    env = agent_env(tmp_path, repo.root)
    install_for_opencode(repo.root, opencode, env)
    script = mission_policy()

    with ScriptedLLM(script) as llm:
        env["OPENCODE_CONFIG_CONTENT"] = json.dumps(provider_config(llm))
        model = f"{PROVIDER}/{llm.model}"
        run = run_agent(
            [str(opencode), "run", "--format", "json", "--model", model, "--command", "task", GOAL],
            cwd=repo.root,
            env=env,
        )
    story = f"{run.explain()}\n--- model server\n{llm.describe()}"
    assert not llm.errors, story
    assert run.returncode == 0, story
    assert script.finished, story

    events = json_lines(run.stdout)
    uses = opencode_tool_uses(events)
    assert [use["tool"] for use in uses] == TOOLS, story
    assert [use["state"]["status"] for use in uses] == ["completed"] * len(TOOLS), story
    broken = json.loads(uses[3]["state"]["output"])
    assert broken["status"] == "rejected" and not broken["verdict"]["accepted"]
    (finding,) = broken["verdict"]["findings_new"]
    assert (finding["path"], finding["line"], finding["code"]) == (STOCK_PATH, BROKEN_LINE, "syntax-error")
    assert finding["message"], finding
    fixed = json.loads(uses[4]["state"]["output"])
    assert fixed["status"] == "merged" and fixed["merged_commit"], fixed
    finished = json.loads(uses[5]["state"]["output"])
    assert (finished["applied"], finished["state"], finished["user_branch"]) == (True, "finished", "main")
    texts = [event["part"]["text"] for event in events if event.get("type") == "text"]
    assert texts[-1:] == [f"Mission {finished['mission_id']} finished."], story

    assert (repo.root / STOCK_PATH).read_text() == STOCK_WITH_LOW
    assert repo.task_trailers("main", since=initial) == ["T1"]
    assert repo.head("main") == finished["head"] == fixed["merged_commit"]
    assert repo.git("status", "--porcelain") == "?? opencode.json\n"
    audit = repo.podium("audit", "verify", "--root", str(repo.root))
    assert audit.returncode == 0, audit.stdout + audit.stderr
