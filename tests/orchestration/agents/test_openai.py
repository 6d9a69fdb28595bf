"""The openai backend against a local server of the tests that speaks chat completions on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from podium.orchestration.agents.base import (
    BackendError,
    PlanRequest,
    RateLimited,
    ReviewRequest,
    WorkRequest,
)
from podium.orchestration.agents.openai import OpenAIBackend, OpenAISettings
from podium.orchestration.model import Task
from podium.verification.findings import Finding

MakeRepo = Callable[[Mapping[str, str]], Path]
TASK = Task(id="T4", mission_id="m1", title="Fix util", files=("app/util.py",))


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict[str, str])
    hang: bool = False


@dataclass
class ChatServer:
    """Answers each POST with the next scripted reply and records what it was sent."""

    url: str
    replies: list[Reply] = field(default_factory=list[Reply])
    requests: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    headers: list[dict[str, str]] = field(default_factory=list[dict[str, str]])
    release: threading.Event = field(default_factory=threading.Event)

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)


def tools(*calls: tuple[str, dict[str, Any]]) -> Reply:
    tool_calls = [
        {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for i, (name, args) in enumerate(calls)
    ]
    message = {"role": "assistant", "content": None, "tool_calls": tool_calls}
    return Reply(200, {"choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]})


def text(content: str) -> Reply:
    message = {"role": "assistant", "content": content}
    return Reply(200, {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})


@pytest.fixture
def server() -> Iterator[ChatServer]:
    state: ChatServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append({"path": self.path, **body})
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
            reply = state.replies.pop(0) if state.replies else Reply(500, {"error": "no reply scripted"})
            if reply.hang:
                state.release.wait(30)
                return
            data = reply.body.encode() if isinstance(reply.body, str) else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            for key, value in {"Content-Type": "application/json", **reply.headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = ChatServer(url=f"http://127.0.0.1:{httpd.server_address[1]}/v1")
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def backend(server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> OpenAIBackend:
    monkeypatch.setenv("PODIUM_TEST_KEY", "sk-test")
    return OpenAIBackend(
        OpenAISettings(base_url=server.url, model="local-model", api_key_env="PODIUM_TEST_KEY")
    )


@pytest.fixture
def worktree(make_repo: MakeRepo, tmp_path: Path) -> Path:
    (tmp_path / "secret.txt").write_text("TOP SECRET\n")
    return make_repo({"app/util.py": "VALUE = 1\n"})


def tool_results(request: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


async def test_the_worker_loop_runs_tool_calls_in_the_worktree_until_the_model_is_done(
    server: ChatServer, backend: OpenAIBackend, worktree: Path
) -> None:
    # Every new content differs in size from the committed one: see the racy-index note in the report
    # (workspaces._snapshot_tree copies the index without its mtime).
    server.script(
        tools(("read_file", {"path": "../secret.txt"}), ("list_files", {})),
        tools(("write_file", {"path": "app/util.py", "content": "VALUE = (1 +\n"})),
        tools(("verify", {})),
        tools(
            (
                "replace_in_file",
                {"path": "app/util.py", "search": "VALUE = (1 +", "replace": "VALUE = (1 + 2)"},
            )
        ),
        tools(("verify", {})),
        text("Fixed util."),
    )
    finding = Finding("tree-sitter", "syntax-error", "missing ')'", "app/util.py", 1, 9, 1, 10)

    result = await backend.work(WorkRequest(task=TASK, worktree=worktree, attempt=2, findings=(finding,)))

    assert result.status == "done"
    assert result.edits == ()
    assert result.log.startswith("Fixed util.")
    assert "files written: app/util.py" in result.log
    assert (worktree / "app/util.py").read_text() == "VALUE = (1 + 2)\n"
    traversal, listing = tool_results(server.requests[1])
    assert traversal.startswith("error: ../secret.txt: path escapes the root")
    assert listing == "app/util.py"
    assert tool_results(server.requests[3])[-1].splitlines()[-1].startswith("rejected")
    assert tool_results(server.requests[5])[-1].splitlines()[-1].startswith("accepted")
    assert all("TOP SECRET" not in json.dumps(r) for r in server.requests)


async def test_requests_carry_the_model_the_key_the_tools_and_the_prompt(
    server: ChatServer, backend: OpenAIBackend, worktree: Path
) -> None:
    server.script(text("Nothing to do."))
    finding = Finding("tree-sitter", "syntax-error", "missing ')'", "app/util.py", 1, 9, 1, 10)

    await backend.work(WorkRequest(task=TASK, worktree=worktree, attempt=2, findings=(finding,)))

    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["model"] == "local-model"
    assert server.headers[0]["authorization"] == "Bearer sk-test"
    names = {t["function"]["name"] for t in request["tools"]}
    assert names == {
        "read_file",
        "list_files",
        "search",
        "write_file",
        "replace_in_file",
        "verify",
        "give_up",
        "split_task",
    }
    prompt = request["messages"][1]["content"]
    assert "Task T4: Fix util" in prompt
    assert "app/util.py:1:9 [tree-sitter syntax-error] missing ')'" in prompt


async def test_without_a_key_in_the_environment_no_authorization_is_sent(
    server: ChatServer, worktree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PODIUM_TEST_KEY", raising=False)
    backend = OpenAIBackend(OpenAISettings(base_url=server.url, api_key_env="PODIUM_TEST_KEY"))
    server.script(text("ok"))

    await backend.work(WorkRequest(task=TASK, worktree=worktree, attempt=1))

    assert "authorization" not in server.headers[0]


async def test_give_up_and_split_task_end_the_attempt_with_that_status(
    server: ChatServer, backend: OpenAIBackend, worktree: Path
) -> None:
    subtasks = [{"key": "a", "title": "Part A"}, {"key": "b", "title": "Part B", "depends_on": ["a"]}]
    server.script(
        tools(("give_up", {"reason": "the file is generated"})),
        tools(("split_task", {"subtasks": []})),
        tools(("split_task", {"subtasks": subtasks})),
    )

    gave_up = await backend.work(WorkRequest(task=TASK, worktree=worktree, attempt=1))
    split = await backend.work(WorkRequest(task=TASK, worktree=worktree, attempt=1))

    assert (gave_up.status, gave_up.log) == ("gave_up", "the file is generated")
    assert split.status == "split"
    assert [(t.key, t.depends_on) for t in split.subtasks] == [("a", ()), ("b", ("a",))]
    assert tool_results(server.requests[2]) == ["error: give at least one subtask"]


async def test_the_loop_ends_as_done_after_max_turns(server: ChatServer, worktree: Path) -> None:
    backend = OpenAIBackend(OpenAISettings(base_url=server.url, max_turns=2))
    server.script(tools(("list_files", {})), tools(("list_files", {})), text("never asked"))

    result = await backend.work(WorkRequest(task=TASK, worktree=worktree, attempt=1))

    assert result.status == "done"
    assert "stopped after 2 turns" in result.log
    assert len(server.requests) == 2


async def test_http_429_is_a_rate_limit(server: ChatServer, backend: OpenAIBackend, worktree: Path) -> None:
    server.script(Reply(429, {"error": "slow down"}, headers={"Retry-After": "7"}))

    with pytest.raises(RateLimited, match="retry after 7 s"):
        await backend.work(WorkRequest(task=TASK, worktree=worktree, attempt=1))


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(503, {"error": "overloaded"}), "HTTP 503"),
        (Reply(200, "not json"), "not a chat-completions answer"),
        (Reply(200, {"choices": []}), "not a chat-completions answer"),
        (Reply(200, {"choices": [{"message": {"tool_calls": [{"function": 3}]}}]}), "malformed tool call"),
    ],
)
async def test_server_errors_and_malformed_answers_are_backend_errors(
    server: ChatServer, backend: OpenAIBackend, worktree: Path, reply: Reply, message: str
) -> None:
    server.script(reply)

    with pytest.raises(BackendError, match=message) as caught:
        await backend.work(WorkRequest(task=TASK, worktree=worktree, attempt=1))
    assert not isinstance(caught.value, RateLimited)


async def test_a_request_that_times_out_is_a_backend_error(server: ChatServer, worktree: Path) -> None:
    backend = OpenAIBackend(OpenAISettings(base_url=server.url, request_timeout_s=0.2))
    server.script(Reply(200, {}, hang=True))

    with pytest.raises(BackendError, match="no answer from .* within 0.2 s"):
        await backend.work(WorkRequest(task=TASK, worktree=worktree, attempt=1))


async def test_an_unreachable_endpoint_is_a_backend_error(server: ChatServer, worktree: Path) -> None:
    backend = OpenAIBackend(OpenAISettings(base_url="http://127.0.0.1:9/v1"))

    with pytest.raises(BackendError, match="request to http://127.0.0.1:9/v1/chat/completions failed"):
        await backend.work(WorkRequest(task=TASK, worktree=worktree, attempt=1))


async def test_plan_reads_a_json_roadmap_answer(
    server: ChatServer, backend: OpenAIBackend, tmp_path: Path
) -> None:
    roadmap = {
        "tasks": [{"key": "a", "title": "Do A", "files": ["a.py"]}, {"title": "Do B", "depends_on": ["a"]}]
    }
    server.script(text(f"```json\n{json.dumps(roadmap)}\n```"))

    tasks = await backend.plan(PlanRequest(mission_id="m1", goal="Build it", root=tmp_path))

    assert [(t.key, t.title, t.depends_on) for t in tasks] == [("a", "Do A", ()), ("Do B", "Do B", ("a",))]
    assert "Build it" in server.requests[0]["messages"][0]["content"]
    assert "tools" not in server.requests[0]


async def test_review_reads_a_json_decision_and_refuses_an_unreadable_one(
    server: ChatServer, backend: OpenAIBackend, worktree: Path
) -> None:
    server.script(text('{"approve": false, "comments": "Rename VALUE."}'), text("Hmm, not sure."))
    request = ReviewRequest(task=TASK, worktree=worktree, diff="+VALUE = 2\n", verdict_summary="accepted")

    result = await backend.review(request)
    with pytest.raises(BackendError, match="unreadable review of T4"):
        await backend.review(request)

    assert (result.approve, result.comments) == (False, "Rename VALUE.")
    assert '"approve": true or false' in server.requests[0]["messages"][0]["content"]
