"""The wire models of Podium's operations: what agents send and get back, over MCP now and LSP later.

Their JSON schemas are the tools' input and output schemas, which every agent pays for in tokens on each
turn, so they stay lean: sub-models are shared, descriptions are one short line, and a field is described
only where its name does not say enough. States in results are plain strings; the core owns their values.
`convert` is the only module that turns these into core values and back.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from podium.server.mission_runs import MAX_WAIT_S
from podium.server.operations import OperationInput, OperationResult

__all__ = [
    "EditInput",
    "FindingView",
    "LeaseView",
    "MissionCancelInput",
    "MissionCancelResult",
    "MissionFinishInput",
    "MissionFinishResult",
    "MissionRunInput",
    "MissionRunView",
    "MissionStartInput",
    "MissionStartResult",
    "MissionStatusInput",
    "MissionStatusResult",
    "MissionStatusView",
    "MissionWaitInput",
    "RoadmapAddInput",
    "RoadmapAddResult",
    "SourceView",
    "SubmitResult",
    "TaskClaimInput",
    "TaskClaimResult",
    "TaskHeartbeatInput",
    "TaskHeartbeatResult",
    "TaskInput",
    "TaskReleaseInput",
    "TaskReleaseResult",
    "TaskReviewInput",
    "TaskSubmitInput",
    "TaskView",
    "VerdictSummaryView",
    "VerdictView",
    "VerifyInput",
]


def _drop_required(schema: dict[str, Any]) -> None:
    schema.pop("required", None)


class _Part(BaseModel):
    """Nested input: strict about unknown keys like the top-level inputs."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Result(OperationResult):
    """A result or a part of one. Every field is always present, so output schemas skip `required`."""

    model_config = ConfigDict(json_schema_extra=_drop_required)


