"""The unit the gate judges: a set of files, each with its text before and after an edit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file touched by an edit.

    ``path`` is the file's path after the edit (its old path for a deletion), POSIX style and
    relative to the root. ``before`` is ``None`` for a new file, ``after`` is ``None`` for a deleted one.
    """

    path: str
    before: str | None
    after: str | None
    old_path: str | None = None

    @property
    def status(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "deleted"
        if self.old_path is not None and self.old_path != self.path:
            return "renamed"
        return "modified"


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """All files an edit touches, in a stable order.

    ``context`` holds ``(path, text)`` of files the edit does not touch but whose text differs from what is
    on disk under the gate's root: in a mission, the files merged onto the integration branch since the user's
    HEAD, at the task's base. Language servers read untouched files from disk, so without them an import of
    something an earlier task added would look undefined. They are shown to the servers, never judged.
    """

    files: tuple[FileChange, ...]
    context: tuple[tuple[str, str], ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files)
