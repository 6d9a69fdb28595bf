"""`podium lsp`: Podium's operations as LSP commands, and what happens in the project as editor feedback.

Every operation of the registry is one ``workspace/executeCommand`` command, ``podium.<operation>``, listed
in ``executeCommandProvider``. A command takes one JSON object argument holding the operation's fields
(no argument, ``null`` or ``[]`` mean no fields) and answers with the operation's result model as JSON:
the object MCP returns as structured content. A refusal is a JSON-RPC error whose message is MCP's error
text, ``<code>: <message>``, whose ``data`` is the same report MCP puts in ``_meta["podium/error"]``, and
whose numeric code stands for the Podium code (`lsp_convert.RPC_ERROR_CODES`). The initialize result
also lists every command with its description and input schema under
``capabilities.experimental.podium.commands``, the schemas MCP's ``tools/list`` gives.

Feedback comes from the store's event log (`lsp_feedback`), so what a concurrent `podium mcp` does on the
same project reaches the editor too. The watcher belongs to the connection's task group: it starts once
the client said ``initialized`` and stops at ``shutdown`` or when the connection ends.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable, Generator, Sequence
from contextlib import AsyncExitStack
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol, cast

import anyio
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.io_ import StdinAsyncReader, StdoutWriter, run_async
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method

from podium.orchestration.config import PodiumConfig
from podium.orchestration.git import repository_root
from podium.orchestration.missions import Missions
from podium.orchestration.store import Store
from podium.server import lsp_convert
from podium.server.core_ops import build_registry
from podium.server.lsp_feedback import Feedback, Level, ProgressUpdate, TaskFinding
from podium.server.mission_runs import MissionRuns
from podium.server.operations import (
    ErrorReport,
    Operation,
    OperationContext,
    OperationRegistry,
    operation_logger,
)
from podium.server.schemas import compact_schema
from podium.verification.errors import InputError, PodiumError

__all__ = [
    "ANNOUNCE",
    "AsyncReader",
    "CommandRefused",
    "PodiumLanguageServer",
    "build_lsp_server",
    "command_catalog",
    "run_stdio",
    "run_tcp",
    "serve",
]

SERVER_NAME = "podium"
ANNOUNCE = "podium: LSP at "
"""Printed on stderr, followed by ``HOST:PORT``, once ``--tcp`` listens."""

CLIENT_REPLY_TIMEOUT = 10.0
"""Seconds the editor may take to answer ``window/workDoneProgress/create``; without an answer, no bar."""

log = logging.getLogger(__name__)


class AsyncReader(Protocol):
    """What a connection reads LSP messages from: stdin through a thread, or an asyncio stream."""

    def readline(self) -> Awaitable[bytes]: ...

    def readexactly(self, n: int) -> Awaitable[bytes]: ...


class CommandRefused(JsonRpcException):
    """A command the server refused, as the JSON-RPC error the client receives."""

    @classmethod
    def of_report(cls, report: ErrorReport) -> CommandRefused:
        return cls(
            message=report.describe(), code=lsp_convert.rpc_error_code(report.code), data=report.to_dict()
        )


class _QuietRefusals(logging.Filter):
    """pygls logs every error response with a traceback; a refusal is an answer, not a server fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], CommandRefused))


def command_catalog(registry: OperationRegistry) -> list[dict[str, Any]]:
    """Every command with its operation, description and input schema, as the initialize result lists them."""
    return [
        {
            "command": lsp_convert.command_id(operation.name),
            "operation": operation.name,
            "description": operation.description,
            "inputSchema": compact_schema(operation.input_model, "validation"),
        }
        for operation in registry
    ]


class _PodiumProtocol(LanguageServerProtocol):
    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, types.InitializeResult]:
        result = yield from super().lsp_initialize(params)
        server = cast(PodiumLanguageServer, self._server)
        result.capabilities.experimental = {"podium": {"commands": command_catalog(server.registry)}}
        return result


