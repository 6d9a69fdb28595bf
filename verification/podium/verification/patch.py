"""Unified diffs: parsing git-style and plain diffs into file patches, and applying them strictly.

Parsing accepts what ``git diff`` (with ``-M``/``-C``, ``-U<n>``) and ``diff -u`` print: ``diff --git``
headers are optional, ``a/`` and ``b/`` prefixes are stripped when both sides carry them, quoted (C-escaped)
names are decoded, ``/dev/null`` marks a created or deleted file. Binary patches, symlinks and submodules
are refused.

Application never fuzzes: every context and removed line must match the file exactly. Like git, a hunk may be
found at an offset from the line its header names (nearest match wins, hunks never overlap). One tolerance is
allowed because it cannot change meaning: if a hunk matches only when a trailing ``\\r`` is ignored (a diff
whose line endings were converted in transit), it is applied with the file's own line endings kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from podium.verification.changes import ChangeSet
from podium.verification.errors import InputError
from podium.verification.paths import DEFAULT_MAX_BYTES
from podium.verification.staging import StagedTree

_HUNK_HEADER = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_UNSUPPORTED_MODES = {"120000": "symlinks", "160000": "submodules"}
_EXTENDED_HEADERS = (
    "old mode ",
    "new mode ",
    "deleted file mode ",
    "new file mode ",
    "rename from ",
    "rename to ",
    "rename old ",
    "rename new ",
    "copy from ",
    "copy to ",
    "similarity index ",
    "dissimilarity index ",
    "index ",
)
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


@dataclass(frozen=True, slots=True)
class Hunk:
    """One ``@@`` block. Each of ``lines`` starts with ``' '``, ``'-'`` or ``'+'`` and has no line break.

    ``old_newline_at_end`` / ``new_newline_at_end`` are ``False`` when the block carries a
    ``\\ No newline at end of file`` marker for that side. ``line`` is the header's line in the diff.
    """

    old_start: int
    old_count: int
    new_start: int
    new_count: int
    lines: tuple[str, ...]
    old_newline_at_end: bool = True
    new_newline_at_end: bool = True
    line: int = 0

    @property
    def header(self) -> str:
        return f"@@ -{self.old_start},{self.old_count} +{self.new_start},{self.new_count} @@"

    @property
    def old_lines(self) -> list[str]:
        return [line[1:] for line in self.lines if line[0] != "+"]


@dataclass(frozen=True, slots=True)
class FilePatch:
    """The changes a diff makes to one file.

    ``old_path`` is ``None`` when the file is created, ``new_path`` is ``None`` when it is deleted; both are
    set (and differ) for a rename or, with ``copy``, a copy. ``line`` is where the file's header starts.
    """

    old_path: str | None
    new_path: str | None
    hunks: tuple[Hunk, ...] = ()
    copy: bool = False
    line: int = 0

    @property
    def path(self) -> str:
        """The path the patch is best known by: the new one, or the old one for a deletion."""
        path = self.new_path if self.new_path is not None else self.old_path
        assert path is not None
        return path


def parse_unified_diff(text: str) -> tuple[FilePatch, ...]:
    """Parse a unified diff (git-style or plain) into one :class:`FilePatch` per file.

    Raises:
        InputError: The diff is empty, malformed (the message gives the line number) or binary.
    """
    if not text.strip():
        raise InputError("empty diff")
    return _Parser(text).parse()


def apply_patches(
    root: Path, patches: Sequence[FilePatch], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> ChangeSet:
    """Apply parsed patches to the files under ``root`` in memory and return what changed.

    ``root`` is only read. Patches apply in order, so later ones see the results of earlier ones.

    Raises:
        InputError: A hunk does not apply, a file to change is missing or a file to create exists, a path is
            unsafe, or a file is binary or larger than ``max_bytes`` before or after.
    """
    tree = StagedTree(root, max_bytes)
    stage_patches(tree, patches)
    return tree.changeset()


def stage_patches(tree: StagedTree, patches: Sequence[FilePatch]) -> None:
    """Apply parsed patches to a :class:`StagedTree` (see :func:`apply_patches`)."""
    if not patches:
        raise InputError("empty diff")
    for patch in patches:
        _stage(tree, patch)


def apply_hunks(path: str, text: str | None, hunks: Sequence[Hunk]) -> str:
    """Apply hunks to one file's text (``None`` for a file that does not exist yet).

    Raises:
        InputError: A hunk's context or removed lines are not in the file; the message names the hunk, the
            line, the expected and the found text.
    """
    lines, newline_at_end = _split_lines(text or "")
    crlf = sum(line.endswith("\r") for line in lines) * 2 > len(lines)
    out: list[str] = []
    pos = offset = 0
    for number, hunk in enumerate(hunks, 1):
        old = hunk.old_lines
        anchor = _first_index(hunk)
        at_end = not (hunk.old_newline_at_end and hunk.new_newline_at_end)
        found = _locate(lines, old, anchor + offset, pos, at_end=at_end)
        if found is None:
            raise InputError(_mismatch(path, number, hunk, lines, anchor + offset, pos), path=path)
        start, loose = found
        out.extend(lines[pos:start])
        out.extend(_new_side(hunk, lines, start, loose=loose, crlf=crlf))
        pos = start + len(old)
        offset = start - anchor
        # The diff only speaks about the final newline when its two sides disagree; otherwise keep the file's.
        if pos == len(lines) and hunk.old_newline_at_end != hunk.new_newline_at_end:
            newline_at_end = hunk.new_newline_at_end
    out.extend(lines[pos:])
    if not out:
        return ""
    return "\n".join(out) + ("\n" if newline_at_end else "")


def _stage(tree: StagedTree, patch: FilePatch) -> None:
    if patch.old_path is None:
        path = tree.path(patch.path)
        if tree.read(path) is not None:
            raise InputError(f"{path}: the diff creates this file, but it already exists", path=path)
        tree.write(path, apply_hunks(path, None, patch.hunks))
        return
    old = tree.path(patch.old_path)
    before = tree.read(old)
    if before is None:
        raise InputError(f"{old}: the diff changes this file, but it does not exist", path=old)
    after = apply_hunks(old, before, patch.hunks)
    if patch.new_path is None:
        if after:
            raise InputError(
                f"{old}: the diff deletes this file but does not remove all of its content "
                f"({len(_split_lines(after)[0])} lines remain)",
                path=old,
            )
        tree.delete(old)
        return
    new = tree.path(patch.new_path)
    if new == old:
        tree.write(old, after)
        return
    if tree.read(new) is not None:
        verb = "copies" if patch.copy else "renames"
        raise InputError(f"{new}: the diff {verb} {old} to this path, but it already exists", path=new)
    if patch.copy:
        tree.write(new, after)
    else:
        tree.rename(old, new, after)


def _split_lines(text: str) -> tuple[list[str], bool]:
    """Split on ``\\n`` only (a ``\\r`` stays part of its line); also say whether the text ends with one."""
    if not text:
        return [], True
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
        return lines, True
    return lines, False


def _locate(
    lines: list[str], old: list[str], anchor: int, lo: int, *, at_end: bool
) -> tuple[int, bool] | None:
    hi = len(lines) - len(old)
    if hi < lo:
        return None
    for loose in (False, True):
        for start in _candidates(anchor, lo, hi, at_end=at_end, searchable=bool(old)):
            if all(_same(lines[start + k], want, loose=loose) for k, want in enumerate(old)):
                return start, loose
    return None


def _candidates(anchor: int, lo: int, hi: int, *, at_end: bool, searchable: bool) -> Iterator[int]:
    if at_end:
        yield hi
        return
    if not searchable:
        # A hunk without old lines (a pure insertion) has nothing to search by: its header is the only anchor.
        if lo <= anchor <= hi:
            yield anchor
        return
    anchor = min(max(anchor, lo), hi)
    yield anchor
    for distance in range(1, hi - lo + 1):
        if anchor - distance >= lo:
            yield anchor - distance
        if anchor + distance <= hi:
            yield anchor + distance
        if anchor - distance < lo and anchor + distance > hi:
            return


def _same(found: str, want: str, *, loose: bool) -> bool:
    return found == want or (loose and found.removesuffix("\r") == want.removesuffix("\r"))


def _new_side(hunk: Hunk, lines: list[str], start: int, *, loose: bool, crlf: bool) -> list[str]:
    """The hunk's new lines, with context taken from the file itself so its bytes are kept."""
    result: list[str] = []
    index = start
    for line in hunk.lines:
        kind, body = line[0], line[1:]
        if kind == " ":
            result.append(lines[index])
            index += 1
        elif kind == "-":
            index += 1
        elif loose:
            result.append(body.removesuffix("\r") + ("\r" if crlf else ""))
        else:
            result.append(body)
    return result


