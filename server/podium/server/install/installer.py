"""`podium install` / `podium uninstall`: plan, back up, write atomically, read back, roll back on failure.

For each config file: the plan (`editplan`) says what changes; ``--dry-run`` stops there and shows the diff.
Otherwise the current bytes are backed up, the new bytes written atomically, read back and checked (the bytes,
and every entry's value), and the manifest updated last. If anything fails after the first write, the file
is put back exactly as it was (or deleted if Podium created it) and the error says so.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from podium.server.install import jsonc
from podium.server.install.clientconfig import (
    OPENCODE_ENV,
    ClientFile,
    Entry,
    OpenCodeInstall,
    Scope,
    Shape,
    client_file,
    find_opencode,
    opencode_entries,
    shape_in_use,
)
from podium.server.install.definitions import TaskMode
from podium.server.install.editplan import InstallError, Plan, plan_install, plan_uninstall
from podium.server.install.filewrite import atomic_write, backup, read_bytes, real_path, remove_file
from podium.server.install.jsonc import as_object
from podium.server.install.manifest import MANIFEST_NAME, Manifest, state_dir

__all__ = ["InstallOptions", "Outcome", "apply_plan", "choose_shape", "install", "uninstall"]

ReadBack = Callable[[Path], bytes | None]


@dataclass(frozen=True, slots=True)
class InstallOptions:
    """What the command line asked for."""

    target: str
    scope: Scope
    root: Path
    podium: list[str]
    dry_run: bool = False
    shape: Shape | None = None
    opencode: Path | None = None
    task_mode: TaskMode = "client"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one config file: the plan, whether it was written, and the backup made."""

    plan: Plan
    written: bool
    backup: Path | None
    notes: tuple[str, ...] = ()


def _manifest_path(scope: Scope, root: Path, env: Mapping[str, str]) -> Path:
    return state_dir(scope, root, env) / MANIFEST_NAME


def choose_shape(requested: Shape | None, found: OpenCodeInstall | None, existing: Any) -> tuple[Shape, str]:
    """The OpenCode config shape to write and why (a sentence for stderr): ``--shape``, else the installed
    OpenCode's major version, else the shape the file already uses, else V1."""
    if requested is not None:
        return requested, f"--shape {requested}"
    if found is not None and found.major is not None:
        shape: Shape = "v1" if found.major < 2 else "v2"
        return shape, f"OpenCode {found.version} at {found.path}"
    if found is not None and found.path is not None:
        where = f"OpenCode at {found.path} did not report a version"
    else:
        looked = found.looked_in if found is not None else "PATH"
        where = f"no OpenCode found ({looked}; set ${OPENCODE_ENV} or pass --opencode)"
    in_use = shape_in_use(existing)
    if in_use is not None:
        return in_use, f"{where}; the file already uses the {in_use.upper()} shape"
    return "v1", f"{where}; writing the V1 shape (OpenCode 1.x), pass --shape v2 for OpenCode 2"


def _existing_config(path: Path) -> Any:
    data = read_bytes(path)
    if data is None:
        return None
    try:
        doc = jsonc.parse(data.decode("utf-8"))
    except (UnicodeDecodeError, jsonc.JsoncError):
        return None  # the plan reports it properly
    return doc.root.python if doc.root is not None else None


def _target_file(options: InstallOptions, env: Mapping[str, str]) -> tuple[ClientFile, list[str]]:
    notes: list[str] = []
    file = client_file(options.target, options.scope, options.root, env, podium=options.podium)
    if options.target == "opencode":
        found = None if options.shape is not None else find_opencode(options.opencode, env)
        shape, why = choose_shape(options.shape, found, _existing_config(file.path))
        notes.append(f"OpenCode config shape {shape.upper()}: {why}")
        file = client_file(
            "opencode",
            options.scope,
            options.root,
            env,
            podium=options.podium,
            shape=shape,
            task_mode=options.task_mode,
        )
    return file, notes


def install(
    options: InstallOptions, env: Mapping[str, str] = os.environ, read_back: ReadBack = read_bytes
) -> Outcome:
    """Install Podium's entries for ``options.target``.

    Raises:
        InstallError: a malformed file, a collision, an unsafe edit (nothing written), or a failed write
            (rolled back).
    """
    file, notes = _target_file(options, env)
    manifest = Manifest.load(_manifest_path(options.scope, options.root, env))
    plan = plan_install(file, manifest.files.get(str(real_path(file.path))))
    if options.dry_run or not plan.changed:
        return Outcome(plan, False, None, tuple(notes))
    if plan.before is None and plan.record is not None:
        missing = _missing_dirs(plan.real.parent)
        plan = replace(plan, record=replace(plan.record, created_dirs=tuple(str(d) for d in missing)))
    saved = apply_plan(plan, manifest, options, env, read_back=read_back)
    return Outcome(plan, True, saved, tuple(notes))


