"""The tools a model-driven worker may call, confined to its task's worktree.

`read_file`, `list_files`, `search`, `write_file`, `replace_in_file` and `verify`. Every path goes through
`safe_relative_path` (no absolute paths, no `..`, nothing in `.git`, no symlinks), and writes go through the
same edit machinery as submitted edits, so a tool call can do nothing an edit could not. A refused or failed
call returns a message starting with `error:` for the model to read; it never raises.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from podium.orchestration.agents.answers import as_mapping
from podium.orchestration.config import DEFAULT_CONFIG
from podium.orchestration.verify import gate_policy, verify_uncommitted
from podium.verification.edits import (
    DEFAULT_MAX_BYTES,
    Edit,
    SearchReplace,
    WholeFile,
    build_changeset,
    read_text_file,
    safe_relative_path,
    write_changeset,
)
from podium.verification.errors import InputError, PodiumError
from podium.verification.gate import Gate
from podium.verification.paths import decode_text
from podium.verification.verdict import Verdict, render_verdict

__all__ = ["MAX_OUTPUT_CHARS", "TOOL_DEFINITIONS", "WorkerTools", "WorktreeVerifier", "syntax_verifier"]

WorktreeVerifier = Callable[[Path], Awaitable[Verdict]]
"""Judges a worktree's uncommitted changes (the `verify` tool); raises `InputError` when there are none."""

MAX_OUTPUT_CHARS = 20_000
"""Longest tool result handed back to the model."""

MAX_LISTED = 500
"""Files listed by one `list_files` call."""

MAX_MATCHES = 100
"""Lines returned by one `search` call."""


async def syntax_verifier(worktree: Path) -> Verdict:
    """The default `verify`: the syntax gate (tree-sitter, Python's compiler) over uncommitted changes."""

    def check() -> Verdict:
        with Gate(gate_policy(DEFAULT_CONFIG)) as gate:
            return verify_uncommitted(worktree, DEFAULT_CONFIG, gate)

    return await anyio.to_thread.run_sync(check)


