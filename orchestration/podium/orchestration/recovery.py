"""Resuming a mission after its Commander died: who was running it, and what to do with what it held.

Decisions:

* **Runs are on record.** Each Commander run appends ``run.started`` (run id, host, pid and the process's
  start time) and, when it ends in an orderly way, ``run.stopped``. Its workers are named
  ``<run id>:w<n>``, so every lease says which run holds it.
* **Reclaim at start, not only at expiry.** A new run releases the tasks held by workers of runs that are
  provably gone: stopped on record, or on this host with no process of that pid and start time (a reused
  pid has another start time), or in this very process but no longer registered as live. Leases of runs
  on other hosts, of runs without a record, and of other agents (MCP workers) are left to expire: the
  store hands an expired lease back on the next claim.
* **An interrupted attempt does not count.** Handing a task back lowers its ``attempts`` by one, so killing
  Podium repeatedly cannot push a task into ``failed``.
* **No edit is merged twice.** A task left in ``submitted`` or ``review`` may have been merged just before
  the crash (the branch moves before the store records it). Its mission's branch is searched for a commit
  with its ``Podium-Mission``/``Podium-Task`` trailers; if there is one the task is recorded as merged, with
  a ``task.merge`` event marked ``recovered``, instead of being handed back.
* **Splits finish.** Subtasks are added before their parent is retired; a parent still open while its
  subtasks exist is retired now (dependents rewired to the subtasks, the parent cancelled).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import socket
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from podium.orchestration.errors import ConflictError, StoreError, WorkspaceError
from podium.orchestration.events import Event, JsonValue
from podium.orchestration.evidence import MERGE_EVENT
from podium.orchestration.git import diff_hash, head_commit, resolve_commit, run_git
from podium.orchestration.lifecycle import ACTIVE_STATES, TERMINAL_STATES
from podium.orchestration.missions import Missions
from podium.orchestration.model import Task, TaskState
from podium.orchestration.store import Store
from podium.orchestration.workspaces import BASE_REF, remove_worktree, worktree_path
from podium.verification.errors import PodiumError

__all__ = [
    "RUN_STARTED",
    "RUN_STOPPED",
    "Recovery",
    "RunIdentity",
    "children_of",
    "complete_split",
    "hand_back",
    "merged_on_branch",
    "new_run_identity",
    "recover",
    "run_of",
    "safe_hand_back",
]

logger = logging.getLogger(__name__)

RUN_STARTED = "run.started"
RUN_STOPPED = "run.stopped"
CAS_RETRIES = 3
"""Re-reads of a task whose version moved while it was being handed back."""

_WORKER_ID = re.compile(r"^(run-[0-9a-f]+):w\d+$")
_live_runs: set[str] = set()
_live_runs_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class RunIdentity:
    """Who a run is: its id and the process it lives in."""

    run_id: str
    host: str
    pid: int
    process_start: str | None

    def worker_id(self, n: int) -> str:
        return f"{self.run_id}:w{n}"

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "run_id": self.run_id,
            "host": self.host,
            "pid": self.pid,
            "process_start": self.process_start,
        }

    def register(self) -> None:
        """Mark this run live in this process (a restarted run in a long-lived server tells them apart)."""
        with _live_runs_lock:
            _live_runs.add(self.run_id)

    def unregister(self) -> None:
        with _live_runs_lock:
            _live_runs.discard(self.run_id)


def new_run_identity() -> RunIdentity:
    pid = os.getpid()
    return RunIdentity(f"run-{secrets.token_hex(4)}", socket.gethostname(), pid, _process_start(pid))


def run_of(worker: str | None) -> str | None:
    """The run id in a Commander worker's name, or None for anyone else."""
    match = _WORKER_ID.match(worker or "")
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class Recovery:
    """What a run found and did at start."""

    reclaimed: tuple[str, ...] = ()
    merged: tuple[str, ...] = ()
    splits: tuple[str, ...] = ()
    live_runs: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()

    @property
    def anything(self) -> bool:
        return bool(self.reclaimed or self.merged or self.splits or self.evidence)

    def describe(self) -> str:
        parts: list[str] = []
        if self.reclaimed:
            parts.append(f"took back {', '.join(self.reclaimed)} from runs that are gone")
        if self.merged:
            parts.append(f"recorded {', '.join(self.merged)} as merged (found on the branch)")
        if self.splits:
            parts.append(f"finished the split of {', '.join(self.splits)}")
        if self.evidence:
            parts.append(f"recorded the missing merge evidence of {', '.join(self.evidence)}")
        return "; ".join(parts) or "nothing to recover"


