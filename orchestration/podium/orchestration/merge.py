"""Verified three-way merges onto an integration branch, and finishing a mission onto the user's branch.

`merge_onto_branch` never checks anything out. It merges a task's commit onto the branch's *current* head
with ``git merge-tree --write-tree`` (git 2.38+), writes the merge as a single-parent commit with
``commit-tree`` (so the branch's history stays linear, one commit per task, with trailers for the audit
trail), and moves the branch with a compare-and-swap ``update-ref``. Losing that race to another merge
means starting again from the new head, a bounded number of times.

The merge base is the one git computes from history (``--merge-base`` needs git 2.40; Podium supports
2.38): worktrees start at a branch commit and are refreshed by merging the branch in, so the computed base
is the task's ``base_commit``, or a later branch commit the task has already merged.

When the branch moved since the task's base and the merge changed what the task's files hold, the
caller's ``verify`` hook judges the merged files before the branch moves; a refusal is a value.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from podium.orchestration.errors import WorkspaceError
from podium.orchestration.git import (
    LONG_GIT_TIMEOUT_S,
    branch_head,
    changes_between,
    head_commit,
    is_ancestor,
    raw_diff,
    read_blobs,
    repository_root,
    run_git,
)
from podium.orchestration.workspaces import worktree_lock
from podium.verification.changes import ChangeSet

__all__ = [
    "MERGE_ATTEMPTS",
    "ConflictFinding",
    "ConflictHunk",
    "Finished",
    "MergeConflict",
    "MergeOutcome",
    "Merged",
    "RejectedAfterMerge",
    "commit_message",
    "conflict_hunks",
    "finish_onto_user_branch",
    "merge_onto_branch",
]

logger = logging.getLogger(__name__)

MERGE_ATTEMPTS = 5
"""How many times a merge starts over after losing the race for the branch."""

_TRAILER_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_OID = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


@dataclass(frozen=True, slots=True)
class ConflictHunk:
    """One conflicted region of a file, as git's conflict markers delimit it (lines 1-based, inclusive)."""

    start_line: int
    end_line: int
    head_text: str
    task_text: str


@dataclass(frozen=True, slots=True)
class ConflictFinding:
    """A file the merge could not settle.

    ``kind`` is git's conflict type (``contents``, ``modify/delete``, ``add/add``, ``rename/delete`` …),
    ``message`` git's own sentence, ``hunks`` the conflicted regions when the file has conflict markers.
    """

    path: str
    kind: str
    message: str
    hunks: tuple[ConflictHunk, ...] = ()


@dataclass(frozen=True, slots=True)
class Merged:
    """The task is on the branch.

    ``content_differs`` says the branch had moved and the merge changed what the task's files hold;
    ``verified`` says the ``verify`` hook then judged and accepted them.
    """

    status: ClassVar[Literal["merged"]] = "merged"
    branch: str
    commit: str
    previous_head: str
    attempts: int
    content_differs: bool
    verified: bool


@dataclass(frozen=True, slots=True)
class MergeConflict:
    """The task's changes conflict with the branch's head; the branch did not move."""

    status: ClassVar[Literal["conflict"]] = "conflict"
    branch: str
    head: str
    conflicts: tuple[ConflictFinding, ...]

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(finding.path for finding in self.conflicts)


@dataclass(frozen=True, slots=True)
class RejectedAfterMerge:
    """The merge was clean but ``verify`` refused the merged files; the branch did not move."""

    status: ClassVar[Literal["rejected_after_merge"]] = "rejected_after_merge"
    branch: str
    head: str
    changes: ChangeSet


MergeOutcome = Merged | MergeConflict | RejectedAfterMerge


@dataclass(frozen=True, slots=True)
class Finished:
    """The mission's branch is in the user's branch: by fast-forward, by a merge commit, or already was.

    ``branch`` is the user's branch, ``files`` the paths the finish changed in the user's working tree.
    """

    branch: str
    kind: Literal["fast-forward", "merge", "up-to-date"]
    head: str
    previous_head: str
    files: tuple[str, ...] = ()


