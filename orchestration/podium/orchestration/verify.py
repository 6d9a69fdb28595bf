"""Gate checks outside a mission: a diff or the uncommitted changes of a directory, judged against it.

This is the core of `podium verify` and of the `verify` tool. The root is never written to: diffs are applied
to an in-memory copy of the touched files, and uncommitted changes are read through a throwaway git index.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from podium.orchestration.config import PodiumConfig
from podium.orchestration.git import head_commit, repository_root
from podium.orchestration.workspaces import Worktree, worktree_changes
from podium.verification.changes import ChangeSet
from podium.verification.edits import Edit, build_changeset
from podium.verification.errors import InputError
from podium.verification.gate import Gate, GatePolicy
from podium.verification.patch import apply_patches, parse_unified_diff
from podium.verification.paths import read_text_file
from podium.verification.verdict import Verdict


def gate_policy(config: PodiumConfig) -> GatePolicy:
    """The gate's own frozen policy, taken from the `[gate]` section."""
    return GatePolicy(python_compile=config.gate.python_compile, severity_threshold=config.gate.severity)


def build_gate(config: PodiumConfig) -> Gate:
    """A gate configured from `podium.toml`."""
    return Gate(gate_policy(config))


def verify_diff(root: Path, diff: str, config: PodiumConfig, gate: Gate | None = None) -> Verdict:
    """Apply a unified diff to a private copy of the touched files and judge it.

    Raises:
        InputError: the diff is malformed or does not apply, or touches an unsafe, binary or huge file.
    """
    changes = apply_patches(root, parse_unified_diff(diff), max_bytes=config.gate.max_file_bytes)
    return (gate or build_gate(config)).check(changes)


def verify_edits(
    root: Path, edits: Sequence[Edit], config: PodiumConfig, gate: Gate | None = None
) -> Verdict:
    """Judge edits (whole files, search/replace, diffs) against `root` without writing anything."""
    changes = build_changeset(root, edits, max_bytes=config.gate.max_file_bytes)
    return (gate or build_gate(config)).check(changes)


def verify_uncommitted(root: Path, config: PodiumConfig, gate: Gate | None = None) -> Verdict:
    """Judge a git working tree's uncommitted changes (untracked files included) against its HEAD.

    Raises:
        WorkspaceError: `root` is not a git repository or has no commits.
        InputError: there are no changes, or a changed file is unsafe, binary or too large.
    """
    top = repository_root(root)
    changes = worktree_changes(Worktree(path=top, base_commit=head_commit(top)))
    if not changes.files:
        raise InputError(f"{top}: no uncommitted changes to verify (pass --diff FILE to judge a diff)")
    screen_changes(top, changes, config.gate.max_file_bytes)
    return (gate or build_gate(config)).check(changes)


def screen_changes(root: Path, changes: ChangeSet, max_bytes: int) -> None:
    """Refuse a change set read from a working tree if a touched file is unsafe, binary or too large.

    Git hands back any bytes; the gate should only ever see text it can parse, so every present file is
    re-read through the same path and content rules that diffs and edits obey.
    """
    for change in changes.files:
        if change.after is not None:
            read_text_file(root, change.path, max_bytes)
