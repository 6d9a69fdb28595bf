"""Writing a config file so that it is never half-written and can always be put back.

A write goes to a temporary file in the same directory, is flushed to disk (fsync), keeps the old file's
permissions, and replaces the old file with one ``rename`` (atomic on POSIX), after which the directory is
synced too. Before that, the old bytes are copied to a timestamped backup; the newest `KEEP_BACKUPS` per file
are kept. A symlinked config (dotfile managers) is written through: its target changes, the link stays.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "KEEP_BACKUPS",
    "atomic_write",
    "backup",
    "backups_of",
    "read_bytes",
    "real_path",
    "remove_file",
]

KEEP_BACKUPS = 5
_STAMP = "%Y%m%dT%H%M%SZ"


def real_path(path: Path) -> Path:
    """``path`` with symlinks resolved, so a linked config file is edited where it really lives."""
    return Path(os.path.realpath(path))


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_exclusive(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a new temporary file beside ``path`` and rename it over ``path``."""
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".podium-tmp", dir=path.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: Path, data: bytes) -> None:
    """Replace (or create) ``path`` with ``data`` atomically, keeping an existing file's permissions."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = _default_mode()
    _write_exclusive(path, data, mode)


def remove_file(path: Path) -> None:
    """Delete ``path`` (a file Podium created) and sync its directory."""
    path.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _counter(path: Path) -> int:
    match = re.search(r"Z-(\d+)\.bak$", path.name)
    return int(match.group(1)) if match else 0


def backups_of(directory: Path, name: str) -> list[Path]:
    """The backups of files called ``name`` in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    pattern = re.compile(rf"{re.escape(name)}\.(\d{{8}}T\d{{6}}Z)(?:-(\d+))?\.bak")
    found: list[tuple[str, int, Path]] = []
    for path in directory.iterdir():
        match = pattern.fullmatch(path.name)
        if match:
            found.append((match.group(1), int(match.group(2) or 0), path))
    return [path for _, _, path in sorted(found)]


def backup(directory: Path, source: Path, data: bytes, *, now: datetime | None = None) -> Path:
    """Save ``data`` (the current bytes of ``source``) as ``<name>.<UTC time>[-<n>].bak`` in ``directory``,
    then delete all but the newest `KEEP_BACKUPS` backups of that name."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime(_STAMP)
    # Within one second, count on from the newest backup of that second (never reuse a pruned name).
    same_second = [_counter(path) for path in backups_of(directory, source.name) if stamp in path.name]
    counter = max(same_second) + 1 if same_second else 0
    suffix = stamp if counter == 0 else f"{stamp}-{counter}"
    target = directory / f"{source.name}.{suffix}.bak"
    mode = stat.S_IMODE(source.stat().st_mode) if source.exists() else 0o600
    _write_exclusive(target, data, mode)
    for old in backups_of(directory, source.name)[:-KEEP_BACKUPS]:
        old.unlink(missing_ok=True)
    return target
