"""A linter command as a diagnostics source, for tools without a language server.

The command is an argv list, never a shell line. ``{files}`` in it becomes the checked files' paths and
``{root}`` the project root. The touched files are written to a temporary directory, once with their base
texts and once with their edited texts (keeping their relative paths, so imports between them resolve),
and the command runs on each copy, concurrently, with the project root as working directory. Output is
read as JSON in one of the known formats (``OUTPUT_FORMATS``). Base results are cached like a language
server's.

Files outside the change set are not copied: a tool that must resolve imports against the project needs
its own setting for that (``basedpyright -p {root}`` reads the project's configuration).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from podium.verification.catalog import SourceSpec, resolve_commands, search_dirs
from podium.verification.changes import ChangeSet
from podium.verification.diagnostics import BaseCache, Diagnostic, rule_code, to_findings
from podium.verification.findings import Severity
from podium.verification.languages import language_for_path
from podium.verification.lspclient import as_object, objects
from podium.verification.sources import FileFindings, SourceReport

STDERR_TAIL = 400
"""Characters of a failed command's stderr quoted in the failure."""

_Parsed = dict[str, list[Diagnostic]]


@dataclass(slots=True)
class CliSource:
    """Diagnostics of one linter command (``spec.kind == "cli"``) for the files of its languages."""

    spec: SourceSpec
    root: Path
    tool_dirs: Sequence[Path] = ()
    _cache: BaseCache = field(default_factory=BaseCache)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def deadline(self) -> float:
        return self.spec.timeout

    def handles(self, path: str) -> bool:
        language = language_for_path(path)
        return language is not None and language.name in self.spec.languages

    async def diagnose(self, changes: ChangeSet) -> SourceReport:
        """Run the command over the base and the edited copies of the touched files."""
        files = [c for c in changes.files if self.handles(c.path) and c.after is not None]
        if not files:
            return SourceReport()
        commands = resolve_commands(self.spec, search_dirs(self.root, self.tool_dirs))
        if not commands:
            looked = ", ".join(command[0] for command in self.spec.commands if command)
            return SourceReport(notes=(f"{self.name}: unavailable ({looked} not found)",))
        before_texts = {
            c.path: c.before
            for c in files
            if c.before is not None and self._cache.get(c.path, c.before) is None
        }
        after_texts = {c.path: c.after for c in files if c.after is not None}
        scratch = Path(await anyio.to_thread.run_sync(tempfile.mkdtemp, None, "podium-lint-"))
        results: dict[str, _Parsed] = {}
        failures: list[str] = []

        async def run(state: str, texts: Mapping[str, str]) -> None:
            try:
                results[state] = await self._run(commands[0], scratch / state, texts)
            except _CommandFailed as exc:
                failures.append(str(exc))

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(run, "after", after_texts)
                if before_texts:
                    tg.start_soon(run, "before", before_texts)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(shutil.rmtree, scratch, True)
        if failures:
            return SourceReport(failure=f"{self.name}: {failures[0]}")
        report: list[FileFindings] = []
        for change in files:
            assert change.after is not None
            before = ()
            if change.before is not None:
                cached = self._cache.get(change.path, change.before)
                if cached is None:
                    found = results["before"].get(change.path, [])
                    cached = to_findings(self.name, change.path, change.before, found, self._units())
                    self._cache.put(change.path, change.before, cached)
                before = cached
            after = to_findings(
                self.name, change.path, change.after, results["after"].get(change.path, []), self._units()
            )
            report.append(FileFindings(change.path, before, after))
        return SourceReport(tuple(report))

    def _units(self) -> str:
        return "utf-32" if self.spec.output_format == "ruff" else "utf-16"

    async def _run(self, command: Sequence[str], directory: Path, texts: Mapping[str, str]) -> _Parsed:
        paths = await anyio.to_thread.run_sync(_write_copies, directory, dict(texts))
        argv: list[str] = []
        for arg in command:
            if arg == "{files}":
                argv.extend(str(p) for p in paths.values())
            else:
                argv.append(arg.replace("{root}", str(self.root)))
        done = await anyio.run_process(argv, cwd=self.root, check=False)
        try:
            output: Any = json.loads(done.stdout or b"null")
        except ValueError:
            output = None
        parser = OUTPUT_FORMATS[self.spec.output_format]
        if output is None or done.returncode not in _OK_STATUSES[self.spec.output_format]:
            tail = done.stderr.decode("utf-8", "replace").strip()[-STDERR_TAIL:]
            problem = tail or "no JSON output"
            raise _CommandFailed(f"{argv[0]} exited with status {done.returncode}: {problem}")
        by_file = {str(path): rel for rel, path in paths.items()}
        parsed: _Parsed = {}
        for filename, diagnostic in parser(output):
            rel = by_file.get(filename) or by_file.get(str(_resolved(filename)))
            if rel is not None:
                parsed.setdefault(rel, []).append(diagnostic)
        return parsed


class _CommandFailed(Exception):
    pass


def _resolved(filename: str) -> Path:
    return Path(filename).resolve()


def _write_copies(directory: Path, texts: dict[str, str]) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    for rel, text in texts.items():
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        paths[rel] = target.resolve()
    return paths


def parse_ruff(output: Any) -> list[tuple[str, Diagnostic]]:
    """``ruff check --output-format json``: 1-based rows, code-point columns; no severity of its own.

    A syntax error (no code) is an error; rule violations are warnings, as ``ruff server`` mostly reports
    them, so that the policy's rule lists decide which rules block.
    """
    found: list[tuple[str, Diagnostic]] = []
    for item in objects(output):
        start = as_object(item.get("location"))
        end = as_object(item.get("end_location")) or start
        code = item.get("code")
        severity: Severity = "error" if not code else "warning"
        diagnostic = Diagnostic(
            int(start.get("row", 1)) - 1,
            int(start.get("column", 1)) - 1,
            int(end.get("row", 1)) - 1,
            int(end.get("column", 1)) - 1,
            severity,
            rule_code(code) if code else "syntax-error",
            str(item.get("message", "")),
        )
        found.append((str(item.get("filename", "")), diagnostic))
    return found


def parse_pyright(output: Any) -> list[tuple[str, Diagnostic]]:
    """``pyright``/``basedpyright --outputjson``: 0-based lines, UTF-16 characters."""
    severities: Mapping[str, Severity] = {"error": "error", "warning": "warning", "information": "info"}
    found: list[tuple[str, Diagnostic]] = []
    for item in objects(as_object(output).get("generalDiagnostics")):
        rng = as_object(item.get("range"))
        start = as_object(rng.get("start"))
        end = as_object(rng.get("end")) or start
        diagnostic = Diagnostic(
            int(start.get("line", 0)),
            int(start.get("character", 0)),
            int(end.get("line", 0)),
            int(end.get("character", 0)),
            severities.get(str(item.get("severity")), "hint"),
            rule_code(item.get("rule")),
            str(item.get("message", "")),
        )
        found.append((str(item.get("file", "")), diagnostic))
    return found


OUTPUT_FORMATS: Mapping[str, Callable[[Any], list[tuple[str, Diagnostic]]]] = {
    "ruff": parse_ruff,
    "pyright": parse_pyright,
}
"""Readers of linter JSON output by format name, each giving (file name, diagnostic) pairs."""

_OK_STATUSES: Mapping[str, frozenset[int]] = {
    # ruff: 0 clean, 1 violations; pyright: 0 clean, 1 errors. Anything else is the tool failing.
    "ruff": frozenset({0, 1}),
    "pyright": frozenset({0, 1}),
}
