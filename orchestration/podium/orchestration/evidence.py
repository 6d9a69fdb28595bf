"""Why each change was let in: the evidence recorded with every merge, read back from the event log."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from podium.orchestration.events import JsonValue, read_events
from podium.orchestration.schema import connect

MERGE_EVENT = "task.merge"


@dataclass(frozen=True, slots=True)
class MergeEvidence:
    """One merge: which task, who did and approved it, which commits, and the verdict that let it in."""

    seq: int
    mission_id: str
    task_id: str
    worker: str
    approved_by: str
    base_commit: str
    merged_commit: str
    diff_sha256: str
    rechecked_after_merge: bool
    verdict: Mapping[str, JsonValue]

    def describe(self) -> str:
        """A few lines for people: the task, the commits and the verdict with its sources and timings."""
        summary = str(self.verdict.get("summary", ""))
        sources = cast("list[dict[str, JsonValue]]", self.verdict.get("sources") or [])
        timings = ", ".join(f"{s.get('name')} {s.get('elapsed_ms')} ms" for s in sources)
        old = cast("list[object]", self.verdict.get("findings_preexisting") or [])
        lines = [
            f"#{self.seq} {self.mission_id}/{self.task_id} merged as {self.merged_commit[:12]}"
            f" (base {self.base_commit[:12]}) by {self.worker}, approved by {self.approved_by}",
            f"    verdict: {summary}; sources: {timings or 'none'}",
            f"    diff sha256 {self.diff_sha256}; pre-existing findings ignored: {len(old)}"
            + ("; re-checked after merging onto a moved head" if self.rechecked_after_merge else ""),
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            "seq": self.seq,
            "mission_id": self.mission_id,
            "task_id": self.task_id,
            "worker": self.worker,
            "approved_by": self.approved_by,
            "base_commit": self.base_commit,
            "merged_commit": self.merged_commit,
            "diff_sha256": self.diff_sha256,
            "rechecked_after_merge": self.rechecked_after_merge,
            "verdict": dict(self.verdict),
        }


def merge_evidence(db_path: Path, *, mission_id: str | None = None) -> list[MergeEvidence]:
    """Every merge recorded in the store at `db_path`, oldest first."""
    conn = connect(db_path)
    try:
        events = read_events(conn, mission_id=mission_id)
    finally:
        conn.close()
    records: list[MergeEvidence] = []
    for event in events:
        if event.kind != MERGE_EVENT:
            continue
        payload = event.payload
        records.append(
            MergeEvidence(
                seq=event.seq,
                mission_id=event.mission_id or "",
                task_id=event.task_id or "",
                worker=str(payload.get("worker") or ""),
                approved_by=str(payload.get("approved_by") or event.actor),
                base_commit=str(payload.get("base_commit") or ""),
                merged_commit=str(payload.get("merged_commit") or ""),
                diff_sha256=str(payload.get("diff_sha256") or ""),
                rechecked_after_merge=bool(payload.get("rechecked_after_merge")),
                verdict=cast("Mapping[str, JsonValue]", payload.get("verdict") or {}),
            )
        )
    return records
