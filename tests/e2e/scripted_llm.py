"""A scripted model server for the end-to-end tests: OpenAI chat completions and Anthropic Messages.

Usage (tests/e2e is on sys.path: ``from scripted_llm import Reply, Script, ScriptedLLM``):
    script = Script(Reply.call("podium_task_claim", mission_id="m1"), lambda request: Reply.say("done"))
    with ScriptedLLM(script) as llm:  # listens on 127.0.0.1, a free port
        ...  # OpenAI clients: llm.openai_base_url (ends in /v1); Anthropic clients: llm.anthropic_base_url
    llm.requests / llm.main_requests: what was asked (ChatRequest: .system .tools .tool_results .body).
A policy is any ``(ChatRequest) -> Reply | None``; ``None``/a finished ``Script`` answers "SCRIPT EXHAUSTED".
Side requests (no tools offered: OpenCode's title generator, Claude Code's haiku calls) get ``SIDE_REPLY``
text and never reach the policy; pass ``is_side=`` to change that rule.

It stands in for a real model behind the same wire protocols, so the real OpenCode and Claude Code binaries
can be driven through Podium's tools deterministically: the test's policy sees each request the agent sends
(messages, offered tools, tool results) and decides the next assistant turn. Streaming answers are
Server-Sent Events in the shapes both SDKs parse (OpenAI ``data:`` chunks with ``tool_calls`` deltas and
``[DONE]``; Anthropic ``message_start`` … ``message_stop``), sent chunked so keep-alive clients work.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, cast

Protocol = Literal["openai", "anthropic"]
SIDE_REPLY = "Podium scripted session"
EXHAUSTED = "SCRIPT EXHAUSTED"
MODEL = "scripted-model"
JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call the scripted model makes."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict[str, Any])


@dataclass(frozen=True, slots=True)
class Reply:
    """The next assistant turn: some text, tool calls, or both (text first)."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()

    @classmethod
    def say(cls, text: str) -> Reply:
        return cls(text=text)

    @classmethod
    def call(cls, name: str, /, **arguments: Any) -> Reply:
        return cls(tool_calls=(ToolCall(name, arguments),))

    @classmethod
    def calls(cls, *calls: ToolCall) -> Reply:
        return cls(tool_calls=calls)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool result the agent sent back: the call it answers, the tool's name and the result as text."""

    call_id: str
    name: str
    content: str
    is_error: bool = False

    def json(self) -> Any:
        """The result parsed as JSON (Podium's tools answer JSON text); raises if it is not JSON."""
        return json.loads(self.content)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat request as the policy sees it, whichever protocol carried it."""

    protocol: Protocol
    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    system: str
    messages: Sequence[Mapping[str, Any]]
    tools: tuple[str, ...]
    tool_results: tuple[ToolResult, ...]
    """Every tool result in the conversation, oldest first."""
    trailing_tool_results: tuple[ToolResult, ...]
    """The tool results after the last assistant turn: what the model's previous calls returned."""
    stream: bool
    side: bool = False

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def last_tool_result(self) -> ToolResult | None:
        return self.tool_results[-1] if self.tool_results else None

    def result_of(self, tool: str) -> ToolResult | None:
        """The latest result of a tool whose name is ``tool`` or ends with it (``task_claim`` matches
        ``podium_task_claim`` and ``mcp__podium__task_claim``)."""
        for result in reversed(self.tool_results):
            if result.name == tool or result.name.endswith(tool):
                return result
        return None

    def results_of(self, tool: str) -> list[ToolResult]:
        return [r for r in self.tool_results if r.name == tool or r.name.endswith(tool)]

    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                text = _text_of(message.get("content"))
                if text:
                    return text
        return ""


Policy = Callable[[ChatRequest], Reply | None]
Step = Reply | Policy


class Script:
    """A policy that plays ``steps`` in order, one per main request; a step is a Reply or a policy."""

    def __init__(self, *steps: Step) -> None:
        self._steps = list(steps)
        self.position = 0

    def __call__(self, request: ChatRequest) -> Reply | None:
        if self.position >= len(self._steps):
            return None
        step = self._steps[self.position]
        self.position += 1
        return step if isinstance(step, Reply) else step(request)

    @property
    def finished(self) -> bool:
        return self.position >= len(self._steps)


def no_tools_offered(request: ChatRequest) -> bool:
    """The default side-request rule: an agent's own working turns always offer tools; its title, summary
    and classification calls (OpenCode's ``small_model``, Claude Code's haiku) offer none."""
    return not request.tools


