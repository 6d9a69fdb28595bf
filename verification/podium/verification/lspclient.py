"""A small LSP client over a language server's stdio: JSON-RPC framing, requests, and the server's requests.

pygls 2.1.1's ``LanguageClient`` cannot read ``ruff server``'s ``initialize`` reply (its converter has no
structure hook for one notebook union type, and ``initialize`` never returns), and the gate needs only a
dozen methods; so this client speaks the protocol itself over plain JSON dicts. lsprotocol types are not
used: the gate's currency is ``Finding``, and the few payloads built here are easier to read as dicts.

The client answers what servers ask of it so that none of them stalls waiting: ``workspace/configuration``
(from the settings it was given), ``client/registerCapability`` (recorded: basedpyright registers pull
diagnostics this way), ``window/workDoneProgress/create`` and a few refresh requests. Everything else a
server asks gets a "method not found" error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any, cast

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from podium.verification.errors import VerificationError
from podium.verification.serverenv import server_environment

logger = logging.getLogger(__name__)

Json = dict[str, Any]

MAX_HEADER_BYTES = 8_192
STDERR_LINES = 20
"""Lines of a server's stderr kept to explain a crash."""
KILL_WAIT = 2.0
"""Seconds to wait for a killed server to be reaped."""
EXIT_WAIT = 1.0
"""Seconds to wait for a server's exit status once its output has ended."""
PULL_RETRIES = 20
"""Times a pull request is re-sent after the server answered "cancelled" or "content modified"."""
PULL_RETRY_DELAY = 0.05
SERVER_CANCELLED = -32802
CONTENT_MODIFIED = -32801
METHOD_NOT_FOUND = -32601


class ServerExited(VerificationError):
    """The language server process ended (or closed its output) while the client needed it."""


