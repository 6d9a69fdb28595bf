"""Adaptive concurrency per role and per backend, with slots that cannot leak or be released twice.

A limit starts at its cap. After :attr:`SchedulingSettings.grow_after` consecutive successes it grows by one,
up to the cap; a fault or a rate limit halves it (never below one). Lowering a limit never takes a slot
away from whoever holds it: the holders finish, and new slots are handed out once fewer are in use than the
new limit allows.

A slot is an async context manager over an anyio ``CapacityLimiter`` token borrowed on behalf of the slot
itself (not of the task), so one task may hold several slots, a cancelled wait gives nothing back that it
did not get, and the token goes back exactly once, when the ``async with`` block is left, whatever way it is
left. A slot is single use: entering it again is an error rather than a second token.

The Commander takes slots in one order — role (a task in flight), then reviewer role, then backend (one
call) — and holds a backend slot only around one call, so slots can never wait on each other in a cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Literal

import anyio

__all__ = [
    "DEFAULT_BACKEND_CAP",
    "DEFAULT_ROLE_CAPS",
    "AdaptiveLimiter",
    "AgentRole",
    "Scheduler",
    "SchedulingSettings",
    "Slot",
]

logger = logging.getLogger(__name__)

AgentRole = Literal["planner", "worker", "reviewer"]

DEFAULT_ROLE_CAPS: Mapping[AgentRole, int] = MappingProxyType({"planner": 1, "worker": 8, "reviewer": 2})
"""Most slots each role may hold at once."""
DEFAULT_BACKEND_CAP = 11
"""Most calls one backend gets at once unless configured: every role's cap together."""
DEFAULT_GROW_AFTER = 3
"""Consecutive successes after which a lowered limit grows by one."""


@dataclass(frozen=True, slots=True)
class SchedulingSettings:
    """Concurrency caps and how limits adapt.

    Attributes:
        planner, worker, reviewer: the cap of each role.
        backend_caps: the cap of named backends (the others get ``default_backend_cap``).
        default_backend_cap: the cap of a backend not named in ``backend_caps``.
        grow_after: consecutive successes before a limit grows by one.
    """

    planner: int = DEFAULT_ROLE_CAPS["planner"]
    worker: int = DEFAULT_ROLE_CAPS["worker"]
    reviewer: int = DEFAULT_ROLE_CAPS["reviewer"]
    backend_caps: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    default_backend_cap: int = DEFAULT_BACKEND_CAP
    grow_after: int = DEFAULT_GROW_AFTER

    def __post_init__(self) -> None:
        caps = {"planner": self.planner, "worker": self.worker, "reviewer": self.reviewer}
        caps.update({f"backend {name}": cap for name, cap in self.backend_caps.items()})
        caps["default_backend_cap"] = self.default_backend_cap
        for name, cap in caps.items():
            if cap < 1:
                raise ValueError(f"the concurrency cap of {name} must be at least 1, not {cap}")
        if self.grow_after < 1:
            raise ValueError(f"grow_after must be at least 1, not {self.grow_after}")

    def role_cap(self, role: AgentRole) -> int:
        return {"planner": self.planner, "worker": self.worker, "reviewer": self.reviewer}[role]

    def backend_cap(self, backend: str) -> int:
        return self.backend_caps.get(backend, self.default_backend_cap)


class Slot:
    """One token of an :class:`AdaptiveLimiter`, held for the length of an ``async with`` block."""

    __slots__ = ("_limiter", "_state")

    def __init__(self, limiter: AdaptiveLimiter) -> None:
        self._limiter = limiter
        self._state: Literal["new", "waiting", "held", "released"] = "new"

    @property
    def held(self) -> bool:
        return self._state == "held"

    async def __aenter__(self) -> Slot:
        if self._state != "new":
            raise RuntimeError(f"a slot of {self._limiter.name} is single use; take a new one")
        self._state = "waiting"
        try:
            # borrowed on behalf of this object: a cancelled wait leaves nothing borrowed (anyio's own
            # guarantee), and a task may hold slots of several limiters or several of one
            await self._limiter.tokens.acquire_on_behalf_of(self)
        except BaseException:
            self._state = "released"
            raise
        self._state = "held"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._release()

    def _release(self) -> None:
        if self._state != "held":
            return
        self._state = "released"
        self._limiter.tokens.release_on_behalf_of(self)


class AdaptiveLimiter:
    """A named concurrency limit between 1 and ``cap`` that grows on success and halves on faults."""

    def __init__(self, name: str, cap: int, *, grow_after: int = DEFAULT_GROW_AFTER) -> None:
        if cap < 1:
            raise ValueError(f"the cap of {name} must be at least 1, not {cap}")
        self.name = name
        self.cap = cap
        self.grow_after = grow_after
        self.tokens = anyio.CapacityLimiter(cap)
        self._streak = 0

    @property
    def limit(self) -> int:
        """How many slots may be held at once now."""
        return int(self.tokens.total_tokens)

    @property
    def in_use(self) -> int:
        return self.tokens.borrowed_tokens

    def slot(self) -> Slot:
        """A fresh slot; ``async with limiter.slot():`` waits for room and gives it back on leaving."""
        return Slot(self)

    def record_success(self) -> None:
        """Count a success; the limit grows by one after ``grow_after`` of them in a row."""
        self._streak += 1
        if self._streak >= self.grow_after and self.limit < self.cap:
            self._set_limit(self.limit + 1, "successes")
            self._streak = 0

    def record_fault(self, *, rate_limited: bool = False) -> None:
        """Count a fault (or a rate limit): the limit halves, never below one."""
        self._streak = 0
        lowered = max(1, self.limit // 2)
        if lowered != self.limit:
            self._set_limit(lowered, "a rate limit" if rate_limited else "a fault")

    def _set_limit(self, value: int, why: str) -> None:
        logger.info("%s: concurrency %d -> %d after %s", self.name, self.limit, value, why)
        self.tokens.total_tokens = value


class Scheduler:
    """The limiters of one run: one per role, one per backend (made on first use)."""

    def __init__(self, settings: SchedulingSettings | None = None) -> None:
        self.settings = settings or SchedulingSettings()
        self._roles: dict[AgentRole, AdaptiveLimiter] = {
            role: AdaptiveLimiter(
                f"role {role}", self.settings.role_cap(role), grow_after=self.settings.grow_after
            )
            for role in ("planner", "worker", "reviewer")
        }
        self._backends: dict[str, AdaptiveLimiter] = {}

    def role(self, role: AgentRole) -> AdaptiveLimiter:
        return self._roles[role]

    def backend(self, name: str) -> AdaptiveLimiter:
        limiter = self._backends.get(name)
        if limiter is None:
            limiter = AdaptiveLimiter(
                f"backend {name}", self.settings.backend_cap(name), grow_after=self.settings.grow_after
            )
            self._backends[name] = limiter
        return limiter

    def record(self, role: AgentRole, backend: str, *, ok: bool, rate_limited: bool = False) -> None:
        """Adapt the role's and the backend's limits to the outcome of one backend call."""
        for limiter in (self.role(role), self.backend(backend)):
            if ok:
                limiter.record_success()
            else:
                limiter.record_fault(rate_limited=rate_limited)

    def in_use(self) -> dict[str, int]:
        """Slots held now, by limiter name (for progress views and leak checks)."""
        limiters = [*self._roles.values(), *self._backends.values()]
        return {limiter.name: limiter.in_use for limiter in limiters}

    def limits(self) -> dict[str, int]:
        """Current limits, by limiter name."""
        limiters = [*self._roles.values(), *self._backends.values()]
        return {limiter.name: limiter.limit for limiter in limiters}
