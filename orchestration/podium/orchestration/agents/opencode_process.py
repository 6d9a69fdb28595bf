"""A managed `opencode serve`: started when the `opencode-server` backend needs one, stopped when it closes.

The server runs as `opencode serve --port 0 --hostname 127.0.0.1 --print-logs` in a session (process group)
of its own, in the project root with `PWD` set to it (OpenCode reads its project from `PWD`). Its stdout
and stderr go to a log file; the URL it prints (`opencode server listening on http://…`) is read from
there, so no pipe has to be drained for the server's lifetime. It gets a random password
(`OPENCODE_SERVER_PASSWORD`), so other local processes cannot drive it.

Readiness: `GET /global/health` is polled with a short per-request timeout (`HEALTH_REQUEST_TIMEOUT_S`)
until the start deadline; an early request to a starting server once hung for ten minutes. Shutdown sends
SIGTERM to the process group, then SIGKILL after `STOP_GRACE_S`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread
from anyio.abc import Process

from podium.orchestration.agents.base import BackendError
from podium.orchestration.agents.opencode_http import HEALTH_REQUEST_TIMEOUT_S, OpenCodeClient

__all__ = ["DEFAULT_START_TIMEOUT_S", "SERVER_USERNAME", "ManagedServer", "ServerLaunch", "wait_healthy"]

logger = logging.getLogger(__name__)

DEFAULT_START_TIMEOUT_S = 60.0
"""How long a managed server may take to print its URL and answer healthy."""

STOP_GRACE_S = 5.0
"""Seconds between SIGTERM and SIGKILL when a managed server stops."""

POLL_S = 0.2
"""Seconds between looks at the log (for the URL) and between health requests while starting."""

SERVER_USERNAME = "opencode"
"""The basic-auth user OpenCode expects when `OPENCODE_SERVER_PASSWORD` is set."""

_LISTENING = re.compile(r"listening on (http://[^\s]+)")
LOG_TAIL_CHARS = 1500


@dataclass(frozen=True, slots=True)
class ServerLaunch:
    """How to start a server.

    Attributes:
        binary: the `opencode` executable.
        cwd: the directory it starts in (the project root).
        log_path: where its stdout and stderr are appended; None discards them.
        env: its whole environment (Podium's plus the configured extras).
        start_timeout_s: the start deadline.
        log_level: OpenCode's `--log-level` (DEBUG, INFO, WARN, ERROR).
    """

    binary: Path
    cwd: Path
    log_path: Path | None
    env: Mapping[str, str]
    start_timeout_s: float = DEFAULT_START_TIMEOUT_S
    log_level: str = "INFO"


class ManagedServer:
    """A running `opencode serve` this process started; `start` it, `aclose` it."""

    def __init__(self, process: Process, url: str, password: str, log_path: Path | None) -> None:
        self._process = process
        self.url = url
        self.auth = (SERVER_USERNAME, password)
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self._process.pid

    @classmethod
    async def start(cls, launch: ServerLaunch, *, name: str = "opencode-server") -> ManagedServer:
        """Start a server and wait until it answers healthy.

        Raises:
            BackendError: it could not be started, exited, or was not healthy by the deadline (the error
                quotes the end of its log).
        """
        password = secrets.token_urlsafe(24)
        env = {**launch.env, "PWD": str(launch.cwd), "OPENCODE_SERVER_PASSWORD": password}
        argv = [str(launch.binary), "serve", "--port", "0", "--hostname", "127.0.0.1"]
        argv += ["--print-logs", "--log-level", launch.log_level]
        offset = 0
        if launch.log_path is not None:
            launch.log_path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                offset = launch.log_path.stat().st_size
        process = await _spawn(argv, launch, env, name)
        server = cls(process, "", password, launch.log_path)
        try:
            with anyio.fail_after(launch.start_timeout_s):
                server.url = await server._wait_for_url(offset, name)
                await server._wait_healthy(name)
        except TimeoutError:
            await server.aclose()
            raise BackendError(
                f"backend {name}: `opencode serve` was not ready within {launch.start_timeout_s:g} s"
                f"{server._log_tail(offset)}"
            ) from None
        except BaseException:
            await server.aclose()
            raise
        logger.info("%s: started opencode serve (pid %d) at %s", name, process.pid, server.url)
        return server

    async def aclose(self) -> None:
        """Stop the server and everything it started; shielded and bounded, safe to call twice."""
        with anyio.CancelScope(shield=True):
            if self._process.returncode is None:
                _signal_group(self._process.pid, signal.SIGTERM)
                with anyio.move_on_after(STOP_GRACE_S):
                    await self._process.wait()
            # what the server started (language servers, MCP servers) may outlive it
            _signal_group(self._process.pid, signal.SIGKILL)
            with anyio.move_on_after(STOP_GRACE_S):
                await self._process.aclose()

    async def _wait_for_url(self, offset: int, name: str) -> str:
        while True:
            found = _LISTENING.search(await anyio.to_thread.run_sync(self._log_text, offset))
            if found:
                return found.group(1)
            self._require_running(offset, name)
            await anyio.sleep(POLL_S)

    async def _wait_healthy(self, name: str) -> None:
        client = OpenCodeClient(self.url, request_timeout_s=POLL_S * 5, auth=self.auth, name=name)
        try:
            await wait_healthy(client, alive=lambda: self._require_running(0, name))
        finally:
            await client.aclose()

    def _require_running(self, offset: int, name: str) -> None:
        code = self._process.returncode
        if code is not None:
            raise BackendError(f"backend {name}: `opencode serve` exited {code}{self._log_tail(offset)}")

    def _log_text(self, offset: int) -> str:
        if self.log_path is None:
            return ""
        try:
            with self.log_path.open("rb") as file:
                file.seek(offset)
                return file.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def _log_tail(self, offset: int) -> str:
        if self.log_path is None:
            return ""
        tail = self._log_text(offset)[-LOG_TAIL_CHARS:].strip()
        return f"; the end of {self.log_path}:\n{tail}" if tail else f"; see {self.log_path}"


async def wait_healthy(client: OpenCodeClient, *, alive: Callable[[], None] = lambda: None) -> str:
    """Poll `GET /global/health` (each request bounded by `HEALTH_REQUEST_TIMEOUT_S`) until it answers;
    the caller bounds the whole wait. ``alive`` raises when waiting longer is pointless. Returns the
    server's version."""
    while True:
        try:
            return await client.health(HEALTH_REQUEST_TIMEOUT_S)
        except BackendError as exc:
            logger.debug("%s is not healthy yet: %s", client.base_url, exc)
        alive()
        await anyio.sleep(POLL_S)


async def _spawn(argv: list[str], launch: ServerLaunch, env: dict[str, str], name: str) -> Process:
    log = launch.log_path.open("ab") if launch.log_path is not None else None
    target = log if log is not None else subprocess.DEVNULL
    try:
        return await anyio.open_process(
            argv,
            cwd=launch.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=target,
            stderr=target,
            start_new_session=True,
        )
    except OSError as exc:
        raise BackendError(f"backend {name}: cannot start {argv[0]!r}: {exc}") from None
    finally:
        # the child holds its own descriptor of the log
        if log is not None:
            log.close()


def _signal_group(pid: int, signum: signal.Signals) -> None:
    # the server leads its own session, so its pid is the group id of everything it started
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
