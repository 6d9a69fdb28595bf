"""Warm language servers: one per (source, command, workspace root), reused by every check.

Starting basedpyright costs about a second and its first analysis another one or two; a check on a warm
server costs tens to hundreds of milliseconds. So servers are started on first use and kept running on the
background loop. A server serves one check at a time (a check opens the touched files as documents, and
two checks editing the same document would see each other's text), so checks on one server queue.

Failure handling: any check that fails or is cancelled (a timeout) discards its server; the process group
is killed, since some servers run behind a wrapper process (basedpyright's Python launcher starts node).
The next check starts a fresh one. Restarts back off: the first is immediate, and each further failure in a
row doubles the wait (``RESTART_BACKOFF`` up to ``RESTART_BACKOFF_MAX``); a check that arrives during the
wait fails at once, saying when the next attempt is. A successful check resets the count.

Of several candidate commands (``tsc --lsp`` before ``typescript-language-server``), one that exits before
answering ``initialize`` (a TypeScript 5 ``tsc`` knows no ``--lsp``) is passed over; if all do, the source
is unusable, which the gate reports like a missing program.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.abc

from podium.verification.background import BackgroundLoop, shared_loop
from podium.verification.catalog import SourceSpec
from podium.verification.errors import VerificationError
from podium.verification.lspclient import LspClient, ServerExited

logger = logging.getLogger(__name__)

RESTART_BACKOFF = 1.0
"""Seconds to wait before the second restart in a row; doubles with each further failure."""
RESTART_BACKOFF_MAX = 30.0
SHUTDOWN_TIMEOUT = 2.0
"""Seconds a server gets to honour ``shutdown``/``exit`` before it is killed."""
UNUSABLE_RETRY = 60.0
"""Seconds before candidates that all failed to start are tried again."""


class ServerUnusable(VerificationError):
    """No candidate command of a source could be started as a language server."""


class ServerFailed(VerificationError):
    """A language server could not serve a check (it is waiting out its restart backoff)."""


@dataclass(slots=True)
class _Slot:
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    client: LspClient | None = None
    failures: int = 0
    retry_at: float = 0.0
    last_error: str = ""
    unusable: str = ""
    starts: int = 0


class LspPool:
    """Language servers kept running on a background loop, one per (source, command, root).

    ``session`` is used from coroutines on the loop; ``close`` from any other thread.
    """

    def __init__(self, loop: BackgroundLoop | None = None) -> None:
        self.loop = loop or shared_loop()
        self._slots: dict[tuple[str, tuple[tuple[str, ...], ...], Path], _Slot] = {}
        self._task_group: anyio.abc.TaskGroup | None = None
        self._closed = False
        self.loop.add_closer(self.aclose)

    @asynccontextmanager
    async def session(
        self, spec: SourceSpec, commands: Sequence[tuple[str, ...]], root: Path
    ) -> AsyncGenerator[LspClient]:
        """Exclusive use of the warm server for ``spec`` at ``root``, started (or restarted) if needed.

        A failure or cancellation inside the block discards the server.

        Raises:
            ServerUnusable: every candidate command exited before initializing.
            ServerFailed: the server is waiting out its restart backoff.
            TimeoutError: the server did not initialize within ``spec.start_timeout``.
        """
        if self._closed:
            raise VerificationError("the language-server pool is closed")
        slot = self._slots.setdefault((spec.name, tuple(commands), root), _Slot())
        async with slot.lock:
            client = await self._ensure(slot, spec, commands, root)
            try:
                yield client
            except BaseException as exc:
                slot.last_error = str(exc) or type(exc).__name__
                with anyio.CancelScope(shield=True):
                    await self._discard(slot)
                raise
            slot.failures = 0

    def warm(self, spec: SourceSpec, commands: Sequence[tuple[str, ...]], root: Path) -> None:
        """Start the server for ``spec`` at ``root`` now, in the background, so that a ``session`` soon
        after finds it running (or waits for it, rather than starting another). Failures are left for
        that session to meet."""

        async def start() -> None:
            try:
                async with self.session(spec, commands, root):
                    pass
            except (VerificationError, TimeoutError, OSError) as exc:
                logger.debug("%s: warm start failed: %s", spec.name, exc)

        self.loop.submit(start)

    def running(self) -> dict[str, int]:
        """Process ids of the running servers, by source name (for diagnostics and tests)."""
        return {
            name: slot.client.process.pid
            for (name, _, _), slot in self._slots.items()
            if slot.client is not None and not slot.client.exited.is_set()
        }

    def starts(self, name: str) -> int:
        """How many times servers of source ``name`` were started."""
        return sum(slot.starts for (key, _, _), slot in self._slots.items() if key == name)

    def close(self) -> None:
        """Stop every server (each within ``SHUTDOWN_TIMEOUT`` and then a kill); safe to call twice."""
        if self._closed:
            return
        if self.loop.in_loop():
            raise VerificationError("LspPool.close() called on its own event loop; await aclose() there")
        self.loop.remove_closer(self.aclose)
        if not self._slots:
            self._closed = True
            return
        try:
            self.loop.call(self.aclose)
        except RuntimeError:
            self._closed = True

    async def aclose(self) -> None:
        """Stop every server: ``shutdown`` and ``exit`` politely, then kill what is left."""
        self._closed = True
        with anyio.CancelScope(shield=True):
            async with anyio.create_task_group() as tg:
                for slot in self._slots.values():
                    if slot.client is not None:
                        tg.start_soon(self._stop, slot)
        if self._task_group is not None:
            self._task_group.cancel_scope.cancel()
            self._task_group = None

    async def _ensure(
        self, slot: _Slot, spec: SourceSpec, commands: Sequence[tuple[str, ...]], root: Path
    ) -> LspClient:
        if slot.client is not None and not slot.client.exited.is_set():
            return slot.client
        if slot.client is not None:
            slot.last_error = slot.client.describe_exit()
            await self._discard(slot)
        wait = slot.retry_at - time.monotonic()
        if wait > 0 and slot.unusable:
            raise ServerUnusable(slot.unusable)
        if wait > 0:
            raise ServerFailed(
                f"{spec.name} failed {slot.failures} time(s) in a row (last: {slot.last_error}); "
                f"next restart in {wait:.1f} s"
            )
        problems: list[str] = []
        for argv in commands:
            client = await LspClient.launch(spec.name, argv, root, spec.settings)
            slot.starts += 1
            await self._start_reader(client)
            try:
                with anyio.fail_after(spec.start_timeout):
                    await client.initialize(spec.initialization_options)
            except ServerExited:
                problems.append(client.describe_exit())
                await client.terminate()
                continue
            except BaseException as exc:
                with anyio.CancelScope(shield=True):
                    await client.terminate()
                slot.last_error = (
                    f"did not start within {spec.start_timeout:g} s"
                    if isinstance(exc, TimeoutError)
                    else str(exc)
                )
                self._count_failure(slot)
                raise
            slot.client, slot.unusable = client, ""
            slot.retry_at = 0.0
            logger.info("%s: started %s (pid %d) at %s", spec.name, argv[0], client.process.pid, root)
            return client
        slot.unusable = f"{spec.name}: no command started as a language server: {'; '.join(problems)}"
        slot.retry_at = time.monotonic() + UNUSABLE_RETRY
        raise ServerUnusable(slot.unusable)

    async def _start_reader(self, client: LspClient) -> None:
        if self._task_group is None:
            await self.loop.task_group.start(self._supervise)
        assert self._task_group is not None
        self._task_group.start_soon(client.serve, name=f"lsp reader {client.name}")

    async def _supervise(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        async with anyio.create_task_group() as tg:
            self._task_group = tg
            task_status.started()
            await anyio.sleep_forever()

    async def _discard(self, slot: _Slot) -> None:
        client, slot.client = slot.client, None
        if client is not None:
            await client.terminate()
        self._count_failure(slot)

    def _count_failure(self, slot: _Slot) -> None:
        slot.failures += 1
        backoff = 0.0 if slot.failures <= 1 else RESTART_BACKOFF * 2 ** (slot.failures - 2)
        slot.retry_at = time.monotonic() + min(backoff, RESTART_BACKOFF_MAX)

    async def _stop(self, slot: _Slot) -> None:
        client, slot.client = slot.client, None
        if client is None:
            return
        with anyio.move_on_after(SHUTDOWN_TIMEOUT):
            await client.shutdown()
        await client.terminate()