def _mismatch(path: str, number: int, hunk: Hunk, lines: list[str], anchor: int, lo: int) -> str:
    where = f"{path}: hunk #{number} ({hunk.header}, diff line {hunk.line}) does not apply"
    hint = "; the file may differ from the one the diff was made against, re-read it"
    if anchor < lo:
        return f"{where}: it overlaps the previous hunk{hint}"
    for k, want in enumerate(hunk.old_lines):
        index = anchor + k
        if index >= len(lines):
            return f"{where}: at line {index + 1} expected {_show(want)}, found end of file{hint}"
        if lines[index] != want:
            return f"{where}: at line {index + 1} expected {_show(want)}, found {_show(lines[index])}{hint}"
    if anchor > len(lines):
        return f"{where}: it starts after the end of the file ({len(lines)} lines){hint}"
    return (
        f"{where}: it ends with '\\ No newline at end of file' but line {anchor + len(hunk.old_lines) + 1} "
        f"follows it{hint}"
    )


def _show(line: str) -> str:
    return repr(line if len(line) <= 80 else line[:77] + "...")


class _Parser:
    """A single pass over the diff's lines; ``self.index`` is the next line to read (0-based)."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        if text.endswith("\n"):
            self.lines.pop()
        self.index = 0

    def parse(self) -> tuple[FilePatch, ...]:
        patches: list[FilePatch] = []
        while self.index < len(self.lines):
            line = self._header_line()
            if not line.strip():
                self.index += 1
            elif line.startswith("diff --git "):
                patches.append(self._git_file())
            elif line.startswith("--- "):
                patches.append(self._plain_file(git=False))
            elif line.startswith("diff "):
                self.index += 1  # "diff -u old new" from diff(1): the ---/+++ lines that follow say it all.
            elif line.startswith("Binary files "):
                raise self._error("binary files cannot be patched, only text", path=_binary_name(line))
            elif line.startswith("@@"):
                raise self._error("hunk without a file header (expected '--- a/<path>' and '+++ b/<path>')")
            elif patches and line[:1] in (" ", "+", "-", "\\"):
                raise self._error(
                    f"unexpected {_show(line)} after the last hunk: "
                    "the hunk header's line counts do not add up",
                    path=patches[-1].path,
                )
            elif line.startswith("```"):
                raise self._error("a Markdown code fence is not part of a diff; send the bare diff")
            else:
                raise self._error(f"unexpected text {_show(line)}; expected a unified diff")
        if not patches:
            raise InputError("empty diff")
        return tuple(patches)

    def _git_file(self) -> FilePatch:
        start = self.index + 1
        names = _git_names(self._header_line().removeprefix("diff --git "))
        if names is None:
            raise self._error("cannot read the file names in the 'diff --git' header")
        old, new = _strip_prefixes(*names)
        header: dict[str, str] = {}
        self.index += 1
        while self.index < len(self.lines):
            line = self._header_line()
            key = next((k for k in _EXTENDED_HEADERS if line.startswith(k)), None)
            if key is None:
                break
            header[key.strip()] = line[len(key) :]
            self.index += 1
        old = _unquote(header.get("rename from", header.get("rename old", header.get("copy from", old))))
        new = _unquote(header.get("rename to", header.get("rename new", header.get("copy to", new))))
        old = None if "new file mode" in header else old
        new = None if "deleted file mode" in header else new
        self._check_modes(header, new or old)
        line = self._header_line() if self.index < len(self.lines) else ""
        if line.startswith(("GIT binary patch", "Binary files ")):
            raise self._error("binary files cannot be patched, only text", path=new or old)
        copy = "copy from" in header
        if line.startswith("--- "):
            patch = self._plain_file(git=True)
            return FilePatch(patch.old_path, patch.new_path, patch.hunks, copy, start)
        if line.startswith("@@"):
            raise self._error("hunk without '--- a/<path>' and '+++ b/<path>' lines", path=new or old)
        return FilePatch(old, new, (), copy, start)

    def _plain_file(self, *, git: bool) -> FilePatch:
        """Read ``---``/``+++`` and the hunks.

        Without a git header, differing names are not a rename: that is how ``diff -u f.orig f`` looks, and
        the new name is the file changed.
        """
        start = self.index + 1
        old_raw = _diff_name(self._header_line().removeprefix("--- "))
        self.index += 1
        if self.index >= len(self.lines) or not self._header_line().startswith("+++ "):
            raise self._error("'---' line is not followed by a '+++' line", line=start)
        new_raw = _diff_name(self._header_line().removeprefix("+++ "))
        self.index += 1
        old, new = _strip_prefixes(
            None if old_raw == "/dev/null" else old_raw, None if new_raw == "/dev/null" else new_raw
        )
        if old is None and new is None:
            raise self._error("both sides of the file header are /dev/null", line=start)
        if not git and old is not None and new is not None:
            old = new
        path = new or old or ""
        hunks: list[Hunk] = []
        while self.index < len(self.lines) and self._header_line().startswith("@@"):
            hunk = self._hunk(path)
            if hunks and _first_index(hunk) < _first_index(hunks[-1]) + hunks[-1].old_count:
                raise self._error(
                    f"hunk {hunk.header} overlaps or precedes the one before it", path=path, line=hunk.line
                )
            if (old is None and hunk.old_count) or (new is None and hunk.new_count):
                side = "creates" if old is None else "deletes"
                raise self._error(
                    f"the diff {side} the file but hunk {hunk.header} keeps lines", path=path, line=hunk.line
                )
            hunks.append(hunk)
        if not hunks and (old is None or new is None or old == new):
            raise self._error("file header without any hunk", path=path, line=start)
        return FilePatch(old, new, tuple(hunks), False, start)

    def _hunk(self, path: str) -> Hunk:
        header_line = self.index + 1
        match = _HUNK_HEADER.match(self._header_line())
        if match is None:
            raise self._error(f"malformed hunk header {_show(self._header_line())}", path=path)
        old_start, new_start = int(match[1]), int(match[3])
        old_count = 1 if match[2] is None else int(match[2])
        new_count = 1 if match[4] is None else int(match[4])
        self.index += 1
        body: list[str] = []
        old_left, new_left = old_count, new_count
        old_end = new_end = True
        while old_left or new_left or (self.index < len(self.lines) and self.lines[self.index][:1] == "\\"):
            if self.index >= len(self.lines):
                raise self._error(
                    f"the diff ends inside hunk {match[0]}: {old_left} old and {new_left} new lines are "
                    "missing; the hunk header's line counts do not add up",
                    path=path,
                    line=header_line,
                )
            raw = self.lines[self.index]
            kind = raw[:1] if raw not in ("", "\r") else " "
            if kind == "\\":
                if not body:
                    raise self._error("'\\ No newline at end of file' before any line of the hunk", path=path)
                if body[-1][0] != "+":
                    old_end = False
                if body[-1][0] != "-":
                    new_end = False
                self.index += 1
                continue
            if (
                kind not in (" ", "-", "+")
                or (kind in " -" and not old_left)
                or (kind in " +" and not new_left)
            ):
                raise self._error(
                    f"hunk {match[0]} (line {header_line}) expected {old_left} more old and {new_left} more "
                    f"new lines, found {_show(raw)}; the hunk header's line counts do not add up",
                    path=path,
                )
            if (kind in " -" and not old_end) or (kind in " +" and not new_end):
                raise self._error("'\\ No newline at end of file' is not at the end of the hunk", path=path)
            body.append(raw if raw[:1] == kind else " " + raw)
            old_left -= kind != "+"
            new_left -= kind != "-"
            self.index += 1
        return Hunk(old_start, old_count, new_start, new_count, tuple(body), old_end, new_end, header_line)

    def _check_modes(self, header: dict[str, str], path: str | None) -> None:
        modes = [
            header.get(key, "") for key in ("old mode", "new mode", "new file mode", "deleted file mode")
        ]
        modes.append(header.get("index", "").rpartition(" ")[2])
        for mode in modes:
            if mode in _UNSUPPORTED_MODES:
                raise self._error(f"{_UNSUPPORTED_MODES[mode]} cannot be patched, only text files", path=path)

    def _header_line(self) -> str:
        return self.lines[self.index].removesuffix("\r")

    def _error(self, message: str, *, path: str | None = None, line: int | None = None) -> InputError:
        where = f"diff line {line if line is not None else self.index + 1}"
        return InputError(f"{path}: {where}: {message}" if path else f"{where}: {message}", path=path)


def _first_index(hunk: Hunk) -> int:
    """0-based index of the hunk's first old line (for a pure insertion: of the line it goes before)."""
    return hunk.old_start - 1 if hunk.old_count else hunk.old_start


