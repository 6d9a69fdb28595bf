"""One whole mission through the MCP tools, the same over every transport.

Five tasks on a small inventory package: two independent ones (T1 adds ``Stock.low``, T2 documents the
report), T3 depending on both, and two parallel tasks (T4, T5) that change the same line of one file. The
scenario drives them as five workers of one client: a broken first submission of T1 is rejected with its
finding, the fix merges, T5 meets a conflict with T4 and resolves it, T3 is claimable only once T1 and T2
merged, and ``mission_finish(apply=true)`` lands everything on ``main``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mcp import ClientSession
from podium_e2e import Repo, call, read_text

from podium.server.core_ops import ROADMAP_URI

STOCK = '''\
"""Stock levels per item."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Stock:
    """Quantities on hand, keyed by SKU."""

    levels: dict[str, int] = field(default_factory=dict)

    def add(self, sku: str, quantity: int) -> None:
        self.levels[sku] = self.levels.get(sku, 0) + quantity

    def total(self) -> int:
        return sum(self.levels.values())
'''

LOW = '''
    def low(self, threshold: int) -> list[str]:
        """SKUs below ``threshold``, in name order."""
        return sorted(sku for sku, qty in self.levels.items() if qty < threshold)
'''

STOCK_WITH_LOW = STOCK + LOW
BROKEN_STOCK = STOCK + LOW.replace("-> list[str]:", "-> list[str]")
BROKEN_LINE = STOCK.count("\n") + 2

REPORT = '''\
"""Plain-text reports over a Stock."""

from __future__ import annotations

from inventory.stock import Stock


def summary(stock: Stock) -> str:
    lines = [f"{sku}: {qty}" for sku, qty in sorted(stock.levels.items())]
    lines.append(f"total: {stock.total()}")
    return "\\n".join(lines)