class _SharedView(_Result):
    """A view several tools return. Output schemas name its fields instead of typing each one, which would
    repeat the same block in every tool; docs/tools.md gives the types."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        if handler.mode == "serialization":
            return {"type": "object", "description": f"{cls.__name__}: {', '.join(cls.model_fields)}"}
        return handler(core_schema)


# -- inputs ---------------------------------------------------------------------------------------------


class TaskInput(_Part):
    key: str = Field(default="", description="Label for depends_on in this batch.")
    title: str
    description: str = ""
    files: list[str] = []
    depends_on: list[str] = Field(default=[], description="Keys in this batch or task ids.")
    role: Literal["worker", "reviewer"] = "worker"
    priority: int = 0
    size: Literal["XS", "S", "M", "L"] = "M"
    review: bool = Field(default=False, description="Hold for task_review before merging.")


class EditInput(_Part):
    """One of {path, content}, {path, search, replace}, {diff} or {path, delete: true}."""

    path: str | None = None
    content: str | None = Field(default=None, description="Whole new file content.")
    search: str | None = Field(default=None, description="Exact text occurring once in path.")
    replace: str | None = None
    diff: str | None = None
    delete: bool = False

    @model_validator(mode="after")
    def _one_shape(self) -> EditInput:
        given = {name for name in _EDIT_FIELDS if getattr(self, name) is not None}
        if self.delete:
            given.add("delete")
        if frozenset(given) not in _EDIT_SHAPES:
            listed = ", ".join(sorted(given)) or "nothing"
            raise ValueError(
                f"got {listed}; an edit is one of {{path, content}}, {{path, search, replace}}, "
                "{diff} or {path, delete: true}"
            )
        return self


_EDIT_FIELDS = ("path", "content", "search", "replace", "diff")
_EDIT_SHAPES = frozenset(
    {
        frozenset({"path", "content"}),
        frozenset({"path", "search", "replace"}),
        frozenset({"diff"}),
        frozenset({"path", "delete"}),
    }
)


class MissionStartInput(OperationInput):
    goal: str
    tasks: list[TaskInput] = []


class RoadmapAddInput(OperationInput):
    mission_id: str
    tasks: list[TaskInput]


class TaskClaimInput(OperationInput):
    mission_id: str
    worker: str


class TaskHeartbeatInput(OperationInput):
    task_id: str
    worker: str


class TaskSubmitInput(OperationInput):
    task_id: str
    worker: str
    edits: list[EditInput] | None = Field(default=None, description="Omit to submit the worktree as it is.")


class TaskReviewInput(OperationInput):
    task_id: str
    reviewer: str
    approve: bool
    comments: str = ""


class TaskReleaseInput(OperationInput):
    task_id: str
    worker: str
    status: Literal["ready", "blocked", "failed"]
    reason: str = ""


class MissionStatusInput(OperationInput):
    mission_id: str | None = Field(default=None, description="Omit for every mission.")


class MissionFinishInput(OperationInput):
    mission_id: str
    apply: bool = Field(default=False, description="Merge it into your checked-out branch.")


class MissionCancelInput(OperationInput):
    mission_id: str


class MissionRunInput(OperationInput):
    mission_id: str
    backend: str | None = Field(default=None, description="scripted, command, openai or opencode-server.")
    workers: int | None = Field(default=None, ge=1)


class MissionWaitInput(OperationInput):
    mission_id: str
    timeout_s: float = Field(default=MAX_WAIT_S, le=MAX_WAIT_S)


class VerifyInput(OperationInput):
    edits: list[EditInput]
    root: str | None = Field(default=None, description="A directory in the project (default: its root).")


# -- results --------------------------------------------------------------------------------------------


class TaskView(_SharedView):
    id: str
    mission_id: str
    title: str
    state: str
    role: str
    files: list[str]
    depends_on: list[str]
    priority: int
    size: str
    attempts: int
    lease_holder: str | None
    lease_expires: float | None
    review: bool


class FindingView(_SharedView):
    source: str
    code: str
    message: str
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    severity: str
    symbol: str
    frame: str
    reason: str = ""


class SourceView(_Result):
    name: str
    elapsed_ms: float


class VerdictView(_SharedView):
    accepted: bool
    summary: str
    findings_new: list[FindingView]
    findings_preexisting: list[FindingView]
    notes: list[str]
    sources: list[SourceView]


class MissionStartResult(_Result):
    mission_id: str
    branch: str
    key_ids: dict[str, str]
    tasks: list[TaskView]
    roadmap: str


class RoadmapAddResult(_Result):
    mission_id: str
    ids: list[str]
    key_ids: dict[str, str]


class TaskClaimResult(_Result):
    claimed: bool
    task: TaskView | None
    worktree: str | None
    base_commit: str | None
    files: list[str]
    lease_expires: float | None
    reason: str | None
    detail: str | None


class TaskHeartbeatResult(_Result):
    task_id: str
    lease_expires: float | None


class SubmitResult(_Result):
    status: Literal["merged", "rejected", "conflict", "review"]
    task: TaskView
    verdict: VerdictView
    merged_commit: str | None
    worktree: str | None
    base_commit: str | None


class TaskReleaseResult(_Result):
    task: TaskView


class LeaseView(_Result):
    task_id: str
    worker: str
    expires: float | None


class VerdictSummaryView(_Result):
    task_id: str
    summary: str


class MissionStatusView(_Result):
    mission_id: str
    goal: str
    branch: str
    state: str
    counts: dict[str, int]
    progress: float
    leases: list[LeaseView]
    last_verdicts: list[VerdictSummaryView]
    roadmap: str


class MissionStatusResult(_Result):
    missions: list[MissionStatusView]


class MissionFinishResult(_Result):
    mission_id: str
    state: str
    applied: bool
    user_branch: str | None
    head: str | None
    kind: str | None
    cancelled: list[str]


class MissionCancelResult(_Result):
    mission_id: str
    state: str
    cancelled: list[str]


class MissionRunView(_SharedView):
    """A mission and this server's run of it; ``changed`` is false when mission_wait timed out, or when
    mission_run found a run already going."""

    mission_id: str
    state: str
    counts: dict[str, int]
    progress: float
    run_id: str
    run_status: str = Field(description="running, completed, failed, stagnated, stopped or none.")
    changed: bool
    events: list[str]
    diagnosis: str | None