class PodiumLanguageServer(LanguageServer):
    """The LSP server over one registry; with a store, it also reports the store's events to the editor.

    Args:
        registry: the operations to offer as commands.
        store: the project's store whose event log feeds the editor feedback (none: commands only).
        root: the repository's top level, where diagnostics are published (required with ``store``).
        runs: the mission runs the registry's ``mission_run`` starts; they live as long as a connection.
    """

    def __init__(
        self,
        registry: OperationRegistry,
        *,
        store: Store | None = None,
        root: Path | None = None,
        runs: MissionRuns | None = None,
    ):
        super().__init__(
            SERVER_NAME,
            _package_version(),
            text_document_sync_kind=types.TextDocumentSyncKind.None_,
            protocol_cls=_PodiumProtocol,
        )
        self.registry = registry
        self._runs = runs
        self._feedback: Feedback | None = None
        if store is not None:
            if root is None:
                raise ValueError("a server with a store needs the repository root to publish diagnostics")
            self._feedback = Feedback(store, root, _EditorSink(self, root))
        self._initialized: anyio.Event | None = None
        self._feedback_scope: anyio.CancelScope | None = None
        self._shutdown_requested = False
        for operation in registry:
            self.command(lsp_convert.command_id(operation.name))(_command_handler(operation))

        # pygls tags handlers with attributes, which bound methods refuse: plain functions, then
        def initialized(params: types.InitializedParams) -> None:
            if self._initialized is not None:
                self._initialized.set()

        def shutdown(params: None) -> None:
            self._shutdown_requested = True
            if self._feedback_scope is not None:
                self._feedback_scope.cancel()

        async def did_open(params: types.DidOpenTextDocumentParams) -> None:
            if self._feedback is not None and root is not None:
                path = lsp_convert.workspace_path(root, params.text_document.uri)
                if path is not None:
                    await self._feedback.republish(path)

        self.feature(types.INITIALIZED)(initialized)
        self.feature(types.SHUTDOWN)(shutdown)
        self.feature(types.TEXT_DOCUMENT_DID_OPEN)(did_open)
        pygls_rpc = logging.getLogger("pygls.protocol.json_rpc")
        if not any(isinstance(f, _QuietRefusals) for f in pygls_rpc.filters):
            pygls_rpc.addFilter(_QuietRefusals())

    async def serve(self, reader: AsyncReader) -> int:
        """Serve one connection until ``exit`` or the end of input; the exit status LSP asks for."""
        self._initialized = anyio.Event()
        self._feedback_scope = anyio.CancelScope()
        code = 1
        async with AsyncExitStack() as stack:
            if self._runs is not None:
                await stack.enter_async_context(self._runs.serving())
            code = await self._serve_connection(reader)
        return code

    async def _serve_connection(self, reader: AsyncReader) -> int:
        code = 1
        async with anyio.create_task_group() as tg:
            if self._feedback is not None:
                tg.start_soon(self._watch, self._feedback)
            try:
                await run_async(
                    stop_event=threading.Event(),
                    reader=reader,
                    protocol=self.protocol,
                    logger=log,
                    error_handler=self.report_server_error,
                )
                code = 0 if self._shutdown_requested else 1
            except SystemExit as exit_:
                # pygls ends the process on `exit` this way; end the connection's tasks first instead
                code = exit_.code if isinstance(exit_.code, int) else 1
            tg.cancel_scope.cancel()
        return code

    def nudge_feedback(self) -> None:
        """Have the feedback read the event log now (after a command changed the store)."""
        if self._feedback is not None:
            self._feedback.nudge()

    def supports_progress(self) -> bool:
        capabilities: types.ClientCapabilities | None = getattr(self.protocol, "client_capabilities", None)
        window = capabilities.window if capabilities is not None else None
        return bool(window is not None and window.work_done_progress)

    async def create_progress(self, token: str) -> bool:
        """Ask the editor for a progress bar ``token``; whether it may be used."""
        if not self.supports_progress():
            return False
        try:
            with anyio.fail_after(CLIENT_REPLY_TIMEOUT):
                await self.work_done_progress.create_async(token)
        except (TimeoutError, JsonRpcException) as error:
            log.warning("the editor did not create progress %s: %s", token, error)
            return False
        return True

    def send_progress(self, token: str, update: ProgressUpdate) -> None:
        value = lsp_convert.progress_value(update)
        if isinstance(value, types.WorkDoneProgressBegin):
            self.work_done_progress.begin(token, value)
        elif isinstance(value, types.WorkDoneProgressReport):
            self.work_done_progress.report(token, value)
        else:
            self.work_done_progress.end(token, value)

    async def _watch(self, feedback: Feedback) -> None:
        assert self._initialized is not None and self._feedback_scope is not None
        with self._feedback_scope:
            await self._initialized.wait()
            await feedback.watch()


def _command_handler(operation: Operation[Any, Any]) -> Callable[..., Awaitable[dict[str, Any]]]:
    logger = operation_logger(operation.name)

    # pygls passes the server as a first parameter named `ls`, then `*arguments` gets the raw JSON arguments
    async def run(ls: PodiumLanguageServer, *arguments: object) -> dict[str, Any]:
        progress = _CommandProgress(ls, operation.name)
        ctx = OperationContext(operation.name, logger, progress=progress)
        try:
            result = await operation.invoke(ctx, lsp_convert.command_arguments(operation.name, arguments))
        except PodiumError as error:
            logger.info("%s refused: %s", operation.name, error.message)
            raise CommandRefused.of_report(ErrorReport.from_error(error)) from None
        except Exception:
            logger.exception("%s raised an unexpected exception", operation.name)
            raise CommandRefused.of_report(ErrorReport.internal(operation.name)) from None
        finally:
            await progress.end()
            ls.nudge_feedback()
        return lsp_convert.result_json(result)

    return run


