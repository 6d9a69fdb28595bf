"""Submitting and reviewing work: edits into the task's worktree, the gate, and the verified merge.

A submission is committed in the task's worktree; the gate judges the change from the task's base commit.
Accepted work is three-way merged onto the integration branch's *current* head without a checkout and the
branch ref moved by compare-and-swap; when the head moved since the task's base, the merged files are judged
again before the ref moves. A conflict is a rejected verdict whose findings name the files and hunks, and the
worktree is refreshed onto the new head so the worker can resolve and resubmit. Every merge appends an audit
event with its evidence.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from podium.orchestration.git import branch_head, changes_between, diff_hash, head_commit
from podium.orchestration.merge import ConflictFinding, MergeConflict, Merged, MergeOutcome, merge_onto_branch
from podium.orchestration.mergelock import merge_lock
from podium.orchestration.missions import Missions
from podium.orchestration.model import Task, TaskState
from podium.orchestration.verify import screen_changes
from podium.orchestration.workspaces import (
    Worktree,
    commit_worktree,
    refresh_worktree,
    remove_worktree,
    unresolved_conflicts,
)
from podium.verification.changes import ChangeSet
from podium.verification.edits import Edit, build_changeset, write_changeset
from podium.verification.errors import InputError, PodiumError
from podium.verification.findings import Finding
from podium.verification.verdict import Verdict

logger = logging.getLogger(__name__)

SubmitStatus = Literal["merged", "rejected", "conflict", "review"]
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """What became of a submission (or a review): the task as it now is, and the verdict behind it.

    After a conflict, `base_commit` is the worktree's new base (the integration head merged in).
    """

    task: Task
    status: SubmitStatus
    verdict: Verdict
    merged_commit: str | None = None
    worktree: Path | None = None
    base_commit: str | None = None


def _quiet(_: str) -> None:
    return None


class Submissions:
    """`submit` and `review` over a `Missions` service."""

    def __init__(self, missions: Missions) -> None:
        self.missions = missions

    def submit(
        self, task_ref: str, worker: str, edits: Sequence[Edit] | None = None, progress: Progress = _quiet
    ) -> SubmitOutcome:
        """Judge the worker's change and merge it when the gate accepts (or send it to review).

        With `edits`, they are applied to the worktree first; without, the worktree's current changes
        are taken.

        Raises:
            LeaseError: `worker` does not hold the task or its lease expired.
            TransitionError: the task is not claimed or rejected.
            InputError: edits that do not apply, unsafe paths, unresolved conflict markers, nothing changed.
        """
        missions, store = self.missions, self.missions.store
        task = store.resolve_task(task_ref)
        # the state first: "T1 is merged" helps a worker retrying a submission more than "nobody holds T1"
        if task.state not in (TaskState.CLAIMED, TaskState.REJECTED):
            raise InputError(
                f"task {task.id} is {task.state}; only a claimed or rejected task can be submitted"
            )
        missions.require_lease(task, worker)
        worktree = missions.worktree(task)
        max_bytes = missions.config.gate.max_file_bytes
        if edits:
            progress("applying edits")
            write_changeset(worktree.path, build_changeset(worktree.path, edits, max_bytes=max_bytes))
        pending = unresolved_conflicts(worktree)
        if pending:
            raise InputError(f"task {task.id}: resolve the conflict markers in {', '.join(pending)} first")
        commit_worktree(worktree, f"{task.id}: {task.title}")
        task_commit = head_commit(worktree.path)
        if task_commit == worktree.base_commit:
            raise InputError(
                f"task {task.id}: nothing to submit; its worktree {worktree.path} has no changes"
            )
        changes = self._in_context(
            changes_between(worktree.path, worktree.base_commit, task_commit), worktree.base_commit
        )
        screen_changes(worktree.path, changes, max_bytes)
        if task.state is TaskState.REJECTED:
            task = store.transition(task.mission_id, task.id, TaskState.CLAIMED, actor=worker, holder=worker)
        task = store.transition(task.mission_id, task.id, TaskState.SUBMITTED, actor=worker, holder=worker)
        try:
            progress(f"gate: checking {len(changes.files)} file(s)")
            verdict = missions.gate.check(changes)
            if not verdict.accepted:
                return self._reject(task, verdict, actor="gate", worktree=worktree)
            if task.review:
                task = store.transition(
                    task.mission_id,
                    task.id,
                    TaskState.REVIEW,
                    actor=worker,
                    last_verdict=_verdict_json(verdict),
                )
                return SubmitOutcome(task, "review", verdict, worktree=worktree.path)
            progress("merging onto the integration branch")
            return self._merge(task, worktree, task_commit, verdict, actor=worker)
        except Exception as exc:
            # nothing moves a task out of `submitted` but this submission: a fault half-way (a source that
            # cannot run, git refusing the merge) would otherwise strand it there for good
            self._hand_back(task, exc)
            raise

    def review(self, task_ref: str, reviewer: str, approve: bool, comments: str) -> SubmitOutcome:
        """Approve (merge) or reject (back to the worker with the comments) a task in review."""
        store = self.missions.store
        task = store.resolve_task(task_ref)
        if task.state is not TaskState.REVIEW:
            raise InputError(f"task {task.id} is {task.state}, not in review")
        worktree = self.missions.worktree(task)
        if approve:
            changes = changes_between(worktree.path, worktree.base_commit, head_commit(worktree.path))
            verdict = self.missions.gate.check(self._in_context(changes, worktree.base_commit))
            if not verdict.accepted:
                return self._reject(task, verdict, actor=reviewer, worktree=worktree)
            return self._merge(task, worktree, head_commit(worktree.path), verdict, actor=reviewer)
        rejected = Verdict(accepted=False, notes=(f"rejected by reviewer {reviewer}: {comments}",))
        return self._reject(task, rejected, actor=reviewer, worktree=worktree, comments=comments)

    def _merge(
        self, task: Task, worktree: Worktree, task_commit: str, verdict: Verdict, *, actor: str
    ) -> SubmitOutcome:
        missions, store = self.missions, self.missions.store
        mission = store.get_mission(task.mission_id)
        rechecks: list[Verdict] = []

        def recheck(merged: ChangeSet) -> bool:
            again = missions.gate.check(self._in_context(merged, branch_head(missions.root, mission.branch)))
            rechecks.append(again)
            return again.accepted

        digest = diff_hash(worktree.path, worktree.base_commit, task_commit)
        with merge_lock(store.paths.state_dir, task.mission_id):
            outcome = self._merge_onto_branch(task, worktree, task_commit, verdict, actor, recheck)
        if isinstance(outcome, Merged):
            final = rechecks[-1] if rechecks else verdict
            merged = store.transition(
                task.mission_id,
                task.id,
                TaskState.MERGED,
                actor=actor,
                reason=f"merged as {outcome.commit[:12]}",
                last_verdict=_verdict_json(final),
                lease_holder=None,
                lease_expires=None,
            )
            store.append_event(
                "task.merge",
                {
                    "worker": task.lease_holder,
                    "approved_by": actor,
                    "base_commit": worktree.base_commit,
                    "task_commit": task_commit,
                    "merged_commit": outcome.commit,
                    "previous_head": outcome.previous_head,
                    "diff_sha256": digest,
                    "rechecked_after_merge": outcome.verified,
                    "verdict": final.to_dict(),
                },
                mission_id=task.mission_id,
                task_id=task.id,
                actor=actor,
            )
            remove_worktree(missions.root, f"{task.mission_id}/{task.id}")
            return SubmitOutcome(merged, "merged", final, merged_commit=outcome.commit)
        if isinstance(outcome, MergeConflict):
            conflict = Verdict(
                accepted=False,
                findings_new=tuple(_conflict_finding(c) for c in outcome.conflicts),
                notes=(
                    f"merge conflict with {mission.branch} at {outcome.head[:12]}; the worktree now holds "
                    "the new head merged in, with conflict markers: resolve them and submit again",
                ),
            )
            result = self._reject(task, conflict, actor="merge", worktree=worktree, refresh=True)
            return SubmitOutcome(
                result.task, "conflict", conflict, worktree=worktree.path, base_commit=result.base_commit
            )
        recheck_verdict = rechecks[-1]
        return self._reject(task, recheck_verdict, actor="gate", worktree=worktree, refresh=True)

    def _merge_onto_branch(
        self,
        task: Task,
        worktree: Worktree,
        task_commit: str,
        verdict: Verdict,
        actor: str,
        recheck: Callable[[ChangeSet], bool],
    ) -> MergeOutcome:
        mission = self.missions.store.get_mission(task.mission_id)
        return merge_onto_branch(
            self.missions.root,
            mission.branch,
            worktree.base_commit,
            task_commit,
            f"{task.id}: {task.title}",
            {
                "Podium-Mission": task.mission_id,
                "Podium-Task": task.id,
                "Podium-Worker": task.lease_holder or actor,
                "Podium-Verdict": f"{verdict.summary}; sources {', '.join(s.name for s in verdict.sources)}",
            },
            verify=recheck,
        )

    def _hand_back(self, task: Task, exc: Exception) -> None:
        """Return a task whose submission failed half-way to its worker, as rejected, to submit again."""
        store = self.missions.store
        note = f"the submission failed before it was merged ({type(exc).__name__}: {exc}); submit again"
        try:
            current = store.get_task(task.mission_id, task.id)
            if current.state is not TaskState.SUBMITTED:
                return
            store.transition(
                task.mission_id,
                task.id,
                TaskState.REJECTED,
                actor="podium",
                reason=note,
                expected_version=current.version,
                last_verdict=_verdict_json(Verdict(accepted=False, notes=(note,))),
                lease_expires=store.now() + self.missions.config.missions.lease_seconds,
            )
        except PodiumError as undo:
            logger.warning("could not hand task %s back to its worker: %s", task.id, undo)

    def _in_context(self, changes: ChangeSet, base: str) -> ChangeSet:
        """`changes` with the files the mission changed since the user's HEAD, as they are at `base`.

        Language servers run in the user's checkout; without this, a name an earlier task added elsewhere
        would look undefined to them.
        """
        root = self.missions.root
        user_head = head_commit(root)
        if base == user_head:
            return changes
        touched = {c.path for c in changes.files} | {c.old_path for c in changes.files if c.old_path}
        mission_files = changes_between(root, user_head, base)
        context = tuple(
            (c.path, c.after) for c in mission_files.files if c.after is not None and c.path not in touched
        )
        return replace(changes, context=context)

    def _reject(
        self,
        task: Task,
        verdict: Verdict,
        *,
        actor: str,
        worktree: Worktree,
        comments: str = "",
        refresh: bool = False,
    ) -> SubmitOutcome:
        missions, store = self.missions, self.missions.store
        base = None
        if refresh:
            mission = store.get_mission(task.mission_id)
            base = refresh_worktree(worktree, mission.branch)
        record = _verdict_json(verdict, comments=comments)
        rejected = store.transition(
            task.mission_id,
            task.id,
            TaskState.REJECTED,
            actor=actor,
            reason=verdict.summary,
            last_verdict=record,
            # the worker gets a fresh lease to act on the findings
            lease_expires=store.now() + missions.config.missions.lease_seconds,
        )
        return SubmitOutcome(rejected, "rejected", verdict, worktree=worktree.path, base_commit=base)


def _conflict_finding(conflict: ConflictFinding) -> Finding:
    first = conflict.hunks[0] if conflict.hunks else None
    frame = (
        f"<<<<<<< integration branch\n{first.head_text}=======\n{first.task_text}>>>>>>> this task"
        if first
        else ""
    )
    return Finding(
        source="git-merge",
        code=f"conflict-{conflict.kind}",
        message=conflict.message or f"merge conflict ({conflict.kind})",
        path=conflict.path,
        line=first.start_line if first else 1,
        column=1,
        end_line=first.end_line if first else 1,
        end_column=1,
        frame=frame,
    )


def _verdict_json(verdict: Verdict, *, comments: str = "") -> str:
    data = verdict.to_dict()
    if comments:
        data["comments"] = comments
    return json.dumps(data, sort_keys=True)
