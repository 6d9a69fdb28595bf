"""The verification gate: run every source over a change set and judge only what the edit introduced.

The gate is pure apart from the sources it runs: given the same change set and sources it returns the
same verdict (timings aside). A rejected edit is a ``Verdict(accepted=False)``; the gate raises only
``VerificationError``, when a synchronous source cannot run at all.

Diagnostics sources (language servers, linters) run concurrently on a background event loop while the
syntax sources run in the caller's thread. One that fails (crashes, times out) never lets an edit through
silently: the verdict names it, and the policy's ``on_source_failure`` decides ("reject": not accepted,
as unverified). A file that no longer parses after the edit is judged by the syntax sources alone: the
language servers would only restate the parse error, often several times over.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from types import TracebackType
from typing import Protocol

import anyio

from podium.verification.attribution import SYNTAX_SOURCES, EditNames, Footprint, attribute
from podium.verification.background import BackgroundLoop, shared_loop
from podium.verification.callees import split_known_callees
from podium.verification.changes import ChangeSet
from podium.verification.delta import Delta, classify
from podium.verification.errors import VerificationError
from podium.verification.findings import Finding
from podium.verification.grammar import is_syntax_error, linemap_for, without_grammar_gaps
from podium.verification.linemap import LineMap
from podium.verification.policy import DEFAULT_POLICY, TYPE_CHECKERS, GatePolicy, blocks, sift
from podium.verification.pycompile import PythonCompileSource
from podium.verification.sources import DiagnosticSource, FindingSource, SourceReport
from podium.verification.syntax import TreeSitterSource
from podium.verification.verdict import SourceRun, Verdict

__all__ = ["DEFAULT_POLICY", "Gate", "GatePolicy", "blocks"]

logger = logging.getLogger(__name__)

WAIT_GRACE = 5.0
"""Seconds the caller waits beyond the slowest source's deadline before giving up on the loop itself."""


class SupportsClose(Protocol):
    def close(self) -> None: ...