class _CommandProgress:
    """A command's progress reports as a server-initiated progress bar, created at the first report."""

    def __init__(self, server: PodiumLanguageServer, operation: str) -> None:
        self._server = server
        self._operation = operation
        self._token: str | None = None
        self._refused = False

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        percentage = min(100, max(0, round(100 * progress / total))) if total else None
        if self._token is None:
            if self._refused:
                return
            token = f"podium/{self._operation}/{uuid.uuid4().hex}"
            if not await self._server.create_progress(token):
                self._refused = True
                return
            self._token = token
            title = f"Podium: {self._operation}"
            self._server.send_progress(token, ProgressUpdate(token, "begin", title, message, percentage))
            return
        self._server.send_progress(
            self._token, ProgressUpdate(self._token, "report", "", message, percentage)
        )

    async def end(self) -> None:
        if self._token is not None:
            self._server.send_progress(self._token, ProgressUpdate(self._token, "end", message="done"))
            self._token = None


class _EditorSink:
    """The feedback's way into the editor: messages, progress bars and diagnostics over LSP."""

    def __init__(self, server: PodiumLanguageServer, root: Path) -> None:
        self._server = server
        self._root = root
        self._tokens: dict[str, str] = {}
        self._serial = itertools.count(1)

    async def message(self, level: Level, text: str, details: str) -> None:
        if level != "log":
            self._server.window_show_message(lsp_convert.show_message(level, text))
        self._server.window_log_message(lsp_convert.log_message(level, details or text))

    async def progress(self, update: ProgressUpdate) -> None:
        if update.kind == "begin":
            # a fresh token per bar: a mission reopened after it ended gets a new one
            token = f"podium/mission/{update.key}/{next(self._serial)}"
            if await self._server.create_progress(token):
                self._tokens[update.key] = token
                self._server.send_progress(token, update)
            return
        token = self._tokens.pop(update.key, None) if update.kind == "end" else self._tokens.get(update.key)
        if token is not None:
            self._server.send_progress(token, update)

    async def diagnostics(self, path: str, findings: Sequence[TaskFinding]) -> None:
        codec = self._server.workspace.position_codec
        self._server.text_document_publish_diagnostics(
            lsp_convert.publish_diagnostics(self._root, path, findings, codec)
        )


def build_lsp_server(missions: Missions) -> PodiumLanguageServer:
    """The LSP server for the project of ``missions``: its operations, and feedback from its store."""
    root = repository_root(missions.root)
    runs = MissionRuns(missions)
    return PodiumLanguageServer(build_registry(missions, runs), store=missions.store, root=root, runs=runs)


def run_stdio(server: PodiumLanguageServer) -> int:
    """Serve one editor over stdin/stdout until it exits; the exit status."""
    reader = StdinAsyncReader(sys.stdin.buffer, server.thread_pool)
    server.protocol.set_writer(StdoutWriter(sys.stdout.buffer))
    try:
        return anyio.run(server.serve, reader)
    finally:
        server.shutdown()


def run_tcp(server: PodiumLanguageServer, host: str, port: int) -> int:
    """Listen on ``host:port`` (port 0 picks one), serve the first editor that connects, then stop."""
    try:
        return anyio.run(_serve_tcp, server, host, port)
    finally:
        server.shutdown()


async def _serve_tcp(server: PodiumLanguageServer, host: str, port: int) -> int:
    finished = anyio.Event()
    codes: list[int] = []

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if codes or finished.is_set():
            writer.close()  # one editor per server, as over stdio
            return
        codes.append(1)
        server.protocol.set_writer(writer)
        try:
            codes[0] = await server.serve(reader)
        except Exception:
            log.exception("the LSP connection failed")
        finally:
            writer.close()
            finished.set()

    try:
        listener = await asyncio.start_server(connection, host, port)
    except OSError as error:
        raise InputError(f"--tcp {host}:{port}: cannot listen: {error.strerror or error}") from None
    async with listener:
        bound = listener.sockets[0].getsockname()
        print(f"{ANNOUNCE}{_format_host(host)}:{bound[1]}", file=sys.stderr, flush=True)
        await finished.wait()
    return codes[0] if codes else 1


def serve(root: Path, config: PodiumConfig, tcp: tuple[str, int] | None = None) -> int:
    """Serve the project at ``root`` over stdio, or over TCP; blocks; the exit status.

    Raises:
        StoreError, WorkspaceError: the project cannot be opened.
    """
    missions = Missions.open(root, config)
    try:
        server = build_lsp_server(missions)
        return run_stdio(server) if tcp is None else run_tcp(server, *tcp)
    finally:
        missions.close()


def _format_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _package_version() -> str:
    try:
        return version("podium")
    except PackageNotFoundError:
        return "0"
