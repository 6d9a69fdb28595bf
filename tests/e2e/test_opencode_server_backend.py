"""The opencode-server backend (agents/opencode_server.py) against the real, pinned `opencode serve`.

The model (tests/e2e/scripted_llm.py) edits files with OpenCode's own `write` and `edit` tools; the
backend sees only what OpenCode's HTTP API shows. Each test starts its own server (`ManagedServer`, the
start-up path the backend itself uses) with a sealed HOME whose global config makes the scripted model
OpenCode's only model.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from agent_runs import agent_env, provider_config
from coding_agents import opencode_binary
from scripted_llm import ChatRequest, Reply, ScriptedLLM

from podium.orchestration.agents.base import (
    BackendError,
    PlanRequest,
    RateLimited,
    ReviewRequest,
    WorkRequest,
)
from podium.orchestration.agents.opencode_http import OpenCodeClient, OpenCodeEvent
from podium.orchestration.agents.opencode_process import ManagedServer, ServerLaunch
from podium.orchestration.agents.opencode_server import OpenCodeServerBackend, OpenCodeServerSettings
from podium.orchestration.agents.opencode_session import SessionSpec, run_session
from podium.orchestration.model import Task
from podium.verification.errors import ConfigError
from podium.verification.findings import Finding

pytestmark = pytest.mark.e2e

PASSWORD_ENV = "PODIUM_TEST_OPENCODE_PASSWORD"
TEST_TIMEOUT_S = 120.0
"""Seconds one test's OpenCode work may take (the server boots in 2–10 s)."""
RELEASE_TIMEOUT_S = 60.0
"""Longest a blocked model reply waits for the test to release it."""

TASK = Task(
    id="T1", mission_id="m1", title="Add a parser", description="Write parse().", files=("parser.py",)
)
FINDING = Finding(
    source="tree-sitter",
    code="syntax-error",
    message="unexpected ':'",
    path="parser.py",
    line=1,
    column=10,
    end_line=1,
    end_column=11,
)


@dataclass
class OpenCode:
    """A running server, the scripted model behind it, and a client the test uses to look inside."""

    llm: ScriptedLLM
    server: ManagedServer
    client: OpenCodeClient
    home: Path
    worktree: Path
    logs: Path

    def settings(self, **overrides: Any) -> OpenCodeServerSettings:
        settings = OpenCodeServerSettings(
            url=self.server.url,
            password_env=PASSWORD_ENV,
            model=f"scripted/{self.llm.model}",
            timeout_s=TEST_TIMEOUT_S,
            log_dir=self.logs,
        )
        return replace(settings, **overrides)

    async def sessions(self, directory: Path) -> list[Mapping[str, Any]]:
        return await self.client.sessions(directory)


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(lambda _request: None) as server:
        yield server


