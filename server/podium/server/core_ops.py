"""Podium's operations over one project: the registry both adapters serve.

Each handler converts its input, runs the synchronous core (`Missions`, `Submissions`, `verify_edits`) in a
worker thread and converts the answer. Refusals are the core's `PodiumError`s, which the adapters turn into
structured errors; nothing here catches them.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from pathlib import Path

import anyio
import anyio.from_thread
import anyio.to_thread

from podium.orchestration.missions import Missions
from podium.orchestration.submissions import Submissions
from podium.orchestration.verify import verify_edits
from podium.server import convert
from podium.server.mission_runs import MissionRuns
from podium.server.models import (
    MissionCancelInput,
    MissionCancelResult,
    MissionFinishInput,
    MissionFinishResult,
    MissionRunInput,
    MissionRunView,
    MissionStartInput,
    MissionStartResult,
    MissionStatusInput,
    MissionStatusResult,
    MissionWaitInput,
    RoadmapAddInput,
    RoadmapAddResult,
    SubmitResult,
    TaskClaimInput,
    TaskClaimResult,
    TaskHeartbeatInput,
    TaskHeartbeatResult,
    TaskReleaseInput,
    TaskReleaseResult,
    TaskReviewInput,
    TaskSubmitInput,
    VerdictView,
    VerifyInput,
)
from podium.server.operations import OperationContext, OperationRegistry, TextResource
from podium.verification.errors import InputError

__all__ = ["INSTRUCTIONS", "ROADMAP_URI", "build_registry"]

ROADMAP_URI = "podium://missions/{id}/roadmap"

INSTRUCTIONS = (
    "Podium coordinates coding agents on one repository. Planners: mission_start with tasks, then "
    "mission_status. Workers: task_claim, edit in the returned worktree (or pass edits), task_heartbeat "
    "while working, task_submit; on rejected or conflict, fix what the verdict names and submit again."
)


def build_registry(missions: Missions, runs: MissionRuns | None = None) -> OperationRegistry:
    """The mission operations and the roadmap resource, bound to ``missions``.

    ``runs`` holds the Commanders ``mission_run`` starts; the server that serves the registry must keep
    ``runs.serving()`` open (without it ``mission_run`` refuses; ``mission_wait`` still watches the store).
    """
    registry = OperationRegistry()
    runs = runs if runs is not None else MissionRuns(missions)
    submissions = Submissions(missions)
    run = anyio.to_thread.run_sync

    @registry.operation("mission_start", MissionStartInput, MissionStartResult)
    async def mission_start(ctx: OperationContext, params: MissionStartInput) -> MissionStartResult:
        """Start a mission: an integration branch from HEAD and its first tasks (ids T1, T2, ...)."""

        def start() -> MissionStartResult:
            mission = missions.start(params.goal, convert.specs(params.tasks))
            status = missions.status(mission.id)
            return convert.mission_start_result(mission, params.tasks, status.tasks, status.roadmap)

        return await run(start)

    @registry.operation("roadmap_add", RoadmapAddInput, RoadmapAddResult)
    async def roadmap_add(ctx: OperationContext, params: RoadmapAddInput) -> RoadmapAddResult:
        """Add tasks to an active mission's roadmap."""
        add = functools.partial(missions.add_tasks, params.mission_id, convert.specs(params.tasks))
        return convert.roadmap_add_result(params.mission_id, params.tasks, await run(add))

    @registry.operation("task_claim", TaskClaimInput, TaskClaimResult)
    async def task_claim(ctx: OperationContext, params: TaskClaimInput) -> TaskClaimResult:
        """Claim the next ready task and its git worktree; if none, reason says why."""
        return convert.claim_result(await run(missions.claim, params.mission_id, params.worker))

    @registry.operation("task_heartbeat", TaskHeartbeatInput, TaskHeartbeatResult)
    async def task_heartbeat(ctx: OperationContext, params: TaskHeartbeatInput) -> TaskHeartbeatResult:
        """Extend your lease on a task you hold."""
        return convert.heartbeat_result(await run(missions.heartbeat, params.task_id, params.worker))

    @registry.operation("task_submit", TaskSubmitInput, SubmitResult)
    async def task_submit(ctx: OperationContext, params: TaskSubmitInput) -> SubmitResult:
        """Submit your task to the verification gate; it merges if it adds no new problem."""
        core_edits = convert.edits(params.edits) if params.edits else None
        steps = itertools.count(1)

        def progress(message: str) -> None:
            anyio.from_thread.run(ctx.report, next(steps), None, message)

        submit = functools.partial(submissions.submit, params.task_id, params.worker, core_edits, progress)
        return convert.submit_result(await run(submit))

    @registry.operation("task_review", TaskReviewInput, SubmitResult)
    async def task_review(ctx: OperationContext, params: TaskReviewInput) -> SubmitResult:
        """Approve (merge) or reject (back to its worker) a task in review."""
        review = functools.partial(
            submissions.review, params.task_id, params.reviewer, params.approve, params.comments
        )
        return convert.submit_result(await run(review))

    @registry.operation("task_release", TaskReleaseInput, TaskReleaseResult)
    async def task_release(ctx: OperationContext, params: TaskReleaseInput) -> TaskReleaseResult:
        """Give a task back as ready, blocked or failed."""
        status = convert.release_status(params.status)
        release = functools.partial(missions.release, params.task_id, params.worker, status, params.reason)
        return convert.release_result(await run(release))

    @registry.operation("mission_status", MissionStatusInput, MissionStatusResult)
    async def mission_status(ctx: OperationContext, params: MissionStatusInput) -> MissionStatusResult:
        """Counts, progress, leases, recent verdicts and ROADMAP.md of a mission, or of all."""

        def statuses() -> MissionStatusResult:
            wanted = params.mission_id
            ids = [m.id for m in missions.store.list_missions()] if wanted is None else [wanted]
            return MissionStatusResult(missions=[convert.status_view(missions.status(i)) for i in ids])

        return await run(statuses)

    @registry.operation("mission_finish", MissionFinishInput, MissionFinishResult)
    async def mission_finish(ctx: OperationContext, params: MissionFinishInput) -> MissionFinishResult:
        """End a mission; apply=true merges its branch into your checked-out branch."""
        finish = functools.partial(missions.finish, params.mission_id, apply=params.apply)
        return convert.finish_result(await run(finish))

    @registry.operation("mission_cancel", MissionCancelInput, MissionCancelResult)
    async def mission_cancel(ctx: OperationContext, params: MissionCancelInput) -> MissionCancelResult:
        """Cancel a mission, its open tasks and its run; your branch is untouched."""
        await runs.stop(params.mission_id, f"mission {params.mission_id} was cancelled")
        return convert.cancel_result(await run(missions.cancel, params.mission_id))

    @registry.operation("mission_run", MissionRunInput, MissionRunView)
    async def mission_run(ctx: OperationContext, params: MissionRunInput) -> MissionRunView:
        """Run the mission with the server's agents in the background; then mission_wait."""
        return convert.run_view(await runs.start(params.mission_id, params.backend, params.workers))

    @registry.operation("mission_wait", MissionWaitInput, MissionRunView)
    async def mission_wait(ctx: OperationContext, params: MissionWaitInput) -> MissionRunView:
        """Wait up to timeout_s for the mission to change; repeat while run_status is running."""
        return convert.run_view(await runs.wait(params.mission_id, params.timeout_s))

    @registry.operation("verify", VerifyInput, VerdictView)
    async def verify(ctx: OperationContext, params: VerifyInput) -> VerdictView:
        """Judge edits with the gate without writing anything."""
        root = _inside_project(missions.root, params.root)
        judge = functools.partial(
            verify_edits, root, convert.edits(params.edits), missions.config, missions.gate
        )
        return convert.verdict_view(await run(judge))

    async def read_roadmap(ctx: OperationContext, variables: Mapping[str, str]) -> str:
        return (await run(missions.status, variables["id"])).roadmap

    registry.add_resource(
        TextResource(ROADMAP_URI, "roadmap", "A mission's ROADMAP.md.", read_roadmap, "text/markdown")
    )
    return registry


def _inside_project(project: Path, root: str | None) -> Path:
    """The directory ``verify`` judges against: the project, or a directory inside it (a task worktree).

    Over HTTP the caller may be another machine, so its verdicts must not read files outside the project.
    """
    base = project.resolve()
    if root is None:
        return base
    target = (base / root).resolve()
    if target != base and base not in target.parents:
        raise InputError(f"root {root}: outside the project {base}; give a directory inside it", path=root)
    if ".git" in target.relative_to(base).parts:
        raise InputError(f"root {root}: inside .git; give a working directory", path=root)
    if not target.is_dir():
        raise InputError(f"root {root}: not a directory", path=root)
    return target
