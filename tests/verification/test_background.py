"""The background event loop: calls from threads, closers at close, and a clean stop."""

from __future__ import annotations

import threading

import anyio
import anyio.lowlevel
import pytest

from podium.verification.background import BackgroundLoop


async def double(value: int) -> int:
    await anyio.lowlevel.checkpoint()
    return value * 2


def test_calls_from_other_threads_run_on_one_loop_thread() -> None:
    loop = BackgroundLoop("test-loop")
    seen: list[int] = []

    async def where() -> int:
        seen.append(threading.get_ident())
        return threading.get_ident()

    try:
        assert loop.call(double, 21) == 42
        assert loop.submit(double, 4).result(timeout=10) == 8
        assert loop.call(where) == loop.call(where) != threading.get_ident()
    finally:
        loop.close()


def test_closers_run_when_the_loop_closes_and_the_thread_ends() -> None:
    loop = BackgroundLoop("test-loop")
    closed: list[str] = []

    async def closer() -> None:
        closed.append("server stopped")

    loop.add_closer(closer)
    loop.call(double, 1)
    thread = [t for t in threading.enumerate() if t.name == "test-loop"][0]

    loop.close()

    assert closed == ["server stopped"]
    assert not thread.is_alive()


def test_the_task_group_is_only_there_while_the_loop_runs() -> None:
    loop = BackgroundLoop("test-loop")

    async def has_group() -> bool:
        return loop.task_group is not None and loop.in_loop()

    try:
        assert loop.call(has_group)
    finally:
        loop.close()
    with pytest.raises(Exception, match="not running"):
        _ = loop.task_group


def test_a_closed_loop_starts_again_on_use() -> None:
    loop = BackgroundLoop("test-loop")
    loop.call(double, 1)
    loop.close()

    try:
        assert loop.call(double, 5) == 10
    finally:
        loop.close()
