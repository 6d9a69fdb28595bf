"""The `openai` backend: any OpenAI-compatible chat-completions endpoint, with a tool-calling worker loop.

Work: the model gets the work prompt and the worker tools (`agents.worker_tools`, confined to the task's
worktree) plus two control tools, `give_up(reason)` and `split_task(subtasks)`. Each turn's tool calls are
run and answered; a reply without tool calls ends the attempt as `done` (judge the worktree), and so does
reaching `max_turns`. Plan and review are single requests answered in JSON (the roadmap of
`agents.answers`; `{"approve": ..., "comments": ...}`).

HTTP goes through `httpx2` (already installed as the MCP SDK's client): it is async on anyio, so a cancelled
mission stops a request at once, where urllib in a worker thread would hold its thread until the timeout.
HTTP 429 raises `RateLimited`; other HTTP errors, timeouts, network errors and malformed answers raise
`BackendError`. The API key is read from the environment variable named in the settings at each call, and
is optional (local servers need none).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx2

from podium.orchestration.agents.answers import as_list, as_mapping, extract_json, parse_review, planned_tasks
from podium.orchestration.agents.base import (
    BackendError,
    PlannedTask,
    PlanRequest,
    RateLimited,
    ReviewRequest,
    ReviewResult,
    WorkRequest,
    WorkResult,
)
from podium.orchestration.agents.prompts import (
    JSON_REVIEW_FORMAT,
    PLAN_TEMPLATE,
    REVIEW_TEMPLATE,
    WORK_TEMPLATE,
    plan_prompt,
    review_prompt,
    work_prompt,
)
from podium.orchestration.agents.worker_tools import (
    MAX_OUTPUT_CHARS,
    TOOL_DEFINITIONS,
    WorkerTools,
    WorktreeVerifier,
    syntax_verifier,
)
from podium.verification.errors import ConfigError

__all__ = ["OpenAIBackend", "OpenAISettings"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_MAX_TURNS = 40
DEFAULT_REQUEST_TIMEOUT_S = 120.0

WORKER_SYSTEM_PROMPT = (
    "You are a coding agent working on one task in a git worktree, only through the tools you are given. "
    "Read before you write, keep changes to what the task needs, and call `verify` before you finish. "
    "When the task is done, reply with a short summary and no tool call. If it cannot be done, call "
    "`give_up`; if it is too big for one worker, call `split_task`."
)

_CONTROL_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "give_up",
            "description": "Stop: the task cannot be done. Explain why.",
            "parameters": {
                "type": "object",
                "properties": {"reason": {"type": "string"}},
                "required": ["reason"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "split_task",
            "description": "Replace this task by smaller ones (each with key, title, description, files, "
            "depends_on listing keys of sibling subtasks).",
            "parameters": {
                "type": "object",
                "properties": {"subtasks": {"type": "array", "items": {"type": "object"}}},
                "required": ["subtasks"],
            },
        },
    },
]


@dataclass(frozen=True, slots=True)
class OpenAISettings:
    """How to reach an OpenAI-compatible endpoint.

    Attributes:
        base_url: the API root, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`.
        model: the model name the endpoint serves.
        api_key_env: the environment variable holding the key; unset or empty sends no key.
        max_turns: model requests in one work attempt before it ends.
        request_timeout_s: the longest one HTTP request may take.
        temperature: sent when set.
        max_tool_output_chars: longest tool result handed back to the model.
        work_template, plan_template, review_template: prompt templates (see `agents.prompts`).
        name: the backend's name in logs, limits and the circuit breaker.
    """

    base_url: str = DEFAULT_BASE_URL
    model: str = DEFAULT_MODEL
    api_key_env: str = DEFAULT_API_KEY_ENV
    max_turns: int = DEFAULT_MAX_TURNS
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    temperature: float | None = None
    max_tool_output_chars: int = MAX_OUTPUT_CHARS
    work_template: str = WORK_TEMPLATE
    plan_template: str = PLAN_TEMPLATE
    review_template: str = REVIEW_TEMPLATE
    name: str = "openai"


@dataclass(frozen=True, slots=True)
class _ToolCall:
    id: str
    name: str
    arguments: str


class OpenAIBackend:
    """An `AgentBackend` on an OpenAI-compatible chat-completions endpoint."""

    def __init__(self, settings: OpenAISettings, *, verifier: WorktreeVerifier = syntax_verifier) -> None:
        if settings.max_turns < 1:
            raise ConfigError(f"backend {settings.name}: `max_turns` must be at least 1")
        if not settings.base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"backend {settings.name}: `base_url` must be an http(s) URL, not {settings.base_url!r}"
            )
        self._settings = settings
        self._verifier = verifier

    @property
    def name(self) -> str:
        return self._settings.name

    async def plan(self, request: PlanRequest) -> tuple[PlannedTask, ...]:
        content = await self._ask(plan_prompt(request, self._settings.plan_template))
        try:
            return planned_tasks(extract_json(content), where="the planner's roadmap", strict=False)
        except ValueError as exc:
            raise BackendError(
                f"backend {self.name}: the planner did not answer with a roadmap: {exc}"
            ) from None

    async def review(self, request: ReviewRequest) -> ReviewResult:
        content = await self._ask(review_prompt(request, self._settings.review_template, JSON_REVIEW_FORMAT))
        try:
            return parse_review(content)
        except ValueError as exc:
            raise BackendError(
                f"backend {self.name}: unreadable review of {request.task.id}: {exc}"
            ) from None

    async def work(self, request: WorkRequest) -> WorkResult:
        s = self._settings
        tools = WorkerTools(request.worktree, self._verifier, max_output_chars=s.max_tool_output_chars)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": WORKER_SYSTEM_PROMPT},
            {"role": "user", "content": work_prompt(request, s.work_template)},
        ]
        async with self._client() as client:
            for turn in range(1, s.max_turns + 1):
                message = await self._complete(client, messages, [*TOOL_DEFINITIONS, *_CONTROL_TOOLS])
                calls = _tool_calls(message, self.name)
                echo = {"role": "assistant", "content": message.get("content")}
                messages.append({**echo, "tool_calls": message["tool_calls"]} if calls else echo)
                if not calls:
                    return WorkResult("done", log=_log(message.get("content"), turn, tools.written))
                for call in calls:
                    logger.debug("%s: task %s calls %s", self.name, request.task.id, call.name)
                    outcome = _control(call)
                    if isinstance(outcome, WorkResult):
                        return outcome
                    result = outcome if outcome is not None else await tools.call(call.name, call.arguments)
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        return WorkResult("done", log=_log(f"stopped after {s.max_turns} turns", s.max_turns, tools.written))

    async def _ask(self, prompt: str) -> str:
        async with self._client() as client:
            message = await self._complete(client, [{"role": "user", "content": prompt}], [])
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            raise BackendError(f"backend {self.name}: the model answered with no text")
        return content

    def _client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(timeout=self._settings.request_timeout_s)

    async def _complete(
        self, client: httpx2.AsyncClient, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]]
    ) -> dict[str, object]:
        s = self._settings
        body: dict[str, Any] = {"model": s.model, "messages": list(messages)}
        if tools:
            body["tools"] = list(tools)
        if s.temperature is not None:
            body["temperature"] = s.temperature
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(s.api_key_env, "")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        url = s.base_url.rstrip("/") + "/chat/completions"
        try:
            response = await client.post(url, json=body, headers=headers)
        except httpx2.TimeoutException:
            raise BackendError(
                f"backend {self.name}: no answer from {url} within {s.request_timeout_s:g} s"
            ) from None
        except httpx2.HTTPError as exc:
            raise BackendError(f"backend {self.name}: request to {url} failed: {exc}") from None
        if response.status_code == 429:
            wait = response.headers.get("retry-after")
            raise RateLimited(
                f"backend {self.name}: rate limited (HTTP 429{f', retry after {wait} s' if wait else ''})"
            )
        if response.status_code >= 400:
            raise BackendError(
                f"backend {self.name}: HTTP {response.status_code} from {url}: {response.text[:300]}"
            )
        try:
            payload = as_mapping(response.json(), "response")
            choice = as_mapping(as_list(payload.get("choices"), "choices")[0], "choices[0]")
            return as_mapping(choice.get("message"), "choices[0].message")
        except (ValueError, IndexError) as exc:
            raise BackendError(f"backend {self.name}: not a chat-completions answer: {exc}") from None


def _tool_calls(message: dict[str, object], backend: str) -> list[_ToolCall]:
    raw = message.get("tool_calls")
    if not raw:
        return []
    calls: list[_ToolCall] = []
    try:
        for index, item in enumerate(as_list(raw, "tool_calls")):
            call = as_mapping(item, f"tool_calls[{index}]")
            function = as_mapping(call.get("function"), f"tool_calls[{index}].function")
            arguments = function.get("arguments", "{}")
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments)
            calls.append(_ToolCall(str(call.get("id", index)), str(function.get("name", "")), arguments))
    except ValueError as exc:
        raise BackendError(f"backend {backend}: malformed tool call: {exc}") from None
    return calls


def _control(call: _ToolCall) -> WorkResult | str | None:
    """The end of the attempt for a control tool, an error message for a bad one, None for the rest."""
    if call.name == "give_up":
        reason = _parsed(call).get("reason")
        return WorkResult("gave_up", log=reason if isinstance(reason, str) and reason else "no reason given")
    if call.name != "split_task":
        return None
    try:
        subtasks = planned_tasks(_parsed(call).get("subtasks"), where="subtasks", strict=False)
    except ValueError as exc:
        return f"error: {exc}"
    if not subtasks:
        return "error: give at least one subtask"
    return WorkResult("split", subtasks=subtasks, log=f"split into {len(subtasks)} subtasks")


def _parsed(call: _ToolCall) -> dict[str, object]:
    try:
        return as_mapping(json.loads(call.arguments or "{}"), "arguments")
    except ValueError:
        return {}


def _log(content: object, turns: int, written: set[str]) -> str:
    text = content.strip() if isinstance(content, str) else ""
    files = ", ".join(sorted(written)) or "none"
    return f"{text}\n({turns} turn{'s' if turns != 1 else ''}; files written: {files})".strip()
