"""The event loop that language servers and linters run on, in one background thread per process.

The gate's ``check`` is synchronous: the CLI calls it, and the MCP server calls it from worker threads. The
diagnostics sources are asynchronous (they talk to subprocesses), and the warm servers must outlive any one
check. So one anyio event loop runs in a daemon thread, behind a ``BlockingPortal``: sync callers submit
coroutines to it, the sources of one check run there concurrently, and the pool's servers belong to a task
group there.

Why not ``anyio.from_thread.start_blocking_portal``: it runs the loop in a ``ThreadPoolExecutor`` worker,
which the interpreter joins at exit, so a portal nobody closed would hang the process forever. This thread
is a daemon, and an ``atexit`` hook closes the loop (and, through the closers registered on it, every
server) within ``CLOSE_TIMEOUT``.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import TypeVar

import anyio
import anyio.abc
from anyio.from_thread import BlockingPortal

from podium.verification.errors import VerificationError

logger = logging.getLogger(__name__)

T = TypeVar("T")

START_TIMEOUT = 10.0
"""Seconds to wait for the background loop to come up."""
CLOSE_TIMEOUT = 5.0
"""Seconds the closers (server shutdowns) may take before the loop is stopped regardless."""

Closer = Callable[[], Awaitable[None]]


class BackgroundLoop:
    """An anyio event loop in a daemon thread, started on first use."""

    def __init__(self, name: str = "podium-diagnostics") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._portal: BlockingPortal | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._stop: anyio.Event | None = None
        self._thread: threading.Thread | None = None
        self._closers: list[Closer] = []
        self._loop_thread_id: int | None = None

    @property
    def task_group(self) -> anyio.abc.TaskGroup:
        """The loop's long-lived task group; use it only from code running on the loop."""
        if self._task_group is None:
            raise VerificationError(f"{self.name}: the background loop is not running")
        return self._task_group

    def in_loop(self) -> bool:
        """Whether the caller runs on this loop's thread."""
        return threading.get_ident() == self._loop_thread_id

    def call(self, func: Callable[..., Awaitable[T]], *args: object) -> T:
        """Run ``func(*args)`` on the loop and wait for its result (from any thread but the loop's)."""
        return self._ensure().call(func, *args)

    def submit(self, func: Callable[..., Awaitable[T]], *args: object) -> Future[T]:
        """Start ``func(*args)`` on the loop; its future completes with the result."""
        return self._ensure().start_task_soon(func, *args)

    def add_closer(self, closer: Closer) -> None:
        """Run ``closer`` on the loop when it is closed (newest first), e.g. to stop servers."""
        with self._lock:
            self._closers.append(closer)

    def remove_closer(self, closer: Closer) -> None:
        """Forget a closer (its owner closed itself already)."""
        with self._lock:
            if closer in self._closers:
                self._closers.remove(closer)

    def close(self) -> None:
        """Run the closers, stop the loop and join the thread, all within ``CLOSE_TIMEOUT`` (+1 s)."""
        with self._lock:
            portal, thread, stop = self._portal, self._thread, self._stop
            self._portal = None
        if portal is None or thread is None or stop is None:
            return
        with contextlib.suppress(RuntimeError):
            portal.call(stop.set)
        thread.join(CLOSE_TIMEOUT + 1.0)
        if thread.is_alive():
            logger.warning("%s: background loop did not stop within %.1f s", self.name, CLOSE_TIMEOUT)

    def _ensure(self) -> BlockingPortal:
        with self._lock:
            if self._portal is not None:
                return self._portal
            ready = threading.Event()
            thread = threading.Thread(target=self._run, args=(ready,), name=self.name, daemon=True)
            thread.start()
            if not ready.wait(START_TIMEOUT) or self._portal is None:
                raise VerificationError(f"{self.name}: the background loop did not start")
            self._thread = thread
            return self._portal

    def _run(self, ready: threading.Event) -> None:
        try:
            anyio.run(self._main, ready)
        except Exception:  # the thread must not die silently: callers would wait on its futures
            logger.exception("%s: background loop failed", self.name)
        finally:
            ready.set()

    async def _main(self, ready: threading.Event) -> None:
        self._loop_thread_id = threading.get_ident()
        async with BlockingPortal() as portal, anyio.create_task_group() as tg:
            self._task_group = tg
            self._stop = anyio.Event()
            self._portal = portal
            ready.set()
            await self._stop.wait()
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT):
                for closer in reversed(list(self._closers)):
                    try:
                        await closer()
                    except Exception:
                        logger.exception("%s: a closer failed", self.name)
            tg.cancel_scope.cancel()
            await portal.stop(cancel_remaining=True)
        self._task_group = None


_shared: BackgroundLoop | None = None
_shared_lock = threading.Lock()


def shared_loop() -> BackgroundLoop:
    """The process's diagnostics loop, closed at interpreter exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = BackgroundLoop()
            atexit.register(_shared.close)
        return _shared
