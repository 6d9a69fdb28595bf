"""Retries with backoff, the circuit breaker, stagnation and the memory guard, with time moved by hand."""

from __future__ import annotations

import random

import anyio
import pytest

from podium.orchestration.agents.base import BackendError, RateLimited
from podium.orchestration.resilience import (
    BreakerSettings,
    CircuitBreaker,
    CircuitOpenError,
    MemoryGuard,
    MemorySettings,
    RetrySettings,
    StagnationDetector,
    backoff_delay,
    call_with_retry,
    read_rss_bytes,
)

NO_JITTER = RetrySettings(attempts=4, base_delay=1.0, multiplier=2.0, max_delay=30.0, jitter=0.0)


class FakeTime:
    """A clock and a sleep that only moves it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


class Flaky:
    """A backend call that raises the given faults, one per call, then answers."""

    def __init__(self, *faults: BaseException) -> None:
        self.faults = list(faults)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.faults:
            raise self.faults.pop(0)
        return "answer"


def test_backoff_grows_exponentially_up_to_its_cap() -> None:
    rng = random.Random(1)
    assert [backoff_delay(NO_JITTER, n, rng) for n in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_jitter_shortens_a_wait_by_at_most_its_share() -> None:
    settings = RetrySettings(base_delay=10.0, max_delay=10.0, jitter=0.5)
    rng = random.Random(7)
    delays = [backoff_delay(settings, 0, rng) for _ in range(200)]
    assert all(5.0 <= d <= 10.0 for d in delays)
    assert len(set(delays)) > 100


async def test_faults_are_retried_with_backoff_until_the_call_answers() -> None:
    time = FakeTime()
    breaker = CircuitBreaker("fake", clock=time.clock)
    call = Flaky(BackendError("boom"), RateLimited("slow down"))
    heard: list[str] = []
    answer = await call_with_retry(
        call, settings=NO_JITTER, breaker=breaker, sleep=time.sleep, on_fault=lambda e: heard.append(e.code)
    )
    assert answer == "answer"
    assert call.calls == 3
    assert time.slept == [1.0, 2.0]
    assert heard == ["backend_error", "rate_limited"]
    assert breaker.state == "closed"


async def test_a_call_that_keeps_failing_raises_its_last_fault_after_every_attempt() -> None:
    time = FakeTime()
    call = Flaky(*(BackendError(f"fault {n}") for n in range(10)))
    with pytest.raises(BackendError, match="fault 3"):
        await call_with_retry(
            call, settings=NO_JITTER, breaker=CircuitBreaker("fake", clock=time.clock), sleep=time.sleep
        )
    assert call.calls == 4
    assert time.slept == [1.0, 2.0, 4.0]


async def test_errors_that_are_not_backend_faults_pass_at_once() -> None:
    time = FakeTime()
    call = Flaky(ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        await call_with_retry(
            call, settings=NO_JITTER, breaker=CircuitBreaker("fake", clock=time.clock), sleep=time.sleep
        )
    assert call.calls == 1
    assert time.slept == []


def test_the_breaker_opens_after_five_faults_in_a_row_and_half_opens_after_thirty_seconds() -> None:
    time = FakeTime()
    breaker = CircuitBreaker("fake", BreakerSettings(), clock=time.clock)
    for _ in range(4):
        breaker.record_fault()
    assert breaker.state == "closed"
    breaker.record_fault()
    assert breaker.state == "open"
    assert breaker.wait_time() == 30.0
    time.now += 29.0
    assert breaker.wait_time() == pytest.approx(1.0)
    time.now += 1.0
    assert breaker.state == "half_open"
    assert breaker.wait_time() == 0.0
    assert breaker.wait_time() > 0, "only one probe goes through a half-open breaker"
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.wait_time() == 0.0


def test_a_success_between_faults_starts_the_count_again() -> None:
    breaker = CircuitBreaker("fake", clock=FakeTime().clock)
    for _ in range(4):
        breaker.record_fault()
    breaker.record_success()
    for _ in range(4):
        breaker.record_fault()
    assert breaker.state == "closed"


def test_a_failed_probe_opens_the_breaker_for_another_pause() -> None:
    time = FakeTime()
    breaker = CircuitBreaker("fake", BreakerSettings(threshold=1, reset_after=30.0), clock=time.clock)
    breaker.record_fault()
    time.now += 30.0
    assert breaker.wait_time() == 0.0
    breaker.record_fault()
    assert breaker.state == "open"
    assert breaker.wait_time() == 30.0


def test_an_abandoned_probe_lets_the_next_one_through() -> None:
    time = FakeTime()
    breaker = CircuitBreaker("fake", BreakerSettings(threshold=1), clock=time.clock)
    breaker.record_fault()
    time.now += 30.0
    assert breaker.wait_time() == 0.0
    breaker.abandon()
    assert breaker.wait_time() == 0.0


async def test_a_call_waits_out_an_open_breaker_and_probes_it() -> None:
    time = FakeTime()
    breaker = CircuitBreaker("fake", clock=time.clock)
    settings = RetrySettings(attempts=10, jitter=0.0)
    call = Flaky(*(BackendError(f"fault {n}") for n in range(5)))
    assert await call_with_retry(call, settings=settings, breaker=breaker, sleep=time.sleep) == "answer"
    # four backoffs, the fifth fault opens the breaker: its backoff, then the rest of the 30 s pause
    assert time.slept == [1.0, 2.0, 4.0, 8.0, 16.0, 14.0]
    assert call.calls == 6
    assert breaker.state == "closed"


async def test_a_breaker_that_never_lets_a_call_through_ends_in_circuit_open() -> None:
    time = FakeTime()
    breaker = CircuitBreaker("fake", BreakerSettings(threshold=1, reset_after=1000.0), clock=time.clock)
    breaker.record_fault()
    call = Flaky()
    with pytest.raises(CircuitOpenError, match="circuit breaker is open"):
        await call_with_retry(call, settings=RetrySettings(attempts=1), breaker=breaker, sleep=time.sleep)
    assert call.calls == 0


async def test_a_cancelled_call_frees_the_probe_it_held() -> None:
    time = FakeTime()
    breaker = CircuitBreaker("fake", BreakerSettings(threshold=1), clock=time.clock)
    breaker.record_fault()
    time.now += 30.0

    async def hangs() -> str:
        await anyio.sleep_forever()
        return "never"

    with anyio.move_on_after(0):
        await call_with_retry(hangs, settings=NO_JITTER, breaker=breaker, sleep=time.sleep)
    assert breaker.wait_time() == 0.0


def test_stagnation_is_rounds_without_a_merge_or_an_accepted_verdict() -> None:
    detector = StagnationDetector(3)
    assert not detector.record("T1", "rejected", ["a.py: bad"])
    assert not detector.record("T2", "fault")
    assert not detector.record("T1", "progress")
    assert detector.idle_rounds == 0
    assert not detector.record("T1", "rejected", ["a.py: bad"])
    assert not detector.record("T2", "vetoed", ["b.py: outside"])
    assert detector.record("T1", "rejected", ["a.py: bad", "a.py: bad"])


def test_the_stagnation_diagnosis_names_the_tasks_and_the_findings_that_repeat() -> None:
    detector = StagnationDetector(4)
    detector.record("T1", "rejected", ["util.py: invalid syntax"])
    detector.record("T2", "fault", ["backend fake failed"])
    detector.record("T1", "rejected", ["util.py: invalid syntax", "util.py: other"])
    detector.record("T1", "rejected", ["util.py: invalid syntax"])
    diagnosis = detector.diagnosis()
    assert diagnosis.tasks == (("T1", 3), ("T2", 1))
    assert diagnosis.repeating == (("util.py: invalid syntax", 3),)
    assert diagnosis.kinds == (("fault", 1), ("rejected", 3))
    assert "T1 (3×)" in diagnosis.text
    assert "3× util.py: invalid syntax" in diagnosis.text
    assert "util.py: other" not in diagnosis.text


def test_the_memory_guard_holds_back_low_priority_work_only_while_over_budget_and_busy() -> None:
    rss = [2_000]
    guard = MemoryGuard(MemorySettings(budget_bytes=1_000, low_priority_max=0), rss=lambda: rss[0])
    assert not guard.admits(0, in_flight=2)
    assert guard.admits(1, in_flight=2), "high-priority work goes on"
    assert guard.admits(0, in_flight=0), "an idle run never waits for memory it cannot free"
    rss[0] = 500
    assert guard.admits(0, in_flight=2)


def test_a_guard_without_a_budget_admits_everything() -> None:
    guard = MemoryGuard(rss=lambda: 10**15)
    assert guard.admits(-5, in_flight=100)


def test_the_resident_memory_of_this_process_can_be_read() -> None:
    assert read_rss_bytes() > 1_000_000


def test_settings_refuse_impossible_values() -> None:
    with pytest.raises(ValueError):
        RetrySettings(attempts=0)
    with pytest.raises(ValueError):
        RetrySettings(jitter=2.0)
    with pytest.raises(ValueError):
        BreakerSettings(threshold=0)
    with pytest.raises(ValueError):
        StagnationDetector(0)
