"""The interfaces verification sources implement, and a scripted one for tests and demos.

A source looks at a whole ``ChangeSet`` (a language server may need every touched file at once) and
reports, per file, what it finds before and after the edit. Judging which findings are new is the
gate's job, not the source's.

Two kinds: a ``FindingSource`` is synchronous and runs in the caller's thread (tree-sitter, the Python
compiler); a ``DiagnosticSource`` is asynchronous and runs on the gate's background event loop, where the
diagnostics sources of one check run concurrently (language servers, linter commands).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from podium.verification.changes import ChangeSet
from podium.verification.findings import Finding


@dataclass(frozen=True, slots=True)
class FileFindings:
    """What one source found in one file, before and after the edit.

    ``before_complete`` is false when the source could not look at the whole old text (a parser error
    stopped it); the gate then does not blame the edit for findings on lines it left untouched.
    """

    path: str
    before: tuple[Finding, ...]
    after: tuple[Finding, ...]
    before_complete: bool = True


@dataclass(frozen=True, slots=True)
class SourceReport:
    """One source's result for a change set: per-file findings and notes for people.

    ``failure`` is non-empty when the source could not judge the change (its server crashed or did not
    answer in time): the gate's policy then decides, and by default rejects the edit as unverified.
    """

    files: tuple[FileFindings, ...] = ()
    notes: tuple[str, ...] = ()
    failure: str = ""


@runtime_checkable
class FindingSource(Protocol):
    """Something that finds problems in files: tree-sitter, the Python compiler, a language server.

    ``check`` must not raise for problems in the files (those are findings); it raises
    ``VerificationError`` only when the check itself cannot run.
    """

    @property
    def name(self) -> str:
        """Stable name used in findings, timings and policies."""
        ...

    def check(self, changes: ChangeSet) -> SourceReport:
        """Findings before and after the edit for every file of ``changes`` this source understands."""
        ...


@dataclass(frozen=True, slots=True)
class ScriptedSource:
    """A source that returns findings given up front, keyed by path; for tests and demos.

    Files of the change set without an entry get no findings; deleted files are skipped.
    """

    name: str
    script: Mapping[str, tuple[tuple[Finding, ...], tuple[Finding, ...]]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    notes: tuple[str, ...] = ()

    def check(self, changes: ChangeSet) -> SourceReport:
        """The scripted findings of each file present after the edit."""
        files = tuple(
            FileFindings(change.path, *self.script.get(change.path, ((), ())))
            for change in changes.files
            if change.after is not None
        )
        return SourceReport(files, self.notes)


@runtime_checkable
class DiagnosticSource(Protocol):
    """A source that runs on the gate's event loop: a language server or a linter command.

    ``diagnose`` should not raise when its tool fails: it returns a report whose ``failure`` says what
    went wrong (an exception, or running past ``deadline``, is turned into one by the gate). A tool that
    is not installed is a note, not a failure.
    """

    @property
    def name(self) -> str:
        """Stable name used in findings, timings and policies."""
        ...

    @property
    def deadline(self) -> float:
        """Seconds the gate waits for one check at most."""
        ...

    def handles(self, path: str) -> bool:
        """Whether this source checks ``path`` (the gate runs it only for change sets with such files)."""
        ...

    async def diagnose(self, changes: ChangeSet) -> SourceReport:
        """Findings before and after the edit for every file of ``changes`` this source understands."""
        ...