def merge_onto_branch(
    root: Path,
    branch: str,
    base_commit: str,
    task_commit: str,
    message: str,
    trailers: Mapping[str, str] | None = None,
    *,
    verify: Callable[[ChangeSet], bool] | None = None,
    max_attempts: int = MERGE_ATTEMPTS,
    before_update: Callable[[str], None] | None = None,
) -> MergeOutcome:
    """Merge ``task_commit`` (made on ``base_commit``) onto ``branch``'s current head.

    A task that changed nothing still gets its (empty) commit, so its trailers are on record.

    Args:
        root: the repository.
        branch: the integration branch, e.g. ``podium/m1``.
        base_commit: the branch commit the task's worktree was based on.
        task_commit: the worker's commit.
        message: the merge commit's message.
        trailers: ``Key: value`` lines appended to the message, e.g. ``{"Podium-Task": "T1.2"}``.
        verify: called with the merged-versus-head changes of the task's files when the branch moved and the
            merge changed them; ``False`` leaves the branch where it is.
        max_attempts: how many heads to try before giving up on a branch that keeps moving.
        before_update: called with the new commit just before the compare-and-swap (tests, tracing).

    Raises:
        WorkspaceError: ``task_commit`` does not descend from ``base_commit``, the branch is checked out,
            git failed, or the branch kept moving for ``max_attempts`` tries.
    """
    top = repository_root(root)
    _refuse_checked_out(top, branch)
    if not is_ancestor(top, base_commit, task_commit):
        raise WorkspaceError(f"task commit {task_commit} is not based on {base_commit}; refresh its worktree")
    full_message = commit_message(message, trailers or {})
    touched = {
        path for entry in raw_diff(top, base_commit, task_commit) for path in (entry.old_path, entry.new_path)
    }
    task_tree = run_git(top, "rev-parse", f"{task_commit}^{{tree}}").line
    for attempt in range(1, max_attempts + 1):
        head = branch_head(top, branch)
        merged = _merge_tree(top, head, task_commit)
        if not isinstance(merged, str):
            return MergeConflict(branch, head, merged)
        differs = head != base_commit and any(
            entry.old_path in touched or entry.new_path in touched
            for entry in raw_diff(top, task_tree, merged)
        )
        if differs and verify is not None:
            changes = changes_between(top, head, merged, only=touched)
            if not verify(changes):
                return RejectedAfterMerge(branch, head, changes)
        commit = run_git(top, "commit-tree", merged, "-p", head, "-F", "-", input=full_message.encode()).line
        if before_update is not None:
            before_update(commit)
        reflog = f"podium: merge {task_commit[:12]}"
        moved = run_git(top, "update-ref", "-m", reflog, f"refs/heads/{branch}", commit, head, ok=(0, 1, 128))
        if moved.returncode == 0:
            logger.info("merged %s onto %s as %s (attempt %d)", task_commit, branch, commit, attempt)
            return Merged(branch, commit, head, attempt, differs, differs and verify is not None)
        if branch_head(top, branch) == head:
            raise WorkspaceError(f"cannot move branch '{branch}' to {commit}: {moved.stderr}")
        logger.info("branch %s moved during merge of %s; retrying on its new head", branch, task_commit)
    raise WorkspaceError(
        f"branch '{branch}' kept moving: gave up merging {task_commit} after {max_attempts} attempts"
    )


def commit_message(message: str, trailers: Mapping[str, str]) -> str:
    """``message`` with a final paragraph of ``Key: value`` trailers that ``git interpret-trailers`` reads.

    Raises:
        ValueError: a key is not a trailer token or a value spans lines.
    """
    body = message.strip("\n")
    if not trailers:
        return body + "\n"
    for key, value in trailers.items():
        if not _TRAILER_KEY.match(key):
            raise ValueError(f"trailer key {key!r} must be letters, digits and dashes")
        if "\n" in value or "\r" in value:
            raise ValueError(f"trailer {key!r} has a value spanning lines: {value!r}")
    lines = "\n".join(f"{key}: {value}" for key, value in trailers.items())
    return f"{body}\n\n{lines}\n"