class ResponseError(VerificationError):
    """The server answered a request with a JSON-RPC error."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method} failed with error {code}: {message}")
        self.error_code = code


@dataclass(slots=True)
class _Pending:
    method: str
    done: anyio.Event = field(default_factory=anyio.Event)
    result: Any = None
    error: VerificationError | None = None


@dataclass(slots=True)
class _Publication:
    seq: int
    version: int | None
    items: list[Json]


class LspClient:
    """One running language server and the conversation with it.

    Create it with ``launch``, run ``serve`` in a task group (it reads until the server's output ends),
    then ``initialize``. Every method must be called on the event loop that runs ``serve``.
    """

    def __init__(
        self, name: str, process: anyio.abc.Process, root: Path, settings: Mapping[str, Any]
    ) -> None:
        self.name = name
        self.root = root.resolve()
        self.process = process
        self.settings = settings
        self.capabilities: Json = {}
        self.position_encoding = "utf-16"
        self.registrations: dict[str, Json] = {}
        self.document_version = 0
        """The last document version sent; it only grows, whichever document it was for."""
        self.open_documents: OrderedDict[str, int] = OrderedDict()
        """URIs of the documents open on the server, with their versions, least recently used first."""
        self.exited = anyio.Event()
        self._ids = count(1)
        self._pending: dict[int, _Pending] = {}
        self._write_lock = anyio.Lock()
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self._published: dict[str, _Publication] = {}
        self._publish_seq = 0
        self._changed = anyio.Event()
        self._root_uri = self.root.as_uri()

    @classmethod
    async def launch(
        cls, name: str, argv: Sequence[str], cwd: Path, settings: Mapping[str, Any] | None = None
    ) -> LspClient:
        """Start the server process (not yet initialized).

        Raises:
            ServerExited: the command could not be started.
        """
        try:
            # A session of its own, so that the pool can kill the server with any children it started.
            process = await anyio.open_process(
                list(argv), cwd=cwd, env=server_environment(cwd), start_new_session=True
            )
        except OSError as exc:
            raise ServerExited(f"{name}: cannot start {' '.join(argv)}: {exc}") from exc
        return cls(name, process, cwd, settings or {})

    # -- lifecycle -------------------------------------------------------------------------------------

    async def serve(self) -> None:
        """Read messages until the server's output ends; then fail every waiting request."""
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._drain_stderr)
                await self._read_messages()
                # Output ended: the process is exiting. Its status (and stderr) explain the failure.
                with anyio.move_on_after(EXIT_WAIT):
                    await self.process.wait()
        finally:
            self._close_pending()

    async def initialize(self, initialization_options: Mapping[str, Any] | None = None) -> Json:
        """The ``initialize`` handshake in the server's root; returns the server's capabilities."""
        root = self.root
        params: Json = {
            "processId": os.getpid(),
            "clientInfo": {"name": "podium"},
            "rootUri": self._root_uri,
            "rootPath": str(root),
            "workspaceFolders": [{"uri": self._root_uri, "name": root.name or "root"}],
            "capabilities": _CLIENT_CAPABILITIES,
        }
        if initialization_options:
            params["initializationOptions"] = dict(initialization_options)
        result = await self.request("initialize", params)
        self.capabilities = as_object(as_object(result).get("capabilities"))
        self.position_encoding = str(self.capabilities.get("positionEncoding") or "utf-16")
        await self.notify("initialized", {})
        if self.settings:
            await self.notify("workspace/didChangeConfiguration", {"settings": dict(self.settings)})
        return self.capabilities

    async def shutdown(self) -> None:
        """Ask the server to stop (``shutdown`` then ``exit``); the caller bounds the wait and kills."""
        if self.exited.is_set():
            return
        try:
            await self.request("shutdown", None)
            await self.notify("exit", None)
        except VerificationError:
            return
        await self.process.wait()

    async def terminate(self) -> None:
        """Kill the server's whole process group, reap it and close its pipes.

        The group, not just the process: a wrapper (basedpyright's Python launcher starts node) may be gone
        while its child lives on. The server runs in a session of its own, so the group is only its own.
        """
        process = self.process
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(KILL_WAIT):
                await process.wait()
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    await stream.aclose()

    def describe_exit(self) -> str:
        """How the server ended, with the last lines it wrote to stderr."""
        code = self.process.returncode
        status = "is still running" if code is None else f"exited with status {code}"
        tail = " | ".join(line for line in self._stderr if line.strip())
        return f"{self.name} {status}" + (f" (stderr: {tail})" if tail else "")

    # -- messages --------------------------------------------------------------------------------------

    async def request(self, method: str, params: Any) -> Any:
        """Send a request and wait for its result.

        Raises:
            ServerExited: the server ended before answering.
            ResponseError: the server answered with an error.
        """
        if self.exited.is_set():
            raise ServerExited(self.describe_exit())
        ident = next(self._ids)
        pending = _Pending(method)
        self._pending[ident] = pending
        try:
            await self._send(_message(method, params, ident))
            await pending.done.wait()
        finally:
            self._pending.pop(ident, None)
        if pending.error is not None:
            raise pending.error
        return pending.result

    async def notify(self, method: str, params: Any) -> None:
        """Send a notification."""
        await self._send(_message(method, params))

    # -- documents and diagnostics ---------------------------------------------------------------------

    @property
    def offers_pull(self) -> bool:
        """Whether the server offered ``textDocument/diagnostic``, statically or by registration."""
        return (
            bool(self.capabilities.get("diagnosticProvider"))
            or "textDocument/diagnostic" in self.registrations
        )

    def publication_mark(self) -> int:
        """A mark to pass to ``wait_published``: only publications after it count."""
        return self._publish_seq

    async def pull(self, uri: str) -> list[Json]:
        """The document's diagnostics by ``textDocument/diagnostic``, retried while the server says "busy"."""
        params: Json = {"textDocument": {"uri": uri}}
        registered = self.registrations.get("textDocument/diagnostic") or {}
        identifier = registered.get("identifier")
        if identifier:
            params["identifier"] = identifier
        for _ in range(PULL_RETRIES):
            try:
                result = await self.request("textDocument/diagnostic", params)
            except ResponseError as exc:
                if exc.error_code in (SERVER_CANCELLED, CONTENT_MODIFIED):
                    await anyio.sleep(PULL_RETRY_DELAY)
                    continue
                raise
            return objects(as_object(result).get("items"))
        raise ResponseError("textDocument/diagnostic", SERVER_CANCELLED, "server stayed busy")

    async def wait_published(self, uri: str, mark: int, version: int, quiet: float) -> list[Json]:
        """The diagnostics the server pushes for ``uri`` after ``mark``, once settled.

        Settle rule: a publication that names the document version we sent is final; an unversioned one
        is final when no newer publication for the document arrives within ``quiet`` seconds (servers may
        publish an empty list first and the real one a moment later).
        """
        while True:
            if self.exited.is_set():
                raise ServerExited(self.describe_exit())
            found = self._published.get(uri)
            if found is not None and found.seq > mark:
                if found.version is not None:
                    if found.version >= version:
                        return found.items
                else:
                    with anyio.move_on_after(quiet):
                        await self._next_publication(uri, found.seq)
                    latest = self._published[uri]
                    if latest.seq == found.seq:
                        return found.items
                    continue
            await self._changed.wait()

    async def _next_publication(self, uri: str, seq: int) -> None:
        while True:
            latest = self._published.get(uri)
            if self.exited.is_set() or (latest is not None and latest.seq > seq):
                return
            await self._changed.wait()

    # -- internals -------------------------------------------------------------------------------------

    async def _send(self, message: Json) -> None:
        body = json.dumps(message, separators=(",", ":")).encode("utf-8")
        stdin = self.process.stdin
        if stdin is None:
            raise ServerExited(f"{self.name}: no stdin")
        async with self._write_lock:
            try:
                await stdin.send(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                # The pipe broke because the server is exiting: its status explains why.
                with anyio.move_on_after(EXIT_WAIT):
                    await self.process.wait()
                raise ServerExited(self.describe_exit()) from exc

    async def _read_messages(self) -> None:
        stdout = self.process.stdout
        if stdout is None:
            return
        stream = BufferedByteReceiveStream(stdout)
        while True:
            try:
                header = await stream.receive_until(b"\r\n\r\n", MAX_HEADER_BYTES)
                length = _content_length(header)
                body = await stream.receive_exactly(length)
            except (
                anyio.EndOfStream,
                anyio.IncompleteRead,
                anyio.ClosedResourceError,
                anyio.BrokenResourceError,
            ):
                return
            except (anyio.DelimiterNotFound, ValueError) as exc:
                logger.warning("%s: unreadable message header, closing: %s", self.name, exc)
                return
            try:
                message = json.loads(body)
            except ValueError:
                logger.warning("%s: message is not JSON, skipped", self.name)
                continue
            if isinstance(message, dict):
                await self._dispatch(as_object(message))

    async def _dispatch(self, message: Json) -> None:
        method = message.get("method")
        if method is None:
            ident = message.get("id")
            pending = self._pending.get(ident) if isinstance(ident, int) else None
            if pending is None:
                return
            error = message.get("error")
            if isinstance(error, dict):
                details = as_object(error)
                pending.error = ResponseError(
                    pending.method, int(details.get("code", 0)), str(details.get("message", ""))
                )
            else:
                pending.result = message.get("result")
            pending.done.set()
        elif "id" in message:
            await self._answer(message["id"], str(method), message.get("params"))
        elif method == "textDocument/publishDiagnostics":
            self._record_publication(message.get("params"))
        elif method == "window/logMessage":
            logger.debug("%s: %s", self.name, as_object(message.get("params")).get("message"))

    async def _answer(self, ident: Any, method: str, params: Any) -> None:
        reply: Json = {"jsonrpc": "2.0", "id": ident}
        if method == "workspace/configuration":
            items = objects(as_object(params).get("items"))
            reply["result"] = [self._section(item.get("section")) for item in items]
        elif method == "client/registerCapability":
            for registration in objects(as_object(params).get("registrations")):
                options = as_object(registration.get("registerOptions"))
                self.registrations[str(registration.get("method"))] = options
            reply["result"] = None
        elif method == "client/unregisterCapability":
            for registration in objects(as_object(params).get("unregisterations")):
                self.registrations.pop(str(registration.get("method")), None)
            reply["result"] = None
        elif method == "workspace/workspaceFolders":
            reply["result"] = [{"uri": self._root_uri, "name": "root"}]
        elif method == "workspace/applyEdit":
            reply["result"] = {"applied": False}
        elif method in _ACKNOWLEDGED:
            reply["result"] = None
        else:
            reply["error"] = {"code": METHOD_NOT_FOUND, "message": f"podium does not handle {method}"}
        with contextlib.suppress(ServerExited):
            await self._send(reply)

    def _section(self, section: Any) -> Any:
        node: Any = self.settings
        for part in str(section).split(".") if section else ():
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]  # pyright: ignore[reportUnknownVariableType]
        return node  # pyright: ignore[reportUnknownVariableType]

    def _record_publication(self, params: Any) -> None:
        publication = as_object(params)
        if "uri" not in publication:
            return
        self._publish_seq += 1
        version = publication.get("version")
        items = objects(publication.get("diagnostics"))
        self._published[str(publication["uri"])] = _Publication(
            self._publish_seq, version if isinstance(version, int) else None, items
        )
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _close_pending(self) -> None:
        self.exited.set()
        self._wake()
        for pending in self._pending.values():
            pending.error = ServerExited(self.describe_exit())
            pending.done.set()

    async def _drain_stderr(self) -> None:
        stderr = self.process.stderr
        if stderr is None:
            return
        partial = b""
        try:
            async for chunk in stderr:
                lines = (partial + chunk).split(b"\n")
                partial = lines.pop()
                for line in lines:
                    text = line.decode("utf-8", "replace").rstrip()
                    self._stderr.append(text)
                    logger.debug("%s stderr: %s", self.name, text)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass


