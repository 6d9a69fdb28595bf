"""One task seen through by one Commander worker: attempt after attempt until it is merged or given up.

An attempt: the backend works in the task's worktree, given the findings of the attempt before → the
``before_gate`` hooks see the paths the work changes → the gate (``Submissions.submit``) → ``after_verdict``
→ for a task held for review, the reviewer (when the task or the policy asks) and the ``before_merge``
hooks → the merge → ``after_merge``.

What ends an attempt without a merge — a rejected verdict, a merge conflict, a reviewer's no, a hook's veto,
edits that do not apply, a refused split — hands its findings to the next attempt, up to ``max_attempts``;
then the task is ``failed`` and the report says why. ``gave_up`` fails the task at once. A ``split`` adds
subtasks (``T1.1``, ``T1.2`` …, depth-limited) and retires the task. A backend that still fails after its
retries hands the task back to the pool without counting the attempt; stagnation detection bounds that.

Attempts are durable: the store's ``attempts`` is the number of the attempt under way (the claim counts
the first; each retry here adds one), so a resumed run continues the count.

Why a task is *held for review* even when nobody reviews it: ``Submissions.submit`` merges at once unless
the task asks for review, so when ``before_merge`` hooks exist the Commander marks the task ``review`` to
get a moment between the gate's verdict and the merge (approving then runs the gate again on merge).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import anyio

from podium.orchestration.agents.base import (
    BackendError,
    PlannedTask,
    ReviewRequest,
    WorkRequest,
    WorkResult,
)
from podium.orchestration.errors import (
    ConflictError,
    LeaseError,
    NotFoundError,
    RoadmapError,
    TransitionError,
    WorkspaceError,
)
from podium.orchestration.events import JsonValue
from podium.orchestration.git import audit_diff, head_commit
from podium.orchestration.missions import Claim
from podium.orchestration.model import Role, Size, Task, TaskState
from podium.orchestration.recovery import children_of, complete_split, safe_hand_back
from podium.orchestration.resilience import RoundKind
from podium.orchestration.roadmap import next_task_id
from podium.orchestration.runreport import TaskFailure
from podium.orchestration.store import Store
from podium.orchestration.submissions import SubmitOutcome
from podium.orchestration.transaction import task_ref
from podium.orchestration.workspaces import remove_worktree, worktree_changes
from podium.verification.edits import Edit, build_changeset
from podium.verification.errors import InputError, PodiumError
from podium.verification.findings import Finding
from podium.verification.verdict import Verdict, render_verdict

if TYPE_CHECKING:
    from podium.orchestration.commander import Commander

__all__ = ["finding_key", "previous_feedback", "see_through"]

logger = logging.getLogger(__name__)

Step = Literal["done", "again", "fault", "lost"]
"""How an attempt ended: the task is finished with (merged, failed, split); another attempt follows; the
backend failed and the task went back to the pool; the task is no longer this worker's."""

CAS_RETRIES = 3
REASON_CHARS = 600
"""Characters of a reason stored with a failed task."""


async def see_through(commander: Commander, claim: Claim, worker: str) -> None:
    """Work on a claimed task until it is merged, failed, split, handed back, or the run stops."""
    flow = _TaskFlow(commander, claim, worker)
    async with anyio.create_task_group() as tg:
        tg.start_soon(flow.heartbeat)
        try:
            await flow.run()
        finally:
            tg.cancel_scope.cancel()


