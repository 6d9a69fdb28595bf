"""The verification gate: run every source over a change set and judge only what the edit introduced.

The gate is pure apart from the sources it runs: given the same change set and sources it returns the
same verdict (timings aside). A rejected edit is a ``Verdict(accepted=False)``; the gate raises only
``VerificationError``, when a source cannot run at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from podium.verification.changes import ChangeSet, FileChange
from podium.verification.delta import classify
from podium.verification.findings import Finding, Severity, at_least
from podium.verification.linemap import LineMap
from podium.verification.pycompile import PythonCompileSource
from podium.verification.sources import FileFindings, FindingSource
from podium.verification.syntax import TreeSitterSource
from podium.verification.verdict import SourceRun, Verdict

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """What the gate checks and what blocks a merge.

    Attributes:
        tree_sitter: run the tree-sitter syntax check.
        python_compile: run CPython's compiler over Python files as well.
        severity_threshold: findings less severe than this are ignored entirely (neither new nor
            pre-existing); at the default only errors block.
    """

    tree_sitter: bool = True
    python_compile: bool = True
    severity_threshold: Severity = "error"


DEFAULT_POLICY = GatePolicy()


class Gate:
    """Judges change sets with the built-in syntax sources the policy enables plus any extra sources."""

    def __init__(
        self, policy: GatePolicy = DEFAULT_POLICY, extra_sources: Sequence[FindingSource] = ()
    ) -> None:
        builtin: list[FindingSource] = []
        if policy.tree_sitter:
            builtin.append(TreeSitterSource())
        if policy.python_compile:
            builtin.append(PythonCompileSource())
        self.policy = policy
        self.sources: tuple[FindingSource, ...] = (*builtin, *extra_sources)

    def check(self, changes: ChangeSet) -> Verdict:
        """Run every source over ``changes`` and decide whether the edit may be merged."""
        by_path = {change.path: change for change in changes.files}
        order = {path: index for index, path in enumerate(changes.paths)}
        linemaps: dict[str, LineMap | None] = {}
        new: list[Finding] = []
        preexisting: list[Finding] = []
        notes: list[str] = []
        runs: list[SourceRun] = []
        checked: set[str] = set()
        for source in self.sources:
            started = time.perf_counter()
            report = source.check(changes)
            elapsed_ms = (time.perf_counter() - started) * 1000
            runs.append(SourceRun(source.name, elapsed_ms))
            logger.debug("source %s checked %d files in %.1f ms", source.name, len(report.files), elapsed_ms)
            notes.extend(report.notes)
            for found in report.files:
                checked.add(found.path)
                if found.path not in linemaps:
                    linemaps[found.path] = _linemap(by_path.get(found.path), found)
                delta = classify(
                    self._blocking(found.before),
                    self._blocking(found.after),
                    linemaps[found.path],
                    before_complete=found.before_complete,
                )
                new.extend(delta.new)
                preexisting.extend(delta.preexisting)

        def position(finding: Finding) -> tuple[int, str, int, int]:
            return (order.get(finding.path, len(order)), finding.path, finding.line, finding.column)

        present = [c.path for c in changes.files if c.after is not None]
        return Verdict(
            accepted=not new,
            findings_new=tuple(sorted(new, key=position)),
            findings_preexisting=tuple(sorted(preexisting, key=position)),
            notes=tuple(notes),
            sources=tuple(runs),
            files_checked=tuple(sorted(checked, key=lambda p: (order.get(p, len(order)), p))),
            files_unchecked=tuple(p for p in present if p not in checked),
        )

    def _blocking(self, findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
        threshold = self.policy.severity_threshold
        return tuple(f for f in findings if at_least(f.severity, threshold))


def _linemap(change: FileChange | None, found: FileFindings) -> LineMap | None:
    if change is None:
        # A file outside the change set (a language server reporting on a dependent file) is unchanged.
        lines = max((f.end_line for f in (*found.before, *found.after)), default=1)
        return LineMap.unchanged(lines)
    if change.before is None or change.after is None:
        return None
    return LineMap.between(change.before, change.after)
