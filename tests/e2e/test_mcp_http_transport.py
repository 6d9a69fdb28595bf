"""The MCP server over streamable HTTP as a real process, driven by the official client.

Each server is the toy registry of tests/server/toy_registry.py, started with ``--port 0``; the test
reads the URL (and a generated token) from the announcement on its stderr.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import TextResourceContents

from podium.server.http import TOKEN_ENV
from podium.server.mcp_adapter import ERROR_META_KEY

pytestmark = pytest.mark.e2e

TOY_SERVER = Path(__file__).parents[1] / "server" / "toy_registry.py"
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
REQUEST_TIMEOUT = 30.0
ANNOUNCE = "podium: MCP at "
TOKEN_ANNOUNCE = f"podium: bearer token (set {TOKEN_ENV} to choose one): "
ACCEPT = "application/json, text/event-stream"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    url: str
    token: str | None
    announced: list[str]


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    # Drains stderr for the server's whole life: a full pipe would block its logging.
    for line in stream:
        lines.put(line.rstrip("\n"))


def _next_line_starting(lines: queue.Queue[str], prefix: str, seen: list[str]) -> str:
    while True:
        try:
            line = lines.get(timeout=STARTUP_TIMEOUT)
        except queue.Empty:
            pytest.fail(f"server never printed {prefix!r}; stderr so far:\n" + "\n".join(seen))
        seen.append(line)
        if line.startswith(prefix):
            return line.removeprefix(prefix)


Launcher = Callable[..., RunningServer]


@pytest.fixture(scope="module")
def launch() -> Iterator[Launcher]:
    processes: list[subprocess.Popen[str]] = []

    def start(host: str, *, env_token: str | None = None, expect_token: bool = False) -> RunningServer:
        env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV}
        if env_token is not None:
            env[TOKEN_ENV] = env_token
        process = subprocess.Popen(
            [sys.executable, str(TOY_SERVER), "http", "--host", host, "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        processes.append(process)
        assert process.stderr is not None
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_pump, args=(process.stderr, lines), daemon=True).start()
        seen: list[str] = []
        url = _next_line_starting(lines, ANNOUNCE, seen).replace("0.0.0.0", "127.0.0.1")
        token = _next_line_starting(lines, TOKEN_ANNOUNCE, seen) if expect_token else env_token
        return RunningServer(process, url, token, seen)

    yield start
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def local_server(launch: Launcher) -> RunningServer:
    return launch("127.0.0.1")


@pytest.fixture(scope="module")
def open_server(launch: Launcher) -> RunningServer:
    return launch("0.0.0.0", expect_token=True)


@pytest.fixture(scope="module")
def configured_token_server(launch: Launcher) -> RunningServer:
    return launch("127.0.0.1", env_token="configured-token-123")


@asynccontextmanager
async def connect(
    server: RunningServer, mode: Literal["auto", "legacy"] = "auto", *, token: str | None = None
) -> AsyncIterator[Client]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=REQUEST_TIMEOUT) as http,
        Client(streamable_http_client(server.url, http_client=http), mode=mode) as client,
    ):
        yield client


async def _post(server: RunningServer, headers: dict[str, str]) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
        return await http.post(server.url, json=INITIALIZE, headers={"Accept": ACCEPT, **headers})


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_client_lists_the_tools_and_calls_one_over_http(
    local_server: RunningServer, mode: Literal["auto", "legacy"]
) -> None:
    async with connect(local_server, mode) as client:
        tools = (await client.list_tools()).tools
        result = await client.call_tool("echo", {"text": "hello", "times": 2})

    assert [tool.name for tool in tools] == ["echo", "count", "fail", "crash", "plan"]
    assert result.structured_content == {"text": "hello hello"}


async def test_a_refusal_arrives_as_an_error_result_with_its_report(local_server: RunningServer) -> None:
    async with connect(local_server, "legacy") as client:
        result = await client.call_tool("fail", {"code": "illegal_transition", "task_id": "T4"})

    assert result.is_error
    assert result.structured_content is None
    assert result.meta is not None
    assert result.meta[ERROR_META_KEY] == {
        "code": "illegal_transition",
        "message": "task T4 is merged; it cannot become ready",
        "details": {"task_id": "T4", "state": "merged", "target": "ready"},
    }


async def test_bad_arguments_arrive_as_an_error_naming_the_field(local_server: RunningServer) -> None:
    async with connect(local_server) as client:
        result = await client.call_tool("count", {"steps": "many"})

    assert result.is_error
    assert result.meta is not None
    problems = result.meta[ERROR_META_KEY]["details"]["problems"]
    assert [problem["field"] for problem in problems] == ["steps"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_progress_notifications_arrive_over_http(
    local_server: RunningServer, mode: Literal["auto", "legacy"]
) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with connect(local_server, mode) as client:
        result = await client.call_tool("count", {"steps": 3}, progress_callback=on_progress)

    assert result.structured_content == {"counted": 3}
    assert seen == [(1, 3, "step 1 of 3"), (2, 3, "step 2 of 3"), (3, 3, "step 3 of 3")]


async def test_a_resource_template_reads_over_http(local_server: RunningServer) -> None:
    async with connect(local_server) as client:
        read = await client.read_resource("podium://missions/m1/roadmap")

    content = read.contents[0]
    assert isinstance(content, TextResourceContents)
    assert content.text.startswith("# Mission m1")


async def test_a_request_from_a_foreign_origin_is_refused(local_server: RunningServer) -> None:
    refused = await _post(local_server, {"Origin": "http://evil.example"})
    port = local_server.url.split(":")[2].split("/")[0]
    accepted = await _post(local_server, {"Origin": f"http://localhost:{port}"})

    assert refused.status_code == 403
    assert "Origin" in refused.text
    assert accepted.status_code == 200


async def test_a_request_for_a_foreign_host_name_is_refused(local_server: RunningServer) -> None:
    response = await _post(local_server, {"Host": "rebound.evil.example:80"})

    assert response.status_code == 421


async def test_a_non_loopback_bind_requires_the_generated_token(open_server: RunningServer) -> None:
    without = await _post(open_server, {})
    wrong = await _post(open_server, {"Authorization": "Bearer not-the-token"})
    async with connect(open_server, token=open_server.token) as client:
        result = await client.call_tool("echo", {"text": "authorized"})

    assert open_server.token is not None and len(open_server.token) >= 32
    assert without.status_code == 401
    assert wrong.status_code == 401
    assert without.json()["error"] == "invalid_token"
    assert result.structured_content == {"text": "authorized"}


async def test_the_origin_check_still_applies_with_a_valid_token(open_server: RunningServer) -> None:
    assert open_server.token is not None
    response = await _post(
        open_server, {"Authorization": f"Bearer {open_server.token}", "Origin": "http://evil.example"}
    )

    assert response.status_code == 403


async def test_a_configured_token_is_required_even_on_loopback_and_never_printed(
    configured_token_server: RunningServer,
) -> None:
    without = await _post(configured_token_server, {})
    async with connect(configured_token_server, token="configured-token-123") as client:
        result = await client.call_tool("echo", {"text": "configured"})

    assert without.status_code == 401
    assert result.structured_content == {"text": "configured"}
    assert not any("configured-token-123" in line for line in configured_token_server.announced)
