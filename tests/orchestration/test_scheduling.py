"""Adaptive concurrency: caps, growth and halving, and slots that neither leak nor release twice.

Tasks are synchronised with events and ``wait_all_tasks_blocked``; nothing sleeps.
"""

from __future__ import annotations

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from podium.orchestration.scheduling import AdaptiveLimiter, Scheduler, SchedulingSettings, Slot

WAIT_S = 10.0
"""Only a guard against a hung test."""


async def _hold(limiter: AdaptiveLimiter, release: anyio.Event, peak: list[int]) -> None:
    async with limiter.slot():
        peak.append(limiter.in_use)
        await release.wait()


async def test_a_limit_starts_at_its_cap_and_hands_out_no_more_slots_than_that() -> None:
    limiter = AdaptiveLimiter("worker", 2)
    release = anyio.Event()
    peak: list[int] = []
    with anyio.fail_after(WAIT_S):
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(_hold, limiter, release, peak)
            await wait_all_tasks_blocked()
            assert limiter.limit == 2
            assert limiter.in_use == 2
            assert limiter.tokens.statistics().tasks_waiting == 3
            release.set()
    assert max(peak) == 2
    assert len(peak) == 5
    assert limiter.in_use == 0


def test_three_successes_in_a_row_grow_a_lowered_limit_by_one_up_to_the_cap() -> None:
    limiter = AdaptiveLimiter("worker", 8)
    limiter.record_fault()
    limiter.record_fault()
    assert limiter.limit == 2
    limiter.record_success()
    limiter.record_success()
    assert limiter.limit == 2
    limiter.record_success()
    assert limiter.limit == 3
    for _ in range(3 * 10):
        limiter.record_success()
    assert limiter.limit == 8


def test_a_fault_between_successes_starts_the_streak_again() -> None:
    limiter = AdaptiveLimiter("worker", 8)
    limiter.record_fault()
    limiter.record_success()
    limiter.record_success()
    limiter.record_fault()
    assert limiter.limit == 2
    limiter.record_success()
    limiter.record_success()
    assert limiter.limit == 2


def test_faults_and_rate_limits_halve_the_limit_but_never_below_one() -> None:
    limiter = AdaptiveLimiter("backend", 11)
    limiter.record_fault(rate_limited=True)
    assert limiter.limit == 5
    for _ in range(10):
        limiter.record_fault()
    assert limiter.limit == 1


async def test_a_lowered_limit_takes_no_slot_from_its_holders_and_waits_until_use_falls_below_it() -> None:
    limiter = AdaptiveLimiter("worker", 4)
    release = anyio.Event()
    late = anyio.Event()
    peak: list[int] = []

    async def latecomer() -> None:
        async with limiter.slot():
            late.set()

    with anyio.fail_after(WAIT_S):
        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(_hold, limiter, release, peak)
            await wait_all_tasks_blocked()
            limiter.record_fault()
            assert (limiter.limit, limiter.in_use) == (2, 4)
            tg.start_soon(latecomer)
            await wait_all_tasks_blocked()
            assert not late.is_set()
            release.set()
    assert late.is_set()
    assert limiter.in_use == 0


async def test_a_slot_goes_back_exactly_once_even_when_its_exit_runs_twice() -> None:
    limiter = AdaptiveLimiter("worker", 2)
    other = limiter.slot()
    async with other:
        slot = limiter.slot()
        await slot.__aenter__()
        assert limiter.in_use == 2
        await slot.__aexit__(None, None, None)
        await slot.__aexit__(None, None, None)
        assert limiter.in_use == 1
        assert other.held
    assert limiter.in_use == 0


async def test_a_slot_is_single_use() -> None:
    limiter = AdaptiveLimiter("worker", 2)
    slot = limiter.slot()
    async with slot:
        pass
    with pytest.raises(RuntimeError, match="single use"):
        async with slot:
            pass
    assert limiter.in_use == 0


async def test_one_task_may_hold_several_slots_of_one_limiter_and_of_several() -> None:
    scheduler = Scheduler()
    role = scheduler.role("worker")
    backend = scheduler.backend("fake")
    async with role.slot(), role.slot(), backend.slot():
        assert (role.in_use, backend.in_use) == (2, 1)
    assert scheduler.in_use() == {"role planner": 0, "role worker": 0, "role reviewer": 0, "backend fake": 0}


async def test_cancelling_holders_and_waiters_leaves_no_slot_taken_and_nobody_queued() -> None:
    limiter = AdaptiveLimiter("worker", 2)
    never = anyio.Event()
    peak: list[int] = []
    with anyio.fail_after(WAIT_S):
        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(_hold, limiter, never, peak)
            await wait_all_tasks_blocked()
            assert limiter.in_use == 2
            tg.cancel_scope.cancel()
    assert limiter.in_use == 0
    assert limiter.tokens.statistics().tasks_waiting == 0
    async with limiter.slot(), limiter.slot():
        assert limiter.in_use == 2


async def test_a_waiter_cancelled_just_as_a_slot_frees_gives_that_slot_to_the_next_one() -> None:
    limiter = AdaptiveLimiter("worker", 1)
    holder_release = anyio.Event()
    got: list[str] = []

    async def waiter(name: str, scope_box: list[anyio.CancelScope]) -> None:
        with anyio.CancelScope() as scope:
            scope_box.append(scope)
            async with limiter.slot():
                got.append(name)

    first_scope: list[anyio.CancelScope] = []
    with anyio.fail_after(WAIT_S):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_hold, limiter, holder_release, [])
            await wait_all_tasks_blocked()
            tg.start_soon(waiter, "first", first_scope)
            await wait_all_tasks_blocked()
            tg.start_soon(waiter, "second", [])
            await wait_all_tasks_blocked()
            # the slot is handed to "first" and "first" is cancelled before it runs
            holder_release.set()
            first_scope[0].cancel()
    assert got == ["second"]
    assert limiter.in_use == 0


def test_the_scheduler_adapts_both_the_role_and_the_backend_of_a_call() -> None:
    scheduler = Scheduler(SchedulingSettings(worker=8, backend_caps={"openai": 4}))
    scheduler.record("worker", "openai", ok=False, rate_limited=True)
    assert scheduler.limits() == {
        "role planner": 1,
        "role worker": 4,
        "role reviewer": 2,
        "backend openai": 2,
    }
    for _ in range(3):
        scheduler.record("worker", "openai", ok=True)
    assert scheduler.role("worker").limit == 5
    assert scheduler.backend("openai").limit == 3
    assert scheduler.backend("scripted").limit == 11


def test_caps_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="worker"):
        SchedulingSettings(worker=0)
    with pytest.raises(ValueError, match="backend x"):
        SchedulingSettings(backend_caps={"x": 0})


def test_slots_know_whether_they_are_held() -> None:
    slot = Slot(AdaptiveLimiter("worker", 1))
    assert not slot.held
