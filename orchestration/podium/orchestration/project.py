"""Where Podium keeps its state inside a project: ``<root>/.podium/``, kept out of git.

The state directory holds the store (``podium.db``) and one folder per mission with its rendered
``ROADMAP.md``. When the root is a git repository (or a worktree, or a submodule) ``.podium/`` is added to the
repository's ``info/exclude`` once, so it never shows up as untracked without touching the tracked
``.gitignore``.
"""

from __future__ import annotations

import fcntl
import logging
from dataclasses import dataclass
from pathlib import Path

from podium.orchestration.errors import StoreError

__all__ = [
    "DB_FILENAME",
    "EXCLUDE_LINE",
    "STATE_DIRNAME",
    "ProjectPaths",
    "database_path",
    "ensure_git_exclude",
    "find_project_root",
    "git_common_dir",
    "prepare_project",
]

STATE_DIRNAME = ".podium"
DB_FILENAME = "podium.db"
MISSIONS_DIRNAME = "missions"
ROADMAP_FILENAME = "ROADMAP.md"
EXCLUDE_LINE = f"{STATE_DIRNAME}/"

# lines in info/exclude that already keep .podium out of git
_EXCLUDE_EQUIVALENTS = frozenset({EXCLUDE_LINE, f"/{EXCLUDE_LINE}", STATE_DIRNAME, f"/{STATE_DIRNAME}"})

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProjectPaths:
    """The paths of Podium's state under one project root."""

    root: Path

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIRNAME

    @property
    def db_path(self) -> Path:
        return self.state_dir / DB_FILENAME

    def mission_dir(self, mission_id: str) -> Path:
        """The folder of one mission's files (its rendered roadmap)."""
        return self.state_dir / MISSIONS_DIRNAME / mission_id

    def roadmap_path(self, mission_id: str) -> Path:
        """Where the mission's ``ROADMAP.md`` is rendered."""
        return self.mission_dir(mission_id) / ROADMAP_FILENAME


def database_path(root: Path) -> Path:
    """Return ``<root>/.podium/podium.db`` (whether or not it exists)."""
    return ProjectPaths(root).db_path


def prepare_project(root: Path) -> ProjectPaths:
    """Create ``<root>/.podium/`` if needed and keep it out of git; return its paths.

    Raises:
        StoreError: the root is not a directory or the state directory cannot be created.
    """
    root = root.resolve()
    if not root.is_dir():
        raise StoreError(f"project root {root} is not a directory")
    paths = ProjectPaths(root)
    try:
        paths.state_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {paths.state_dir}: {exc.strerror}") from None
    try:
        ensure_git_exclude(root)
    except OSError as exc:
        # a read-only .git must not keep the store from opening; git will just list .podium/ as untracked
        log.warning("could not add %s to the git excludes of %s: %s", EXCLUDE_LINE, root, exc)
    return paths


def find_project_root(start: Path) -> Path | None:
    """Return the nearest directory at or above ``start`` holding ``.podium/``, else one holding ``.git``.

    The CLI uses it to find the project a command was run in.
    """
    start = start.resolve()
    candidates = [start, *start.parents]
    for directory in candidates:
        if (directory / STATE_DIRNAME).is_dir():
            return directory
    for directory in candidates:
        if (directory / ".git").exists():
            return directory
    return None


def git_common_dir(root: Path) -> Path | None:
    """Return the git directory shared by all worktrees of the repository at ``root``, or None.

    Follows git's own layout rather than running git: ``.git`` is either the directory itself, or a file
    ``gitdir: <path>`` (a linked worktree or a submodule) whose directory may hold a ``commondir`` file
    pointing at the shared one.
    """
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git
    if not dot_git.is_file():
        return None
    try:
        first_line = dot_git.read_text(encoding="utf-8").splitlines()[0]
    except (OSError, UnicodeDecodeError, IndexError):
        return None
    prefix = "gitdir:"
    if not first_line.startswith(prefix):
        return None
    git_dir = Path(first_line[len(prefix) :].strip())
    if not git_dir.is_absolute():
        git_dir = root / git_dir
    commondir_file = git_dir / "commondir"
    if commondir_file.is_file():
        try:
            common = Path(commondir_file.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError):
            return None
        git_dir = common if common.is_absolute() else git_dir / common
    git_dir = git_dir.resolve()
    return git_dir if git_dir.is_dir() else None


def ensure_git_exclude(root: Path) -> bool:
    """Add ``.podium/`` to the repository's ``info/exclude`` unless it is already there.

    Returns True when the line was added, False when it was present or ``root`` is not in git.
    Safe to call from several processes at once: the file is locked while it is read and appended to.
    """
    common = git_common_dir(root)
    if common is None:
        return False
    exclude = common / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with exclude.open("a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            text = handle.read()
            if any(line.strip() in _EXCLUDE_EQUIVALENTS for line in text.splitlines()):
                return False
            separator = "" if not text or text.endswith("\n") else "\n"
            handle.write(f"{separator}{EXCLUDE_LINE}\n")
            handle.flush()
            return True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
