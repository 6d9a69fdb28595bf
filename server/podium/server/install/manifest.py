"""What Podium wrote into each client config file, so that it only ever changes or removes its own keys.

The manifest is a JSON state file: ``<project>/.podium/install.json`` for project scope,
``$XDG_STATE_HOME/podium/install.json`` for global scope. Per config file it records the key paths Podium
wrote with the sha256 of each value, the containers (``mcp``, ``command`` …) it had to create, the sha256 of
the bytes it last wrote, and the file as it was before Podium first touched it, so that an uninstall of an
untouched file restores it byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podium.server.install.jsonc import as_object
from podium.verification.errors import InputError

__all__ = [
    "MANIFEST_NAME",
    "FileRecord",
    "Manifest",
    "bytes_sha256",
    "state_dir",
    "value_sha256",
]

MANIFEST_NAME = "install.json"
FORMAT_VERSION = 1


def value_sha256(value: Any) -> str:
    """A hash of a JSON value that ignores layout and key order, so reformatting the file does not matter."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def state_dir(scope: str, root: Path, env: Mapping[str, str]) -> Path:
    """Where the manifest and backups of ``scope`` live."""
    if scope == "project":
        return root / ".podium"
    state_home = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(state_home) / "podium"


@dataclass(frozen=True, slots=True)
class FileRecord:
    """Podium's record of one config file.

    Attributes:
        target: the client (``opencode``, ``claude``, ``vscode``).
        entries: dotted-free key paths (lists of keys) → sha256 of the value Podium wrote there.
        containers: key paths of objects Podium created to hold its entries (removed again when empty).
        created: Podium created the file (an exact uninstall deletes it).
        original: the file's text before Podium first changed it; ``None`` when it did not exist or when the
            user changed the file after Podium wrote it (then only a surgical uninstall is possible).
        written_sha256: sha256 of the bytes Podium last wrote.
        created_dirs: directories Podium created for the file (removed again when empty).
    """

    target: str
    entries: tuple[tuple[tuple[str, ...], str], ...]
    containers: tuple[tuple[str, ...], ...]
    created: bool
    original: str | None
    written_sha256: str
    created_dirs: tuple[str, ...] = ()
    shape: str | None = None

    def entry_hash(self, path: tuple[str, ...]) -> str | None:
        return next((sha for key, sha in self.entries if key == path), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "shape": self.shape,
            "entries": [{"path": list(path), "sha256": sha} for path, sha in self.entries],
            "containers": [list(path) for path in self.containers],
            "created": self.created,
            "original": self.original,
            "written_sha256": self.written_sha256,
            "created_dirs": list(self.created_dirs),
        }

    @staticmethod
    def from_json(data: Any) -> FileRecord:
        record = as_object(data)
        if record is None:
            raise ValueError("a file record is not an object")
        return FileRecord(
            target=str(record["target"]),
            shape=record.get("shape"),
            entries=tuple((tuple(item["path"]), str(item["sha256"])) for item in record["entries"]),
            containers=tuple(tuple(path) for path in record.get("containers", [])),
            created=bool(record["created"]),
            original=record.get("original"),
            written_sha256=str(record["written_sha256"]),
            created_dirs=tuple(record.get("created_dirs", [])),
        )


@dataclass(slots=True)
class Manifest:
    """The state file of one scope: a record per config file, keyed by its absolute path."""

    path: Path
    files: dict[str, FileRecord] = field(default_factory=dict[str, FileRecord])

    @staticmethod
    def load(path: Path) -> Manifest:
        """Read the manifest at ``path`` (empty when there is none).

        Raises:
            InputError: the file exists but is not a manifest Podium wrote.
        """
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Manifest(path)
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}", path=str(path)) from None
        try:
            data: Any = json.loads(raw)
            files = {str(key): FileRecord.from_json(value) for key, value in data["files"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(
                f"{path} is damaged ({exc}); move it away to start over (Podium then treats entries equal to "
                "its own as its own)",
                path=str(path),
            ) from None
        return Manifest(path, files)

    def render(self) -> bytes:
        data = {
            "version": FORMAT_VERSION,
            "files": {key: record.to_json() for key, record in sorted(self.files.items())},
        }
        return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
