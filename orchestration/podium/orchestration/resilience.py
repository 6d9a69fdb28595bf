"""Staying up when backends fail: retries with backoff, a circuit breaker per backend, a stagnation detector
and a memory guard.

Time comes in through injected callables — a clock (seconds, monotonic) and a sleep — so tests move time by
hand and never wait. :func:`call_with_retry` is the one path a backend call takes: the breaker decides
whether the call may go, a fault is retried after ``base * multiplier**n`` seconds (capped, with jitter),
and an open breaker is waited out until it half-opens. Every wait counts against the attempts, so a call
always ends.
"""

from __future__ import annotations

import logging
import random
import resource
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

import anyio

from podium.orchestration.agents.base import BackendError, RateLimited

__all__ = [
    "BreakerSettings",
    "CircuitBreaker",
    "CircuitOpenError",
    "Clock",
    "MemoryGuard",
    "MemorySettings",
    "RetrySettings",
    "RoundKind",
    "Sleep",
    "StagnationDetector",
    "StagnationDiagnosis",
    "backoff_delay",
    "call_with_retry",
    "read_rss_bytes",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class CircuitOpenError(BackendError):
    """A backend's circuit breaker stayed open for every attempt of a call."""

    code = "circuit_open"


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """Retries of a failing backend call: ``attempts`` calls in all, waits growing exponentially.

    The n-th wait (from 0) is ``min(max_delay, base_delay * multiplier**n)``, then scaled by a random factor
    in ``[1 - jitter, 1]`` so that workers who failed together do not retry together.
    """

    attempts: int = 4
    base_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"retry attempts must be at least 1, not {self.attempts}")
        if self.base_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise ValueError("retry delays must not be negative and the multiplier at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"retry jitter must be between 0 and 1, not {self.jitter}")


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """A breaker opens after ``threshold`` faults in a row and half-opens ``reset_after`` seconds later."""

    threshold: int = 5
    reset_after: float = 30.0

    def __post_init__(self) -> None:
        if self.threshold < 1 or self.reset_after < 0:
            raise ValueError("the breaker threshold must be at least 1 and reset_after not negative")


def backoff_delay(settings: RetrySettings, retry: int, rng: random.Random) -> float:
    """The wait before retry number ``retry`` (0 for the first retry), jitter applied."""
    raw = min(settings.max_delay, settings.base_delay * settings.multiplier**retry)
    return raw * (1.0 - settings.jitter * rng.random())


BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Stops calling a backend that keeps failing, and lets one probe call through after a pause.

    closed → (``threshold`` faults in a row) → open → (``reset_after`` seconds) → half-open: one probe call;
    its success closes the breaker, its failure opens it again for another ``reset_after``.
    """

    def __init__(self, name: str, settings: BreakerSettings | None = None, *, clock: Clock = time.monotonic):
        self.name = name
        self.settings = settings or BreakerSettings()
        self._clock = clock
        self._faults = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.settings.reset_after:
            return "half_open"
        return "open"

    def wait_time(self) -> float:
        """Seconds until a call may go (0: now). A zero answer in half-open state reserves the probe."""
        state = self.state
        if state == "closed":
            return 0.0
        if state == "half_open" and not self._probing:
            self._probing = True
            return 0.0
        if state == "half_open":
            # someone else's probe is out; look again a little later
            return max(self.settings.reset_after / 10, 0.001)
        assert self._opened_at is not None
        return self._opened_at + self.settings.reset_after - self._clock()

    def record_success(self) -> None:
        if self._opened_at is not None:
            logger.info("breaker %s: closed again", self.name)
        self._faults = 0
        self._opened_at = None
        self._probing = False

    def record_fault(self) -> None:
        self._faults += 1
        if self._probing or (self._opened_at is None and self._faults >= self.settings.threshold):
            logger.warning("breaker %s: open after %d fault(s) in a row", self.name, self._faults)
            self._opened_at = self._clock()
        self._probing = False

    def abandon(self) -> None:
        """A call that went out ended without an answer (cancelled): free the probe it may have held."""
        self._probing = False


async def call_with_retry(
    call: Callable[[], Awaitable[T]],
    *,
    settings: RetrySettings,
    breaker: CircuitBreaker,
    sleep: Sleep = anyio.sleep,
    rng: random.Random | None = None,
    on_fault: Callable[[BackendError], None] | None = None,
) -> T:
    """Run ``call`` until it answers, retrying faults (``BackendError``) with backoff through ``breaker``.

    ``on_fault`` hears every fault (the scheduler halves its limits there). Other exceptions pass at once.

    Raises:
        BackendError: the last fault when every attempt failed; ``CircuitOpenError`` when the breaker
            never let the last attempt through.
    """
    rng = rng or random.Random()
    last: BackendError | None = None
    for attempt in range(settings.attempts):
        wait = breaker.wait_time()
        if wait > 0:
            last = CircuitOpenError(
                f"backend {breaker.name} is failing: its circuit breaker is open for {wait:.1f} s more"
            )
            if attempt + 1 < settings.attempts:
                await sleep(wait)
            continue
        try:
            result = await call()
        except BackendError as exc:
            breaker.record_fault()
            last = exc
            if on_fault is not None:
                on_fault(exc)
            kind = "rate limited" if isinstance(exc, RateLimited) else "fault"
            logger.warning("backend %s %s (attempt %d): %s", breaker.name, kind, attempt + 1, exc)
            if attempt + 1 < settings.attempts:
                await sleep(backoff_delay(settings, attempt, rng))
            continue
        except BaseException:
            breaker.abandon()
            raise
        breaker.record_success()
        return result
    assert last is not None
    raise last


RoundKind = Literal["progress", "rejected", "fault", "vetoed", "refused", "gave_up"]


@dataclass(frozen=True, slots=True)
class StagnationDiagnosis:
    """Why a mission stopped moving: the rounds without progress, the tasks in them, findings that repeat."""

    rounds: int
    tasks: tuple[tuple[str, int], ...]
    repeating: tuple[tuple[str, int], ...]
    kinds: tuple[tuple[str, int], ...]

    @property
    def text(self) -> str:
        tasks = ", ".join(f"{task} ({n}×)" for task, n in self.tasks) or "none"
        kinds = ", ".join(f"{n} {kind}" for kind, n in self.kinds)
        lines = [f"no task merged and no verdict accepted in the last {self.rounds} rounds ({kinds})."]
        lines.append(f"tasks attempted: {tasks}.")
        if self.repeating:
            lines.append("findings that keep coming back:")
            lines.extend(f"  {n}× {finding}" for finding, n in self.repeating)
        return "\n".join(lines)


class StagnationDetector:
    """Counts rounds (finished attempts) since the last progress: a merge or an accepted verdict."""

    def __init__(self, rounds: int) -> None:
        if rounds < 1:
            raise ValueError(f"stagnation rounds must be at least 1, not {rounds}")
        self.limit = rounds
        self._window: list[tuple[str, RoundKind, tuple[str, ...]]] = []

    @property
    def idle_rounds(self) -> int:
        return len(self._window)

    def record(self, task_id: str, kind: RoundKind, findings: Sequence[str] = ()) -> bool:
        """Count one round; return whether the mission has now stagnated."""
        if kind == "progress":
            self._window.clear()
            return False
        self._window.append((task_id, kind, tuple(findings)))
        return self.stagnant

    @property
    def stagnant(self) -> bool:
        return len(self._window) >= self.limit

    def diagnosis(self) -> StagnationDiagnosis:
        tasks = Counter(task for task, _, _ in self._window)
        kinds = Counter(kind for _, kind, _ in self._window)
        # a finding counts once per round, so one verdict with the same error twice is no repetition
        findings = Counter(f for _, _, found in self._window for f in dict.fromkeys(found))
        return StagnationDiagnosis(
            rounds=len(self._window),
            tasks=tuple(sorted(tasks.items(), key=lambda item: (-item[1], item[0]))),
            repeating=tuple((f, n) for f, n in findings.most_common() if n > 1),
            kinds=tuple(sorted(kinds.items())),
        )


@dataclass(frozen=True, slots=True)
class MemorySettings:
    """Above ``budget_bytes`` of resident memory, tasks of priority ``low_priority_max`` or less wait.

    ``None`` turns the guard off.
    """

    budget_bytes: int | None = None
    low_priority_max: int = 0


def read_rss_bytes() -> int:
    """This process's resident set size (``VmRSS`` of ``/proc/self/status``; else the getrusage peak)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS
    return peak if sys.platform == "darwin" else peak * 1024


class MemoryGuard:
    """Decides whether a task of some priority may start given the process's memory."""

    def __init__(self, settings: MemorySettings | None = None, *, rss: Callable[[], int] = read_rss_bytes):
        self.settings = settings or MemorySettings()
        self._rss = rss

    def admits(self, priority: int, *, in_flight: int) -> bool:
        """Whether a task of ``priority`` may start now.

        Low-priority work waits while the budget is exceeded, but only while other work is in flight:
        finishing work is what frees memory, and an idle run that waited would wait forever.
        """
        budget = self.settings.budget_bytes
        if budget is None or priority > self.settings.low_priority_max or in_flight == 0:
            return True
        used = self._rss()
        if used <= budget:
            return True
        logger.info(
            "memory guard: %d bytes resident, over the budget of %d; low-priority work waits", used, budget
        )
        return False
