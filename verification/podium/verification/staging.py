"""Edits staged in memory over a root directory, and the one function that writes a ChangeSet to disk.

A :class:`StagedTree` lets several edits compose (a diff, then a search/replace on the same file) without
touching the root: files are read lazily from disk, changed in memory, and summarised as a
:class:`~podium.verification.changes.ChangeSet` that compares the final state with the root.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from podium.verification.changes import ChangeSet, FileChange
from podium.verification.errors import InputError
from podium.verification.paths import (
    DEFAULT_MAX_BYTES,
    encode_text,
    read_text_file,
    safe_relative_path,
)

_UNREAD = object()


class StagedTree:
    """A read-only view of ``root`` with pending edits layered on top.

    Paths passed to the methods are checked with :func:`safe_relative_path`; content written is checked for
    size and binary data. The root directory itself is never modified.
    """

    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._root = root
        self._max_bytes = max_bytes
        self._base: dict[str, str | None] = {}
        self._current: dict[str, str | None] = {}
        # Which original file each live path descends from (itself, a rename source, or None when new).
        self._origin: dict[str, str | None] = {}

    def path(self, path: str) -> str:
        """Return the safe, normalised form of ``path`` (see :func:`safe_relative_path`)."""
        return safe_relative_path(self._root, path)

    def read(self, path: str) -> str | None:
        """Return the staged text of ``path``, or ``None`` if it does not exist (now)."""
        rel = self.path(path)
        if rel in self._current:
            return self._current[rel]
        return self._original(rel)

    def write(self, path: str, text: str) -> None:
        """Create or replace ``path`` with ``text``."""
        rel = self.path(path)
        encode_text(rel, text, self._max_bytes)
        if self.read(rel) is None:
            self._check_creatable(rel)
            claimed = self._original(rel) is not None and rel not in self._origin.values()
            self._origin[rel] = rel if claimed else None
        self._current[rel] = text

    def delete(self, path: str) -> None:
        """Delete ``path``, which must exist."""
        rel = self.path(path)
        if self.read(rel) is None:
            raise InputError(f"{rel}: cannot delete, file does not exist", path=rel)
        self._current[rel] = None
        self._origin.pop(rel, None)

    def rename(self, old: str, new: str, text: str) -> None:
        """Move ``old`` to ``new`` (which must not exist), giving it ``text``."""
        old_rel, new_rel = self.path(old), self.path(new)
        if self.read(new_rel) is not None:
            raise InputError(f"{new_rel}: cannot rename {old_rel} here, file already exists", path=new_rel)
        encode_text(new_rel, text, self._max_bytes)
        origin = self._lineage(old_rel)
        self.delete(old_rel)
        self._check_creatable(new_rel)
        self._current[new_rel] = text
        self._origin[new_rel] = origin

    def changeset(self) -> ChangeSet:
        """Summarise the staged state against the root, sorted by path; unchanged files are left out."""
        changes: list[FileChange] = []
        live_origins = {self._lineage(p) for p, text in self._current.items() if text is not None}
        for rel in sorted(self._current):
            after = self._current[rel]
            if after is None:
                before = self._original(rel)
                if before is not None and rel not in live_origins:
                    changes.append(FileChange(rel, before, None))
                continue
            origin = self._lineage(rel)
            before = self._original(origin) if origin is not None else None
            old_path = origin if origin is not None and origin != rel else None
            if before == after and old_path is None:
                continue
            changes.append(FileChange(rel, before, after, old_path))
        return ChangeSet(tuple(sorted(changes, key=lambda change: change.path)))

    def _lineage(self, rel: str) -> str | None:
        if rel in self._origin:
            return self._origin[rel]
        return rel if self._original(rel) is not None else None

    def _original(self, rel: str) -> str | None:
        if rel not in self._base:
            self._base[rel] = read_text_file(self._root, rel, self._max_bytes)
        return self._base[rel]

    def _check_creatable(self, rel: str) -> None:
        """Refuse a new file whose parent is a file, or whose path is a directory (staged or on disk)."""
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if self._current.get(parent) is not None or (
                parent not in self._current and _is_file(self._root / parent)
            ):
                raise InputError(f"{rel}: cannot create, {parent} is a file", path=rel)
        prefix = rel + "/"
        if any(p.startswith(prefix) and t is not None for p, t in self._current.items()):
            raise InputError(f"{rel}: cannot create, it is a directory", path=rel)


def write_changeset(root: Path, changes: ChangeSet) -> None:
    """Materialise ``changes`` in ``root`` (a worktree or a temporary copy).

    Deleted files and rename sources are removed first (with directories left empty by that), then every
    surviving file is written exactly (no line-ending translation), creating parent directories. Existing
    files are overwritten without comparing them with ``before``. Every path is re-checked for safety before
    anything is touched.

    Raises:
        InputError: A path is unsafe, or a file and a directory collide.
        OSError: The file system failed.
    """
    writes: dict[str, str] = {}
    removed: list[str] = []
    sources: list[str] = []
    for change in changes.files:
        rel = safe_relative_path(root, change.path)
        if change.after is None:
            removed.append(rel)
        else:
            writes[rel] = change.after
        if change.old_path is not None:
            sources.append(safe_relative_path(root, change.old_path))
    base = root.resolve()
    for rel in [*removed, *(source for source in sources if source not in writes)]:
        _remove(base, rel)
    for rel, text in writes.items():
        target = base / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode("utf-8"))
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            raise InputError(f"{rel}: cannot write, {exc.strerror}", path=rel) from None


def _remove(base: Path, rel: str) -> None:
    target = base / rel
    try:
        target.unlink()
    except (FileNotFoundError, NotADirectoryError):
        return
    except IsADirectoryError:
        raise InputError(f"{rel}: cannot delete, it is a directory", path=rel) from None
    # Like git, leave no empty directories behind.
    parent = target.parent
    while parent != base:
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


def _is_file(path: Path) -> bool:
    try:
        return not stat.S_ISDIR(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
