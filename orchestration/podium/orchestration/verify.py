"""Gate checks outside a mission: a diff or the uncommitted changes of a directory, judged against it.

This is the core of `podium verify` and of the `verify` tool. The root is never written to: diffs are applied
to an in-memory copy of the touched files, and uncommitted changes are read through a throwaway git index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from types import MappingProxyType

from podium.orchestration.config import PodiumConfig, SourceConfig
from podium.orchestration.git import head_commit, repository_root
from podium.orchestration.workspaces import Worktree, worktree_changes
from podium.verification.catalog import DEFAULT_SOURCES, SourceSpec
from podium.verification.changes import ChangeSet
from podium.verification.clisource import CliSource
from podium.verification.edits import Edit, build_changeset
from podium.verification.errors import InputError
from podium.verification.gate import Gate, GatePolicy, blocks
from podium.verification.lsppool import LspPool
from podium.verification.lspsource import LspSource
from podium.verification.patch import apply_patches, parse_unified_diff
from podium.verification.paths import read_text_file
from podium.verification.sources import DiagnosticSource
from podium.verification.verdict import Verdict


def gate_policy(config: PodiumConfig) -> GatePolicy:
    """The gate's own frozen policy, taken from the `[gate]` section."""
    gate = config.gate
    return GatePolicy(
        python_compile=gate.python_compile,
        severity_threshold=gate.severity,
        allow_rules=tuple(gate.allow_rules),
        deny_rules=tuple(gate.deny_rules),
        on_source_failure=gate.on_source_failure,
        require_attribution=gate.require_attribution,
        blocking_rules=tuple((source, tuple(rules)) for source, rules in gate.blocking_rules.items()),
        inferred_types_block=gate.inferred_types_block,
    )


def source_specs(config: PodiumConfig) -> dict[str, SourceSpec]:
    """Every diagnostics source a language uses, built in or configured, with its languages filled in."""
    languages: dict[str, list[str]] = {}
    for language, names in config.gate.languages.items():
        for name in names:
            languages.setdefault(name, []).append(language)
    return {
        name: replace(_spec(name, config.gate.sources.get(name)), languages=tuple(langs))
        for name, langs in languages.items()
    }


def language_sources(config: PodiumConfig) -> dict[str, tuple[str, ...]]:
    """The diagnostics sources of each language, by name, as configured."""
    return {language: tuple(names) for language, names in config.gate.languages.items() if names}


def tool_dirs(config: PodiumConfig, root: Path) -> tuple[Path, ...]:
    """Extra directories to find programs in: `[gate] tool_dirs`, relative to the project root."""
    return tuple(root / d for d in config.gate.tool_dirs)


def build_gate(config: PodiumConfig, root: Path | None = None, *, pool: LspPool | None = None) -> Gate:
    """A gate configured from `podium.toml`; use it as a context manager, or `close()` it.

    Diagnostics sources need the project `root` (their servers run there, so imports resolve); without
    it, or with `[gate] diagnostics = false`, the gate runs the syntax check only. Language servers live
    in `pool` when given (shared, left running), else in a pool the gate owns and stops on close.
    """
    policy = gate_policy(config)
    if root is None or not config.gate.diagnostics:
        return Gate(policy)
    root = root.resolve()
    owned = pool is None
    pool = pool or LspPool()
    dirs = tool_dirs(config, root)
    sources: list[DiagnosticSource] = []
    for spec in source_specs(config).values():
        if spec.kind == "cli":
            sources.append(CliSource(spec, root, dirs))
        else:
            sources.append(LspSource(spec, root, pool, dirs, blocking=partial(blocks, policy)))
    return Gate(policy, sources, resources=[pool] if owned else [])


def verify_diff(root: Path, diff: str, config: PodiumConfig, gate: Gate | None = None) -> Verdict:
    """Apply a unified diff to a private copy of the touched files and judge it.

    Raises:
        InputError: the diff is malformed or does not apply, or touches an unsafe, binary or huge file.
    """
    changes = apply_patches(root, parse_unified_diff(diff), max_bytes=config.gate.max_file_bytes)
    return _judge(changes, root, config, gate)


def verify_edits(
    root: Path, edits: Sequence[Edit], config: PodiumConfig, gate: Gate | None = None
) -> Verdict:
    """Judge edits (whole files, search/replace, diffs) against `root` without writing anything."""
    changes = build_changeset(root, edits, max_bytes=config.gate.max_file_bytes)
    return _judge(changes, root, config, gate)


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
    return _judge(changes, top, config, gate)


def screen_changes(root: Path, changes: ChangeSet, max_bytes: int) -> None:
    """Refuse a change set read from a working tree if a touched file is unsafe, binary or too large.

    Git hands back any bytes; the gate should only ever see text it can parse, so every present file is
    re-read through the same path and content rules that diffs and edits obey.
    """
    for change in changes.files:
        if change.after is not None:
            read_text_file(root, change.path, max_bytes)


def _judge(changes: ChangeSet, root: Path, config: PodiumConfig, gate: Gate | None) -> Verdict:
    if gate is not None:
        return gate.check(changes)
    # A gate made for one check: its language servers stop before we return.
    with build_gate(config, root) as own:
        return own.check(changes)


def _spec(name: str, override: SourceConfig | None) -> SourceSpec:
    base = DEFAULT_SOURCES.get(name) or SourceSpec(name, "lsp", (), ())
    if override is None:
        return base
    o = override
    return replace(
        base,
        kind=o.kind or base.kind,
        commands=tuple(tuple(c) for c in o.commands) if o.commands is not None else base.commands,
        timeout=_pick(o.timeout, base.timeout),
        start_timeout=_pick(o.start_timeout, base.start_timeout),
        diagnostics=o.diagnostics or base.diagnostics,
        settle=_pick(o.settle, base.settle),
        settings=MappingProxyType(o.settings) if o.settings is not None else base.settings,
        initialization_options=(
            MappingProxyType(o.initialization_options)
            if o.initialization_options is not None
            else base.initialization_options
        ),
        output_format=o.output_format or base.output_format,
    )


def _pick(value: float | None, default: float) -> float:
    return default if value is None else value
