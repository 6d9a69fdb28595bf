"""`podium verify --batch`: judge many diffs with one long-lived gate, one JSON line in, one JSON line out.

Each input line is an object ``{"root": DIR, "diff": "<unified diff>"}`` (or ``"diff_file": PATH`` instead
of ``"diff"``; ``"root"`` defaults to ``--root``; an optional ``"id"`` is echoed back). Each output line is
the verdict as ``podium verify --json`` prints it, plus ``"elapsed_ms"`` (the wall time of that line: diff
applied, every source run, verdict judged) and the ``"id"``; a line that cannot be judged (bad JSON, a
missing root, a diff that does not apply) gets ``{"error": {"code": ..., "message": ...}, "line": N}`` and
the batch goes on. At end of input every language server is stopped and the exit status is 0.

Why a batch: a `podium verify` process starts its language servers, lets them analyse the project, judges
one diff and stops them, which costs seconds. Here the gate of each root (its servers and its cache of base
results) lives across lines, as in a mission: the second diff against a root is judged by warm servers.
At most ``MAX_WARM_ROOTS`` roots keep their servers; the least recently used one is stopped beyond that.
"""

from __future__ import annotations

import json
import sys
import time
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from podium.orchestration.config import PodiumConfig, load_config
from podium.orchestration.verify import build_gate, verify_diff
from podium.verification.errors import InputError, PodiumError
from podium.verification.gate import Gate

MAX_WARM_ROOTS = 3
"""Roots whose gates (and language servers) stay running at once; basedpyright alone takes ~300 MB each."""


class _Gates:
    """The warm gate of each root, least recently used first, with its configuration."""

    def __init__(self, config_file: Path | None, limit: int = MAX_WARM_ROOTS) -> None:
        self._config_file = config_file
        self._limit = limit
        self._open: OrderedDict[Path, tuple[PodiumConfig, Gate]] = OrderedDict()

    def get(self, root: Path) -> tuple[PodiumConfig, Gate]:
        found = self._open.get(root)
        if found is not None:
            self._open.move_to_end(root)
            return found
        config = load_config(root, self._config_file)
        entry = (config, build_gate(config, root))
        self._open[root] = entry
        while len(self._open) > self._limit:
            _, (_, oldest) = self._open.popitem(last=False)
            oldest.close()
        return entry

    def close(self) -> None:
        while self._open:
            _, (_, gate) = self._open.popitem(last=False)
            gate.close()


def run_batch(
    lines: Iterable[str], out: IO[str], *, default_root: Path | None, config_file: Path | None
) -> int:
    """Judge every request line of ``lines``, writing one result line each to ``out``; returns 0."""
    gates = _Gates(config_file)
    try:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            out.write(json.dumps(_answer(line, number, gates, default_root)) + "\n")
            out.flush()
    finally:
        gates.close()
    return 0


def _answer(line: str, number: int, gates: _Gates, default_root: Path | None) -> dict[str, Any]:
    started = time.perf_counter()
    request: object = None
    try:
        request = json.loads(line)
        root, diff = _parse(request, default_root)
        config, gate = gates.get(root)
        verdict = verify_diff(root, diff, config, gate).to_dict()
    except json.JSONDecodeError as exc:
        return _error("invalid_json", f"line {number} is not JSON: {exc.msg}", number, request)
    except PodiumError as exc:
        return _error(exc.code, exc.message, number, request)
    verdict["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 3)
    if isinstance(request, dict) and "id" in request:
        verdict["id"] = request["id"]
    return verdict


def _parse(request: object, default_root: Path | None) -> tuple[Path, str]:
    """The request's root (an existing directory, resolved) and diff text.

    Raises:
        InputError: the line is not an object, or names no root or diff, or a diff file that cannot be read.
    """
    if not isinstance(request, dict):
        raise InputError('each line must be a JSON object {"root": DIR, "diff": TEXT}')
    fields: dict[str, Any] = request  # pyright: ignore[reportUnknownVariableType]
    root_field = fields.get("root")
    if root_field is None and default_root is None:
        raise InputError('no "root" in the line and no --root given')
    root = Path(root_field) if isinstance(root_field, str) else default_root
    if root is None or not root.is_dir():
        raise InputError(f'"root" {root_field!r}: not a directory')
    diff = fields.get("diff")
    diff_file = fields.get("diff_file")
    if isinstance(diff, str) == isinstance(diff_file, str):
        raise InputError('give exactly one of "diff" (text) and "diff_file" (a path)')
    if isinstance(diff_file, str):
        try:
            diff = Path(diff_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read diff_file {diff_file}: {exc}", path=diff_file) from None
    assert isinstance(diff, str)
    return root.resolve(), diff


def _error(code: str, message: str, number: int, request: object) -> dict[str, Any]:
    answer: dict[str, Any] = {"error": {"code": code, "message": message}, "line": number}
    if isinstance(request, dict) and "id" in request:
        answer["id"] = request["id"]
    return answer


def main_batch(default_root: Path | None, config_file: Path | None) -> int:
    """`podium verify --batch`: requests from stdin, results to stdout (see the module docstring)."""
    return run_batch(sys.stdin, sys.stdout, default_root=default_root, config_file=config_file)
