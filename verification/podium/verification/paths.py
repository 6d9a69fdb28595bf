"""Path safety and text-file reading under a root directory.

Every path that comes from a user or an agent goes through :func:`safe_relative_path` before it touches the
file system. The rules, chosen so that an edit can never reach outside its root or behind git's back:

* the path is relative, uses ``/`` as separator, has no ``..`` component and no NUL byte;
* no component is ``.git`` (writing there could install hooks, i.e. run code);
* no existing component is a symlink. A symlink pointing outside the root is an escape; one pointing inside
  the root is refused too, because it gives one file two names (two edits could disagree about it) and git
  tracks the link, not its target. The error names the target so the caller can edit that path instead.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path, PurePosixPath

from podium.verification.errors import InputError

DEFAULT_MAX_BYTES = 2_000_000
"""Largest file, in bytes, that an edit may read or produce."""

BINARY_SNIFF_BYTES = 8192
"""A NUL byte within this many leading bytes marks a file as binary (git's rule)."""


def safe_relative_path(root: Path, path: str) -> str:
    """Normalise ``path`` to a POSIX path relative to ``root``, refusing anything that could escape it.

    Args:
        root: The directory edits are confined to; it must exist.
        path: The path as given by the user or agent.

    Returns:
        The normalised relative path, e.g. ``"src/app.py"`` for ``"./src//app.py"``.

    Raises:
        InputError: The path is empty, absolute, contains ``..`` or ``.git``, or goes through a symlink.
    """
    rel = _lexical_path(path)
    base = _resolved_root(root)
    current = base
    parts = rel.split("/")
    for index, part in enumerate(parts):
        current = current / part
        try:
            info = current.lstat()
        except FileNotFoundError:
            break
        except NotADirectoryError:
            # The parent is a file: there is nothing below it to escape through.
            break
        if stat.S_ISLNK(info.st_mode):
            _refuse_symlink(base, current, path, rest=parts[index + 1 :])
    return rel


def read_text_file(root: Path, rel: str, max_bytes: int = DEFAULT_MAX_BYTES) -> str | None:
    """Read a UTF-8 text file under ``root``, or ``None`` if it does not exist.

    The text is returned exactly as stored: line endings are not translated.

    Raises:
        InputError: The path is unsafe, names a directory, or the file is binary or larger than ``max_bytes``.
    """
    rel = safe_relative_path(root, rel)
    target = _resolved_root(root) / rel
    try:
        info = target.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{rel}: is a directory, not a file", path=rel)
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{rel}: is not a regular file", path=rel)
    if info.st_size > max_bytes:
        raise InputError(_too_large(rel, info.st_size, max_bytes), path=rel)
    with target.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError(_too_large(rel, len(data), max_bytes), path=rel)
    return decode_text(rel, data)


def decode_text(rel: str, data: bytes) -> str:
    """Decode file bytes as UTF-8 text, refusing binary content.

    Raises:
        InputError: A NUL byte in the first 8 KB, or the bytes are not valid UTF-8.
    """
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        raise InputError(f"{rel}: binary file (contains a NUL byte); only text files can be edited", path=rel)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{rel}: binary file (not valid UTF-8 at byte {exc.start}); only text files can be edited",
            path=rel,
        ) from None


def encode_text(rel: str, text: str, max_bytes: int) -> bytes:
    """Encode text that is about to become a file's content, with the same checks as reading.

    Raises:
        InputError: The text contains a NUL character or encodes to more than ``max_bytes``.
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(f"{rel}: new content is not encodable as UTF-8 ({exc.reason})", path=rel) from None
    if b"\0" in data:
        raise InputError(f"{rel}: new content contains a NUL byte (binary); only text is allowed", path=rel)
    if len(data) > max_bytes:
        raise InputError(_too_large(rel, len(data), max_bytes, new=True), path=rel)
    return data


def _lexical_path(path: str) -> str:
    if not path or not path.strip():
        raise InputError("empty path", path=path)
    if "\0" in path:
        raise InputError(f"{path!r}: path contains a NUL byte", path=path)
    if "\\" in path:
        raise InputError(f"{path}: path contains '\\'; use '/' as the separator", path=path)
    if path.startswith("/") or re.match(r"[A-Za-z]:(/|$)", path):
        raise InputError(
            f"{path}: absolute paths are not allowed; give a path relative to the root", path=path
        )
    parts = [part for part in PurePosixPath(path).parts if part != "."]
    if not parts:
        raise InputError(f"{path}: path names the root itself, not a file", path=path)
    if ".." in parts:
        depth = 0
        for part in parts:
            depth += -1 if part == ".." else 1
            if depth < 0:
                raise InputError(
                    f"{path}: path escapes the root ('..' components are not allowed)", path=path
                )
        raise InputError(f"{path}: '..' components are not allowed; give the normalised path", path=path)
    if any(part.lower() == ".git" for part in parts):
        raise InputError(f"{path}: paths inside .git are not allowed", path=path)
    return "/".join(parts)


def _resolved_root(root: Path) -> Path:
    resolved = root.resolve()
    if not resolved.is_dir():
        raise InputError(f"root {root} is not a directory", path=str(root))
    return resolved


def _refuse_symlink(base: Path, link: Path, path: str, *, rest: list[str]) -> None:
    target = Path(os.path.realpath(link))
    what = f"goes through the symlink {link.relative_to(base).as_posix()}" if rest else "is a symlink"
    if not target.is_relative_to(base):
        raise InputError(f"{path}: path escapes the root ({what} pointing outside it)", path=path)
    instead = "/".join([target.relative_to(base).as_posix(), *rest]).removeprefix("./")
    raise InputError(
        f"{path}: {what} inside the root; symlinks are not followed, edit {instead!r} instead",
        path=path,
    )


def _too_large(rel: str, size: int, max_bytes: int, *, new: bool = False) -> str:
    what = "new content is" if new else "file is"
    return f"{rel}: {what} {size} bytes, over the limit of {max_bytes} bytes"
