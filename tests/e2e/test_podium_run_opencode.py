"""`podium run --backend opencode-server`: the workers are sessions of a real `opencode serve` that Podium
starts itself, driven by a scripted model that edits the worktrees with OpenCode's own `write` and `edit`
tools; the gate judges each worktree, rejects a broken attempt, and merges the fixed one."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from agent_runs import agent_env, provider_config
from coding_agents import opencode_binary
from podium_e2e import PODIUM, MakeRepo
from scripted_llm import ChatRequest, Reply, ScriptedLLM

pytestmark = pytest.mark.e2e

RUN_TIMEOUT = 400.0
"""Seconds the whole `podium run` may take: OpenCode boots in 2–10 s, each session takes a few seconds."""

PLAN = {
    "tasks": [
        {"key": "parser", "title": "Add a parser", "files": ["parser.py"]},
        {"key": "notes", "title": "Write the notes", "files": ["NOTES.md"], "depends_on": ["parser"]},
    ]
}
BROKEN = "def parse(text:\n    return text.split()\n"
FIXED = "def parse(text):\n    return text.split()\n"
NOTES = "# Notes\n\nparse() splits on whitespace.\n"


def worktree_of(prompt: str) -> Path:
    found = re.search(r"a git worktree of the project: (.+?)\)\.", prompt)
    assert found, f"no worktree in the prompt:\n{prompt}"
    return Path(found.group(1))


def model(request: ChatRequest) -> Reply:
    """Each session's first turn edits with OpenCode's tools; once a tool answered, the session ends."""
    prompt = request.last_user_text()
    if request.trailing_tool_results:
        return Reply.say("Done.")
    worktree = worktree_of(prompt)
    if "Task T1:" in prompt and "rejected by the verification gate" not in prompt:
        return Reply.call("write", filePath=str(worktree / "parser.py"), content=BROKEN)
    if "Task T1:" in prompt:
        return Reply.call(
            "edit", filePath=str(worktree / "parser.py"), oldString="parse(text:", newString="parse(text):"
        )
    if "Task T2:" in prompt:
        return Reply.call("write", filePath=str(worktree / "NOTES.md"), content=NOTES)
    return Reply.say(f"unexpected prompt: {prompt[:200]}")


def test_opencode_sessions_do_the_work_and_the_gate_judges_and_merges_it(
    repo_factory: MakeRepo, tmp_path: Path
) -> None:
    binary = opencode_binary()
    repo = repo_factory({"app.py": "x = 1\n"})
    with ScriptedLLM(model) as llm:
        env = {**repo.full_env(), **agent_env(tmp_path / "opencode", repo.root)}
        # the isolated git of the repository, not the sealed agent's
        env.update({k: v for k, v in repo.env.items() if k.startswith("GIT_")})
        config = Path(env["XDG_CONFIG_HOME"]) / "opencode" / "opencode.json"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(json.dumps(provider_config(llm)))
        (repo.root / "plan.json").write_text(json.dumps(PLAN))
        (repo.root / "podium.toml").write_text(
            "[gate]\ndiagnostics = false\n"
            "[agents.opencode]\n"
            f'binary = "{binary}"\nmodel = "scripted/{llm.model}"\ntimeout_s = 180\nstart_timeout_s = 120\n'
        )
        repo.git("add", "podium.toml", "plan.json")
        repo.git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "podium")
        done = subprocess.run(
            [*PODIUM, "run", "parse words", "--plan", "plan.json", "--backend", "opencode-server", "--apply"],
            cwd=repo.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        prompts = [r.last_user_text() for r in llm.main_requests]

    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{llm.describe()}"
    assert "merged: 2 (T1, T2)" in done.stdout
    assert "applied: fast-forward of main" in done.stdout
    assert re.search(r"verdict T1: T1 attempt 1: rejected", done.stderr)
    assert (repo.root / "parser.py").read_text() == FIXED
    assert (repo.root / "NOTES.md").read_text() == NOTES
    assert sorted(repo.task_trailers("main")) == ["T1", "T2"]
    retry = [p for p in prompts if "Task T1:" in p and "rejected by the verification gate" in p]
    assert retry and "parser.py:1" in retry[0], prompts
    audit = repo.podium("audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr

    logs = repo.root / ".podium" / "logs"
    server_log = (logs / "opencode-server.log").read_text()
    url = re.findall(r"listening on (http://\S+)", server_log)
    assert len(url) == 1, "one server for the whole run"
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(url[0] + "/global/health", timeout=2)
    [mission] = [p.name for p in logs.iterdir() if p.is_dir()]
    t1_log = (logs / mission / "T1.log").read_text()
    assert "tool write completed" in t1_log and "tool edit completed" in t1_log


def test_an_interrupted_run_aborts_the_running_session_on_a_server_it_was_given(
    repo_factory: MakeRepo, tmp_path: Path
) -> None:
    binary = opencode_binary()
    repo = repo_factory({"app.py": "x = 1\n"})
    asked, release = threading.Event(), threading.Event()
    prompts: list[str] = []

    def stall(request: ChatRequest) -> Reply:
        prompts.append(request.last_user_text())
        asked.set()
        release.wait(RUN_TIMEOUT)
        return Reply.say("too late")

    with ScriptedLLM(stall) as llm, opencode_serve(binary, tmp_path / "opencode", repo.root, llm) as server:
        (repo.root / "plan.json").write_text(json.dumps({"tasks": [PLAN["tasks"][0]]}))
        (repo.root / "podium.toml").write_text(
            "[gate]\ndiagnostics = false\n[commander]\nshutdown_grace_s = 0\n"
            "[agents.opencode]\n"
            f'url = "{server.url}"\npassword_env = "{PASSWORD_ENV}"\nkeep_sessions = true\n'
            f'model = "scripted/{llm.model}"\n'
        )
        env = {**repo.full_env(), PASSWORD_ENV: server.password}
        run = subprocess.Popen(
            [*PODIUM, "run", "parse words", "--plan", "plan.json", "--backend", "opencode-server"],
            cwd=repo.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert asked.wait(RUN_TIMEOUT), "the session never asked the model"
            run.send_signal(signal.SIGINT)
            stdout, stderr = run.communicate(timeout=RUN_TIMEOUT)
        finally:
            release.set()
            run.kill()
        worktree = worktree_of(prompts[0])
        [session] = server.get(f"/session?directory={worktree}")
        messages = server.get(f"/session/{session['id']}/message?directory={worktree}")
        busy = server.get(f"/session/status?directory={worktree}")

    assert run.returncode == 130, stdout + stderr
    assert "podium run --resume" in stdout + stderr
    assert session["title"] == "T1: Add a parser"
    assert messages[-1]["info"]["error"]["name"] == "MessageAbortedError"
    assert busy == {}


PASSWORD_ENV = "PODIUM_TEST_OPENCODE_PASSWORD"


@dataclass
class Serve:
    """An `opencode serve` the test started (as a user would), with its password."""

    url: str
    password: str

    def get(self, route: str) -> Any:
        answer = httpx2.get(self.url + route, auth=("opencode", self.password), timeout=10)
        answer.raise_for_status()
        return answer.json()


@contextmanager
def opencode_serve(binary: Path, base: Path, project: Path, llm: ScriptedLLM) -> Iterator[Serve]:
    """`opencode serve` in its own process group, with the scripted model configured; killed on exit."""
    env = agent_env(base, project)
    config = Path(env["XDG_CONFIG_HOME"]) / "opencode" / "opencode.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(provider_config(llm)))
    password = "test-password"
    log = base / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(binary), "serve", "--port", "0", "--hostname", "127.0.0.1"],
            cwd=project,
            env={**env, "OPENCODE_SERVER_PASSWORD": password},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not (found := re.search(r"listening on (http://\S+)", log.read_text())):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        server = Serve(found.group(1), password)
        while True:
            try:
                server.get("/global/health")
                break
            except httpx2.HTTPError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
