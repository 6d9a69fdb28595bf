"""A small typed runner for git subprocesses, and the plumbing queries Podium builds on.

Every call is an argv list (never a shell) with a timeout, stdin closed unless input is given, and the same
safe defaults: no pager, no colour, unquoted paths, no prompts, no editor, no background gc, literal
pathspecs, C-locale messages (they are parsed), and none of the repository-selecting variables a parent
process may have set (``GIT_DIR``, ``GIT_INDEX_FILE`` … leak in when Podium runs from a git hook).
A failure is a `WorkspaceError` that names the command, the directory and git's own stderr.

Commits Podium makes itself are authored by a fixed identity unless the environment names one, so they
work on machines without ``user.name`` and read as agent work in the history.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from podium.orchestration.errors import WorkspaceError
from podium.verification.changes import ChangeSet, FileChange

__all__ = [
    "GIT_TIMEOUT_S",
    "LONG_GIT_TIMEOUT_S",
    "PODIUM_EMAIL",
    "PODIUM_NAME",
    "DiffEntry",
    "GitResult",
    "audit_diff",
    "branch_head",
    "changes_between",
    "diff_hash",
    "head_commit",
    "is_ancestor",
    "raw_diff",
    "read_blobs",
    "repository_root",
    "resolve_commit",
    "run_git",
]

logger = logging.getLogger(__name__)

GIT_TIMEOUT_S = 60.0
"""Bound of an ordinary git call (plumbing on one commit or tree)."""
LONG_GIT_TIMEOUT_S = 600.0
"""Bound of calls that check out or merge a whole tree (worktree add, merges in a working tree)."""

PODIUM_NAME = "Podium"
PODIUM_EMAIL = "podium@localhost"

_SAFE_CONFIG = (
    "core.quotepath=false",
    "core.pager=cat",
    "color.ui=false",
    "advice.detachedHead=false",
    "gc.auto=0",
    "maintenance.auto=false",
)
_PODIUM_CONFIG = ("commit.gpgSign=false",)
_REPOSITORY_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_QUARANTINE_PATH",
    "GIT_SHALLOW_FILE",
    "GIT_GRAFT_FILE",
)
_FIXED_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "GIT_EDITOR": ":",
    "GIT_SEQUENCE_EDITOR": ":",
    "GIT_MERGE_AUTOEDIT": "no",
    "GIT_LITERAL_PATHSPECS": "1",
    "LC_ALL": "C",
    "LANGUAGE": "C",
}
_NULL_OID_CHARS = frozenset("0")
_GITLINK_MODE = "160000"


@dataclass(frozen=True, slots=True)
class GitResult:
    """What one git call produced. ``stdout`` stays bytes: file contents and ``-z`` paths are not text."""

    args: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        """Stdout decoded, for commands whose output is ids, refs or messages."""
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def line(self) -> str:
        """The first line of stdout, stripped: the answer of ``rev-parse`` and friends."""
        return self.text.strip().split("\n", 1)[0]


def run_git(
    cwd: Path,
    *args: str,
    ok: Collection[int] = (0,),
    input: bytes | None = None,
    timeout: float = GIT_TIMEOUT_S,
    config: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    podium_identity: bool = True,
) -> GitResult:
    """Run ``git <args>`` in ``cwd`` and return its result.

    Args:
        cwd: directory to run in (a working tree or inside one).
        args: git's arguments, subcommand first.
        ok: exit codes that are answers rather than failures (``(0, 1)`` for ``--quiet`` diffs).
        input: bytes for stdin; stdin is closed otherwise.
        timeout: seconds before the call is killed and reported.
        config: extra ``name=value`` settings passed as ``-c``.
        env: extra environment entries, applied last.
        podium_identity: author and commit as Podium unless the environment names someone, and never sign.

    Raises:
        WorkspaceError: git is missing, ``cwd`` is missing, the call timed out or exited outside ``ok``.
    """
    settings = [*_SAFE_CONFIG, *(_PODIUM_CONFIG if podium_identity else ()), *config]
    argv = ["git", *(part for setting in settings for part in ("-c", setting)), *args]
    shown = "git " + " ".join(args)
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env=_environment(env, podium_identity),
            check=False,
        )
    except FileNotFoundError as exc:
        if not Path(cwd).is_dir():
            raise WorkspaceError(f"{cwd}: directory does not exist (running `{shown}`)") from None
        raise WorkspaceError(f"git is not installed or not on PATH: {exc}") from None
    except subprocess.TimeoutExpired:
        raise WorkspaceError(f"`{shown}` in {cwd} timed out after {timeout:g} s") from None
    stderr = proc.stderr.decode("utf-8", errors="replace").strip()
    result = GitResult(tuple(args), proc.returncode, proc.stdout, stderr)
    if proc.returncode not in ok:
        detail = stderr or result.text.strip() or "no output"
        raise WorkspaceError(f"`{shown}` failed in {cwd} (exit {proc.returncode}): {detail}")
    return result


def _environment(extra: Mapping[str, str] | None, podium_identity: bool) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _REPOSITORY_ENV}
    env.update(_FIXED_ENV)
    if podium_identity:
        for role in ("AUTHOR", "COMMITTER"):
            env.setdefault(f"GIT_{role}_NAME", PODIUM_NAME)
            env.setdefault(f"GIT_{role}_EMAIL", PODIUM_EMAIL)
    if extra:
        env.update(extra)
    return env


def repository_root(path: Path) -> Path:
    """The top level of the git working tree that holds ``path``.

    Raises:
        WorkspaceError: ``path`` is missing, not inside a git repository, or inside a bare one.
    """
    if not path.is_dir():
        raise WorkspaceError(f"{path} does not exist or is not a directory")
    probe = run_git(path, "rev-parse", "--show-toplevel", ok=(0, 128))
    if probe.returncode != 0:
        if "not a git repository" in probe.stderr:
            raise WorkspaceError(
                f"{path} is not a git repository; run `git init` and commit your files there first, "
                "so Podium can branch and merge"
            )
        raise WorkspaceError(f"{path}: git cannot use this directory as a working tree: {probe.stderr}")
    return Path(probe.line)


def head_commit(root: Path) -> str:
    """The commit ``HEAD`` of ``root`` names.

    Raises:
        WorkspaceError: the repository has no commit yet (or is not a repository).
    """
    commit = resolve_commit(root, "HEAD")
    if commit is None:
        repository_root(root)
        raise WorkspaceError(
            f"{root}: the repository has no commits yet; commit once "
            "(e.g. `git commit --allow-empty -m 'initial commit'`) so Podium has a base to branch from"
        )
    return commit


def resolve_commit(cwd: Path, rev: str) -> str | None:
    """The full id of the commit ``rev`` names, or ``None`` when it names none."""
    result = run_git(
        cwd, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", ok=(0, 1)
    )
    return result.line if result.returncode == 0 else None


def branch_head(cwd: Path, branch: str) -> str:
    """The commit local ``branch`` points at.

    Raises:
        WorkspaceError: there is no such branch.
    """
    commit = resolve_commit(cwd, f"refs/heads/{branch}")
    if commit is None:
        raise WorkspaceError(f"{cwd}: there is no branch '{branch}'")
    return commit


def is_ancestor(cwd: Path, ancestor: str, descendant: str) -> bool:
    """Whether ``ancestor`` is ``descendant`` or one of its ancestors."""
    result = run_git(cwd, "merge-base", "--is-ancestor", ancestor, descendant, ok=(0, 1))
    return result.returncode == 0


@dataclass(frozen=True, slots=True)
class DiffEntry:
    """One line of ``git diff-tree --raw``: modes, blob ids, status letter (A, D, M, R, T) and paths."""

    old_mode: str
    new_mode: str
    old_oid: str
    new_oid: str
    status: str
    old_path: str
    new_path: str


def raw_diff(cwd: Path, old: str, new: str) -> tuple[DiffEntry, ...]:
    """The files that differ between two tree-ish values, renames detected, as raw entries."""
    result = run_git(cwd, "diff-tree", "-r", "-z", "--no-abbrev", "--find-renames", old, new)
    fields = result.stdout.split(b"\0")
    entries: list[DiffEntry] = []
    i = 0
    while i < len(fields) and fields[i].startswith(b":"):
        old_mode, new_mode, old_oid, new_oid, status = fields[i][1:].decode("ascii").split(" ")
        old_path = os.fsdecode(fields[i + 1])
        if status[0] in "RC":
            new_path = os.fsdecode(fields[i + 2])
            i += 3
        else:
            new_path = old_path
            i += 2
        entries.append(DiffEntry(old_mode, new_mode, old_oid, new_oid, status[0], old_path, new_path))
    return tuple(entries)


def changes_between(cwd: Path, old: str, new: str, only: Iterable[str] | None = None) -> ChangeSet:
    """The files that differ between two commits or trees, with their full texts before and after.

    Args:
        cwd: a working tree of the repository.
        old: commit or tree before.
        new: commit or tree after.
        only: keep only files whose old or new path is among these.

    Texts are decoded as UTF-8, undecodable bytes replaced, so a binary file still shows up for the gate
    to refuse. Submodule entries are left out: they have no text.
    """
    wanted = None if only is None else frozenset(only)
    entries = [
        entry
        for entry in raw_diff(cwd, old, new)
        if _GITLINK_MODE not in (entry.old_mode, entry.new_mode)
        and (wanted is None or entry.old_path in wanted or entry.new_path in wanted)
    ]
    blobs = read_blobs(cwd, [oid for e in entries for oid in (e.old_oid, e.new_oid) if not _is_null(oid)])
    files = [
        FileChange(
            path=entry.new_path,
            before=None if entry.status == "A" else _decode(blobs[entry.old_oid]),
            after=None if entry.status == "D" else _decode(blobs[entry.new_oid]),
            old_path=entry.old_path if entry.old_path != entry.new_path else None,
        )
        for entry in entries
    ]
    return ChangeSet(tuple(sorted(files, key=lambda change: change.path)))


def read_blobs(cwd: Path, names: Sequence[str], *, missing_ok: bool = False) -> dict[str, bytes]:
    """The contents of blobs by id (or ``<tree>:<path>`` name), read in one ``cat-file --batch`` call.

    Raises:
        WorkspaceError: a name names no object, unless ``missing_ok`` (then it is left out).
    """
    unique = list(dict.fromkeys(names))
    if not unique:
        return {}
    request = ("\n".join(unique) + "\n").encode("utf-8", "surrogateescape")
    out = run_git(cwd, "cat-file", "--batch", input=request).stdout
    blobs: dict[str, bytes] = {}
    pos = 0
    for name in unique:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].decode("utf-8", "replace").split(" ")
        if len(header) != 3 or not header[2].isdigit():
            pos = header_end + 1
            if missing_ok:
                continue
            raise WorkspaceError(f"{cwd}: object {name} is missing from the repository")
        size = int(header[2])
        blobs[name] = out[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
    return blobs


def audit_diff(cwd: Path, base: str, commit: str) -> bytes:
    """``git diff base commit`` with every output-shaping setting pinned, so it hashes the same anywhere."""
    return run_git(
        cwd,
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--full-index",
        "--binary",
        "--find-renames",
        "--diff-algorithm=myers",
        "--indent-heuristic",
        "--unified=3",
        "--inter-hunk-context=0",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        "--no-relative",
        "-O/dev/null",
        base,
        commit,
        "--",
    ).stdout


def diff_hash(cwd: Path, base: str, commit: str) -> str:
    """Hex sha256 of `audit_diff`: the fingerprint of a change an audit record can be checked against."""
    return hashlib.sha256(audit_diff(cwd, base, commit)).hexdigest()


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _is_null(oid: str) -> bool:
    return set(oid) <= _NULL_OID_CHARS