def conflict_hunks(text: str) -> tuple[ConflictHunk, ...]:
    """The regions between conflict markers in ``text``; the diff3 base section, if any, is skipped."""
    hunks: list[ConflictHunk] = []
    start: int | None = None
    sides: dict[str, list[str]] = {"head": [], "base": [], "task": []}
    side = "head"
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("<<<<<<<"):
            start, side = number, "head"
            sides = {"head": [], "base": [], "task": []}
        elif start is None:
            continue
        elif line.startswith("|||||||"):
            side = "base"
        elif line.rstrip("\r") == "=======":
            side = "task"
        elif line.startswith(">>>>>>>"):
            hunks.append(ConflictHunk(start, number, _joined(sides["head"]), _joined(sides["task"])))
            start = None
        else:
            sides[side].append(line)
    return tuple(hunks)


def finish_onto_user_branch(root: Path, branch: str, *, message: str | None = None) -> Finished:
    """Bring the mission's ``branch`` into the branch the user has checked out.

    Fast-forwards when the user's branch has not moved, merges otherwise. These are ordinary git commands
    in the user's working tree, with the user's identity and hooks; nothing is started that could stop
    half-way on a conflict or on uncommitted work.

    Raises:
        WorkspaceError: ``HEAD`` is detached or is the mission's branch, the merge would conflict (names the
            files), or the user has uncommitted changes in files the mission changes (names them).
    """
    top = repository_root(root)
    current = run_git(top, "symbolic-ref", "--quiet", "--short", "HEAD", ok=(0, 1))
    if current.returncode != 0:
        raise WorkspaceError(f"{top}: HEAD is detached; check out the branch to finish '{branch}' onto")
    user_branch = current.line
    if user_branch == branch:
        raise WorkspaceError(f"{top}: '{branch}' itself is checked out; check out the branch to finish onto")
    previous = head_commit(top)
    mission_head = branch_head(top, branch)
    if is_ancestor(top, mission_head, previous):
        return Finished(user_branch, "up-to-date", previous, previous)
    fast_forward = is_ancestor(top, previous, mission_head)
    target = mission_head if fast_forward else _merge_tree(top, previous, mission_head)
    if not isinstance(target, str):
        files = ", ".join(finding.path for finding in target)
        raise WorkspaceError(
            f"cannot finish '{branch}' onto '{user_branch}': the merge conflicts in {files}; "
            f"merge it by hand (`git merge {branch}`)"
        )
    affected = {
        path for entry in raw_diff(top, previous, target) for path in (entry.old_path, entry.new_path)
    }
    blocking = sorted(affected & _dirty_paths(top))
    if blocking:
        raise WorkspaceError(
            f"cannot finish '{branch}' onto '{user_branch}': uncommitted changes in files the mission "
            f"changes: {', '.join(blocking)}; commit or stash them, then finish again"
        )
    if fast_forward:
        run_git(
            top,
            "merge",
            "--ff-only",
            "--no-autostash",
            mission_head,
            podium_identity=False,
            timeout=LONG_GIT_TIMEOUT_S,
        )
    else:
        text = message or f"Merge Podium mission branch '{branch}'"
        has_identity = run_git(top, "var", "GIT_COMMITTER_IDENT", ok=(0, 128), podium_identity=False)
        run_git(
            top,
            "merge",
            "--no-ff",
            "--no-edit",
            "--no-autostash",
            "-m",
            text,
            mission_head,
            podium_identity=has_identity.returncode != 0,
            timeout=LONG_GIT_TIMEOUT_S,
        )
    head = head_commit(top)
    logger.info("finished %s onto %s: %s", branch, user_branch, head)
    return Finished(
        user_branch, "fast-forward" if fast_forward else "merge", head, previous, tuple(sorted(affected))
    )


