"""The gate's answer about an edit: accepted or not, the findings it introduced, and how it was judged.

``Verdict.to_dict()`` is the wire form (CLI ``--json``, MCP tool results); ``verdict_json_schema()``
describes it as JSON Schema (draft 2020-12) and ``render_verdict()`` is the form for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podium.verification.findings import SEVERITIES, Finding


@dataclass(frozen=True, slots=True)
class SourceRun:
    """One source that ran: its name and how long it took, in milliseconds."""

    name: str
    elapsed_ms: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether an edit may be merged.

    Attributes:
        accepted: true when the edit introduced no finding at or above the policy's severity.
        findings_new: findings the edit introduced, in path then position order.
        findings_preexisting: findings already present before the edit, reported but not held against it.
        notes: what people should know about the check (files no source understood, sources skipped …).
        sources: each source that ran, with its time.
        files_checked: paths at least one source examined.
        files_unchecked: paths present after the edit that no source examined.
    """

    accepted: bool
    findings_new: tuple[Finding, ...] = ()
    findings_preexisting: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    sources: tuple[SourceRun, ...] = ()
    files_checked: tuple[str, ...] = ()
    files_unchecked: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """One line: the decision and the counts behind it."""
        new = len(self.findings_new)
        old = len(self.findings_preexisting)
        head = "accepted" if self.accepted else "rejected"
        problems = f"{new} new problem{'s' if new != 1 else ''}"
        return f"{head}: {problems} ({old} pre-existing ignored)"

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form described by ``verdict_json_schema()``."""
        return {
            "accepted": self.accepted,
            "summary": self.summary,
            "findings_new": [f.to_dict() for f in self.findings_new],
            "findings_preexisting": [f.to_dict() for f in self.findings_preexisting],
            "notes": list(self.notes),
            "sources": [{"name": s.name, "elapsed_ms": round(s.elapsed_ms, 3)} for s in self.sources],
            "files_checked": list(self.files_checked),
            "files_unchecked": list(self.files_unchecked),
        }


def render_verdict(verdict: Verdict) -> str:
    """The verdict for a terminal: each new finding with its code frame, notes, then the summary."""
    blocks: list[str] = []
    for finding in verdict.findings_new:
        where = f" (in {finding.symbol})" if finding.symbol else ""
        head = f"{finding.location}  {finding.source}  {finding.message}{where}"
        if finding.reason:
            head += f"\n  why: {finding.reason}"
        blocks.append(f"{head}\n{finding.frame}" if finding.frame else head)
    blocks.extend(f"note: {note}" for note in verdict.notes)
    blocks.append(verdict.summary)
    return "\n\n".join(blocks)


_STRING_LIST: dict[str, Any] = {"type": "array", "items": {"type": "string"}}


def finding_json_schema() -> dict[str, Any]:
    """JSON Schema of ``Finding.to_dict()``."""
    position = {"type": "integer", "minimum": 1}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "source",
            "code",
            "message",
            "path",
            "line",
            "column",
            "end_line",
            "end_column",
            "severity",
            "symbol",
            "excerpt",
            "frame",
            "reason",
        ],
        "properties": {
            "source": {"type": "string", "description": "Check that found it: tree-sitter, python-compile …"},
            "code": {"type": "string", "description": "Stable kind: syntax-error, missing-node …"},
            "message": {"type": "string"},
            "path": {"type": "string", "description": "Relative POSIX path after the edit."},
            "line": {**position, "description": "1-based line."},
            "column": {**position, "description": "1-based column in Unicode code points."},
            "end_line": position,
            "end_column": {**position, "description": "Exclusive end column, 1-based."},
            "severity": {"enum": list(SEVERITIES)},
            "symbol": {"type": "string", "description": "Dotted enclosing definition, empty at top level."},
            "excerpt": {"type": "string", "description": "Offending source text, whitespace collapsed."},
            "frame": {"type": "string", "description": "Numbered source lines with a caret."},
            "reason": {
                "type": "string",
                "description": "Why a new finding is the edit's doing, in one line; empty if pre-existing.",
            },
        },
    }


def verdict_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of ``Verdict.to_dict()``."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Podium verdict",
        "type": "object",
        "additionalProperties": False,
        "required": [
            "accepted",
            "summary",
            "findings_new",
            "findings_preexisting",
            "notes",
            "sources",
            "files_checked",
            "files_unchecked",
        ],
        "properties": {
            "accepted": {"type": "boolean", "description": "No new blocking problem."},
            "summary": {"type": "string"},
            "findings_new": {"type": "array", "items": {"$ref": "#/$defs/finding"}},
            "findings_preexisting": {"type": "array", "items": {"$ref": "#/$defs/finding"}},
            "notes": _STRING_LIST,
            "sources": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "elapsed_ms"],
                    "properties": {
                        "name": {"type": "string"},
                        "elapsed_ms": {"type": "number", "minimum": 0},
                    },
                },
            },
            "files_checked": _STRING_LIST,
            "files_unchecked": _STRING_LIST,
        },
        "$defs": {"finding": finding_json_schema()},
    }