def uninstall(
    options: InstallOptions, env: Mapping[str, str] = os.environ, read_back: ReadBack = read_bytes
) -> Outcome:
    """Remove Podium's entries for ``options.target``; the exact original back if nobody else changed it."""
    file = client_file(options.target, options.scope, options.root, env, podium=options.podium)
    known: list[Entry] = list(file.entries)
    if options.target == "opencode":
        for shape in ("v1", "v2"):
            for mode in ("client", "server"):
                known.extend(opencode_entries(shape, options.podium, mode))
    manifest = Manifest.load(_manifest_path(options.scope, options.root, env))
    key = str(real_path(file.path))
    plan = plan_uninstall(file, manifest.files.get(key), known)
    notes = tuple(f"left {'.'.join(c.path)}: {c.note}" for c in plan.changes if c.action == "leave")
    if options.dry_run:
        return Outcome(plan, False, None, notes)
    if not plan.changed:
        if key in manifest.files:
            manifest.files.pop(key)
            _save_manifest(manifest, options.scope, options.root)
        return Outcome(plan, False, None, notes)
    saved = apply_plan(plan, manifest, options, env, read_back=read_back)
    return Outcome(plan, True, saved, notes)


def _missing_dirs(directory: Path) -> list[Path]:
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    return missing


def _prepare_state_dir(directory: Path, scope: Scope, root: Path) -> None:
    if scope == "project":
        from podium.orchestration.project import prepare_project

        prepare_project(root)  # creates .podium/ and keeps it out of git
    directory.mkdir(parents=True, exist_ok=True)


def _save_manifest(manifest: Manifest, scope: Scope, root: Path) -> None:
    if not manifest.files and not manifest.path.exists():
        return
    _prepare_state_dir(manifest.path.parent, scope, root)
    atomic_write(manifest.path, manifest.render())
    os.chmod(manifest.path, 0o600)  # it holds copies of config files, which may hold credentials


def apply_plan(
    plan: Plan,
    manifest: Manifest,
    options: InstallOptions,
    env: Mapping[str, str],
    *,
    read_back: ReadBack = read_bytes,
) -> Path | None:
    """Write ``plan`` with a backup, read it back, record it; on any failure restore the file and re-raise.

    Returns the backup's path (None when the file did not exist).
    """
    real = plan.real
    key = str(plan.real)
    saved = None
    if plan.before is not None:
        directory = state_dir(options.scope, options.root, env)
        _prepare_state_dir(directory, options.scope, options.root)
        saved = backup(directory / "backups", real, plan.before)
    previous = manifest.files.get(key)
    created_dirs = plan.record.created_dirs if plan.record is not None else ()
    try:
        if plan.after is None:
            remove_file(real)
            if read_back(real) is not None:
                raise InstallError(f"{real} is still there after deleting it")
            for directory in previous.created_dirs if previous is not None else ():
                _remove_empty_dir(Path(directory))
        else:
            real.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(real, plan.after)
            _check(plan, read_back(real))
        if plan.record is None:
            manifest.files.pop(key, None)
        else:
            manifest.files[key] = plan.record
        _save_manifest(manifest, options.scope, options.root)
    except BaseException as exc:
        _roll_back(plan, created_dirs)
        if previous is None:
            manifest.files.pop(key, None)
        else:
            manifest.files[key] = previous
        if isinstance(exc, InstallError | OSError):
            reason = exc.message if isinstance(exc, InstallError) else str(exc)
            raise InstallError(f"{plan.file.path}: {reason}; rolled back, the file is as it was") from exc
        raise
    return saved


def _check(plan: Plan, data: bytes | None) -> None:
    """The read-back check: the exact bytes, and each expected entry present (or absent) with its value."""
    if data is None or data != plan.after:
        raise InstallError(f"{plan.real} does not read back as written")
    doc = jsonc.parse(data.decode("utf-8"))
    for path, value in plan.expect:
        holder: Any = doc.root.python if doc.root is not None else {}
        for key in path:
            holder = (as_object(holder) or {}).get(key)
        if holder != value:
            raise InstallError(f"{plan.real}: '{'.'.join(path)}' does not read back as written")


def _roll_back(plan: Plan, created_dirs: tuple[str, ...]) -> None:
    try:
        if plan.before is None:
            if plan.real.exists():
                remove_file(plan.real)
            for directory in created_dirs:
                _remove_empty_dir(Path(directory))
        elif read_bytes(plan.real) != plan.before:
            atomic_write(plan.real, plan.before)
    except OSError as exc:
        print(f"podium: error: could not roll back {plan.real}: {exc}; restore its backup", file=sys.stderr)


def _remove_empty_dir(directory: Path) -> None:
    # not empty (someone else's files) or gone: either way it stays as the user has it
    with contextlib.suppress(OSError):
        directory.rmdir()
