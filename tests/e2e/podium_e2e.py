"""What the end-to-end tests share: isolated git repositories and `podium mcp` as real processes.

Every repository lives under the test's own directory, and every process the tests start (git, `podium`,
the MCP servers, the worker scripts) gets `Repo.env`: a private ``HOME`` and a git that reads no global or
system configuration, so the machine's settings (signing, hooks, templates) cannot change an outcome.
Every wait is bounded by one of the named timeouts below.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import httpx2
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextResourceContents

from podium.server.mcp_adapter import ERROR_META_KEY

PODIUM = [sys.executable, "-m", "podium.server"]
STARTUP_TIMEOUT = 60.0
CALL_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
COMMAND_TIMEOUT = 120.0
ANNOUNCE = "podium: MCP at "
TESTER = ("-c", "user.name=Tester", "-c", "user.email=tester@example.com")
TRAILER_FORMAT = "--format=%(trailers:key=Podium-Task,valueonly,separator=%x2C)"


def isolated_env(base: Path) -> dict[str, str]:
    """Environment entries that keep git and tools inside ``base``: private HOME, no user/system config."""
    home = base / "home"
    home.mkdir(exist_ok=True)
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CEILING_DIRECTORIES": str(base),
        "PYTHONUNBUFFERED": "1",
    }


@dataclass(frozen=True)
class Repo:
    """A git repository of one test, on branch ``main``, and the environment its processes get."""

    root: Path
    env: Mapping[str, str] = field(default_factory=dict[str, str])

    def full_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=self.root,
            env=self.full_env(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
        return done.stdout

    def head(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", ref).strip()

    def podium(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the `podium` command line (as ``python -m podium.server``) and capture its output."""
        return subprocess.run(
            [*PODIUM, *args],
            cwd=self.root,
            env=self.full_env(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )

    def task_trailers(self, ref: str, since: str | None = None) -> list[str]:
        """The ``Podium-Task`` trailers of the commits on ``ref`` (after ``since``), oldest first."""
        span = ref if since is None else f"{since}..{ref}"
        lines = self.git("log", "--reverse", TRAILER_FORMAT, span).splitlines()
        return [line.strip() for line in lines if line.strip()]


MakeRepo = Callable[[Mapping[str, str]], Repo]
"""The ``repo_factory`` fixture: ``repo_factory({"a.py": "x = 1\\n"})`` makes the test's repository."""


def make_repo(base: Path, files: Mapping[str, str]) -> Repo:
    """A repository at ``base/repo`` on ``main`` whose first commit holds ``files``."""
    root = base / "repo"
    root.mkdir()
    repo = Repo(root, isolated_env(base))
    repo.git("init", "--quiet", "--initial-branch=main")
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    repo.git("add", "--all")
    repo.git(*TESTER, "commit", "--quiet", "-m", "initial")
    return repo


def mcp_args(repo: Repo, *, pass_root: bool) -> list[str]:
    return ["-m", "podium.server", "mcp", *(["--root", str(repo.root)] if pass_root else [])]


@asynccontextmanager
async def stdio_session(repo: Repo, log: Path, *, pass_root: bool = True) -> AsyncIterator[ClientSession]:
    """`podium mcp` over stdio as a child process, working in the repository, with an initialized session.

    Without ``pass_root`` the server finds the project from its working directory alone, as a client
    configured with only ``cwd`` would start it. Its stderr goes to ``log``.
    """
    params = StdioServerParameters(
        command=sys.executable, args=mcp_args(repo, pass_root=pass_root), env=dict(repo.env), cwd=repo.root
    )
    with log.open("a") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            with anyio.fail_after(STARTUP_TIMEOUT):
                await session.initialize()
            yield session


@dataclass
class HttpServer:
    """A running `podium mcp --http` process: its URL and what it printed on stderr so far."""

    process: anyio.abc.Process
    url: str
    stderr: list[str]
    stopped_by_sigterm: bool | None = None


@asynccontextmanager
async def http_server(repo: Repo, address: str = "127.0.0.1:0") -> AsyncIterator[HttpServer]:
    """`podium mcp --http ADDRESS --root REPO` as a process, ready once it announced its URL; stopped on exit.

    Its stderr is drained for its whole life (a full pipe would block its logging) and kept for messages.
    """
    command = [*PODIUM, "mcp", "--root", str(repo.root), "--http", address]
    process = await anyio.open_process(
        command, cwd=repo.root, env=repo.full_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    assert process.stderr is not None
    lines: list[str] = []
    announced = anyio.Event()
    url: list[str] = []

    async def drain(stream: anyio.abc.ByteReceiveStream) -> None:
        buffer = b""
        async for chunk in stream:
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            for raw in complete:
                line = raw.decode(errors="replace")
                lines.append(line)
                if line.startswith(ANNOUNCE) and not announced.is_set():
                    url.append(line.removeprefix(ANNOUNCE).strip())
                    announced.set()
        announced.set()  # the process ended; nobody should wait for an announcement any more

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(drain, process.stderr)
            with anyio.move_on_after(STARTUP_TIMEOUT):
                await announced.wait()
            if not url:
                raise AssertionError("podium mcp --http never announced its URL:\n" + "\n".join(lines))
            server = HttpServer(process, url[0], lines)
            try:
                yield server
            finally:
                server.stopped_by_sigterm = await _stop(process)
                tg.cancel_scope.cancel()
    finally:
        await _stop(process)
        with anyio.move_on_after(STOP_TIMEOUT, shield=True):
            await process.aclose()


async def _stop(process: anyio.abc.Process) -> bool:
    """Stop ``process``: SIGTERM, then SIGKILL after `STOP_TIMEOUT`; whether SIGTERM was enough."""
    if process.returncode is not None:
        return True
    process.terminate()
    with anyio.move_on_after(STOP_TIMEOUT, shield=True):
        await process.wait()
        return True
    process.kill()
    with anyio.move_on_after(STOP_TIMEOUT, shield=True):
        await process.wait()
    return False


@asynccontextmanager
async def http_session(url: str) -> AsyncIterator[ClientSession]:
    """An initialized session with the official streamable HTTP client."""
    async with (
        httpx2.AsyncClient(timeout=CALL_TIMEOUT) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        with anyio.fail_after(STARTUP_TIMEOUT):
            await session.initialize()
        yield session


def text_of(result: CallToolResult) -> str:
    block = result.content[0] if result.content else None
    return getattr(block, "text", repr(block))


async def call(session: ClientSession, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call a tool that must succeed; its structured result."""
    with anyio.fail_after(CALL_TIMEOUT):
        result = await session.call_tool(tool, arguments)
    assert not result.is_error, f"{tool} failed: {text_of(result)}"
    assert result.structured_content is not None, f"{tool} returned no structured content"
    return result.structured_content


async def refusal(session: ClientSession, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call a tool that must refuse; its error report (``code``, ``message``, ``details``)."""
    with anyio.fail_after(CALL_TIMEOUT):
        result = await session.call_tool(tool, arguments)
    assert result.is_error, f"{tool} did not refuse: {result.structured_content}"
    assert result.meta is not None
    report: dict[str, Any] = result.meta[ERROR_META_KEY]
    return report


async def read_text(session: ClientSession, uri: str) -> str:
    with anyio.fail_after(CALL_TIMEOUT):
        read = await session.read_resource(uri)
    content = read.contents[0]
    assert isinstance(content, TextResourceContents)
    return content.text


def processes_in(root: Path) -> list[int]:
    """Ids of processes whose working directory is ``root`` (where the language servers run)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == root.resolve():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