def _binary_name(line: str) -> str | None:
    match = re.match(r"Binary files (.*) and (.*) differ", line)
    if match is None:
        return None
    old, new = (None if name == "/dev/null" else name for name in match.groups())
    old, new = _strip_prefixes(old, new)
    return new or old


def _diff_name(field: str) -> str:
    """The file name of a ``---``/``+++`` line: quoted, or up to a tab (a timestamp or git's terminator)."""
    if field.startswith('"'):
        return _take_quoted(field)[0]
    if "\t" in field:
        return field.split("\t", 1)[0]
    return field.rstrip()


def _git_names(rest: str) -> tuple[str, str] | None:
    if rest.startswith('"'):
        old, remainder = _take_quoted(rest)
        remainder = remainder.lstrip(" ")
        new = _take_quoted(remainder)[0] if remainder.startswith('"') else remainder
        return old, new
    if ' "' in rest:
        old, quoted = rest.split(' "', 1)
        return old, _take_quoted('"' + quoted)[0]
    half = len(rest) // 2
    if len(rest) % 2 and rest[half] == " ":
        old, new = rest[:half], rest[half + 1 :]
        if old == new or old.split("/", 1)[-1] == new.split("/", 1)[-1]:
            return old, new
    if " b/" in rest:
        old, new = rest.split(" b/", 1)
        return old, "b/" + new
    if " " in rest:
        old, new = rest.split(" ", 1)
        return old, new
    return None