class Gate:
    """Judges change sets with the built-in syntax sources the policy enables plus any extra sources.

    Extra sources may be ``FindingSource``s (run in the caller's thread) or ``DiagnosticSource``s (run
    on ``loop``, the process's diagnostics loop unless given). ``resources`` (a language-server pool) are
    closed with the gate; use it as a context manager or call ``close``.
    """

    def __init__(
        self,
        policy: GatePolicy = DEFAULT_POLICY,
        extra_sources: Sequence[FindingSource | DiagnosticSource] = (),
        *,
        loop: BackgroundLoop | None = None,
        resources: Sequence[SupportsClose] = (),
    ) -> None:
        builtin: list[FindingSource | DiagnosticSource] = []
        if policy.tree_sitter:
            builtin.append(TreeSitterSource())
        if policy.python_compile:
            builtin.append(PythonCompileSource())
        self.policy = policy
        self.sources: tuple[FindingSource | DiagnosticSource, ...] = (*builtin, *extra_sources)
        self._loop = loop
        self._resources = tuple(resources)

    def __enter__(self) -> Gate:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release what the gate holds (language servers); the gate must not be used afterwards."""
        for resource in self._resources:
            resource.close()

    def check(self, changes: ChangeSet) -> Verdict:
        """Run every source over ``changes`` and decide whether the edit may be merged."""
        present = [c.path for c in changes.files if c.after is not None]
        diagnostic = [
            s for s in self.sources if isinstance(s, DiagnosticSource) and any(map(s.handles, present))
        ]
        pending = self._start_diagnostics(diagnostic, changes) if diagnostic else None
        reports: dict[int, tuple[SourceReport, float]] = {}
        for source in self.sources:
            if isinstance(source, DiagnosticSource):
                continue
            started = time.perf_counter()
            report = source.check(changes)
            reports[id(source)] = (report, (time.perf_counter() - started) * 1000)
        if pending is not None:
            reports.update(
                zip(map(id, diagnostic), self._finish_diagnostics(diagnostic, pending), strict=True)
            )
        judged = [(s.name, *reports[id(s)]) for s in self.sources if id(s) in reports]
        return self._judge(changes, judged)

    def _start_diagnostics(
        self, sources: list[DiagnosticSource], changes: ChangeSet
    ) -> concurrent.futures.Future[list[tuple[SourceReport, float]]]:
        return (self._loop or shared_loop()).submit(_diagnose_all, sources, changes)

    def _finish_diagnostics(
        self,
        sources: list[DiagnosticSource],
        pending: concurrent.futures.Future[list[tuple[SourceReport, float]]],
    ) -> list[tuple[SourceReport, float]]:
        limit = max(s.deadline for s in sources) + WAIT_GRACE
        try:
            return pending.result(timeout=limit)
        except concurrent.futures.TimeoutError:
            pending.cancel()
            failure = SourceReport(failure=f"no result within {limit:g} s (the diagnostics loop is stuck)")
            return [(failure, limit * 1000)] * len(sources)

    def _judge(self, changes: ChangeSet, reports: list[tuple[str, SourceReport, float]]) -> Verdict:
        by_path = {change.path: change for change in changes.files}
        order = {path: index for index, path in enumerate(changes.paths)}
        linemaps: dict[str, LineMap | None] = {}
        candidates: list[Finding] = []
        broken_before: set[str] = set()
        preexisting: list[Finding] = []
        notes: list[str] = []
        runs: list[tuple[int, SourceRun]] = []
        checked: set[str] = set()
        unparsable: set[str] = set()
        skipped: set[str] = set()
        opinions: list[tuple[Finding, str]] = []
        failed = False
        reports, gaps = without_grammar_gaps(reports, by_path)
        notes.extend(
            f"{path}: tree-sitter sees a syntax error that {authority} does not; {authority} decides"
            for path, authority in sorted(gaps.items())
        )
        # Syntax sources first, so that files they find broken are known before the others are judged.
        ordered = sorted(enumerate(reports), key=lambda item: item[1][0] not in SYNTAX_SOURCES)
        for index, (name, report, elapsed_ms) in ordered:
            runs.append((index, SourceRun(name, elapsed_ms)))
            logger.debug("source %s checked %d files in %.1f ms", name, len(report.files), elapsed_ms)
            notes.extend(report.notes)
            if report.failure:
                failed = True
                notes.append(self._failure_note(name, report.failure))
            for found in report.files:
                if found.path in unparsable and name not in SYNTAX_SOURCES:
                    skipped.add(found.path)
                    continue
                checked.add(found.path)
                if found.path not in linemaps:
                    linemaps[found.path] = linemap_for(by_path.get(found.path), found)
                change = by_path.get(found.path)
                old_text, new_text = (change.before, change.after) if change else (None, None)
                before, before_opinions = sift(self.policy, found.before, found.path, old_text)
                after, after_opinions = sift(self.policy, found.after, found.path, new_text)
                if after_opinions and name not in SYNTAX_SOURCES:
                    # Named in the notes when new: the checker said more than the verdict counts.
                    new_opinions = classify(
                        tuple(f for f, _ in before_opinions),
                        tuple(f for f, _ in after_opinions),
                        linemaps[found.path],
                    ).new
                    opinions.extend((f, why) for f, why in after_opinions if f in new_opinions)
                delta = classify(before, after, linemaps[found.path], before_complete=found.before_complete)
                if name in SYNTAX_SOURCES:
                    if delta.new:
                        unparsable.add(found.path)
                    if found.before:
                        broken_before.add(found.path)
                elif found.path in broken_before:
                    # The file did not parse before and the edit added no syntax error: another parser's
                    # syntax errors are its recovery from the old one, shifting as the text around it changes.
                    cascade = tuple(f for f in delta.new if is_syntax_error(f))
                    kept = tuple(f for f in delta.new if f not in cascade)
                    delta = Delta(kept, (*delta.preexisting, *cascade))
                elif name in TYPE_CHECKERS and delta.new and change is not None:
                    kept, known = split_known_callees(
                        delta.new, before, found.path, change.before, change.after
                    )
                    delta = Delta(kept, (*delta.preexisting, *known))
                candidates.extend(delta.new)
                preexisting.extend(delta.preexisting)
        new, uncounted = self._attribute(candidates, changes, linemaps)
        notes.extend(
            f"{path}: does not parse after the edit; judged by the syntax check alone"
            for path in sorted(skipped, key=lambda p: (order.get(p, len(order)), p))
        )

        def position(finding: Finding) -> tuple[int, str, int, int]:
            return (order.get(finding.path, len(order)), finding.path, finding.line, finding.column)

        notes.extend(
            f"not counted: {f.location} {f.source} {f.message} (new, but on a line the edit did not touch "
            "and naming nothing it changed)"
            for f in sorted(uncounted, key=position)
        )
        why = dict(opinions)
        held, _ = self._attribute(list(why), changes, linemaps)
        notes.extend(
            f"not counted: {f.location} {f.source} {f.message} ({why[replace(f, reason='')]}; {f.reason})"
            for f in sorted(held, key=position)
        )

        present = [c.path for c in changes.files if c.after is not None]
        return Verdict(
            accepted=not new and not (failed and self.policy.on_source_failure == "reject"),
            findings_new=tuple(sorted(new, key=position)),
            findings_preexisting=tuple(sorted(preexisting, key=position)),
            notes=tuple(notes),
            sources=tuple(run for _, run in sorted(runs, key=lambda item: item[0])),
            files_checked=tuple(sorted(checked, key=lambda p: (order.get(p, len(order)), p))),
            files_unchecked=tuple(p for p in present if p not in checked),
        )

    def _attribute(
        self, candidates: list[Finding], changes: ChangeSet, linemaps: dict[str, LineMap | None]
    ) -> tuple[list[Finding], list[Finding]]:
        """The new findings split into those held against the edit (with their reason) and the others."""
        if not candidates:
            return [], []
        footprints = {
            change.path: Footprint.of(change, linemaps.get(change.path) or linemap_for(change, None))
            for change in changes.files
            if change.after is not None
        }
        names = EditNames.of(footprints)
        texts = {change.path: change.after or "" for change in changes.files}
        held: list[Finding] = []
        uncounted: list[Finding] = []
        for finding in candidates:
            reason = attribute(finding, footprints.get(finding.path), names, texts.get(finding.path, ""))
            if reason:
                held.append(replace(finding, reason=reason))
            elif self.policy.require_attribution:
                uncounted.append(finding)
            else:
                held.append(replace(finding, reason="new after the edit (attribution not required)"))
        return held, uncounted

    def _failure_note(self, name: str, failure: str) -> str:
        if self.policy.on_source_failure == "reject":
            return f"unverified: source {name} failed ({failure}); not accepted until it can judge the edit"
        return f"source {name} failed ({failure}); judged without it (on_source_failure = accept)"


async def _diagnose_all(
    sources: list[DiagnosticSource], changes: ChangeSet
) -> list[tuple[SourceReport, float]]:
    results: dict[int, tuple[SourceReport, float]] = {}

    async def run(index: int, source: DiagnosticSource) -> None:
        started = time.perf_counter()
        try:
            with anyio.fail_after(source.deadline):
                report = await source.diagnose(changes)
        except TimeoutError:
            report = SourceReport(failure=f"no result within {source.deadline:g} s")
        except (VerificationError, OSError) as exc:
            report = SourceReport(failure=str(exc))
        results[index] = (report, (time.perf_counter() - started) * 1000)

    async with anyio.create_task_group() as tg:
        for index, source in enumerate(sources):
            tg.start_soon(run, index, source)
    return [results[index] for index in range(len(sources))]