class _TaskFlow:
    def __init__(self, commander: Commander, claim: Claim, worker: str) -> None:
        self.cmd = commander
        self.task = claim.task
        self.worker = worker
        self.worktree = claim.worktree
        self.attempt = max(1, claim.task.attempts)
        self.findings, self.feedback = previous_feedback(claim.task.last_verdict)
        self.depth = claim.task.id.count(".")
        self.backend = commander.backends.for_task(claim.task)
        self.asked_review = claim.task.review
        self.ref = task_ref(claim.task.mission_id, claim.task.id)
        self.kind: RoundKind = "rejected"
        self.accepted = False
        self.log = ""

    async def heartbeat(self) -> None:
        lease = self.cmd.missions.config.missions.lease_seconds
        interval = self.cmd.settings.heartbeat_s or lease / 3
        store = self.cmd.missions.store
        while True:
            await anyio.sleep(interval)
            try:
                await self.cmd.db(store.heartbeat, self.task.mission_id, self.task.id, self.worker, lease)
            except PodiumError as exc:
                logger.info("heartbeat of %s on %s stopped: %s", self.worker, self.task.id, exc)
                return

    async def run(self) -> None:
        cmd, task = self.cmd, self.task
        await cmd.hook(cmd.hook_event("task_claimed", task, attempt=self.attempt))
        await cmd.emit(
            "claimed", f"{task.id} ({task.title}) → {self.worker}, attempt {self.attempt}", task.id
        )
        judged = 0
        while True:
            if self.attempt > cmd.settings.max_attempts and judged == 0 and task.last_verdict is None:
                # Only claims cut short by crashes raised the count: no attempt was ever judged, so none
                # was used up (seen when a run was killed at random points and resumed ten times).
                self.attempt = 1
                await self._set_attempts(1)
            # exhausted first: a task that used its last attempt fails even when the run is stopping
            if self.attempt > cmd.settings.max_attempts:
                await self._fail(f"no attempt left after {cmd.settings.max_attempts}; last: {self._last()}")
                return
            if cmd.stopping:
                return
            cmd.progress.track(task, self.worker, self.attempt)
            self.kind, self.accepted, self.log = "rejected", False, ""
            step = await self._attempt()
            if step != "lost":
                judged += 1
                kind: RoundKind = "progress" if self.accepted else self.kind
                cmd.round_done(task.id, kind, [finding_key(f) for f in self.findings] or self._feedback_key())
            if step != "again":
                return
            self.attempt += 1
            if self.attempt <= cmd.settings.max_attempts:
                await self._set_attempts(self.attempt)

    async def _attempt(self) -> Step:
        cmd = self.cmd
        request = WorkRequest(
            self.task, self.worktree, self.attempt, self.findings, self.feedback, depth=self.depth
        )
        try:
            result = await cmd.call("worker", self.backend, lambda: self.backend.work(request))
        except BackendError as exc:
            self.kind = "fault"
            self.findings, self.feedback = (), f"backend {self.backend.name} failed: {exc}"
            await cmd.emit("fault", f"{self.task.id}: {self.feedback}; back to the pool", self.task.id)
            await cmd.db(safe_hand_back, cmd.missions, self.task, actor=self.worker, reason=self.feedback)
            return "fault"
        self.log = result.log[: cmd.settings.log_chars]
        if result.status == "gave_up":
            self.kind = "gave_up"
            reason = f"the worker gave up: {result.log.strip() or 'no reason given'}"
            await self._conclude("gave_up", reason)
            await self._fail(reason)
            return "done"
        if result.status == "split":
            return await self._split(result.subtasks)
        return await self._submit(result)

    async def _submit(self, result: WorkResult) -> Step:
        cmd, task = self.cmd, self.task
        try:
            paths = await cmd.db(self._changed_paths, result.edits)
        except InputError as exc:
            return await self._again("invalid", str(exc))
        before = await cmd.hook(
            cmd.hook_event("before_gate", task, paths=paths, attempt=self.attempt, texts={"log": self.log})
        )
        self.log = before.event.texts.get("log", self.log)
        if before.vetoed:
            self.kind = "vetoed"
            return await self._again("vetoed", before.reason)
        if self._hold_for_review() and not task.review:
            self.task = task = await cmd.db(_mark_for_review, cmd.missions.store, task, self.worker)
        edits = list(result.edits) or None
        try:
            outcome = await cmd.db(cmd.submissions.submit, self.ref, self.worker, edits)
        except InputError as exc:
            return await self._again("invalid", str(exc))
        except (LeaseError, TransitionError, NotFoundError) as exc:
            cmd.warn(f"{self.worker} lost task {task.id}: {exc}", task_id=task.id)
            return "lost"
        except PodiumError as exc:
            self.kind = "fault"
            return await self._again("error", f"the submission failed: {exc}")
        self.task = outcome.task
        await self._conclude(outcome.status, outcome.verdict.summary, outcome.verdict)
        if outcome.status == "merged":
            self.accepted = True
            await self._merged(outcome)
            return "done"
        if outcome.status == "review":
            self.accepted = True
            return await self._review(outcome)
        self._take_findings(outcome.verdict)
        return "again"

    async def _review(self, submitted: SubmitOutcome) -> Step:
        cmd, task = self.cmd, self.task
        reviewer_id = f"{cmd.identity.run_id}:reviewer"
        comments = ""
        if self._wants_reviewer():
            reviewer = cmd.backends.for_role("reviewer")
            diff = await cmd.db(self._diff)
            request = ReviewRequest(task, self.worktree, diff, submitted.verdict.summary)
            try:
                async with cmd.scheduler.role("reviewer").slot():
                    answer = await cmd.call("reviewer", reviewer, lambda: reviewer.review(request))
            except BackendError as exc:
                self.kind, self.accepted = "fault", False
                self.findings, self.feedback = (), f"reviewer {reviewer.name} failed: {exc}"
                await cmd.emit("fault", f"{task.id}: {self.feedback}; back to the pool", task.id)
                await cmd.db(safe_hand_back, cmd.missions, task, actor=self.worker, reason=self.feedback)
                return "fault"
            await cmd.emit(
                "review",
                f"{task.id}: {'approved' if answer.approve else 'rejected'} by "
                f"{reviewer.name}{': ' + answer.comments if answer.comments else ''}",
                task.id,
            )
            if not answer.approve:
                return await self._decide(reviewer_id, approve=False, comments=answer.comments)
            comments = answer.comments
        if cmd.hooks.may_veto("before_merge"):
            paths = await cmd.db(self._changed_paths, ())
            before = await cmd.hook(cmd.hook_event("before_merge", task, paths=paths, attempt=self.attempt))
            if before.vetoed:
                self.kind = "vetoed"
                return await self._decide(f"hook:{before.vetoed_by}", approve=False, comments=before.reason)
        return await self._decide(reviewer_id, approve=True, comments=comments)

    async def _decide(self, reviewer: str, *, approve: bool, comments: str) -> Step:
        cmd = self.cmd
        try:
            outcome = await cmd.db(cmd.submissions.review, self.ref, reviewer, approve, comments)
        except (LeaseError, TransitionError, NotFoundError, InputError) as exc:
            cmd.warn(f"{self.worker} lost task {self.task.id} in review: {exc}", task_id=self.task.id)
            return "lost"
        except PodiumError as exc:
            self.kind = "fault"
            return await self._again("error", f"the merge failed: {exc}")
        self.task = outcome.task
        status = outcome.status if approve else "review_rejected"
        await self._conclude(status, outcome.verdict.summary, outcome.verdict)
        if outcome.status == "merged":
            await self._merged(outcome)
            return "done"
        self._take_findings(outcome.verdict, comments=comments)
        return "again"

    async def _merged(self, outcome: SubmitOutcome) -> None:
        cmd, task = self.cmd, self.task
        commit = outcome.merged_commit or ""
        await cmd.hook(
            cmd.hook_event("after_merge", task, attempt=self.attempt, data={"merged_commit": commit})
        )
        await cmd.emit("merged", f"{task.id} ({task.title}) merged as {commit[:12]}", task.id)

    async def _split(self, subtasks: Sequence[PlannedTask]) -> Step:
        cmd, task, limit = self.cmd, self.task, self.cmd.settings.max_split_depth
        if self.depth >= limit:
            self.kind = "refused"
            return await self._again(
                "split_refused",
                f"split refused: {task.id} is at depth {self.depth} and subtasks may nest {limit} deep; "
                "do the task itself",
            )
        if not subtasks:
            self.kind = "refused"
            return await self._again("split_refused", "split refused: a split needs at least one subtask")
        store = cmd.missions.store
        try:
            children = await cmd.db(_add_subtasks, store, task, subtasks, self.worker)
        except (RoadmapError, InputError) as exc:
            self.kind = "refused"
            return await self._again("split_refused", f"split refused: {exc}")
        await cmd.db(complete_split, store, task.mission_id, task.id, actor=self.worker)
        await cmd.db(_drop_worktree, cmd.missions.root, task)
        ids = ", ".join(c.id for c in children)
        self.accepted = True
        await self._conclude("split", f"split into {ids}")
        await cmd.emit("split", f"{task.id} split into {ids}", task.id)
        return "done"

    async def _again(self, status: str, reason: str) -> Step:
        """End the attempt without a verdict from the gate: the reason is the next attempt's feedback."""
        self.findings, self.feedback = (), reason
        await self._conclude(status, reason)
        return "again"

    async def _conclude(self, status: str, summary: str, verdict: Verdict | None = None) -> None:
        """after_verdict hooks, then the attempt's record (with the texts as the hooks left them)."""
        cmd, task = self.cmd, self.task
        texts = {"log": self.log, "verdict": render_verdict(verdict) if verdict else summary}
        data: dict[str, JsonValue] = {"status": status, "summary": summary}
        after = await cmd.hook(
            cmd.hook_event("after_verdict", task, attempt=self.attempt, texts=texts, data=data)
        )
        cmd.progress.verdict_seen(task.id, f"{status}: {summary}")
        payload: dict[str, JsonValue] = {
            "run_id": cmd.identity.run_id,
            "worker": self.worker,
            "attempt": self.attempt,
            "status": status,
            "summary": after.event.texts.get("verdict", summary)[: cmd.settings.log_chars],
            "log": after.event.texts.get("log", "")[: cmd.settings.log_chars],
        }
        try:
            await cmd.db(
                cmd.missions.store.append_event,
                "task.attempt",
                payload,
                mission_id=task.mission_id,
                task_id=task.id,
                actor=self.worker,
            )
        except PodiumError as exc:
            logger.warning("could not record attempt %d of %s: %s", self.attempt, task.id, exc)
        # A rejection carries its findings (as the hooks left them, secrets redacted) so people see why.
        shown = after.event.texts.get("verdict", "") if verdict is not None and not verdict.accepted else ""
        message = f"{task.id} attempt {self.attempt}: {status}: {summary}"
        await cmd.emit("verdict", f"{message}\n{shown}" if shown else message, task.id)

    async def _fail(self, reason: str) -> None:
        cmd, task = self.cmd, self.task
        findings = tuple(finding_key(f) for f in self.findings) or tuple(self._feedback_key())
        try:
            await cmd.db(
                cmd.missions.store.transition,
                task.mission_id,
                task.id,
                TaskState.FAILED,
                actor=self.worker,
                reason=reason[:REASON_CHARS],
                holder=self.worker,
                lease_holder=None,
                lease_expires=None,
            )
        except PodiumError as exc:
            cmd.warn(f"could not mark {task.id} failed: {exc}", task_id=task.id)
            return
        attempts = min(self.attempt, cmd.settings.max_attempts)
        cmd.progress.record_failure(TaskFailure(task.id, task.title, attempts, reason, findings))
        await cmd.emit("failed", f"{task.id} ({task.title}) failed: {reason}", task.id)

    async def _set_attempts(self, attempt: int) -> None:
        store = self.cmd.missions.store
        for _ in range(CAS_RETRIES):
            current = await self.cmd.db(store.get_task, self.task.mission_id, self.task.id)
            try:
                self.task = await self.cmd.db(
                    store.update_task,
                    current.mission_id,
                    current.id,
                    current.version,
                    actor=self.worker,
                    reason=f"attempt {attempt}",
                    attempts=attempt,
                )
                return
            except ConflictError:
                continue

    def _take_findings(self, verdict: Verdict, *, comments: str = "") -> None:
        self.findings = verdict.findings_new
        notes = [*verdict.notes, *([f"reviewer: {comments}"] if comments else [])]
        self.feedback = "\n".join(notes)

    def _hold_for_review(self) -> bool:
        policy = self.cmd.settings.review
        return policy == "always" or self.task.review or self.cmd.hooks.may_veto("before_merge")

    def _wants_reviewer(self) -> bool:
        policy = self.cmd.settings.review
        return policy == "always" or (policy == "task" and self.asked_review)

    def _changed_paths(self, edits: Sequence[Edit]) -> tuple[str, ...]:
        """Every path the task's change touches: what its worktree holds, plus this attempt's edits."""
        missions = self.cmd.missions
        tree = missions.worktree(self.task)
        files = list(worktree_changes(tree).files)
        if edits:
            files.extend(
                build_changeset(tree.path, edits, max_bytes=missions.config.gate.max_file_bytes).files
            )
        paths = {f.path for f in files} | {f.old_path for f in files if f.old_path}
        return tuple(sorted(paths))

    def _diff(self) -> str:
        tree = self.cmd.missions.worktree(self.task)
        return audit_diff(tree.path, tree.base_commit, head_commit(tree.path)).decode("utf-8", "replace")

    def _last(self) -> str:
        return "; ".join([finding_key(f) for f in self.findings[:3]] or self._feedback_key()) or "no findings"

    def _feedback_key(self) -> list[str]:
        first = self.feedback.strip().splitlines()[:1]
        return [first[0][:200]] if first else []