def _merge_tree(top: Path, head: str, task: str) -> str | tuple[ConflictFinding, ...]:
    """The merged tree's id, or the conflicts that stop the merge."""
    result = run_git(top, "merge-tree", "--write-tree", "--messages", "-z", head, task, ok=(0, 1, 129))
    if result.returncode == 129:
        raise WorkspaceError(
            f"Podium needs git 2.38 or newer (for `git merge-tree --write-tree`): {result.stderr}"
        )
    fields = result.stdout.split(b"\0")
    tree = fields[0].decode("ascii", "replace")
    if not _OID.match(tree):
        raise WorkspaceError(f"`git merge-tree` could not merge {task} onto {head}: {result.stderr}")
    if result.returncode == 0:
        return tree
    staged: list[str] = []
    i = 1
    while i < len(fields) and fields[i]:
        staged.append(fields[i].split(b"\t", 1)[1].decode("utf-8", "surrogateescape"))
        i += 1
    messages: dict[str, list[tuple[str, str]]] = {}
    i += 1
    while i + 1 < len(fields) and fields[i]:
        count = int(fields[i])
        paths = [f.decode("utf-8", "surrogateescape") for f in fields[i + 1 : i + 1 + count]]
        kind = fields[i + 1 + count].decode("utf-8", "replace")
        text = fields[i + 2 + count].decode("utf-8", "replace").strip()
        i += 3 + count
        if kind.startswith("CONFLICT"):
            for path in paths:
                messages.setdefault(path, []).append((_conflict_kind(kind), text))
    paths = list(dict.fromkeys([*staged, *messages]))
    texts = read_blobs(top, [f"{tree}:{path}" for path in paths], missing_ok=True)
    findings: list[ConflictFinding] = []
    for path in paths:
        notes = messages.get(path, [])
        blob = texts.get(f"{tree}:{path}")
        hunks = conflict_hunks(blob.decode("utf-8", "replace")) if blob is not None else ()
        findings.append(
            ConflictFinding(
                path,
                "; ".join(dict.fromkeys(kind for kind, _ in notes)) or "conflict",
                " ".join(text for _, text in notes) or f"merge conflict in {path}",
                hunks,
            )
        )
    return tuple(findings)


def _conflict_kind(kind: str) -> str:
    """``CONFLICT (modify/delete)`` → ``modify/delete``."""
    opening, closing = kind.find("("), kind.rfind(")")
    return kind[opening + 1 : closing] if 0 <= opening < closing else kind


def _refuse_checked_out(top: Path, branch: str) -> None:
    """Moving a branch under a working tree that has it checked out would leave that tree out of step."""
    ref = f"branch refs/heads/{branch}".encode()
    where = ""
    with worktree_lock(top):
        listing = run_git(top, "worktree", "list", "--porcelain", "-z").stdout
    for entry in listing.split(b"\0"):
        if entry.startswith(b"worktree "):
            where = entry[len(b"worktree ") :].decode("utf-8", "surrogateescape")
        elif entry == ref:
            raise WorkspaceError(
                f"branch '{branch}' is checked out in {where}; switch that tree to another branch"
            )


def _dirty_paths(top: Path) -> set[str]:
    """Paths with uncommitted changes or untracked files in the user's working tree."""
    status = run_git(
        top, "status", "--porcelain=v1", "-z", "--untracked-files=all", env={"GIT_OPTIONAL_LOCKS": "0"}
    ).stdout
    paths: set[str] = set()
    fields = status.split(b"\0")
    i = 0
    while i < len(fields) and fields[i]:
        code, path = fields[i][:2].decode("ascii"), fields[i][3:].decode("utf-8", "surrogateescape")
        paths.add(path)
        if "R" in code or "C" in code:
            paths.add(fields[i + 1].decode("utf-8", "surrogateescape"))
            i += 1
        i += 1
    return paths


def _joined(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)
