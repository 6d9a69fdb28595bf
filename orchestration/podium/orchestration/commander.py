"""The Commander: runs a mission from goal to merged roadmap, and stops with a diagnosis when it cannot.

Plan (when the roadmap is empty) → ready tasks to workers, each in its worktree with the task, its files and
the earlier findings → the gate (``Submissions.submit``) → the reviewer when the task or the settings ask
→ merge → again, until every task is merged or the run stops: on a limit, a stop request, a cancelled
mission, stagnation, or failed tasks that leave nothing else to do.

Shape: a fixed set of worker *lanes* (as many as the worker cap) in one task group; a lane takes a worker
slot from the adaptive scheduler, claims the best ready task from the store and sees it through, attempt
after attempt (:mod:`podium.orchestration.attempts`). Lanes with nothing to claim sleep until another lane
finishes something (or ``idle_recheck_s`` passes, for changes made by others). Everything durable is in the
store; the Commander keeps only counters and progress in memory, so a restart resumes the mission
(:mod:`podium.orchestration.recovery`).

Shutdown: a stop lets running attempts finish for ``shutdown_grace_s``, then cancels them; then, shielded
and bounded by ``shutdown_timeout_s``, every task this run still holds goes back to the pool and
``run.stopped`` is recorded. Store calls run in threads that are never abandoned, so a cancelled lane
waits for its store call to commit or roll back: the store is consistent whenever the run returns.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, ParamSpec, TypeVar

import anyio

from podium.orchestration.agents.base import (
    AgentBackend,
    BackendError,
    PlannedTask,
    PlanRequest,
    RateLimited,
    close_backends,
)
from podium.orchestration.attempts import see_through
from podium.orchestration.broadcast import Broadcast
from podium.orchestration.errors import RoadmapError
from podium.orchestration.events import JsonValue
from podium.orchestration.hooks import HookEvent, HookEventName, HookOutcome, Hooks, build_hooks
from podium.orchestration.lifecycle import ACTIVE_STATES
from podium.orchestration.missions import Claim, Missions, NoTask, TaskSpec
from podium.orchestration.model import Mission, MissionState, Role, Task
from podium.orchestration.recovery import (
    RUN_STARTED,
    RUN_STOPPED,
    Recovery,
    RunIdentity,
    new_run_identity,
    recover,
    run_of,
    safe_hand_back,
)
from podium.orchestration.resilience import (
    BreakerSettings,
    CircuitBreaker,
    Clock,
    MemoryGuard,
    MemorySettings,
    RetrySettings,
    RoundKind,
    Sleep,
    StagnationDetector,
    call_with_retry,
)
from podium.orchestration.roadmap import claim_order
from podium.orchestration.runreport import (
    EventKind,
    ProgressCallback,
    RunOutcome,
    RunProgress,
    RunReport,
    describe_outcome,
)
from podium.orchestration.scheduling import AgentRole, Scheduler, SchedulingSettings
from podium.orchestration.submissions import Submissions
from podium.verification.errors import InputError, PodiumError

__all__ = ["Commander", "CommanderSettings", "ReviewPolicy", "RoleBackends"]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

ReviewPolicy = Literal["task", "always", "never"]

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_MAX_SPLIT_DEPTH = 2
DEFAULT_STAGNATION_ROUNDS = 10
SHUTDOWN_GRACE_S = 30.0
"""Seconds running attempts get to finish once a run stops."""
SHUTDOWN_TIMEOUT_S = 30.0
"""Seconds the shielded clean-up (hand-backs, the stop record) may take."""
IDLE_RECHECK_S = 2.0
"""Seconds an idle lane waits before looking at the store again for changes made by others."""
MISSION_POLL_S = 2.0
"""Seconds between checks that the mission is still active (someone may cancel it) and of the time limit."""


@dataclass(frozen=True, slots=True)
class RoleBackends:
    """The backend of each role; the planner and the reviewer default to the worker's."""

    worker: AgentBackend
    planner: AgentBackend | None = None
    reviewer: AgentBackend | None = None

    def for_role(self, role: AgentRole) -> AgentBackend:
        chosen = {"worker": self.worker, "planner": self.planner, "reviewer": self.reviewer}[role]
        return chosen or self.worker

    def for_task(self, task: Task) -> AgentBackend:
        """Who works on a task: the reviewer's backend for review tasks, else the worker's."""
        return self.for_role("reviewer" if task.role is Role.REVIEWER else "worker")


