"""Core values ↔ wire models: the one module that sees both sides of the adapter boundary.

Inputs become the core's frozen values (`TaskSpec`, edits); the core's answers (`Task`, `Verdict`,
`MissionStatus` …) become the models of `podium.server.models`. Nothing here decides anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from podium.orchestration.missions import Claim, FinishOutcome, MissionStatus, NoTask, TaskSpec
from podium.orchestration.model import Mission, Role, Size, Task, TaskState
from podium.orchestration.submissions import SubmitOutcome
from podium.server.mission_runs import MissionLook
from podium.server.models import (
    EditInput,
    FindingView,
    LeaseView,
    MissionCancelResult,
    MissionFinishResult,
    MissionRunView,
    MissionStartResult,
    MissionStatusView,
    RoadmapAddResult,
    SourceView,
    SubmitResult,
    TaskClaimResult,
    TaskHeartbeatResult,
    TaskInput,
    TaskReleaseResult,
    TaskView,
    VerdictSummaryView,
    VerdictView,
)
from podium.verification.edits import DeleteFile, DiffEdit, Edit, SearchReplace, WholeFile
from podium.verification.findings import Finding
from podium.verification.verdict import Verdict

__all__ = [
    "cancel_result",
    "claim_result",
    "edits",
    "finding_view",
    "finish_result",
    "heartbeat_result",
    "key_ids",
    "mission_start_result",
    "release_result",
    "release_status",
    "roadmap_add_result",
    "run_view",
    "specs",
    "status_view",
    "submit_result",
    "task_view",
    "verdict_view",
]


def specs(tasks: Sequence[TaskInput]) -> list[TaskSpec]:
    """Task inputs as the core's task specs."""
    return [
        TaskSpec(
            title=task.title,
            key=task.key,
            description=task.description,
            files=tuple(task.files),
            depends_on=tuple(task.depends_on),
            role=Role(task.role),
            priority=task.priority,
            size=Size(task.size),
            review=task.review,
        )
        for task in tasks
    ]


def edits(inputs: Sequence[EditInput]) -> list[Edit]:
    """Edit inputs as the core's edits; `EditInput` has already checked that each has one shape."""
    return [_edit(edit) for edit in inputs]


def _edit(edit: EditInput) -> Edit:
    if edit.diff is not None:
        return DiffEdit(edit.diff)
    path = edit.path or ""
    if edit.delete:
        return DeleteFile(path)
    if edit.content is not None:
        return WholeFile(path, edit.content)
    return SearchReplace(path, edit.search or "", edit.replace or "")


def key_ids(tasks: Sequence[TaskInput], created: Sequence[Task]) -> dict[str, str]:
    """The planner's keys mapped to the ids the roadmap gave; the core keeps input order."""
    return {task.key.strip(): made.id for task, made in zip(tasks, created, strict=True) if task.key.strip()}


def task_view(task: Task) -> TaskView:
    return TaskView(
        id=task.id,
        mission_id=task.mission_id,
        title=task.title,
        state=task.state.value,
        role=task.role.value,
        files=list(task.files),
        depends_on=list(task.depends_on),
        priority=task.priority,
        size=task.size.value,
        attempts=task.attempts,
        lease_holder=task.lease_holder,
        lease_expires=task.lease_expires,
        review=task.review,
    )


def finding_view(finding: Finding) -> FindingView:
    return FindingView(
        source=finding.source,
        code=finding.code,
        message=finding.message,
        path=finding.path,
        line=finding.line,
        column=finding.column,
        end_line=finding.end_line,
        end_column=finding.end_column,
        severity=finding.severity,
        symbol=finding.symbol,
        frame=finding.frame,
        reason=finding.reason,
    )


def verdict_view(verdict: Verdict) -> VerdictView:
    return VerdictView(
        accepted=verdict.accepted,
        summary=verdict.summary,
        findings_new=[finding_view(f) for f in verdict.findings_new],
        findings_preexisting=[finding_view(f) for f in verdict.findings_preexisting],
        notes=list(verdict.notes),
        sources=[SourceView(name=s.name, elapsed_ms=round(s.elapsed_ms, 3)) for s in verdict.sources],
    )