def recover(missions: Missions, mission_id: str, me: RunIdentity) -> Recovery:
    """Hand back what dead runs held, record merges they did not, finish their splits (blocking)."""
    store = missions.store
    events = store.events_since(0, mission_id=mission_id)
    dead, alive = _run_liveness(events, me)
    reclaimed: list[str] = []
    merged: list[str] = []
    for task in store.list_tasks(mission_id):
        if task.state not in ACTIVE_STATES:
            continue
        holder_run = run_of(task.lease_holder)
        if holder_run is None or holder_run not in dead:
            continue
        result = hand_back(missions, task, actor=me.worker_id(0), reason=f"run {holder_run} is gone")
        if result is not None and result.state is TaskState.MERGED:
            merged.append(task.id)
        elif result is not None:
            reclaimed.append(task.id)
    tasks = store.list_tasks(mission_id)
    splits = [t.id for t in tasks if _unfinished_split(tasks, t)]
    for parent in splits:
        complete_split(store, mission_id, parent, actor=me.worker_id(0))
    # a merge recorded in the store just before a kill may lack its evidence event: add it from git
    evidenced = {e.task_id for e in events if e.kind == MERGE_EVENT} | set(merged)
    evidence: list[str] = []
    mission = store.get_mission(mission_id)
    for task in tasks:
        if task.state is TaskState.MERGED and task.id not in evidenced:
            commit = merged_on_branch(missions.root, mission.branch, mission_id, task.id)
            if commit is not None:
                payload = _evidence(missions, task, commit, actor=me.worker_id(0), worker="")
                store.append_event(
                    MERGE_EVENT, payload, mission_id=mission_id, task_id=task.id, actor=me.worker_id(0)
                )
                evidence.append(task.id)
    outcome = Recovery(tuple(reclaimed), tuple(merged), tuple(splits), tuple(sorted(alive)), tuple(evidence))
    if outcome.anything:
        logger.info("recovered mission %s: %s", mission_id, outcome)
    return outcome


def hand_back(missions: Missions, task: Task, *, actor: str, reason: str) -> Task | None:
    """Give a task its held state back to the pool as ready, without counting the interrupted attempt.

    A task in ``submitted`` or ``review`` that is already on the integration branch is recorded as merged
    instead. Returns the task as it ends up, or None when it was no longer held (someone moved it first).
    """
    store = missions.store
    for _ in range(CAS_RETRIES):
        current = store.get_task(task.mission_id, task.id)
        if current.state not in ACTIVE_STATES or current.lease_holder != task.lease_holder:
            return None
        try:
            return _hand_back_once(missions, current, actor=actor, reason=reason)
        except ConflictError:
            continue
    logger.warning("could not hand back task %s: it kept changing", task.id)
    return None


def _hand_back_once(missions: Missions, task: Task, *, actor: str, reason: str) -> Task:
    store = missions.store
    if task.state in (TaskState.SUBMITTED, TaskState.REVIEW):
        mission = store.get_mission(task.mission_id)
        commit = merged_on_branch(missions.root, mission.branch, task.mission_id, task.id)
        if commit is not None:
            return _record_merge(missions, task, commit, actor=actor)
        task = store.transition(
            task.mission_id,
            task.id,
            TaskState.REJECTED,
            actor=actor,
            reason=f"{reason}; its {task.state.value} work was not merged and goes back to the pool",
            expected_version=task.version,
        )
    return store.transition(
        task.mission_id,
        task.id,
        TaskState.READY,
        actor=actor,
        reason=f"{reason}; the interrupted attempt does not count",
        expected_version=task.version,
        attempts=max(0, task.attempts - 1),
        lease_holder=None,
        lease_expires=None,
    )


def merged_on_branch(root: Path, branch: str, mission_id: str, task_id: str) -> str | None:
    """The commit on ``branch`` that merged ``task_id`` of ``mission_id`` (by its trailers), if any."""
    listing = run_git(
        root,
        "log",
        "--format=%H%x00%(trailers:key=Podium-Mission,valueonly,separator=%x20)%x00"
        "%(trailers:key=Podium-Task,valueonly,separator=%x20)%x1e",
        f"refs/heads/{branch}",
        "--",
    ).text
    for record in listing.split("\x1e"):
        fields = record.strip().split("\x00")
        if len(fields) == 3 and fields[1].strip() == mission_id and fields[2].strip() == task_id:
            return fields[0]
    return None


def _record_merge(missions: Missions, task: Task, commit: str, *, actor: str) -> Task:
    store = missions.store
    payload = _evidence(missions, task, commit, actor=actor, worker=task.lease_holder or "")
    merged = store.transition(
        task.mission_id,
        task.id,
        TaskState.MERGED,
        actor=actor,
        reason=f"found merged as {commit[:12]} after a restart",
        expected_version=task.version,
        lease_holder=None,
        lease_expires=None,
    )
    store.append_event(MERGE_EVENT, payload, mission_id=task.mission_id, task_id=task.id, actor=actor)
    try:
        remove_worktree(missions.root, f"{task.mission_id}/{task.id}")
    except WorkspaceError as exc:
        logger.warning("could not remove the worktree of %s: %s", task.id, exc)
    return merged


