"""The scripted model server speaks both wire protocols the way the agents' SDKs read them."""

from __future__ import annotations

import json
from typing import Any

import httpx2
from scripted_llm import EXHAUSTED, SIDE_REPLY, ChatRequest, Reply, Script, ScriptedLLM, ToolCall

TIMEOUT = 10.0
TOOLS_OPENAI = [
    {"type": "function", "function": {"name": "podium_task_claim", "parameters": {"type": "object"}}}
]
TOOLS_ANTHROPIC = [{"name": "mcp__podium__task_claim", "input_schema": {"type": "object"}}]


def sse_data(response: httpx2.Response) -> list[str]:
    return [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]


def openai_stream(
    client: httpx2.Client, llm: ScriptedLLM, messages: list[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """Accumulate a streamed completion as an SDK would: text, tool calls by index, the final chunk."""
    body = {"model": "m", "stream": True, "messages": messages, "tools": TOOLS_OPENAI}
    text = ""
    calls: dict[int, dict[str, Any]] = {}
    with client.stream("POST", f"{llm.openai_base_url}/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        data = sse_data(response)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(item) for item in data[:-1]]
    for chunk in chunks:
        delta = chunk["choices"][0]["delta"]
        text += delta.get("content") or ""
        for part in delta.get("tool_calls") or []:
            call = calls.setdefault(part["index"], {"id": None, "name": "", "arguments": ""})
            call["id"] = part.get("id") or call["id"]
            call["name"] += part.get("function", {}).get("name") or ""
            call["arguments"] += part.get("function", {}).get("arguments") or ""
    return text, [calls[i] for i in sorted(calls)], chunks[-1]


def test_openai_streaming_plays_the_script_and_passes_tool_results_to_the_policy() -> None:
    seen: list[ChatRequest] = []

    def answer(request: ChatRequest) -> Reply:
        seen.append(request)
        result = request.result_of("task_claim")
        assert result is not None
        return Reply.say(f"claimed {result.json()['task_id']}")

    with (
        ScriptedLLM(Script(Reply.call("podium_task_claim", mission_id="m-1"), answer)) as llm,
        httpx2.Client(timeout=TIMEOUT) as client,
    ):
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "go"},
        ]
        text, calls, last = openai_stream(client, llm, messages)
        assert (text, last["choices"][0]["finish_reason"]) == ("", "tool_calls")
        assert last["usage"]["total_tokens"] > 0
        assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [
            ("podium_task_claim", {"mission_id": "m-1"})
        ]
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": calls[0]["id"],
                        "type": "function",
                        "function": {"name": "podium_task_claim", "arguments": calls[0]["arguments"]},
                    }
                ],
            }
        )
        messages.append(
            {"role": "tool", "tool_call_id": calls[0]["id"], "content": json.dumps({"task_id": "t-7"})}
        )
        text, calls, last = openai_stream(client, llm, messages)
        assert (text, calls, last["choices"][0]["finish_reason"]) == ("claimed t-7", [], "stop")
        text, _, _ = openai_stream(client, llm, messages)
        assert text.startswith(EXHAUSTED)
    assert seen[0].system == "be brief"
    assert seen[0].tools == ("podium_task_claim",)
    assert [r.name for r in seen[0].trailing_tool_results] == ["podium_task_claim"]
    assert len(llm.main_requests) == 3


def test_openai_side_requests_and_non_streaming_answers_do_not_consume_the_script() -> None:
    with (
        ScriptedLLM(Script(Reply.calls(ToolCall("a", {"x": 1}), ToolCall("b")))) as llm,
        httpx2.Client(timeout=TIMEOUT) as client,
    ):
        title = client.post(
            f"{llm.openai_base_url}/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "title?"}]},
        )
        assert title.json()["choices"][0]["message"]["content"] == SIDE_REPLY
        models = client.get(f"{llm.openai_base_url}/models").json()
        assert models["data"][0]["id"]
        body = {"model": "m", "messages": [{"role": "user", "content": "go"}], "tools": TOOLS_OPENAI}
        choice = client.post(f"{llm.openai_base_url}/chat/completions", json=body).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert [
        (c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in choice["message"]["tool_calls"]
    ] == [("a", {"x": 1}), ("b", {})]
    assert [r.side for r in llm.chat_requests] == [True, False]


def test_anthropic_streaming_emits_tool_use_blocks_and_reads_tool_results() -> None:
    def answer(request: ChatRequest) -> Reply:
        result = request.result_of("task_claim")
        assert result is not None and result.name == "mcp__podium__task_claim"
        return Reply.say(f"got {result.content}")

    script = Script(
        Reply(text="claiming", tool_calls=(ToolCall("mcp__podium__task_claim", {"mission_id": "m-2"}),)),
        answer,
    )
    with ScriptedLLM(script) as llm, httpx2.Client(timeout=TIMEOUT) as client:
        url = f"{llm.anthropic_base_url}/v1/messages"
        body: dict[str, Any] = {
            "model": "claude",
            "max_tokens": 100,
            "stream": True,
            "system": [{"type": "text", "text": "sys"}],
            "messages": [{"role": "user", "content": "go"}],
            "tools": TOOLS_ANTHROPIC,
        }
        with client.stream("POST", url, json=body) as response:
            lines = list(response.iter_lines())
        events = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
        data = [
            json.loads(item)
            for item in (line.removeprefix("data: ") for line in lines if line.startswith("data: "))
        ]
        assert events[0] == "message_start" and events[-1] == "message_stop"
        assert [d["type"] for d in data] == events
        starts = [d["content_block"] for d in data if d["type"] == "content_block_start"]
        assert [b["type"] for b in starts] == ["text", "tool_use"]
        partial = "".join(
            d["delta"]["partial_json"]
            for d in data
            if d["type"] == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
        )
        assert json.loads(partial) == {"mission_id": "m-2"}
        assert next(d for d in data if d["type"] == "message_delta")["delta"]["stop_reason"] == "tool_use"
        body["stream"] = False
        body["messages"] += [
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": starts[1]["id"], "name": starts[1]["name"], "input": {}}
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": starts[1]["id"],
                        "content": [{"type": "text", "text": "ok"}],
                    }
                ],
            },
        ]
        message = client.post(url, json=body).json()
        count = client.post(f"{url}/count_tokens", json=body).json()
    assert (message["content"], message["stop_reason"]) == ([{"type": "text", "text": "got ok"}], "end_turn")
    assert count["input_tokens"] > 0
    assert llm.main_requests[0].system == "sys"


def test_a_failing_policy_answers_with_a_readable_error() -> None:
    def broken(_request: ChatRequest) -> Reply:
        raise KeyError("task_id")

    with ScriptedLLM(broken) as llm, httpx2.Client(timeout=TIMEOUT) as client:
        body = {
            "model": "c",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "go"}],
            "tools": TOOLS_ANTHROPIC,
        }
        message = client.post(f"{llm.anthropic_base_url}/v1/messages", json=body).json()
    assert message["content"][0]["text"].startswith("SCRIPT ERROR: KeyError")
    assert llm.errors