@dataclass(frozen=True, slots=True)
class CommanderSettings:
    """How a run behaves.

    Attributes:
        max_attempts: attempts at a task before it is ``failed`` (rejections, vetoes and refused splits
            count; backend faults and interrupted attempts do not).
        max_split_depth: how deep subtasks may nest (``T1`` is 0, ``T1.2`` is 1); deeper splits are refused.
        review: ``task``: the reviewer sees tasks that ask for review; ``always``; ``never``.
        stagnation_rounds: finished attempts without a merge or an accepted verdict before the run pauses.
        max_rounds: stop after this many finished attempts (None: no limit).
        time_limit_s: stop after this many seconds (None: no limit).
        shutdown_grace_s, shutdown_timeout_s, idle_recheck_s, mission_poll_s: see the module constants.
        heartbeat_s: seconds between lease renewals (None: a third of the lease).
        log_chars: characters of a worker's log kept in the attempt's event.
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_split_depth: int = DEFAULT_MAX_SPLIT_DEPTH
    review: ReviewPolicy = "task"
    stagnation_rounds: int = DEFAULT_STAGNATION_ROUNDS
    max_rounds: int | None = None
    time_limit_s: float | None = None
    shutdown_grace_s: float = SHUTDOWN_GRACE_S
    shutdown_timeout_s: float = SHUTDOWN_TIMEOUT_S
    idle_recheck_s: float = IDLE_RECHECK_S
    mission_poll_s: float = MISSION_POLL_S
    heartbeat_s: float | None = None
    log_chars: int = 2000
    scheduling: SchedulingSettings = field(default_factory=SchedulingSettings)
    retry: RetrySettings = field(default_factory=RetrySettings)
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    memory: MemorySettings = field(default_factory=MemorySettings)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.max_split_depth < 0:
            raise ValueError(f"max_split_depth must not be negative, not {self.max_split_depth}")
        if self.stagnation_rounds < 1:
            raise ValueError(f"stagnation_rounds must be at least 1, not {self.stagnation_rounds}")
        if self.shutdown_grace_s < 0 or self.shutdown_timeout_s <= 0:
            raise ValueError("shutdown_grace_s must not be negative and shutdown_timeout_s must be positive")


class Commander:
    """Runs missions with agent backends; one run at a time per instance.

    Args:
        missions: the mission service (store, gate, worktrees).
        backends: the backend of each role.
        settings: how runs behave.
        hooks: the lifecycle hooks (default: the built-ins with their default settings).
        on_event: called with every progress event, on the event loop; keep it quick.
        clock: monotonic seconds, for elapsed time, limits and the circuit breakers.
        sleep: how backoff waits (tests pass one that only advances their clock).
        rng: randomness of the backoff jitter.
        rss: reads the resident memory for the memory guard.
    """

    def __init__(
        self,
        missions: Missions,
        backends: RoleBackends,
        settings: CommanderSettings | None = None,
        *,
        hooks: Hooks | None = None,
        on_event: ProgressCallback | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
        rng: random.Random | None = None,
        rss: Callable[[], int] | None = None,
    ) -> None:
        self.missions = missions
        self.submissions = Submissions(missions)
        self.backends = backends
        self.settings = settings or CommanderSettings()
        self.hooks = hooks if hooks is not None else build_hooks()
        self._on_event = on_event
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._memory = (
            MemoryGuard(self.settings.memory, rss=rss) if rss else MemoryGuard(self.settings.memory)
        )
        self._running = False
        self._reset("")

    def _reset(self, mission_id: str) -> None:
        self.mission_id = mission_id
        self.identity: RunIdentity = new_run_identity()
        self.scheduler = Scheduler(self.settings.scheduling)
        self.stagnation = StagnationDetector(self.settings.stagnation_rounds)
        self._breakers: dict[str, CircuitBreaker] = {}
        self._stop = anyio.Event()
        self._outcome: tuple[RunOutcome, str] | None = None
        self._changed = Broadcast()
        self._in_flight = 0
        self._recovery = Recovery()
        self.progress = RunProgress(
            mission_id, self._on_event, clock=self._clock, limits=self.scheduler.limits
        )

    # -- the run ------------------------------------------------------------------------------------

    async def run_goal(self, goal: str, plan: Sequence[PlannedTask] = ()) -> RunReport:
        """Start a mission for ``goal`` (with ``plan`` as its roadmap, else the planner's) and run it."""
        specs = [_spec(p) for p in plan]
        mission = await self.db(self.missions.start, goal, specs, actor="commander")
        return await self.run(mission.id)

    async def run(self, mission_id: str) -> RunReport:
        """Run (or resume) a mission until it is done or stops; return how it ended.

        Raises:
            InputError: this Commander is already running a mission.
            NotFoundError: no such mission.
        """
        if self._running:
            raise InputError(f"this Commander is already running mission {self.mission_id}")
        self._running = True
        self._reset(mission_id)
        me = self.identity
        me.register()
        try:
            mission = await self.db(self.missions.store.get_mission, mission_id)
            await self.db(
                self.missions.store.append_event,
                RUN_STARTED,
                {**me.to_json(), "backends": {r: self.backends.for_role(r).name for r in _ROLES}},
                mission_id=mission_id,
                actor=me.worker_id(0),
            )
            try:
                await self._run_mission(mission)
            finally:
                with anyio.move_on_after(self.settings.shutdown_timeout_s, shield=True) as bound:
                    await self._shutdown()
                if bound.cancelled_caught:
                    logger.warning("run %s: clean-up did not finish in time", me.run_id)
                await close_backends(self.backends.for_role(r) for r in _ROLES)
            return await self._report()
        finally:
            me.unregister()
            self._running = False

    def request_stop(self, reason: str = "a stop was requested") -> None:
        """Stop the run: running attempts get the grace period, the rest waits for a resume."""
        self._finish("stopped", reason)

    async def _run_mission(self, mission: Mission) -> None:
        if mission.state is not MissionState.ACTIVE:
            outcome: RunOutcome = "cancelled" if mission.state is MissionState.CANCELLED else "completed"
            self._finish(outcome, f"mission {mission.id} is {mission.state.value}")
            return
        self._recovery = await self.db(recover, self.missions, mission.id, self.identity)
        await self.emit("run_started", f"run {self.identity.run_id} on mission {mission.id}")
        if self._recovery.anything:
            await self.emit("recovered", self._recovery.describe())
        await self.hook(self.hook_event("mission_started", data={"goal": mission.goal}))
        tasks = await self.db(self.missions.store.list_tasks, mission.id)
        if not tasks and not await self._plan(mission):
            return
        await self._execute()

    async def _execute(self) -> None:
        lanes_done = anyio.Event()

        async def lanes() -> None:
            try:
                async with anyio.create_task_group() as lane_group:
                    for n in range(1, self.settings.scheduling.worker + 1):
                        lane_group.start_soon(self._lane, n)
            finally:
                lanes_done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(lanes)
            tg.start_soon(self._watch)
            await self._stop.wait()
            self._changed.notify()
            with anyio.move_on_after(self.settings.shutdown_grace_s):
                await lanes_done.wait()
            tg.cancel_scope.cancel()

    async def _lane(self, n: int) -> None:
        worker = self.identity.worker_id(n)
        while not self._stop.is_set():
            changed = self._changed.current
            claimed: Claim | NoTask | None = None
            if await self._memory_admits():
                # the worker slot is the capacity a task in flight uses: held from the claim to the end
                async with self.scheduler.role("worker").slot():
                    claimed = await self._claim(worker)
                    if isinstance(claimed, Claim):
                        await self._see_through(claimed, worker)
                        continue
            if isinstance(claimed, NoTask):
                self._on_no_task(claimed)
            if self._stop.is_set():
                return
            with anyio.move_on_after(self.settings.idle_recheck_s):
                await changed.wait()

    async def _claim(self, worker: str) -> Claim | NoTask | None:
        if self._stop.is_set():
            return None
        try:
            return await self.db(self.missions.claim, self.mission_id, worker)
        except PodiumError as exc:
            # a worktree git cannot make, a store that fails: counted, so that stagnation ends the loop
            self.warn(f"{worker} could not claim a task: {exc}")
            self.round_done("(claim)", "fault", [str(exc)[:200]])
            return None

    async def _see_through(self, claim: Claim, worker: str) -> None:
        self._in_flight += 1
        try:
            await see_through(self, claim, worker)
        except PodiumError as exc:
            # a store or git fault on one task must not take the mission down: back to the pool with it
            self.warn(f"{claim.task.id}: {exc}; the task goes back to the pool", task_id=claim.task.id)
            self.round_done(claim.task.id, "fault", [str(exc)[:200]])
            await self.db(safe_hand_back, self.missions, claim.task, actor=worker, reason=str(exc))
        finally:
            self._in_flight -= 1
            self.progress.untrack(claim.task.id)
            self._changed.notify()

    def _on_no_task(self, nothing: NoTask) -> None:
        if nothing.reason == "mission_done":
            self._finish("completed", "")
        elif nothing.reason == "mission_closed":
            self._finish("cancelled", nothing.detail)
        elif nothing.reason == "all_blocked" and self._in_flight == 0:
            self._finish("failed", nothing.detail)

    async def _watch(self) -> None:
        """Notice a mission cancelled by someone else, and the time limit."""
        while not self._stop.is_set():
            await anyio.sleep(self.settings.mission_poll_s)
            mission = await self.db(self.missions.store.get_mission, self.mission_id)
            if mission.state is not MissionState.ACTIVE:
                self._finish("cancelled", f"mission {mission.id} became {mission.state.value}")
            self._check_time()

    def _finish(self, outcome: RunOutcome, detail: str) -> None:
        """End the run with ``outcome``; the first call wins."""
        if self._outcome is None:
            self._outcome = (outcome, detail)
            logger.info("run %s ends: %s %s", self.identity.run_id, outcome, detail)
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- planning -----------------------------------------------------------------------------------

    async def _plan(self, mission: Mission) -> bool:
        backend = self.backends.for_role("planner")
        request = PlanRequest(mission.id, mission.goal, self.missions.root)
        try:
            async with self.scheduler.role("planner").slot():
                planned = await self.call("planner", backend, lambda: backend.plan(request))
        except BackendError as exc:
            self._finish("failed", f"the planner ({backend.name}) failed: {exc}")
            return False
        if not planned:
            self._finish("failed", f"the planner ({backend.name}) proposed no tasks for: {mission.goal}")
            return False
        try:
            added = await self.db(
                self.missions.add_tasks,
                mission.id,
                [_spec(p) for p in planned],
                actor=f"{backend.name}:planner",
            )
        except (RoadmapError, InputError) as exc:
            self._finish("failed", f"the planner's roadmap is not valid: {exc}")
            return False
        await self.emit("planned", f"planned {len(added)} tasks: {', '.join(t.id for t in added)}")
        return True

    # -- services the attempts use ------------------------------------------------------------------

    async def call(self, role: AgentRole, backend: AgentBackend, call: Callable[[], Awaitable[T]]) -> T:
        """One backend call through the backend's slot, breaker and retries."""
        limiter = self.scheduler.backend(backend.name)

        async def once() -> T:
            async with limiter.slot():
                result = await call()
            self.scheduler.record(role, backend.name, ok=True)
            return result

        def fault(exc: BackendError) -> None:
            self.scheduler.record(role, backend.name, ok=False, rate_limited=isinstance(exc, RateLimited))

        return await call_with_retry(
            once,
            settings=self.settings.retry,
            breaker=self.breaker(backend.name),
            sleep=self._sleep,
            rng=self._rng,
            on_fault=fault,
        )

    def breaker(self, backend: str) -> CircuitBreaker:
        found = self._breakers.get(backend)
        if found is None:
            found = CircuitBreaker(backend, self.settings.breaker, clock=self._clock)
            self._breakers[backend] = found
        return found

    async def db(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking store or git call in a worker thread."""
        # never abandoned on cancellation: a store call in flight commits or rolls back before we move on
        return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))

    async def hook(self, event: HookEvent) -> HookOutcome:
        """Run the event's hooks; their warnings go to the report and the progress callback."""
        outcome = await self.hooks.emit(event)
        for warning in outcome.warnings:
            self.warn(warning, task_id=event.task_id)
        return outcome

    def hook_event(
        self,
        name: HookEventName,
        task: Task | None = None,
        *,
        paths: Sequence[str] = (),
        attempt: int = 0,
        texts: Mapping[str, str] | None = None,
        data: Mapping[str, JsonValue] | None = None,
    ) -> HookEvent:
        """A hook event of this run's mission, about ``task`` when given."""
        return HookEvent(
            name=name,
            mission_id=self.mission_id,
            task_id=task.id if task else None,
            title=task.title if task else "",
            files=task.files if task else (),
            paths=tuple(paths),
            attempt=attempt,
            texts=MappingProxyType(dict(texts or {})),
            data=MappingProxyType(dict(data or {})),
        )

    def round_done(self, task_id: str, kind: RoundKind, findings: Sequence[str] = ()) -> None:
        """Count a finished attempt; stop on stagnation or the round limit."""
        self.progress.rounds += 1
        if self.stagnation.record(task_id, kind, findings):
            self._finish("stagnated", self.stagnation.diagnosis().text)
        limit = self.settings.max_rounds
        if limit is not None and self.progress.rounds >= limit:
            self._finish("limit", f"the round limit ({limit}) was reached")
        self._check_time()

    def _check_time(self) -> None:
        limit = self.settings.time_limit_s
        if limit is not None and self.progress.elapsed_s >= limit:
            self._finish("limit", f"the time limit ({limit:g} s) was reached")

    async def _memory_admits(self) -> bool:
        if self._memory.settings.budget_bytes is None:
            return True
        priority = await self.db(self._best_ready_priority)
        return priority is None or self._memory.admits(priority, in_flight=self._in_flight)

    def _best_ready_priority(self) -> int | None:
        tasks = self.missions.store.list_tasks(self.mission_id)
        order = claim_order(tasks)
        by_id = {t.id: t for t in tasks}
        return by_id[order[0]].priority if order else None

    # -- progress -----------------------------------------------------------------------------------

    async def emit(self, kind: EventKind, message: str, task_id: str | None = None) -> None:
        """Tell the progress callback, with the mission's counts as they are now."""
        logger.info("%s: %s", kind, message)
        if self.progress.listening:
            tasks = await self.db(self.missions.store.list_tasks, self.mission_id)
            self.progress.tell(kind, message, tasks, task_id)

    def warn(self, message: str, *, task_id: str | None = None) -> None:
        self.progress.warn(message, task_id=task_id)

    # -- the end ------------------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        """Hand back what this run holds, record the stop, tell the hooks. Runs shielded and bounded."""
        if self._outcome is None:
            self._finish("stopped", "the run was cancelled")
        outcome, detail = self._outcome or ("stopped", "")
        await self.emit("stopping", f"stopping: {outcome} {detail}".strip())
        store = self.missions.store
        handed: list[str] = []
        for task in await self.db(store.list_tasks, self.mission_id):
            if task.state in ACTIVE_STATES and run_of(task.lease_holder) == self.identity.run_id:
                result = await self.db(
                    safe_hand_back,
                    self.missions,
                    task,
                    actor=self.identity.worker_id(0),
                    reason=f"run {self.identity.run_id} stopped ({outcome})",
                )
                if result is not None:
                    handed.append(task.id)
        if outcome == "stagnated":
            await self.db(
                store.append_event,
                "mission.paused",
                {"run_id": self.identity.run_id, "diagnosis": detail},
                mission_id=self.mission_id,
                actor=self.identity.worker_id(0),
            )
        await self.db(
            store.append_event,
            RUN_STOPPED,
            {"run_id": self.identity.run_id, "outcome": outcome, "handed_back": handed},
            mission_id=self.mission_id,
            actor=self.identity.worker_id(0),
        )

    async def _report(self) -> RunReport:
        outcome, detail = self._outcome or ("stopped", "")
        tasks = await self.db(self.missions.store.list_tasks, self.mission_id)
        failures = self.progress.failures_in(tasks)
        rounds = self.progress.rounds
        text = describe_outcome(outcome, detail, tasks, failures, mission_id=self.mission_id, rounds=rounds)
        # the diagnosis quotes findings and logs: it goes through the hooks (redaction) like every text
        finished = await self.hook(
            self.hook_event("mission_finished", data={"outcome": outcome}, texts={"diagnosis": text})
        )
        report = self.progress.report(
            run_id=self.identity.run_id,
            outcome=outcome,
            diagnosis=finished.event.texts.get("diagnosis", text),
            tasks=tasks,
            stagnation=self.stagnation.diagnosis() if outcome == "stagnated" else None,
            recovery=self._recovery,
        )
        await self.emit("run_finished", f"{outcome}: {report.diagnosis.splitlines()[0]}")
        return report


_ROLES: tuple[AgentRole, ...] = ("planner", "worker", "reviewer")


def _spec(planned: PlannedTask) -> TaskSpec:
    return TaskSpec(
        title=planned.title,
        key=planned.key,
        description=planned.description,
        files=planned.files,
        depends_on=planned.depends_on,
        role=planned.role,
        priority=planned.priority,
        size=planned.size,
        review=planned.review,
    )
