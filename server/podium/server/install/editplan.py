"""Deciding what an install or uninstall changes in one config file, before anything is written.

A plan is the file's bytes before and after, and one `Change` per key path. Install adds Podium's entries,
updates the ones it wrote earlier that are out of date, and removes ones it wrote that are no longer wanted
(an OpenCode upgrade from the V1 to the V2 shape). A key that exists with other content and is not Podium's
is a collision, and the whole plan is refused: Podium never overwrites a key it did not write.

A key is Podium's when the manifest says Podium wrote it and its value is unchanged since, or when its value
is already exactly what Podium would write.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from podium.server.install import jsonc
from podium.server.install.clientconfig import ClientFile, Entry
from podium.server.install.filewrite import read_bytes, real_path
from podium.server.install.manifest import FileRecord, bytes_sha256, value_sha256
from podium.verification.errors import ConfigError

__all__ = [
    "Change",
    "ConfigCollision",
    "InstallError",
    "MalformedConfig",
    "ManualEditRequired",
    "Plan",
    "plan_install",
    "plan_uninstall",
]

Action = Literal["add", "update", "keep", "remove", "leave"]


class InstallError(ConfigError):
    """An install or uninstall that cannot go ahead; nothing was written (or it was all rolled back).

    Its subclasses keep the ``config_error`` code: they are told apart by class, and by their message.
    """


class MalformedConfig(InstallError):
    """The config file is not JSON with comments (or its top level is not an object)."""


class ConfigCollision(InstallError):
    """A key Podium needs exists with content Podium did not write."""


class ManualEditRequired(InstallError):
    """An edit that cannot be made without losing something of the user's (a comment inside the value, a
    key that appears twice); the message says what to change by hand."""


@dataclass(frozen=True, slots=True)
class Change:
    """What happens to one key path: added, updated, kept (already right), removed, or left (not ours)."""

    path: tuple[str, ...]
    action: Action
    note: str = ""

    def describe(self) -> str:
        note = f" ({self.note})" if self.note else ""
        return f"{self.action} {'.'.join(self.path)}{note}"


@dataclass(frozen=True, slots=True)
class Plan:
    """The bytes of one config file before and after (``after`` None: delete it), and the record to keep.

    ``expect`` lists what the written file must hold for the read-back check: a key path and its value, or
    None for a key that must be gone.
    """

    file: ClientFile
    real: Path
    before: bytes | None
    after: bytes | None
    changes: tuple[Change, ...]
    record: FileRecord | None
    expect: tuple[tuple[tuple[str, ...], Any], ...] = ()

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        """A unified diff of the change (empty when there is none)."""
        name = str(self.file.path)
        before = (self.before or b"").decode("utf-8", errors="replace").splitlines(keepends=True)
        after = (self.after or b"").decode("utf-8", errors="replace").splitlines(keepends=True)
        lines = difflib.unified_diff(
            before,
            after,
            fromfile=name if self.before is not None else "/dev/null",
            tofile=name if self.after is not None else "/dev/null",
        )
        marker = "\n\\ No newline at end of file\n"
        return "".join(line if line.endswith("\n") else line + marker for line in lines)


@dataclass(frozen=True, slots=True)
class _Found:
    holder: jsonc.Node
    member: jsonc.Member | None
    missing: int


class _Refused(Exception):
    def __init__(self, kind: Literal["collision", "unsafe"], message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _dotted(path: Sequence[str]) -> str:
    return ".".join(path)


def _locate(root: jsonc.Node, path: tuple[str, ...]) -> _Found:
    """Where ``path`` is, or how much of it exists: ``missing`` is the index of the first absent key."""
    holder = root
    for index, key in enumerate(path):
        found = holder.member(key)
        if len(found) > 1:
            raise _Refused("unsafe", f"'{_dotted(path[: index + 1])}' appears {len(found)} times")
        if not found:
            return _Found(holder, None, index)
        member = found[0]
        if index == len(path) - 1:
            return _Found(holder, member, len(path))
        if member.value.kind != "object":
            raise _Refused("collision", f"'{_dotted(path[: index + 1])}' exists and is not an object")
        holder = member.value
    raise AssertionError("an empty key path")


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedConfig(f"{path}: not UTF-8 text (byte {exc.start}); left untouched") from None


def _parse(text: str, path: Path) -> jsonc.Document:
    try:
        doc = jsonc.parse(text)
    except jsonc.JsoncError as exc:
        raise MalformedConfig(f"{path}: {exc.message}; fix the file first, it was left untouched") from None
    if doc.root is not None and doc.root.kind != "object":
        raise MalformedConfig(f"{path}: the top level is not a JSON object; left untouched")
    return doc


def _nest(keys: Sequence[str], value: Any) -> Any:
    for key in reversed(keys):
        value = {key: value}
    return value


def _remove(doc: jsonc.Document, found: _Found, path: tuple[str, ...]) -> str:
    assert found.member is not None
    if doc.has_comment(found.member.start, found.member.value.end):
        raise _Refused("unsafe", f"'{_dotted(path)}' has comments inside it")
    return jsonc.remove_member(doc, found.holder, found.member)


def _manual(file: ClientFile, problems: list[str], verb: str) -> ManualEditRequired:
    import json

    wanted = {entry.dotted: entry.value for entry in file.entries}
    return ManualEditRequired(
        f"{file.path}: cannot {verb} safely: {'; '.join(problems)}. Nothing was written. Edit the file by "
        f"hand, or resolve the problem and run the command again. Podium's entries are:\n"
        + json.dumps(wanted, indent=2)
    )


def plan_install(file: ClientFile, record: FileRecord | None) -> Plan:
    """What installing ``file``'s entries changes.

    Raises:
        MalformedConfig: the file is not JSON with comments.
        ConfigCollision: a key Podium needs holds something Podium did not write (every such key is named).
        ManualEditRequired: an edit would lose a comment or pick between duplicate keys.
    """
    real = real_path(file.path)
    before = read_bytes(real)
    text = file.skeleton if before is None else _decode(before, file.path)
    doc = _parse(text, file.path)
    if doc.root is None:
        text += ("" if not text or text.endswith("\n") else "\n") + "{}\n"
        doc = _parse(text, file.path)
    wanted = {entry.path for entry in file.entries}
    containers = {path for path in (record.containers if record else ()) if path}
    changes: list[Change] = []
    problems: dict[str, list[str]] = {"collision": [], "unsafe": []}
    for path, sha in record.entries if record else ():
        if path in wanted:
            continue
        try:
            assert doc.root is not None
            found = _locate(doc.root, path)
            if found.member is not None and value_sha256(found.member.value.python) == sha:
                text = _remove(doc, found, path)
                doc = _parse(text, file.path)
                changes.append(Change(path, "remove", "no longer used"))
        except _Refused as refused:
            problems[refused.kind].append(refused.message)
    for entry in file.entries:
        try:
            assert doc.root is not None
            text, change, created = _install_entry(doc, entry, record)
        except _Refused as refused:
            problems[refused.kind].append(refused.message)
            continue
        containers.update(created)
        changes.append(change)
        doc = _parse(text, file.path)
    if problems["collision"]:
        raise ConfigCollision(
            f"{file.path}: {'; '.join(problems['collision'])}; Podium never overwrites what it did not "
            "write. Nothing was written: rename or remove that key (or undo your change to it), then run "
            "the command again."
        )
    if problems["unsafe"]:
        raise _manual(file, problems["unsafe"], "install")
    after = text.encode("utf-8")
    if after == before:
        return Plan(file, real, before, after, tuple(changes), record)
    return Plan(
        file,
        real,
        before,
        after,
        tuple(changes),
        _next_record(file, record, before, after, containers),
        tuple((entry.path, entry.value) for entry in file.entries),
    )


def _install_entry(
    doc: jsonc.Document, entry: Entry, record: FileRecord | None
) -> tuple[str, Change, list[tuple[str, ...]]]:
    assert doc.root is not None
    found = _locate(doc.root, entry.path)
    if found.member is None:
        rest = entry.path[found.missing + 1 :]
        text = jsonc.insert_member(doc, found.holder, entry.path[found.missing], _nest(rest, entry.value))
        created = [entry.path[: depth + 1] for depth in range(found.missing, len(entry.path) - 1)]
        return text, Change(entry.path, "add"), created
    current = found.member.value.python
    if current == entry.value:
        return doc.text, Change(entry.path, "keep"), []
    if record is not None and record.entry_hash(entry.path) == value_sha256(current):
        if doc.has_comment(found.member.value.start, found.member.value.end):
            raise _Refused("unsafe", f"'{entry.dotted}' has comments inside it")
        text = jsonc.replace_value(doc, found.holder, found.member, entry.value)
        return text, Change(entry.path, "update"), []
    if record is not None and record.entry_hash(entry.path) is not None:
        raise _Refused("collision", f"'{entry.dotted}' was changed since Podium wrote it")
    raise _Refused("collision", f"'{entry.dotted}' exists with other content")


def _next_record(
    file: ClientFile,
    record: FileRecord | None,
    before: bytes | None,
    after: bytes,
    containers: set[tuple[str, ...]],
) -> FileRecord:
    if record is None or before is None:
        created, original = before is None, None if before is None else before.decode("utf-8")
    elif bytes_sha256(before) == record.written_sha256:
        created, original = record.created, record.original
    else:
        # Changed by someone else since Podium wrote it: the old original would undo their change.
        created, original = False, None
    return FileRecord(
        target=file.target,
        shape=file.shape,
        entries=tuple((entry.path, value_sha256(entry.value)) for entry in file.entries),
        containers=tuple(sorted(containers)),
        created=created,
        original=original,
        written_sha256=bytes_sha256(after),
        created_dirs=record.created_dirs if record is not None else (),
    )


def plan_uninstall(file: ClientFile, record: FileRecord | None, known: Sequence[Entry]) -> Plan:
    """What removing Podium's entries from ``file`` changes.

    When the file is byte for byte what Podium last wrote, the plan restores it as it was before Podium
    (deleting it if Podium created it). Otherwise only Podium's unchanged keys go, with the commas around
    them, and the containers Podium created if they are left empty. ``known`` lists every entry Podium may
    have written here (all shapes and modes): a value equal to one of them counts as Podium's.

    Raises:
        MalformedConfig: the file is not JSON with comments (only when a surgical edit is needed).
        ManualEditRequired: one of Podium's entries has a comment inside it, or a key appears twice.
    """
    real = real_path(file.path)
    before = read_bytes(real)
    recorded = [path for path, _ in record.entries] if record is not None else []
    paths = list(dict.fromkeys([*recorded, *(entry.path for entry in known)]))
    if before is None:
        return Plan(file, real, None, None, (), None)
    exact = record is not None and bytes_sha256(before) == record.written_sha256
    if exact and record is not None and (record.created or record.original is not None):
        after = None if record.created else (record.original or "").encode("utf-8")
        removed = tuple(Change(path, "remove") for path, _ in record.entries)
        return Plan(file, real, before, after, removed, None)
    text = _decode(before, file.path)
    doc = _parse(text, file.path)
    changes: list[Change] = []
    problems: list[str] = []
    for path in paths:
        if doc.root is None:
            break
        try:
            found = _locate(doc.root, path)
        except _Refused as refused:
            problems.append(refused.message)
            continue
        if found.member is None:
            continue
        value = found.member.value.python
        ours = (record is not None and record.entry_hash(path) == value_sha256(value)) or any(
            entry.path == path and entry.value == value for entry in known
        )
        if not ours:
            changes.append(Change(path, "leave", "not as Podium wrote it"))
            continue
        try:
            text = _remove(doc, found, path)
        except _Refused as refused:
            problems.append(refused.message)
            continue
        doc = _parse(text, file.path)
        changes.append(Change(path, "remove"))
    if problems:
        raise _manual(file, problems, "uninstall")
    for container in sorted(record.containers if record else (), key=len, reverse=True):
        if doc.root is None:
            break
        try:
            found = _locate(doc.root, container)
        except _Refused:
            continue
        member = found.member
        if member is not None and member.value.kind == "object" and not member.value.members:
            text = _remove(doc, found, container)
            doc = _parse(text, file.path)
    after: bytes | None = text.encode("utf-8")
    skeleton = _parse(file.skeleton, file.path).root
    emptied = doc.root is not None and skeleton is not None and doc.root.python == skeleton.python
    if record is not None and record.created and emptied:
        after = None
    expect = tuple((change.path, None) for change in changes if change.action == "remove")
    return Plan(file, real, before, after, tuple(changes), None, expect if after is not None else ())
