"""Missions the server runs itself: Commanders started by ``mission_run``, followed by ``mission_wait``.

A `MissionRuns` belongs to one server process and one `Missions` service. Its Commanders live in a task
group the server holds open while it serves (`serving`: the MCP lifespan, the LSP connection), so a run
outlives the call that started it but not the server; leaving `serving` asks every run to stop and waits,
shielded and bounded, for their clean-up, which hands their tasks back.

``mission_wait`` must never block longer than an MCP client waits for an answer, so `wait` takes its
timeout from the caller (the operation caps it) and returns as soon as the mission *looks* different: its
state, its task counts or this process's run status. It learns of changes from its own Commanders' events
at once, and from the store's event log by polling, so a run in another process is seen too.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup

from podium.orchestration.broadcast import Broadcast
from podium.orchestration.commander import Commander
from podium.orchestration.missions import Missions, MissionStatus
from podium.orchestration.model import MissionState
from podium.orchestration.runner import build_commander
from podium.orchestration.runreport import ProgressCallback, RunEvent, RunOutcome, RunReport
from podium.verification.errors import InputError, PodiumError

__all__ = [
    "MAX_WAIT_S",
    "CommanderFactory",
    "MissionRuns",
    "RunState",
    "RunStatus",
    "MissionLook",
    "default_factory",
]

logger = logging.getLogger(__name__)

RunStatus = Literal["running", "completed", "failed", "stagnated", "stopped", "none"]
"""A run as ``mission_wait`` shows it; ``none``: this server has not run the mission."""

MAX_WAIT_S = 50.0
"""Longest ``mission_wait``: OpenCode's MCP client gives up on a call after 60 s."""
STORE_POLL_S = 0.5
"""Seconds between looks at the store's event log while waiting (changes made by other processes)."""
START_WAIT_S = 10.0
"""Seconds ``mission_run`` waits for the new run's first event before answering "running"."""
STOP_WAIT_S = 20.0
"""Seconds ``mission_cancel`` gives a running Commander to stop before cancelling under it."""
SHUTDOWN_TIMEOUT_S = 45.0
"""Seconds the server's shutdown waits for its runs' clean-up (grace period and hand-backs)."""
RECENT_EVENTS = 5
"""Run events a wait result quotes."""

CommanderFactory = Callable[[Missions, str | None, int | None, ProgressCallback], Commander]
"""Builds a Commander: ``(missions, backend, workers, on_event)``."""

_STATUS_OF_OUTCOME: Mapping[RunOutcome, RunStatus] = {
    "completed": "completed",
    "failed": "failed",
    "stagnated": "stagnated",
    "limit": "stopped",
    "stopped": "stopped",
    "cancelled": "stopped",
}


def default_factory(
    missions: Missions, backend: str | None, workers: int | None, on_event: ProgressCallback
) -> Commander:
    """A Commander from the project's `podium.toml`, as `podium run` builds it."""
    return build_commander(missions, missions.config, backend=backend, workers=workers, on_event=on_event)


@dataclass(frozen=True, slots=True)
class RunState:
    """This process's latest run of a mission.

    Attributes:
        run_id: the Commander's run id (as in the store's ``run.started`` event); empty when none.
        status: see :data:`RunStatus`.
        events: the run's last events, ``kind: message``, newest last.
        diagnosis: how the run ended, once it has.
    """

    run_id: str = ""
    status: RunStatus = "none"
    events: tuple[str, ...] = ()
    diagnosis: str | None = None


@dataclass(frozen=True, slots=True)
class MissionLook:
    """A mission and this process's run of it; ``changed``: the wait saw a change, or the start a new run."""

    status: MissionStatus
    run: RunState
    changed: bool


@dataclass(slots=True)
class _Run:
    mission_id: str
    commander: Commander
    begun: anyio.Event = field(default_factory=anyio.Event)
    done: anyio.Event = field(default_factory=anyio.Event)
    events: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT_EVENTS))
    report: RunReport | None = None
    error: str | None = None

    def state(self) -> RunState:
        if not self.done.is_set():
            status: RunStatus = "running"
        elif self.report is not None:
            status = _STATUS_OF_OUTCOME[self.report.outcome]
        else:
            status = "failed"
        diagnosis = self.report.diagnosis if self.report is not None else self.error
        return RunState(self.commander.identity.run_id, status, tuple(self.events), diagnosis)


