"""Which diagnostics sources exist, for which languages, and where their programs are found.

A ``SourceSpec`` describes one source: a language server (``kind="lsp"``) or a linter run once per state
(``kind="cli"``), the commands that may start it (the first one found wins: TypeScript 7's ``tsc --lsp``
before ``typescript-language-server``), the languages it checks and its time limits. The defaults are
data here; ``podium.toml`` overrides them per source and chooses the sources of each language.

Programs are looked for, in order: as given when the command names a path; in the extra directories
(``[gate] tool_dirs`` and ``$PODIUM_TOOL_PATH``); beside the running Python (the virtual environment's
``bin``, where ``ruff`` and ``basedpyright`` are installed with Podium); in the project's
``node_modules/.bin``; then on ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

SourceKind = Literal["lsp", "cli"]
DiagnosticsMode = Literal["auto", "pull", "push"]
OutputFormat = Literal["ruff", "pyright"]

DEFAULT_CHECK_TIMEOUT = 30.0
"""Seconds one check may take on a started server (a cold first analysis of a big file takes seconds)."""
DEFAULT_START_TIMEOUT = 30.0
"""Seconds a server may take to start and answer ``initialize``."""
DEFAULT_SETTLE = 0.4
"""Quiet seconds after which unversioned pushed diagnostics count as final (see ``LspClient``)."""
TOOL_PATH_ENV = "PODIUM_TOOL_PATH"
"""Environment variable with extra directories (``os.pathsep``-separated) to find programs in."""

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One diagnostics source as configured.

    Attributes:
        name: the name findings carry as their source ("ruff", "basedpyright", "tsserver" …).
        kind: "lsp" for a language server over stdio, "cli" for a linter command with JSON output.
        commands: candidate argv lists; the first whose program is found is used. A CLI command's
            arguments may contain ``{files}`` (replaced by the file paths) and ``{root}``.
        languages: names from ``podium.verification.languages`` whose files this source checks.
        timeout: seconds one check may take once the server runs (the whole run for a CLI source).
        start_timeout: seconds a server may take to start and initialize.
        diagnostics: "pull" (``textDocument/diagnostic``), "push" (``publishDiagnostics``) or "auto"
            (pull when the server offers it).
        settle: quiet seconds that make unversioned pushed diagnostics final.
        settings: answers to the server's ``workspace/configuration`` requests, by section.
        initialization_options: sent with ``initialize``.
        output_format: how a CLI source's JSON output reads ("ruff" or "pyright").
    """

    name: str
    kind: SourceKind
    commands: tuple[tuple[str, ...], ...]
    languages: tuple[str, ...]
    timeout: float = DEFAULT_CHECK_TIMEOUT
    start_timeout: float = DEFAULT_START_TIMEOUT
    diagnostics: DiagnosticsMode = "auto"
    settle: float = DEFAULT_SETTLE
    settings: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)
    initialization_options: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)
    output_format: OutputFormat = "ruff"


RUFF = SourceSpec("ruff", "lsp", (("ruff", "server"),), ("python",))
BASEDPYRIGHT = SourceSpec(
    # Pull diagnostics skip the ~250 ms delay basedpyright puts before pushing them.
    "basedpyright",
    "lsp",
    (("basedpyright-langserver", "--stdio"),),
    ("python",),
    diagnostics="pull",
)
TSSERVER = SourceSpec(
    "tsserver",
    "lsp",
    (("tsc", "--lsp", "--stdio"), ("typescript-language-server", "--stdio")),
    ("typescript", "tsx", "javascript"),
)
RUFF_CLI = SourceSpec(
    "ruff-cli",
    "cli",
    (("ruff", "check", "--output-format", "json", "--no-cache", "--exit-zero", "{files}"),),
    ("python",),
    output_format="ruff",
)
BASEDPYRIGHT_CLI = SourceSpec(
    "basedpyright-cli",
    "cli",
    (("basedpyright", "--outputjson", "{files}"),),
    ("python",),
    output_format="pyright",
)

DEFAULT_SOURCES: Mapping[str, SourceSpec] = MappingProxyType(
    {spec.name: spec for spec in (RUFF, BASEDPYRIGHT, TSSERVER, RUFF_CLI, BASEDPYRIGHT_CLI)}
)
"""Every source Podium knows without configuration, by name."""

DEFAULT_LANGUAGES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "python": ("ruff", "basedpyright"),
        "typescript": ("tsserver",),
        "tsx": ("tsserver",),
        "javascript": ("tsserver",),
    }
)
"""The sources that check each language by default (CLI sources are opt-in)."""


def search_dirs(root: Path, extra: Sequence[Path] = ()) -> tuple[Path, ...]:
    """Directories searched for programs before ``PATH``, in order (see the module docstring)."""
    env = [Path(p) for p in os.environ.get(TOOL_PATH_ENV, "").split(os.pathsep) if p]
    dirs = [*(d if d.is_absolute() else root / d for d in extra), *env]
    dirs.append(Path(sys.executable).parent)
    dirs.append(root / "node_modules" / ".bin")
    return tuple(dirs)


def find_program(name: str, dirs: Sequence[Path]) -> Path | None:
    """The executable ``name`` in ``dirs`` or on ``PATH``; a name with a slash is taken as a path."""
    if "/" in name or os.sep in name:
        path = Path(name)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    for directory in dirs:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def resolve_commands(spec: SourceSpec, dirs: Sequence[Path]) -> tuple[tuple[str, ...], ...]:
    """The spec's commands whose program exists, with the program made absolute, in order."""
    found: list[tuple[str, ...]] = []
    for command in spec.commands:
        program = find_program(command[0], dirs) if command else None
        if program is not None:
            found.append((str(program), *command[1:]))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class ActiveSource:
    """A source as it would run for a project: found (with its command) or not."""

    language: str
    name: str
    kind: SourceKind
    command: tuple[str, ...] | None
    looked_for: tuple[str, ...]

    @property
    def available(self) -> bool:
        return self.command is not None


def active_sources(
    root: Path,
    languages: Mapping[str, Sequence[str]],
    sources: Mapping[str, SourceSpec],
    extra_dirs: Sequence[Path] = (),
) -> tuple[ActiveSource, ...]:
    """Every (language, source) pair configured, with the command that would start it, if any."""
    dirs = search_dirs(root, extra_dirs)
    rows: list[ActiveSource] = []
    for language, names in languages.items():
        for name in names:
            spec = sources[name]
            commands = resolve_commands(spec, dirs)
            looked = tuple(command[0] for command in spec.commands if command)
            rows.append(ActiveSource(language, name, spec.kind, commands[0] if commands else None, looked))
    return tuple(rows)