def mission_start_result(
    mission: Mission, tasks: Sequence[TaskInput], created: Sequence[Task], roadmap: str
) -> MissionStartResult:
    return MissionStartResult(
        mission_id=mission.id,
        branch=mission.branch,
        key_ids=key_ids(tasks, created),
        tasks=[task_view(task) for task in created],
        roadmap=roadmap,
    )


def roadmap_add_result(
    mission_id: str, tasks: Sequence[TaskInput], created: Sequence[Task]
) -> RoadmapAddResult:
    return RoadmapAddResult(
        mission_id=mission_id, ids=[task.id for task in created], key_ids=key_ids(tasks, created)
    )


def claim_result(outcome: Claim | NoTask) -> TaskClaimResult:
    if isinstance(outcome, NoTask):
        return TaskClaimResult(
            claimed=False,
            task=None,
            worktree=None,
            base_commit=None,
            files=[],
            lease_expires=None,
            reason=outcome.reason,
            detail=outcome.detail,
        )
    return TaskClaimResult(
        claimed=True,
        task=task_view(outcome.task),
        worktree=str(outcome.worktree),
        base_commit=outcome.base_commit,
        files=list(outcome.task.files),
        lease_expires=outcome.task.lease_expires,
        reason=None,
        detail=None,
    )


def submit_result(outcome: SubmitOutcome) -> SubmitResult:
    return SubmitResult(
        status=outcome.status,
        task=task_view(outcome.task),
        verdict=verdict_view(outcome.verdict),
        merged_commit=outcome.merged_commit,
        worktree=_path(outcome.worktree),
        base_commit=outcome.base_commit,
    )


def status_view(status: MissionStatus) -> MissionStatusView:
    mission = status.mission
    return MissionStatusView(
        mission_id=mission.id,
        goal=mission.goal,
        branch=mission.branch,
        state=mission.state.value,
        counts=dict(status.counts),
        progress=status.progress,
        leases=[
            LeaseView(task_id=task.id, worker=task.lease_holder or "", expires=task.lease_expires)
            for task in status.leases
        ],
        last_verdicts=[
            VerdictSummaryView(task_id=task_id, summary=summary)
            for task_id, summary in status.recent_verdicts
        ],
        roadmap=status.roadmap,
    )


def finish_result(outcome: FinishOutcome) -> MissionFinishResult:
    applied = outcome.applied
    return MissionFinishResult(
        mission_id=outcome.mission.id,
        state=outcome.mission.state.value,
        applied=applied is not None,
        user_branch=applied.branch if applied else None,
        head=applied.head if applied else None,
        kind=applied.kind if applied else None,
        cancelled=list(outcome.cancelled),
    )


def cancel_result(outcome: FinishOutcome) -> MissionCancelResult:
    return MissionCancelResult(
        mission_id=outcome.mission.id, state=outcome.mission.state.value, cancelled=list(outcome.cancelled)
    )


def run_view(look: MissionLook) -> MissionRunView:
    status, run = look.status, look.run
    return MissionRunView(
        mission_id=status.mission.id,
        state=status.mission.state.value,
        counts=dict(status.counts),
        progress=status.progress,
        run_id=run.run_id,
        run_status=run.status,
        changed=look.changed,
        events=list(run.events),
        diagnosis=run.diagnosis,
    )


def heartbeat_result(task: Task) -> TaskHeartbeatResult:
    return TaskHeartbeatResult(task_id=task.id, lease_expires=task.lease_expires)


def release_result(task: Task) -> TaskReleaseResult:
    return TaskReleaseResult(task=task_view(task))


def release_status(status: str) -> TaskState:
    """The state a `task_release` status names."""
    return TaskState(status)


def _path(path: Path | None) -> str | None:
    return None if path is None else str(path)