class MissionRuns:
    """The Commanders one server runs, at most one per mission.

    Args:
        missions: the mission service the runs work on.
        factory: builds each run's Commander (default: from `podium.toml`).
        poll_s: seconds between looks at the store while waiting.
    """

    def __init__(
        self,
        missions: Missions,
        *,
        factory: CommanderFactory = default_factory,
        poll_s: float = STORE_POLL_S,
    ) -> None:
        self.missions = missions
        self._factory = factory
        self._poll_s = poll_s
        self._group: TaskGroup | None = None
        self._runs: dict[str, _Run] = {}
        self._changed = Broadcast()

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """Hold the task group runs live in; on exit stop them and wait for their clean-up (bounded).

        Nested entries (a second in-process client) share the first one's group.
        """
        if self._group is not None:
            yield
            return
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield
            finally:
                self._group = None
                with anyio.move_on_after(SHUTDOWN_TIMEOUT_S, shield=True) as bound:
                    live = self._live()
                    for run in live:
                        run.commander.request_stop("the server is shutting down")
                    for run in live:
                        await run.done.wait()
                if bound.cancelled_caught:
                    logger.warning("runs did not stop within %s s; cancelling them", SHUTDOWN_TIMEOUT_S)
                group.cancel_scope.cancel()

    def state(self, mission_id: str) -> RunState:
        """This process's latest run of ``mission_id`` (status ``none`` when there is none)."""
        run = self._runs.get(mission_id)
        return run.state() if run is not None else RunState()

    async def start(
        self, mission_id: str, backend: str | None = None, workers: int | None = None
    ) -> MissionLook:
        """Run ``mission_id`` in the background, or find the run already going; answers once it began.

        Raises:
            NotFoundError: no such mission.
            InputError: the mission is not active, or the server is not serving runs.
            ConfigError: the backend or worker count cannot be built.
        """
        mission = await anyio.to_thread.run_sync(self.missions.store.get_mission, mission_id)
        current = self._runs.get(mission_id)
        if current is not None and not current.done.is_set():
            status, state = await self._look(mission_id)
            return MissionLook(status, state, changed=False)
        if mission.state is not MissionState.ACTIVE:
            raise InputError(f"mission {mission_id} is {mission.state.value}; there is nothing to run")
        if self._group is None:
            raise InputError("this server is not set up to run missions; use `podium run` instead")
        events: deque[str] = deque(maxlen=RECENT_EVENTS)
        begun = anyio.Event()

        def on_event(event: RunEvent) -> None:
            events.append(f"{event.kind}: {event.message}")
            begun.set()
            self._changed.notify()

        commander = self._factory(self.missions, backend, workers, on_event)
        run = _Run(mission_id, commander, begun=begun, events=events)
        self._runs[mission_id] = run
        self._group.start_soon(self._drive, run)
        with anyio.move_on_after(START_WAIT_S):
            await _first_of(run.begun, run.done)
        status, state = await self._look(mission_id)
        return MissionLook(status, state, changed=True)

    async def stop(self, mission_id: str, reason: str, *, wait_s: float = STOP_WAIT_S) -> bool:
        """Ask this process's run of ``mission_id`` to stop and wait up to ``wait_s``; whether it had one."""
        run = self._runs.get(mission_id)
        if run is None or run.done.is_set():
            return False
        run.commander.request_stop(reason)
        with anyio.move_on_after(wait_s):
            await run.done.wait()
        return True

    async def wait(self, mission_id: str, timeout_s: float) -> MissionLook:
        """The mission once it looks different (state, task counts, run status), or at ``timeout_s``.

        Returns at once when there is nothing to wait for: the mission is over or this process's run ended.

        Raises:
            NotFoundError: no such mission.
        """
        # the log position first: a change landing between the two reads is then seen, not lost
        seq = await anyio.to_thread.run_sync(self.missions.store.last_seq)
        before = await self._look(mission_id)
        if _ended(before):
            return MissionLook(before[0], before[1], changed=False)
        now = before
        with anyio.move_on_after(timeout_s):
            while _signature(now) == _signature(before):
                changed = self._changed.current
                with anyio.move_on_after(self._poll_s):
                    await changed.wait()
                latest = await anyio.to_thread.run_sync(self.missions.store.last_seq)
                if latest == seq and not changed.is_set():
                    continue
                seq = latest
                now = await self._look(mission_id)
        return MissionLook(now[0], now[1], changed=_signature(now) != _signature(before))

    async def _drive(self, run: _Run) -> None:
        try:
            run.report = await run.commander.run(run.mission_id)
        except PodiumError as exc:
            run.error = f"{exc.code}: {exc.message}"
            logger.warning("run of mission %s failed: %s", run.mission_id, run.error)
        except Exception as exc:  # a broken run is reported to its waiters, not raised into the server
            run.error = f"the run failed inside the server: {type(exc).__name__}"
            logger.exception("run of mission %s failed", run.mission_id)
        finally:
            run.done.set()
            self._changed.notify()

    async def _look(self, mission_id: str) -> tuple[MissionStatus, RunState]:
        status = await anyio.to_thread.run_sync(self.missions.status, mission_id)
        return status, self.state(mission_id)

    def _live(self) -> list[_Run]:
        return [run for run in self._runs.values() if not run.done.is_set()]


def _signature(look: tuple[MissionStatus, RunState]) -> tuple[object, ...]:
    status, run = look
    return (status.mission.state, tuple(sorted(status.counts.items())), run.status)


def _ended(look: tuple[MissionStatus, RunState]) -> bool:
    """Nothing more to wait for: the mission is over, or this process's run of it has ended."""
    status, run = look
    if run.status == "running":
        return False
    return status.mission.state is not MissionState.ACTIVE or run.status != "none"


async def _first_of(*events: anyio.Event) -> None:
    async with anyio.create_task_group() as group:

        async def one(event: anyio.Event) -> None:
            await event.wait()
            group.cancel_scope.cancel()

        for event in events:
            group.start_soon(one, event)