def _evidence(
    missions: Missions, task: Task, commit: str, *, actor: str, worker: str
) -> dict[str, JsonValue]:
    """The merge evidence of a merge found on the branch, with what its worktree (if still there) tells."""
    path = worktree_path(missions.root, f"{task.mission_id}/{task.id}")
    base = task_commit = digest = ""
    if path.is_dir():
        try:
            base = resolve_commit(path, BASE_REF) or ""
            task_commit = head_commit(path)
            digest = diff_hash(path, base, task_commit) if base else ""
        except WorkspaceError as exc:
            logger.warning("could not read the worktree of %s for its merge record: %s", task.id, exc)
    previous = resolve_commit(missions.root, f"{commit}^") or ""
    return {
        "worker": worker,
        "approved_by": actor,
        "base_commit": base,
        "task_commit": task_commit,
        "merged_commit": commit,
        "previous_head": previous,
        "diff_sha256": digest,
        "rechecked_after_merge": False,
        "verdict": _verdict_data(task.last_verdict),
        "recovered": True,
    }


def _verdict_data(raw: str | None) -> dict[str, JsonValue]:
    try:
        data: JsonValue = json.loads(raw or "")
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        return data
    return {"summary": "recorded after a restart: the merge commit was found on the branch"}


def children_of(tasks: Sequence[Task], parent_id: str) -> list[Task]:
    """The direct subtasks of ``parent_id`` (``T1.1``, ``T1.2`` … of ``T1``)."""
    depth = parent_id.count(".") + 1
    return [t for t in tasks if t.id.startswith(parent_id + ".") and t.id.count(".") == depth]


def _unfinished_split(tasks: Sequence[Task], task: Task) -> bool:
    # a task a live run holds may be in the middle of its split: that run finishes it
    held = task.state in ACTIVE_STATES and run_of(task.lease_holder) is not None
    return task.state not in TERMINAL_STATES and not held and bool(children_of(tasks, task.id))


def complete_split(store: Store, mission_id: str, parent_id: str, *, actor: str) -> None:
    """Retire a split task: its dependents now wait on its subtasks, and it is cancelled.

    Idempotent: a dependent already rewired and a parent already cancelled are left as they are.
    """
    tasks = store.list_tasks(mission_id)
    children = tuple(t.id for t in children_of(tasks, parent_id))
    for task in tasks:
        if parent_id not in task.depends_on or task.id in children or task.state in TERMINAL_STATES:
            continue
        swapped = (d for dep in task.depends_on for d in (children if dep == parent_id else (dep,)))
        rewired = tuple(dict.fromkeys(swapped))
        _rewire(store, mission_id, task.id, rewired, actor=actor)
    parent = store.get_task(mission_id, parent_id)
    if parent.state not in TERMINAL_STATES:
        store.transition(
            mission_id,
            parent_id,
            TaskState.CANCELLED,
            actor=actor,
            reason=f"split into {', '.join(children)}",
            lease_holder=None,
            lease_expires=None,
        )


def _rewire(store: Store, mission_id: str, task_id: str, depends_on: tuple[str, ...], *, actor: str) -> None:
    for _ in range(CAS_RETRIES):
        current = store.get_task(mission_id, task_id)
        try:
            store.update_task(
                mission_id,
                task_id,
                current.version,
                actor=actor,
                reason="a dependency was split",
                depends_on=depends_on,
            )
            return
        except ConflictError:
            continue
    raise StoreError(f"task {task_id} kept changing while it was being rewired")


def _run_liveness(events: Sequence[Event], me: RunIdentity) -> tuple[set[str], set[str]]:
    """The runs of the mission known to be gone, and those that may still be alive."""
    started: dict[str, Mapping[str, JsonValue]] = {}
    stopped: set[str] = set()
    for event in events:
        run_id = event.payload.get("run_id")
        if not isinstance(run_id, str):
            continue
        if event.kind == RUN_STARTED:
            started[run_id] = event.payload
        elif event.kind == RUN_STOPPED:
            stopped.add(run_id)
    dead: set[str] = set(stopped)
    alive: set[str] = set()
    for run_id, record in started.items():
        if run_id in stopped or run_id == me.run_id:
            continue
        if _gone(record, me):
            dead.add(run_id)
        else:
            alive.add(run_id)
    return dead, alive


def _gone(record: Mapping[str, JsonValue], me: RunIdentity) -> bool:
    if record.get("host") != me.host:
        return False  # another machine's process cannot be checked: its leases expire instead
    pid = record.get("pid")
    if not isinstance(pid, int):
        return False
    if pid == me.pid and record.get("process_start") == me.process_start:
        with _live_runs_lock:
            return record.get("run_id") not in _live_runs
    start = _process_start(pid)
    if start is not None:
        return start != record.get("process_start")
    if Path("/proc/self").is_dir():
        return True  # /proc works here and has no live process of that pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False  # some process has that pid; without /proc, a reused pid cannot be told apart


def _process_start(pid: int) -> str | None:
    """The start time of live process ``pid`` (clock ticks since boot, from /proc), else None.

    A zombie (killed, not yet reaped) counts as gone.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count fields after its closing one
    fields = stat.rsplit(")", 1)[-1].split()
    if len(fields) <= 19 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def safe_hand_back(missions: Missions, task: Task, *, actor: str, reason: str) -> Task | None:
    """:func:`hand_back` that logs instead of raising: for shutdown paths that must finish."""
    try:
        return hand_back(missions, task, actor=actor, reason=reason)
    except PodiumError as exc:
        logger.warning("could not hand back task %s: %s", task.id, exc)
        return None
