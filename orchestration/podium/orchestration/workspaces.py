"""Integration branches and the git worktrees workers edit in.

A mission works on its own branch, ``podium/<mission-id>``, made from the user's ``HEAD`` without checking
anything out. Each task gets a *detached* worktree under ``<root>/.podium/worktrees/<task-id>`` at the
branch's commit of the moment: detached so the branch can move on while the worker works. The commit a
worktree started from is kept in the per-worktree ref ``refs/worktree/podium/base`` so a worker that takes
over an expired lease finds the worktree, and its base, as they were left. ``.podium/`` is listed in the
repository's ``info/exclude`` (by `ensure_git_exclude`) so the user's ``git status`` stays clean.

After a merge conflict, `refresh_worktree` commits the worker's edits and *merges* the branch's new head
into the worktree. A merge rather than a rebase: it stops once, leaves ordinary conflict markers in the
files, and the worker resolves them by editing and submitting again; `commit_worktree` then concludes the
merge. The branch's new head becomes the worktree's base, so the next three-way merge sees only the
worker's own changes.
"""

from __future__ import annotations

import fcntl
import logging
import re
import shutil
import tempfile
import threading
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from podium.orchestration.errors import WorkspaceError
from podium.orchestration.git import (
    LONG_GIT_TIMEOUT_S,
    branch_head,
    changes_between,
    head_commit,
    repository_root,
    resolve_commit,
    run_git,
)
from podium.orchestration.project import STATE_DIRNAME, ensure_git_exclude, git_common_dir
from podium.verification.changes import ChangeSet

__all__ = [
    "BASE_REF",
    "DEFAULT_BRANCH_PREFIX",
    "WORKTREES_DIR",
    "Worktree",
    "add_worktree",
    "commit_worktree",
    "create_integration_branch",
    "integration_branch_name",
    "prune_worktrees",
    "refresh_worktree",
    "remove_worktree",
    "unresolved_conflicts",
    "worktree_changes",
    "worktree_lock",
    "worktree_path",
]

logger = logging.getLogger(__name__)

DEFAULT_BRANCH_PREFIX = "podium/"
WORKTREES_DIR = Path(STATE_DIRNAME) / "worktrees"
BASE_REF = "refs/worktree/podium/base"
"""Per-worktree ref holding the commit the worktree's changes are measured from."""
LOCK_FILENAME = "podium-worktrees.lock"
"""Lock file, in the repository's git directory, that Podium's worktree commands take turns on."""