@dataclass(frozen=True, slots=True)
class Recorded:
    """Any HTTP request the server saw, chat or not."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    chat: ChatRequest | None
    reply: Reply | None
    at: float = field(default_factory=time.monotonic)
    """When it arrived (`time.monotonic`), to see where a slow run spent its time."""


class ScriptedLLM:
    """The server; a context manager that listens on 127.0.0.1 on a free port while open."""

    def __init__(
        self,
        policy: Policy,
        *,
        is_side: Callable[[ChatRequest], bool] = no_tools_offered,
        side_reply: Callable[[ChatRequest], Reply] = lambda _request: Reply.say(SIDE_REPLY),
        model: str = MODEL,
    ) -> None:
        self.policy = policy
        self.is_side = is_side
        self.side_reply = side_reply
        self.model = model
        self.requests: list[Recorded] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the server is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def chat_requests(self) -> list[ChatRequest]:
        return [r.chat for r in self.requests if r.chat is not None]

    @property
    def main_requests(self) -> list[ChatRequest]:
        return [r for r in self.chat_requests if not r.side]

    @property
    def side_requests(self) -> list[ChatRequest]:
        return [r for r in self.chat_requests if r.side]

    def __enter__(self) -> ScriptedLLM:
        handler = type("Handler", (_Handler,), {"llm": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="scripted-llm", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):04d}"

    def decide(self, request: ChatRequest) -> Reply:
        """The reply to a chat request; serialised so a policy never runs twice at once."""
        with self._lock:
            if request.side:
                return self.side_reply(request)
            try:
                reply = self.policy(request)
            except Exception:
                error = traceback.format_exc()
                self.errors.append(error)
                return Reply.say(f"SCRIPT ERROR: {error.strip().splitlines()[-1]}")
            if reply is None:
                return Reply.say(f"{EXHAUSTED}: no scripted answer for request {len(self.main_requests) + 1}")
            return reply

    def record(self, entry: Recorded) -> None:
        with self._lock:
            self.requests.append(entry)

    def describe(self) -> str:
        """What the server saw, for assertion messages."""
        lines: list[str] = []
        start = self.requests[0].at if self.requests else 0.0
        for entry in self.requests:
            chat = entry.chat
            kind = "" if chat is None else (" side" if chat.side else f" tools={len(chat.tools)}")
            said = (
                ""
                if entry.reply is None
                else f" -> {entry.reply.text[:60]!r} {[c.name for c in entry.reply.tool_calls]}"
            )
            lines.append(f"{entry.at - start:6.2f}s {entry.method} {entry.path}{kind}{said}")
        return "\n".join(lines + self.errors)


def _text_of(content: Any) -> str:
    """Text of a message content: a string, or a list of parts (OpenAI ``text`` parts, Anthropic blocks)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in cast(list[Any], content):
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                block = cast(JSON, part)
                if block.get("type") in (None, "text"):
                    parts.append(str(block.get("text", "")))
        return "".join(parts)
    return str(content)


