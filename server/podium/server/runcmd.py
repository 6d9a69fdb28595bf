"""`podium run`: a server-run mission from the command line, from goal (or `--resume`) to summary.

Exit statuses (docs/cli.md): 0 the mission completed, 1 it failed, stagnated, hit a limit or was cancelled,
2 an input or configuration error, 130 interrupted. The first Ctrl-C (or SIGTERM) asks the Commander to
stop gracefully: running attempts get their grace period, leases go back, the store stays consistent, and
`podium run --resume` continues later. A second one cancels at once (the clean-up still runs, shielded).
"""

from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import anyio

from podium.orchestration.agents.answers import load_plan_file
from podium.orchestration.agents.base import PlannedTask
from podium.orchestration.commander import Commander
from podium.orchestration.config import PodiumConfig, load_config
from podium.orchestration.git import repository_root
from podium.orchestration.missions import Missions
from podium.orchestration.runner import build_commander, resumable_mission
from podium.orchestration.runreport import RunOutcome, RunReport
from podium.server.runview import RunView, render_summary
from podium.verification.errors import InputError

__all__ = ["EXIT_INTERRUPTED", "exit_status", "run_command"]

EXIT_OK = 0
EXIT_UNFINISHED = 1
EXIT_INTERRUPTED = 130

_EXIT_BY_OUTCOME: dict[RunOutcome, int] = {
    "completed": EXIT_OK,
    "failed": EXIT_UNFINISHED,
    "stagnated": EXIT_UNFINISHED,
    "limit": EXIT_UNFINISHED,
    "cancelled": EXIT_UNFINISHED,
    "stopped": EXIT_UNFINISHED,
}


@dataclass(frozen=True, slots=True)
class _Request:
    root: Path
    config: PodiumConfig
    goal: str | None
    resume: str | None
    plan: tuple[PlannedTask, ...]
    backend: str | None
    workers: int | None
    apply: bool


def exit_status(outcome: RunOutcome, *, interrupted: bool) -> int:
    """The exit status of a run that ended with ``outcome``; a late interrupt does not hide a completion."""
    if interrupted and outcome != "completed":
        return EXIT_INTERRUPTED
    return _EXIT_BY_OUTCOME[outcome]


def run_command(args: argparse.Namespace, root: Path) -> int:
    """Check the flags, run the mission, print the summary; return the exit status."""
    request = _request(args, root)
    missions = Missions.open(request.root, request.config)
    try:
        view = RunView()
        commander = build_commander(
            missions,
            request.config,
            backend=request.backend,
            workers=request.workers,
            on_event=view.on_event,
        )
        with view:
            report, interrupted = anyio.run(_run, commander, missions, request)
        if report is None:
            print(
                f"podium: run cancelled before it could report; resume with `podium run --resume "
                f"{commander.mission_id}`",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        applied = _apply(missions, report) if request.apply and report.outcome == "completed" else None
        print(render_summary(report, applied=applied))
        return exit_status(report.outcome, interrupted=interrupted)
    finally:
        missions.close()


def _request(args: argparse.Namespace, root: Path) -> _Request:
    goal: str | None = args.goal
    resume: str | None = args.resume
    if resume is None and not (goal and goal.strip()):
        raise InputError('podium run needs a goal (podium run "goal") or --resume [MISSION]')
    if resume is not None and goal:
        raise InputError("--resume continues an existing mission; it takes no goal")
    if resume is not None and args.plan is not None:
        raise InputError("--plan starts a new mission; it cannot be combined with --resume")
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be at least 1, not {args.workers}")
    repository_root(root)
    config = load_config(root, args.config)
    plan = load_plan_file(args.plan) if args.plan is not None else ()
    return _Request(root, config, goal, resume, plan, args.backend, args.workers, args.apply)


async def _run(commander: Commander, missions: Missions, request: _Request) -> tuple[RunReport | None, bool]:
    interrupted = False
    report: RunReport | None = None
    run_scope = anyio.CancelScope()
    async with anyio.create_task_group() as tg:

        async def watch_signals() -> None:
            nonlocal interrupted
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    if interrupted:
                        # a second interrupt: stop waiting for the grace period
                        print("podium: interrupted again; cancelling", file=sys.stderr)
                        run_scope.cancel()
                        continue
                    interrupted = True
                    name = signal.Signals(signum).name
                    print(f"podium: {name}: stopping (running attempts may finish)", file=sys.stderr)
                    commander.request_stop(f"interrupted by {name}")

        tg.start_soon(watch_signals)
        with run_scope:
            report = await _start_or_resume(commander, missions, request)
        tg.cancel_scope.cancel()
    return report, interrupted


async def _start_or_resume(commander: Commander, missions: Missions, request: _Request) -> RunReport:
    if request.resume is None:
        assert request.goal is not None
        return await commander.run_goal(request.goal, request.plan)
    # `--resume` alone names no mission (""): the newest active one
    mission = await anyio.to_thread.run_sync(resumable_mission, missions, request.resume or None)
    return await commander.run(mission.id)


def _apply(missions: Missions, report: RunReport) -> str:
    outcome = missions.finish(report.mission_id, apply=True, actor="podium run")
    finished = outcome.applied
    if finished is None:
        return f"mission {report.mission_id} finished"
    return f"applied: {finished.kind} of {finished.branch} to {finished.head[:12]}"