@pytest.fixture
async def opencode(
    tmp_path: Path, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[OpenCode]:
    binary = opencode_binary()
    project = tmp_path / "project"
    worktree = git_repo(project, {"app.py": "x = 1\n"})
    env = opencode_env(tmp_path, project, llm)
    launch = ServerLaunch(
        binary=binary, cwd=project, log_path=tmp_path / "serve.log", env=env, start_timeout_s=TEST_TIMEOUT_S
    )
    server = await ManagedServer.start(launch)
    monkeypatch.setenv(PASSWORD_ENV, server.auth[1])
    client = OpenCodeClient(server.url, request_timeout_s=30, auth=server.auth)
    try:
        yield OpenCode(llm, server, client, Path(env["HOME"]), worktree, tmp_path / "logs")
    finally:
        await client.aclose()
        await server.aclose()


def opencode_env(base: Path, project: Path, llm: ScriptedLLM) -> dict[str, str]:
    """A sealed environment whose global OpenCode config makes the scripted model the only one."""
    env = agent_env(base, project)
    config = Path(env["XDG_CONFIG_HOME"]) / "opencode" / "opencode.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(provider_config(llm)))
    return env


def git_repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).write_text(text)
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (
        ["init", "--quiet", "--initial-branch=main"],
        ["add", "--all"],
        ["-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "initial"],
    ):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    return root


def write_then_finish(path: Path, content: str) -> Any:
    def policy(request: ChatRequest) -> Reply:
        if request.result_of("write") is None:
            return Reply.call("write", filePath=str(path), content=content)
        return Reply.say("Wrote the parser.")

    return policy


async def test_a_worker_session_writes_the_worktree_with_opencodes_tools_and_is_deleted_once_settled(
    opencode: OpenCode,
) -> None:
    target = opencode.worktree / "parser.py"
    opencode.llm.policy = write_then_finish(target, "def parse(text):\n    return text.split()\n")
    backend = OpenCodeServerBackend(opencode.settings())
    try:
        with anyio.fail_after(TEST_TIMEOUT_S):
            result = await backend.work(
                WorkRequest(task=TASK, worktree=opencode.worktree, attempt=2, findings=(FINDING,))
            )
    finally:
        await backend.aclose()

    assert result.status == "done", result.log
    assert result.edits == ()
    assert target.read_text() == "def parse(text):\n    return text.split()\n"
    prompt = opencode.llm.main_requests[0].last_user_text()
    assert "Task T1: Add a parser" in prompt
    assert "parser.py:1:10 [tree-sitter syntax-error] unexpected ':'" in prompt
    assert "write" in opencode.llm.main_requests[0].tools
    assert opencode.llm.main_requests[-1].result_of("write") is not None
    assert await opencode.sessions(opencode.worktree) == []
    log = (opencode.logs / "m1" / "T1.log").read_text()
    assert "=== worker T1 attempt 2" in log
    assert "tool write completed" in log
    assert "text: Wrote the parser." in log


async def test_sessions_are_kept_for_inspection_when_asked(opencode: OpenCode) -> None:
    opencode.llm.policy = write_then_finish(opencode.worktree / "notes.md", "# Notes\n")
    backend = OpenCodeServerBackend(opencode.settings(keep_sessions=True))
    try:
        with anyio.fail_after(TEST_TIMEOUT_S):
            result = await backend.work(WorkRequest(task=TASK, worktree=opencode.worktree, attempt=1))
    finally:
        await backend.aclose()

    assert result.status == "done"
    kept = await opencode.sessions(opencode.worktree)
    assert [s["title"] for s in kept] == ["T1: Add a parser"]


async def test_a_permission_request_is_rejected_and_the_session_goes_on(opencode: OpenCode) -> None:
    (opencode.worktree / "opencode.json").write_text(json.dumps({"permission": {"edit": "ask"}}))
    target = opencode.worktree / "parser.py"
    opencode.llm.policy = write_then_finish(target, "x = 2\n")
    backend = OpenCodeServerBackend(opencode.settings())
    try:
        with anyio.fail_after(TEST_TIMEOUT_S):
            result = await backend.work(WorkRequest(task=TASK, worktree=opencode.worktree, attempt=1))
    finally:
        await backend.aclose()

    assert result.status == "done"
    assert not target.exists()
    refused = opencode.llm.main_requests[-1].result_of("write")
    assert refused is not None and "rejected permission" in refused.content
    assert "permission edit parser.py: reject" in (opencode.logs / "m1" / "T1.log").read_text()


async def test_a_permission_request_fails_the_attempt_when_the_policy_says_so(opencode: OpenCode) -> None:
    (opencode.worktree / "opencode.json").write_text(json.dumps({"permission": {"edit": "ask"}}))
    opencode.llm.policy = write_then_finish(opencode.worktree / "parser.py", "x = 2\n")
    backend = OpenCodeServerBackend(opencode.settings(on_permission="fail"))
    try:
        with anyio.fail_after(TEST_TIMEOUT_S), pytest.raises(BackendError, match="asked for permission"):
            await backend.work(WorkRequest(task=TASK, worktree=opencode.worktree, attempt=1))
    finally:
        await backend.aclose()
    assert await opencode.sessions(opencode.worktree) == []


async def test_cancelling_a_worker_aborts_its_session_in_opencode(opencode: OpenCode) -> None:
    asked, release = threading.Event(), threading.Event()

    def stall(request: ChatRequest) -> Reply:
        asked.set()
        release.wait(RELEASE_TIMEOUT_S)
        return Reply.say("too late")

    opencode.llm.policy = stall
    backend = OpenCodeServerBackend(opencode.settings(keep_sessions=True))
    try:
        with anyio.fail_after(TEST_TIMEOUT_S):
            async with anyio.create_task_group() as group:
                group.start_soon(backend.work, WorkRequest(task=TASK, worktree=opencode.worktree, attempt=1))
                assert await anyio.to_thread.run_sync(asked.wait, TEST_TIMEOUT_S)
                group.cancel_scope.cancel()
            [session] = await opencode.sessions(opencode.worktree)
            messages: Any = await opencode.client.messages(session["id"], opencode.worktree)
    finally:
        release.set()
        await backend.aclose()

    assert await opencode.client.status(session["id"], opencode.worktree) == "idle"
    assert messages[-1]["info"]["error"]["name"] == "MessageAbortedError"


async def test_the_planner_gets_a_read_only_session_and_answers_a_roadmap(opencode: OpenCode) -> None:
    roadmap = {"tasks": [{"key": "p", "title": "Add a parser", "files": ["parser.py"]}]}
    opencode.llm.policy = lambda _request: Reply.say("Here it is:\n" + json.dumps(roadmap))
    backend = OpenCodeServerBackend(opencode.settings())
    try:
        with anyio.fail_after(TEST_TIMEOUT_S):
            plan = await backend.plan(PlanRequest(mission_id="m1", goal="parse", root=opencode.worktree))
    finally:
        await backend.aclose()

    assert [(t.key, t.title, t.files) for t in plan] == [("p", "Add a parser", ("parser.py",))]
    tools = set(opencode.llm.main_requests[0].tools)
    assert "read" in tools
    assert not tools & {"write", "edit", "bash", "task", "question"}


async def test_the_reviewer_answers_in_json(opencode: OpenCode) -> None:
    opencode.llm.policy = lambda _request: Reply.say('{"approve": false, "comments": "Add a test."}')
    backend = OpenCodeServerBackend(opencode.settings())
    request = ReviewRequest(task=TASK, worktree=opencode.worktree, diff="+x = 2\n", verdict_summary="ok")
    try:
        with anyio.fail_after(TEST_TIMEOUT_S):
            review = await backend.review(request)
    finally:
        await backend.aclose()

    assert (review.approve, review.comments) == (False, "Add a test.")
    assert "+x = 2" in opencode.llm.main_requests[0].last_user_text()


async def test_a_session_error_is_a_backend_error_with_opencodes_message(opencode: OpenCode) -> None:
    backend = OpenCodeServerBackend(opencode.settings(model="scripted/no-such-model"))
    try:
        with anyio.fail_after(TEST_TIMEOUT_S), pytest.raises(BackendError, match="Model not found"):
            await backend.work(WorkRequest(task=TASK, worktree=opencode.worktree, attempt=1))
    finally:
        await backend.aclose()
    assert await opencode.sessions(opencode.worktree) == []


class DroppingClient(OpenCodeClient):
    """Every event subscription is confirmed by the server and then ends at once, as a dropped stream does."""

    subscriptions = 0

    @asynccontextmanager
    async def events(self, directory: Path) -> AsyncGenerator[AsyncIterator[OpenCodeEvent]]:
        async with super().events(directory):
            self.subscriptions += 1
            yield nothing()


async def nothing() -> AsyncIterator[OpenCodeEvent]:
    for event in ():
        yield event


async def test_a_session_whose_event_stream_drops_is_followed_to_its_end_by_reading_its_state(
    opencode: OpenCode,
) -> None:
    target = opencode.worktree / "parser.py"
    opencode.llm.policy = write_then_finish(target, "x = 2\n")
    client = DroppingClient(opencode.server.url, request_timeout_s=30, auth=opencode.server.auth)
    spec = SessionSpec(
        directory=opencode.worktree,
        title="T1: drops",
        prompt="Write parser.py",
        agent="build",
        model=("scripted", opencode.llm.model),
        timeout_s=TEST_TIMEOUT_S,
    )
    try:
        with anyio.fail_after(TEST_TIMEOUT_S):
            outcome = await run_session(client, spec, name="test")
    finally:
        await client.aclose()

    assert (outcome.text, outcome.fault) == ("Wrote the parser.", None)
    assert target.read_text() == "x = 2\n"
    assert client.subscriptions > 1
    assert await opencode.sessions(opencode.worktree) == []


class RateLimitedModel(BaseHTTPRequestHandler):
    """A model endpoint that answers every chat request with HTTP 429 (the scripted model has no errors)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's parameter name
        """Quiet."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"error": {"message": "slow down", "type": "rate_limit_exceeded"}}'
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        self.send_header("Retry-After", "0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


async def test_the_models_rate_limit_is_rate_limited_after_opencodes_own_retries(opencode: OpenCode) -> None:
    limited = ThreadingHTTPServer(("127.0.0.1", 0), RateLimitedModel)
    thread = threading.Thread(target=limited.serve_forever, daemon=True)
    thread.start()
    provider = {
        "npm": "@ai-sdk/openai-compatible",
        "options": {"baseURL": f"http://127.0.0.1:{limited.server_address[1]}/v1", "apiKey": "test"},
        "models": {"m": {"name": "m", "tool_call": True}},
    }
    (opencode.worktree / "opencode.json").write_text(json.dumps({"provider": {"limited": provider}}))
    backend = OpenCodeServerBackend(opencode.settings(model="limited/m"))
    try:
        with anyio.fail_after(TEST_TIMEOUT_S), pytest.raises(RateLimited, match="slow down"):
            await backend.work(WorkRequest(task=TASK, worktree=opencode.worktree, attempt=1))
    finally:
        await backend.aclose()
        limited.shutdown()
        limited.server_close()
    assert "the model is retried: slow down" in (opencode.logs / "m1" / "T1.log").read_text()


async def test_the_backend_starts_its_own_server_and_stops_it_on_close(
    opencode: OpenCode, tmp_path: Path
) -> None:
    opencode.llm.policy = write_then_finish(opencode.worktree / "own.txt", "mine\n")
    env = opencode_env(tmp_path / "own", opencode.worktree, opencode.llm)
    settings = opencode.settings(
        url=None, password_env=None, binary=opencode_binary(), cwd=opencode.worktree, env=tuple(env.items())
    )
    backend = OpenCodeServerBackend(settings)
    try:
        with anyio.fail_after(TEST_TIMEOUT_S):
            result = await backend.work(WorkRequest(task=TASK, worktree=opencode.worktree, attempt=1))
        url = backend.server_url
        assert url is not None and url != opencode.server.url
    finally:
        await backend.aclose()

    assert result.status == "done"
    assert (opencode.worktree / "own.txt").read_text() == "mine\n"
    assert "listening on " + url in (opencode.logs / "opencode-server.log").read_text()
    probe = OpenCodeClient(url, request_timeout_s=2)
    try:
        with pytest.raises(BackendError, match="failed"):
            await probe.health()
    finally:
        await probe.aclose()


def test_a_missing_executable_is_a_config_error_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"cannot find the OpenCode executable .*\[agents.opencode\] binary"
    ):
        OpenCodeServerBackend(OpenCodeServerSettings(binary=tmp_path / "no-opencode"))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (OpenCodeServerSettings(url="localhost:4096"), "must be an http"),
        (OpenCodeServerSettings(url="http://127.0.0.1:1", model="gpt"), "'provider/model'"),
        (OpenCodeServerSettings(url="http://127.0.0.1:1", timeout_s=0), "timeout_s"),
    ],
)
def test_unusable_settings_are_config_errors(settings: OpenCodeServerSettings, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        OpenCodeServerBackend(settings)