_TASK_DIR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CONFLICT_START = "<<<<<<< "
_CONFLICT_END = ">>>>>>> "
_thread_locks: dict[Path, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


@dataclass(frozen=True, slots=True)
class Worktree:
    """A task's checkout: where it is and the integration-branch commit its changes are measured from."""

    path: Path
    base_commit: str


def integration_branch_name(mission_id: str, prefix: str = DEFAULT_BRANCH_PREFIX) -> str:
    """The branch a mission integrates into: ``<prefix><mission-id>``."""
    return f"{prefix}{mission_id}"


def create_integration_branch(
    root: Path, mission_id: str, *, prefix: str = DEFAULT_BRANCH_PREFIX
) -> tuple[str, str]:
    """Create the mission's branch at the user's current ``HEAD`` and return ``(branch, head)``.

    Only a ref is written: the user's checked-out branch, index and files are untouched. When the branch
    exists already (a restarted server resuming its mission) it is returned as it is.

    Raises:
        WorkspaceError: ``root`` is not a repository, has no commit, or the name is not a valid branch name.
    """
    repository_root(root)
    branch = integration_branch_name(mission_id, prefix)
    if run_git(root, "check-ref-format", f"refs/heads/{branch}", ok=(0, 1)).returncode != 0:
        raise WorkspaceError(f"'{branch}' is not a valid git branch name (from mission id '{mission_id}')")
    existing = resolve_commit(root, f"refs/heads/{branch}")
    if existing is not None:
        return branch, existing
    head = head_commit(root)
    # An empty old value makes update-ref create the branch only if nobody else just did.
    created = run_git(
        root,
        "update-ref",
        "-m",
        f"podium: start mission {mission_id}",
        f"refs/heads/{branch}",
        head,
        "",
        ok=(0, 128),
    )
    if created.returncode != 0:
        raced = resolve_commit(root, f"refs/heads/{branch}")
        if raced is None:
            raise WorkspaceError(f"{root}: cannot create branch '{branch}': {created.stderr}")
        return branch, raced
    logger.info("created integration branch %s at %s", branch, head)
    return branch, head


def worktree_path(root: Path, task_id: str) -> Path:
    """Where the worktree of ``task_id`` lives.

    ``task_id`` may be qualified by its mission (``m-1a2b3c4d/T3``): task ids are per mission, so missions
    keep their worktrees apart as ``.podium/worktrees/<mission-id>/<task-id>``.

    Raises:
        WorkspaceError: the id cannot be used as a directory name.
    """
    parts = task_id.split("/")
    if len(parts) > 2 or any(not _TASK_DIR_NAME.match(part) or part in {".", ".."} for part in parts):
        raise WorkspaceError(f"task id '{task_id}' cannot name a worktree directory")
    return root.joinpath(WORKTREES_DIR, *parts)


def add_worktree(root: Path, task_id: str, branch: str) -> Worktree:
    """Give ``task_id`` a detached worktree at ``branch``'s current commit, or return the one it has.

    Raises:
        WorkspaceError: the branch is missing, or the path is taken by something that is not a worktree
            of this repository.
    """
    top = repository_root(root)
    path = worktree_path(root, task_id)
    with worktree_lock(top):
        registered = _registered_worktrees(top)
        if path.resolve() in registered:
            if path.is_dir():
                base = resolve_commit(path, BASE_REF) or _recover_base(root, path, branch)
                logger.info("reusing worktree %s at base %s", path, base)
                return Worktree(path, base)
            # The directory vanished but git still lists it: forget it and start afresh.
            run_git(top, "worktree", "prune")
        elif path.exists():
            raise WorkspaceError(
                f"{path} exists but is not a git worktree of {top}; move it away or delete it"
            )
        base = branch_head(root, branch)
        ensure_git_exclude(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        run_git(top, "worktree", "add", "--detach", str(path), base, timeout=LONG_GIT_TIMEOUT_S)
        run_git(path, "update-ref", BASE_REF, base)
    logger.info("created worktree %s for %s at %s", path, task_id, base)
    return Worktree(path, base)


def _recover_base(root: Path, path: Path, branch: str) -> str:
    """The base of a worktree whose base ref was never written, written now.

    A process killed between `git worktree add` and recording the base leaves the worktree without it;
    taking its HEAD instead would count work committed there later as the base, and a resubmission of that
    work as "nothing to submit". The base is where the worktree's own commits leave the mission's branch.
    """
    merged = run_git(path, "merge-base", "HEAD", branch_head(root, branch), ok=(0, 1)).text.strip()
    base = merged or head_commit(path)
    run_git(path, "update-ref", BASE_REF, base)
    logger.warning("worktree %s had no base ref; recovered %s", path, base)
    return base


def remove_worktree(root: Path, task_id: str) -> None:
    """Delete the worktree of ``task_id`` with whatever it holds; nothing happens if there is none.

    Raises:
        WorkspaceError: the path holds something that is not a worktree of this repository.
    """
    top = repository_root(root)
    path = worktree_path(root, task_id)
    with worktree_lock(top):
        if path.resolve() in _registered_worktrees(top):
            run_git(top, "worktree", "remove", "--force", "--force", str(path), timeout=LONG_GIT_TIMEOUT_S)
            logger.info("removed worktree %s", path)
        elif path.exists():
            raise WorkspaceError(f"{path} is not a git worktree of {top}; not removing it")


def prune_worktrees(root: Path) -> None:
    """Forget worktrees whose directories were deleted by hand."""
    top = repository_root(root)
    with worktree_lock(top):
        run_git(top, "worktree", "prune")


@contextmanager
def worktree_lock(top: Path) -> Generator[None]:
    """Take turns with other threads and processes on the repository's worktree bookkeeping.

    `git worktree add` writes a worktree's administrative files in steps, and a git command that lists the
    worktrees meanwhile (another `worktree add`, `worktree list`, `worktree remove`) dies on the half-written
    entry. Podium's own commands that add, remove or list worktrees run under this lock; it is not
    re-entrant, so hold it around git commands only.

    Raises:
        WorkspaceError: ``top`` is not in a git repository.
    """
    common = git_common_dir(top)
    if common is None:
        raise WorkspaceError(f"{top} is not in a git repository")
    path = common / LOCK_FILENAME
    with _thread_locks_guard:
        thread_lock = _thread_locks.setdefault(path, threading.Lock())
    # where flock is emulated with per-process POSIX locks (NFS), threads would not exclude each other
    with thread_lock, path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def commit_worktree(worktree: Worktree, message: str) -> str | None:
    """Stage everything in the worktree (new, changed and deleted files) and commit it.

    Concludes a merge left by `refresh_worktree` even when the resolution changed nothing. Hooks are
    skipped: the gate, not the user's pre-commit hook, judges agent edits.

    Returns:
        The new commit, or ``None`` when there was nothing to commit.
    """
    run_git(worktree.path, "add", "--all", timeout=LONG_GIT_TIMEOUT_S)
    merging = resolve_commit(worktree.path, "MERGE_HEAD") is not None
    unchanged = run_git(worktree.path, "diff-index", "--cached", "--quiet", "HEAD", ok=(0, 1)).returncode == 0
    if unchanged and not merging:
        return None
    run_git(worktree.path, "commit", "--no-verify", "--quiet", "--file=-", input=message.encode("utf-8"))
    return head_commit(worktree.path)


def worktree_changes(worktree: Worktree, base: str | None = None) -> ChangeSet:
    """The files that differ between ``base`` (default: the worktree's base) and the worktree as it is now.

    Uncommitted edits and untracked files count; the worktree's own index is left alone.
    """
    return changes_between(worktree.path, base or worktree.base_commit, _snapshot_tree(worktree.path))


def unresolved_conflicts(worktree: Worktree) -> tuple[str, ...]:
    """Files a refresh left conflicted that still hold conflict markers: resolve these before submitting."""
    listing = run_git(worktree.path, "ls-files", "--unmerged", "-z").stdout
    paths = sorted({entry.split(b"\t", 1)[1].decode("utf-8", "surrogateescape") for entry in _split(listing)})
    return tuple(path for path in paths if _has_conflict_markers(worktree.path / path))


def refresh_worktree(worktree: Worktree, branch: str) -> str:
    """Bring the worktree onto ``branch``'s current head, keeping the worker's changes.

    The worker's edits are committed, then the head is merged in; conflicting files are left with
    conflict markers for the worker to resolve (see `unresolved_conflicts`).

    Returns:
        The new base commit (the branch head merged in); it is also recorded in the worktree.

    Raises:
        WorkspaceError: an earlier refresh still has unresolved conflicts, or git failed.
    """
    pending = unresolved_conflicts(worktree)
    if pending:
        raise WorkspaceError(
            f"{worktree.path} still has unresolved conflicts in {', '.join(pending)}; resolve them first"
        )
    head = branch_head(worktree.path, branch)
    commit_worktree(worktree, f"podium: work in progress before refreshing onto {branch}")
    merge = run_git(
        worktree.path,
        "merge",
        "--ff",
        "--no-edit",
        "--no-verify",
        "--no-autostash",
        "--no-log",
        "-m",
        f"podium: refresh onto {branch} at {head[:12]}",
        head,
        ok=(0, 1),
        config=("rerere.enabled=false",),
        timeout=LONG_GIT_TIMEOUT_S,
    )
    if merge.returncode != 0 and resolve_commit(worktree.path, "MERGE_HEAD") is None:
        raise WorkspaceError(f"merging {branch} into {worktree.path} failed: {merge.stderr or merge.text}")
    run_git(worktree.path, "update-ref", BASE_REF, head)
    logger.info(
        "refreshed %s onto %s at %s (conflicts: %s)", worktree.path, branch, head, merge.returncode != 0
    )
    return head


def _snapshot_tree(path: Path) -> str:
    """The tree of the working files as they are, written via a throwaway copy of the index."""
    index = Path(run_git(path, "rev-parse", "--path-format=absolute", "--git-path", "index").line)
    with tempfile.TemporaryDirectory(prefix="podium-index-") as tmp:
        scratch = Path(tmp) / "index"
        if index.exists():
            # Copying keeps the stat cache, so unchanged files are not hashed again.
            shutil.copy2(index, scratch)
        env = {"GIT_INDEX_FILE": str(scratch)}
        run_git(path, "add", "--all", env=env, timeout=LONG_GIT_TIMEOUT_S)
        return run_git(path, "write-tree", env=env).line


def _registered_worktrees(top: Path) -> set[Path]:
    listing = run_git(top, "worktree", "list", "--porcelain", "-z").stdout
    return {
        Path(entry[len(b"worktree ") :].decode("utf-8", "surrogateescape")).resolve()
        for entry in _split(listing)
        if entry.startswith(b"worktree ")
    }


def _has_conflict_markers(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return False
    return any(line.startswith((_CONFLICT_START, _CONFLICT_END)) for line in text.splitlines())


def _split(output: bytes) -> list[bytes]:
    return [entry for entry in output.split(b"\0") if entry]