'''

SIGNATURE = "def summary(stock: Stock) -> str:\n"
DOCSTRING = '    """One line per SKU, then the total."""\n'
RETURN = '    return "\\n".join(lines)\n'
REORDER = (
    '    low = stock.low(threshold=5)\n    if low:\n        lines.append("reorder: " + ", ".join(low))\n'
)
FINAL_REPORT = REPORT.replace(SIGNATURE, SIGNATURE + DOCSTRING).replace(RETURN, REORDER + RETURN)

SETTINGS = '"""Tunable numbers."""\n\nREORDER_LEVEL = 5\nPAGE_SIZE = 50\n'
SETTINGS_T4 = SETTINGS.replace("REORDER_LEVEL = 5", "REORDER_LEVEL = 10")
SETTINGS_T5 = SETTINGS.replace("REORDER_LEVEL = 5", "REORDER_LEVEL = 3")
RESOLVED_SETTINGS = '"""Tunable numbers."""\n\nREORDER_LEVEL = 10\nREORDER_FLOOR = 3\nPAGE_SIZE = 50\n'

PROJECT = {
    "inventory/__init__.py": '"""A tiny inventory package."""\n',
    "inventory/stock.py": STOCK,
    "inventory/report.py": REPORT,
    "inventory/settings.py": SETTINGS,
}

TASKS: list[dict[str, Any]] = [
    {"key": "low", "title": "Add Stock.low", "files": ["inventory/stock.py"]},
    {"key": "doc", "title": "Document the report", "files": ["inventory/report.py"], "size": "S"},
    {
        "key": "use",
        "title": "List items to reorder in the report",
        "files": ["inventory/report.py"],
        "depends_on": ["low", "doc"],
    },
    {"key": "raise", "title": "Raise the reorder level", "files": ["inventory/settings.py"]},
    {"key": "floor", "title": "Lower the reorder level", "files": ["inventory/settings.py"]},
]

MERGE_ORDER = ["T1", "T2", "T4", "T5", "T3"]


def whole(path: str, content: str) -> dict[str, str]:
    return {"path": path, "content": content}


def replace(path: str, search: str, replacement: str) -> dict[str, str]:
    return {"path": path, "search": search, "replace": replacement}


def box(roadmap: str, task_id: str) -> str:
    """The ``[x]``/``[ ]`` box of one task's line in ROADMAP.md."""
    match = re.search(rf"^- (\[[ x]\]) {task_id}: ", roadmap, flags=re.MULTILINE)
    assert match is not None, f"{task_id} missing from the roadmap:\n{roadmap}"
    return match.group(1)


async def submit(session: ClientSession, task_id: str, worker: str, *edits: dict[str, Any]) -> dict[str, Any]:
    return await call(session, "task_submit", {"task_id": task_id, "worker": worker, "edits": list(edits)})


async def run_mission(session: ClientSession, repo: Repo) -> str:
    """Drive the whole mission on ``repo`` (holding `PROJECT`) through ``session``; the mission's id."""
    initial = repo.head()
    started = await call(session, "mission_start", {"goal": "Reorder report", "tasks": TASKS})
    mission_id = started["mission_id"]
    assert started["key_ids"] == {"low": "T1", "doc": "T2", "use": "T3", "raise": "T4", "floor": "T5"}
    assert {task["id"]: task["state"] for task in started["tasks"]}["T3"] == "pending"
    roadmap = await read_text(session, ROADMAP_URI.format(id=mission_id))
    assert (
        "- [ ] T3: List items to reorder in the report | file:inventory/report.py | depends:T1,T2" in roadmap
    )

    holders: dict[str, str] = {}
    worktrees: dict[str, Path] = {}
    for worker in ("ana", "ben", "cy", "dee"):
        claimed = await call(session, "task_claim", {"mission_id": mission_id, "worker": worker})
        assert claimed["claimed"], claimed
        assert claimed["base_commit"] == initial
        holders[claimed["task"]["id"]] = worker
        worktrees[claimed["task"]["id"]] = Path(claimed["worktree"])
    assert set(holders) == {"T1", "T2", "T4", "T5"}, "T3 was claimable before its dependencies merged"
    assert (worktrees["T1"] / "inventory/stock.py").read_text() == STOCK

    early = await call(session, "task_claim", {"mission_id": mission_id, "worker": "eve"})
    assert (early["claimed"], early["task"]) == (False, None)
    assert early["reason"] in {"waiting", "all_claimed"}

    rejected = await submit(session, "T1", holders["T1"], whole("inventory/stock.py", BROKEN_STOCK))
    assert (rejected["status"], rejected["task"]["state"], rejected["merged_commit"]) == (
        "rejected",
        "rejected",
        None,
    )
    assert not rejected["verdict"]["accepted"]
    located = {(f["path"], f["line"]) for f in rejected["verdict"]["findings_new"]}
    assert ("inventory/stock.py", BROKEN_LINE) in located, rejected["verdict"]
    assert repo.head(started["branch"]) == initial

    fixed = await submit(session, "T1", holders["T1"], whole("inventory/stock.py", STOCK_WITH_LOW))
    assert fixed["status"] == "merged" and fixed["verdict"]["accepted"], fixed["verdict"]
    assert fixed["merged_commit"] == repo.head(started["branch"])

    still = await call(session, "task_claim", {"mission_id": mission_id, "worker": "eve"})
    assert not still["claimed"] and still["reason"] in {"waiting", "all_claimed"}, "T3 before T2 merged"

    documented = await submit(
        session,
        f"{mission_id}/T2",
        holders["T2"],
        replace("inventory/report.py", SIGNATURE, SIGNATURE + DOCSTRING),
    )
    assert documented["status"] == "merged", documented["verdict"]

    await resolve_a_conflict(session, holders, worktrees)

    dependent = await call(session, "task_claim", {"mission_id": mission_id, "worker": "eve"})
    assert dependent["claimed"] and dependent["task"]["id"] == "T3"
    worktree = Path(dependent["worktree"])
    assert (worktree / "inventory/stock.py").read_text() == STOCK_WITH_LOW
    assert DOCSTRING in (worktree / "inventory/report.py").read_text()
    beat = await call(session, "task_heartbeat", {"task_id": "T3", "worker": "eve"})
    assert beat["task_id"] == "T3" and beat["lease_expires"] >= dependent["lease_expires"]
    used = await submit(session, "T3", "eve", replace("inventory/report.py", RETURN, REORDER + RETURN))
    assert used["status"] == "merged", used["verdict"]

    done = await call(session, "task_claim", {"mission_id": mission_id, "worker": "eve"})
    assert (done["claimed"], done["reason"]) == (False, "mission_done")
    roadmap = await read_text(session, ROADMAP_URI.format(id=mission_id))
    assert [box(roadmap, task_id) for task_id in MERGE_ORDER] == ["[x]"] * 5
    (status,) = (await call(session, "mission_status", {"mission_id": mission_id}))["missions"]
    assert (status["counts"], status["progress"], status["leases"]) == ({"merged": 5}, 100.0, [])

    integration_head = repo.head(started["branch"])
    finished = await call(session, "mission_finish", {"mission_id": mission_id, "apply": True})
    assert finished["applied"] and finished["state"] == "finished"
    assert (finished["user_branch"], finished["kind"], finished["head"]) == (
        "main",
        "fast-forward",
        integration_head,
    )
    return mission_id


async def resolve_a_conflict(
    session: ClientSession, holders: dict[str, str], worktrees: dict[str, Path]
) -> None:
    """T4 and T5 changed the same line: T4 merges, T5 gets a conflict naming the file, resolves, merges."""
    first = await submit(
        session, "T4", holders["T4"], replace("inventory/settings.py", SETTINGS, SETTINGS_T4)
    )
    assert first["status"] == "merged", first["verdict"]
    clash = await submit(session, "T5", holders["T5"], whole("inventory/settings.py", SETTINGS_T5))
    assert clash["status"] == "conflict", clash
    assert clash["task"]["state"] == "rejected" and clash["merged_commit"] is None
    assert {f["path"] for f in clash["verdict"]["findings_new"]} == {"inventory/settings.py"}
    assert clash["base_commit"] == first["merged_commit"]
    assert "<<<<<<<" in (worktrees["T5"] / "inventory/settings.py").read_text()
    resolved = await submit(session, "T5", holders["T5"], whole("inventory/settings.py", RESOLVED_SETTINGS))
    assert resolved["status"] == "merged", resolved["verdict"]


def check_landed(repo: Repo, initial: str) -> None:
    """After the mission: ``main`` holds every task's work, one commit per task, and the audit chain holds."""
    assert repo.git("branch", "--show-current").strip() == "main"
    assert (repo.root / "inventory/stock.py").read_text() == STOCK_WITH_LOW
    assert (repo.root / "inventory/report.py").read_text() == FINAL_REPORT
    assert (repo.root / "inventory/settings.py").read_text() == RESOLVED_SETTINGS
    assert repo.task_trailers("main", since=initial) == MERGE_ORDER
    assert repo.git("status", "--porcelain") == ""
    audit = repo.podium("audit", "verify", "--root", str(repo.root))
    assert audit.returncode == 0, audit.stdout + audit.stderr