def as_object(value: Any) -> Json:
    """A JSON value as an object (``{}`` when it is anything else)."""
    return cast(Json, value) if isinstance(value, dict) else {}


def objects(value: Any) -> list[Json]:
    """The objects of a JSON array (``[]`` when it is not an array)."""
    items = cast(list[Any], value) if isinstance(value, list) else []
    return [as_object(item) for item in items if isinstance(item, dict)]


def _message(method: str, params: Any, ident: int | None = None) -> Json:
    # Some servers (tsc --lsp) reject `"params": null`; JSON-RPC lets it be left out.
    message: Json = {"jsonrpc": "2.0", "method": method}
    if ident is not None:
        message["id"] = ident
    if params is not None:
        message["params"] = params
    return message


def _content_length(header: bytes) -> int:
    for line in header.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    raise ValueError(f"no Content-Length in {header[:80]!r}")


_ACKNOWLEDGED = frozenset(
    {
        "window/workDoneProgress/create",
        "window/showMessageRequest",
        "window/showDocument",
        "workspace/diagnostic/refresh",
        "workspace/semanticTokens/refresh",
        "workspace/inlayHint/refresh",
        "workspace/codeLens/refresh",
        "workspace/inlineValue/refresh",
        "workspace/foldingRange/refresh",
    }
)

_CLIENT_CAPABILITIES: Json = {
    "general": {"positionEncodings": ["utf-16"]},
    "workspace": {
        "configuration": True,
        "workspaceFolders": True,
        "didChangeConfiguration": {"dynamicRegistration": True},
        "diagnostics": {"refreshSupport": False},
    },
    "textDocument": {
        "synchronization": {"dynamicRegistration": False, "didSave": False},
        "publishDiagnostics": {"versionSupport": True, "relatedInformation": False},
        # basedpyright offers pull diagnostics only to clients that accept their dynamic registration.
        "diagnostic": {"dynamicRegistration": True, "relatedDocumentSupport": False},
    },
    "window": {"workDoneProgress": True},
}