def parse_openai(path: str, headers: Mapping[str, str], body: JSON) -> ChatRequest:
    messages = cast(list[JSON], body.get("messages") or [])
    system = "\n".join(
        _text_of(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
    )
    tools = tuple(
        str(t.get("function", {}).get("name", "")) for t in cast(list[JSON], body.get("tools") or [])
    )
    names: dict[str, str] = {}
    results: list[ToolResult] = []
    trailing_from = 0
    for message in messages:
        if message.get("role") == "assistant":
            trailing_from = len(results)
            for call in cast(list[JSON], message.get("tool_calls") or []):
                names[str(call.get("id"))] = str(call.get("function", {}).get("name", ""))
        elif message.get("role") == "tool":
            call_id = str(message.get("tool_call_id", ""))
            results.append(ToolResult(call_id, names.get(call_id, ""), _text_of(message.get("content"))))
    return ChatRequest(
        protocol="openai",
        path=path,
        headers=headers,
        body=body,
        system=system,
        messages=messages,
        tools=tools,
        tool_results=tuple(results),
        trailing_tool_results=tuple(results[trailing_from:]),
        stream=bool(body.get("stream")),
    )


def parse_anthropic(path: str, headers: Mapping[str, str], body: JSON) -> ChatRequest:
    messages = cast(list[JSON], body.get("messages") or [])
    tools = tuple(str(t.get("name", "")) for t in cast(list[JSON], body.get("tools") or []))
    names: dict[str, str] = {}
    results: list[ToolResult] = []
    trailing_from = 0
    for message in messages:
        content = message.get("content")
        blocks = cast(list[JSON], content) if isinstance(content, list) else []
        if message.get("role") == "assistant":
            trailing_from = len(results)
            for block in blocks:
                if block.get("type") == "tool_use":
                    names[str(block.get("id"))] = str(block.get("name", ""))
        for block in blocks:
            if block.get("type") == "tool_result":
                call_id = str(block.get("tool_use_id", ""))
                text = _text_of(block.get("content"))
                results.append(ToolResult(call_id, names.get(call_id, ""), text, bool(block.get("is_error"))))
    return ChatRequest(
        protocol="anthropic",
        path=path,
        headers=headers,
        body=body,
        system=_text_of(body.get("system")),
        messages=messages,
        tools=tools,
        tool_results=tuple(results),
        trailing_tool_results=tuple(results[trailing_from:]),
        stream=bool(body.get("stream")),
    )


def _usage_tokens(body: Mapping[str, Any]) -> int:
    return max(1, len(json.dumps(body)) // 4)


def openai_completion(llm: ScriptedLLM, reply: Reply, model: str) -> JSON:
    calls = [
        {
            "id": llm.next_id("call_"),
            "type": "function",
            "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
        }
        for c in reply.tool_calls
    ]
    message: JSON = {"role": "assistant", "content": reply.text or None}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": llm.next_id("chatcmpl-"),
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def openai_chunks(llm: ScriptedLLM, reply: Reply, model: str) -> Iterator[JSON]:
    ident = llm.next_id("chatcmpl-")

    def chunk(delta: JSON, finish: str | None = None) -> JSON:
        return {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    yield chunk({"role": "assistant", "content": ""})
    if reply.text:
        middle = len(reply.text) // 2 or len(reply.text)
        for piece in (reply.text[:middle], reply.text[middle:]):
            if piece:
                yield chunk({"content": piece})
    for index, call in enumerate(reply.tool_calls):
        head = {"index": index, "id": llm.next_id("call_"), "type": "function"}
        yield chunk({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
        arguments = json.dumps(call.arguments)
        middle = len(arguments) // 2
        for piece in (arguments[:middle], arguments[middle:]):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    last = chunk({}, "tool_calls" if reply.tool_calls else "stop")
    last["usage"] = {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
    yield last


def anthropic_message(llm: ScriptedLLM, reply: Reply, model: str, input_tokens: int) -> JSON:
    content: list[JSON] = []
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        content.append(
            {
                "type": "tool_use",
                "id": llm.next_id("toolu_"),
                "name": call.name,
                "input": dict(call.arguments),
            }
        )
    return {
        "id": llm.next_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 10},
    }


def anthropic_events(
    llm: ScriptedLLM, reply: Reply, model: str, input_tokens: int
) -> Iterator[tuple[str, JSON]]:
    message = anthropic_message(llm, reply, model, input_tokens)
    blocks = cast(list[JSON], message["content"])
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1},
    }
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            opened = {**block, "input": {}}
            yield (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": opened},
            )
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    stop = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    yield "message_delta", {"type": "message_delta", "delta": stop, "usage": {"output_tokens": 10}}
    yield "message_stop", {"type": "message_stop"}


def models_list(model: str) -> JSON:
    """A listing both SDKs accept: OpenAI's ``object``/``owned_by``, Anthropic's ``type``/``display_name``."""
    entry = {
        "id": model,
        "object": "model",
        "type": "model",
        "created": 0,
        "created_at": "2025-01-01T00:00:00Z",
        "owned_by": "podium-tests",
        "display_name": model,
    }
    return {"object": "list", "data": [entry], "has_more": False, "first_id": model, "last_id": model}


class _Handler(BaseHTTPRequestHandler):
    llm: ScriptedLLM
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's parameter name
        """Quiet: the tests read `ScriptedLLM.requests` instead."""

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except json.JSONDecodeError:
            return raw.decode(errors="replace")

    def _send_json(self, payload: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _send_chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        self.llm.record(Recorded("GET", self.path, dict(self.headers), None, None, None))
        if path.rstrip("/").endswith("/models"):
            self._send_json(models_list(self.llm.model))
        else:
            self._send_json(
                {"error": {"type": "not_found", "message": f"no {path} here"}}, HTTPStatus.NOT_FOUND
            )

    def do_HEAD(self) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        headers = dict(self.headers)
        body = self._body()
        payload = cast(JSON, body) if isinstance(body, dict) else {}
        if path.endswith("/chat/completions"):
            self._chat(parse_openai(self.path, headers, payload))
        elif path.endswith("/messages/count_tokens"):
            self.llm.record(Recorded("POST", self.path, headers, body, None, None))
            self._send_json({"input_tokens": _usage_tokens(payload)})
        elif path.endswith("/messages"):
            self._chat(parse_anthropic(self.path, headers, payload))
        else:
            self.llm.record(Recorded("POST", self.path, headers, body, None, None))
            self._send_json(
                {"error": {"type": "not_found", "message": f"no {path} here"}}, HTTPStatus.NOT_FOUND
            )

    def _chat(self, request: ChatRequest) -> None:
        llm = self.llm
        request = dataclasses.replace(request, side=llm.is_side(request))
        reply = llm.decide(request)
        llm.record(Recorded("POST", self.path, request.headers, request.body, request, reply))
        model = request.model or llm.model
        if request.protocol == "openai":
            if not request.stream:
                self._send_json(openai_completion(llm, reply, model))
                return
            self._start_stream()
            for chunk in openai_chunks(llm, reply, model):
                self._send_chunk(f"data: {json.dumps(chunk)}\n\n")
            self._send_chunk("data: [DONE]\n\n")
            self._end_stream()
            return
        tokens = _usage_tokens(request.body)
        if not request.stream:
            self._send_json(anthropic_message(llm, reply, model, tokens))
            return
        self._start_stream()
        for event, data in anthropic_events(llm, reply, model, tokens):
            self._send_chunk(f"event: {event}\ndata: {json.dumps(data)}\n\n")
        self._end_stream()
