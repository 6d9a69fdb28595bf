"""The shapes an edit can take, and turning a sequence of them into a ChangeSet without touching the root.

Four shapes, the ones agents send: a whole file's new content, a search/replace of one exact passage, a
unified diff, and a deletion. Edits apply in order over a :class:`~podium.verification.staging.StagedTree`,
so several edits to one file compose. Path safety and file reading live in :mod:`podium.verification.paths`
and are re-exported here as the one place other layers import them from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias, assert_never

from podium.verification.changes import ChangeSet
from podium.verification.errors import InputError
from podium.verification.patch import parse_unified_diff, stage_patches
from podium.verification.paths import DEFAULT_MAX_BYTES, read_text_file, safe_relative_path
from podium.verification.staging import StagedTree, write_changeset

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DeleteFile",
    "DiffEdit",
    "Edit",
    "SearchReplace",
    "WholeFile",
    "apply_edit",
    "build_changeset",
    "read_text_file",
    "safe_relative_path",
    "write_changeset",
]


@dataclass(frozen=True, slots=True)
class WholeFile:
    """Create ``path``, or replace all of its content, with ``content`` (taken exactly as given)."""

    path: str
    content: str


@dataclass(frozen=True, slots=True)
class SearchReplace:
    """Replace the one passage of ``path`` equal to ``search`` with ``replace``.

    ``search`` must occur exactly once. In a CRLF file, a ``search`` written with plain ``\\n`` line breaks
    is matched with ``\\r\\n`` ones, and ``replace`` gets the file's ``\\r\\n`` line breaks too.
    """

    path: str
    search: str
    replace: str


@dataclass(frozen=True, slots=True)
class DiffEdit:
    """A unified diff, git-style or plain, touching one or more files."""

    diff: str


@dataclass(frozen=True, slots=True)
class DeleteFile:
    """Delete ``path``, which must exist."""

    path: str


Edit: TypeAlias = WholeFile | SearchReplace | DiffEdit | DeleteFile


def build_changeset(root: Path, edits: Sequence[Edit], *, max_bytes: int = DEFAULT_MAX_BYTES) -> ChangeSet:
    """Apply ``edits`` in order to the files under ``root``, in memory, and return what changed.

    ``root`` is only read. Files that end up as they started are left out of the result.

    Raises:
        InputError: No edits, or an edit that cannot apply; the message and ``path`` name the file.
    """
    if not edits:
        raise InputError("no edits given")
    tree = StagedTree(root, max_bytes)
    for edit in edits:
        apply_edit(tree, edit)
    return tree.changeset()


def apply_edit(tree: StagedTree, edit: Edit) -> None:
    """Apply one edit to a staged tree (see :func:`build_changeset`)."""
    match edit:
        case WholeFile(path=path, content=content):
            tree.write(path, content)
        case SearchReplace():
            _search_replace(tree, edit)
        case DiffEdit(diff=diff):
            stage_patches(tree, parse_unified_diff(diff))
        case DeleteFile(path=path):
            tree.delete(path)
        case _:
            assert_never(edit)


def _search_replace(tree: StagedTree, edit: SearchReplace) -> None:
    rel = tree.path(edit.path)
    text = tree.read(rel)
    if text is None:
        raise InputError(f"{rel}: file does not exist; use a whole-file edit to create it", path=rel)
    if not edit.search:
        raise InputError(f"{rel}: search text is empty", path=rel)
    search, replace = edit.search, edit.replace
    starts = _occurrences(text, search)
    if not starts and "\r\n" in text and "\n" in search and "\r\n" not in search:
        search, replace = _crlf(search), _crlf(replace)
        starts = _occurrences(text, search)
    if not starts:
        raise InputError(
            f"{rel}: search text not found (0 matches); it must match exactly once, whitespace included"
            + _closest_hint(text, edit.search),
            path=rel,
        )
    if len(starts) > 1:
        lines = ", ".join(str(text.count("\n", 0, start) + 1) for start in starts[:10])
        raise InputError(
            f"{rel}: search text matches {len(starts)} times (at lines {lines}); it must match exactly once, "
            "so include more surrounding lines",
            path=rel,
        )
    start = starts[0]
    tree.write(rel, text[:start] + replace + text[start + len(search) :])


def _occurrences(text: str, search: str) -> list[int]:
    """Start offsets of every match, overlapping ones included (``aa`` occurs twice in ``aaa``)."""
    starts: list[int] = []
    start = text.find(search)
    while start != -1:
        starts.append(start)
        start = text.find(search, start + 1)
    return starts


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _closest_hint(text: str, search: str) -> str:
    first = next((line.strip() for line in search.split("\n") if line.strip()), "")
    if not first:
        return ""
    for number, line in enumerate(text.split("\n"), 1):
        if line.strip() == first:
            return f"; its first line appears at line {number}, but the passage around it differs"
    return ""