def _definition(
    name: str, description: str, properties: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    parameters = {"type": "object", "properties": properties, "required": required}
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


_PATH = {"type": "string", "description": "Path relative to the worktree root, with '/' separators."}
TOOL_DEFINITIONS: list[dict[str, Any]] = [
    _definition("read_file", "Read a text file of the worktree.", {"path": _PATH}, ["path"]),
    _definition(
        "list_files",
        "List the files under a directory of the worktree (the whole worktree by default).",
        {"path": {"type": "string", "description": "Directory relative to the root; '' for the root."}},
        [],
    ),
    _definition(
        "search",
        "Find lines containing a text (or matching a regular expression) in the worktree's files.",
        {"pattern": {"type": "string"}, "path": _PATH, "regex": {"type": "boolean"}},
        ["pattern"],
    ),
    _definition(
        "write_file",
        "Create a file, or replace all of its content.",
        {"path": _PATH, "content": {"type": "string"}},
        ["path", "content"],
    ),
    _definition(
        "replace_in_file",
        "Replace the one passage of a file equal to `search` (it must occur exactly once) with `replace`.",
        {"path": _PATH, "search": {"type": "string"}, "replace": {"type": "string"}},
        ["path", "search", "replace"],
    ),
    _definition(
        "verify",
        "Check your changes so far with Podium's verification gate; fix what it reports before finishing.",
        {},
        [],
    ),
]


class WorkerTools:
    """The worker tool set bound to one worktree."""

    def __init__(
        self,
        worktree: Path,
        verifier: WorktreeVerifier = syntax_verifier,
        *,
        max_output_chars: int = MAX_OUTPUT_CHARS,
        max_file_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self._root = worktree.resolve()
        self._verifier = verifier
        self._max_output = max_output_chars
        self._max_bytes = max_file_bytes
        self.written: set[str] = set()
        """Paths changed through `write_file` and `replace_in_file`."""

    async def call(self, name: str, arguments: str) -> str:
        """Run tool ``name`` with its JSON ``arguments``; the result (or an `error:` message) as text."""
        try:
            args = as_mapping(json.loads(arguments or "{}"), "arguments")
        except ValueError as exc:
            return f"error: the arguments of {name} are not a JSON object: {exc}"
        try:
            if name == "verify":
                return self._cut(render_verdict(await self._verifier(self._root)))
            handler = self._handlers().get(name)
            if handler is None:
                return f"error: unknown tool {name!r}; the tools are {', '.join(self._handlers())}, verify"
            return self._cut(await anyio.to_thread.run_sync(handler, args))
        except PodiumError as exc:
            return f"error: {exc.message}"
        except OSError as exc:
            return f"error: {exc.strerror or exc}"

    def _handlers(self) -> dict[str, Callable[[dict[str, object]], str]]:
        return {
            "read_file": self._read_file,
            "list_files": self._list_files,
            "search": self._search,
            "write_file": self._write_file,
            "replace_in_file": self._replace_in_file,
        }

    def _read_file(self, args: dict[str, object]) -> str:
        path = _arg(args, "path")
        text = read_text_file(self._root, path, self._max_bytes)
        if text is None:
            return f"error: {path}: no such file"
        return text

    def _list_files(self, args: dict[str, object]) -> str:
        files = list(self._files(_arg(args, "path", "")))
        shown = files[:MAX_LISTED]
        more = f"\n… and {len(files) - MAX_LISTED} more" if len(files) > MAX_LISTED else ""
        return ("\n".join(shown) or "(no files)") + more

    def _search(self, args: dict[str, object]) -> str:
        pattern = _arg(args, "pattern")
        regex = args.get("regex") is True
        try:
            matcher = re.compile(pattern if regex else re.escape(pattern))
        except re.error as exc:
            return f"error: invalid regular expression: {exc}"
        hits: list[str] = []
        for rel in self._files(_arg(args, "path", "")):
            target = self._root / rel
            if target.stat().st_size > self._max_bytes:
                continue
            try:
                text = decode_text(rel, target.read_bytes())
            except PodiumError:
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if matcher.search(line):
                    hits.append(f"{rel}:{number}: {line.strip()[:200]}")
                    if len(hits) >= MAX_MATCHES:
                        return "\n".join(hits) + f"\n… (stopped at {MAX_MATCHES} matches)"
        return "\n".join(hits) or "no matches"

    def _write_file(self, args: dict[str, object]) -> str:
        path, content = _arg(args, "path"), _arg(args, "content")
        return self._apply(WholeFile(path, content), f"wrote {path}")

    def _replace_in_file(self, args: dict[str, object]) -> str:
        path = _arg(args, "path")
        edit = SearchReplace(path, _arg(args, "search"), _arg(args, "replace"))
        return self._apply(edit, f"replaced one passage in {path}")

    def _apply(self, edit: Edit, done: str) -> str:
        changes = build_changeset(self._root, [edit], max_bytes=self._max_bytes)
        if not changes.files:
            return f"{done} (no change: the file already had that content)"
        write_changeset(self._root, changes)
        self.written.update(changes.paths)
        return done

    def _files(self, directory: str) -> Iterator[str]:
        """Regular files under ``directory`` (relative; '' is the root), sorted; .git and symlinks skipped."""
        base = self._root
        if directory.strip() not in ("", ".", "./"):
            base = self._root / safe_relative_path(self._root, directory)
            if not base.is_dir():
                raise InputError(f"{directory}: not a directory of the worktree", path=directory)
        found: list[str] = []
        for top, dirs, files in os.walk(base):
            dirs[:] = sorted(d for d in dirs if d != ".git" and not os.path.islink(os.path.join(top, d)))
            for name in files:
                if name == ".git":  # a linked worktree's pointer to its repository
                    continue
                full = Path(top, name)
                if not full.is_symlink() and full.is_file():
                    found.append(full.relative_to(self._root).as_posix())
        yield from sorted(found)

    def _cut(self, text: str) -> str:
        if len(text) <= self._max_output:
            return text
        return text[: self._max_output] + f"\n… ({len(text) - self._max_output} more characters not shown)"


def _arg(args: dict[str, object], name: str, default: str | None = None) -> str:
    value = args.get(name, default)
    if value is None:
        raise InputError(f"missing argument {name!r}")
    if not isinstance(value, str):
        raise InputError(f"argument {name!r} must be a string")
    return value