def finding_key(finding: Finding) -> str:
    """A finding as one line that stays the same from attempt to attempt (no line numbers)."""
    return f"{finding.path}: {finding.message} [{finding.source} {finding.code}]"


def previous_feedback(last_verdict: str | None) -> tuple[tuple[Finding, ...], str]:
    """The findings and notes (and reviewer's comments) of a task's last verdict, for its next attempt."""
    if not last_verdict:
        return (), ""
    try:
        data: object = json.loads(last_verdict)
    except json.JSONDecodeError:
        return (), last_verdict
    if not isinstance(data, dict):
        return (), ""
    record = cast("dict[str, object]", data)
    if record.get("accepted") is True:
        return (), ""
    findings: list[Finding] = []
    for raw in cast("list[object]", record.get("findings_new") or []):
        try:
            findings.append(Finding(**cast("dict[str, Any]", raw)))
        except TypeError:
            continue  # a record from another version of Podium: its notes still go through
    notes = [str(n) for n in cast("list[object]", record.get("notes") or [])]
    if record.get("comments"):
        notes.append(f"reviewer: {record['comments']}")
    return tuple(findings), "\n".join(notes)


def _mark_for_review(store: Store, task: Task, actor: str) -> Task:
    for _ in range(CAS_RETRIES):
        current = store.get_task(task.mission_id, task.id)
        try:
            return store.update_task(
                current.mission_id,
                current.id,
                current.version,
                actor=actor,
                reason="held for review before its merge (review policy or before_merge hooks)",
                review=True,
            )
        except ConflictError:
            continue
    return store.get_task(task.mission_id, task.id)