def _strip_prefixes(old: str | None, new: str | None) -> tuple[str | None, str | None]:
    """Strip git's ``a/`` and ``b/`` prefixes, but only when every present side has its own."""
    if (old is None or old.startswith("a/")) and (new is None or new.startswith("b/")):
        return (old[2:] if old else old), (new[2:] if new else new)
    return old, new


def _unquote(name: str | None) -> str | None:
    return _take_quoted(name)[0] if name and name.startswith('"') else name


def _take_quoted(text: str) -> tuple[str, str]:
    """Decode a C-style quoted name as git writes it; return it and the text after the closing quote."""
    data = bytearray()
    index = 1
    while index < len(text):
        char = text[index]
        if char == '"':
            return _decode_name(bytes(data)), text[index + 1 :]
        if char != "\\":
            data += char.encode("utf-8")
            index += 1
            continue
        escape = text[index + 1 : index + 2]
        if escape in _ESCAPES:
            data.append(_ESCAPES[escape])
            index += 2
        elif re.fullmatch(r"[0-7]{3}", text[index + 1 : index + 4]):
            data.append(int(text[index + 1 : index + 4], 8))
            index += 4
        else:
            raise InputError(f"bad escape in quoted file name {text!r}")
    raise InputError(f"unterminated quoted file name {text!r}")


def _decode_name(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"file name {data!r} is not valid UTF-8") from None