def _add_subtasks(store: Store, parent: Task, planned: Sequence[PlannedTask], actor: str) -> list[Task]:
    existing = store.list_tasks(parent.mission_id)
    taken = [t.id for t in existing]
    if children_of(existing, parent.id):
        raise InputError(f"{parent.id} has subtasks already")
    keys: dict[str, str] = {}
    for item in planned:
        child = next_task_id(taken, parent=parent.id)
        taken.append(child)
        if item.key:
            keys[item.key] = child
    children: list[Task] = []
    for item, child in zip(planned, taken[len(existing) :], strict=True):
        if not item.title.strip():
            raise InputError(f"subtask {child} of {parent.id} has no title")
        deps = (*parent.depends_on, *(keys.get(d, d) for d in item.depends_on))
        children.append(
            Task(
                id=child,
                mission_id=parent.mission_id,
                title=item.title.strip(),
                description=item.description,
                role=Role(item.role),
                files=item.files or parent.files,
                depends_on=tuple(dict.fromkeys(deps)),
                priority=max(item.priority, parent.priority),
                size=Size(item.size),
                review=item.review or parent.review,
                milestone=parent.milestone,
            )
        )
    return store.add_tasks(parent.mission_id, children, actor=actor)


def _drop_worktree(root: Path, task: Task) -> None:
    try:
        remove_worktree(root, f"{task.mission_id}/{task.id}")
    except WorkspaceError as exc:
        logger.warning("could not remove the worktree of split task %s: %s", task.id, exc)
