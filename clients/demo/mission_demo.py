"""A scripted mission: four agents' worth of work on the sample project, through `podium mcp` over stdio.

The script is an MCP client (the official Python SDK) driving a real `podium mcp` process on a private git
copy of `clients/demo/sample`. It plays a planner and four workers:

* the planner starts a mission with four tasks: two independent ones, one depending on both, one after that;
* alice and bob claim the independent tasks and work on them in parallel; carol finds nothing to claim yet;
* alice's first submission has a syntax error and is rejected with its finding; she fixes it and it merges;
* once both are merged carol claims the dependent task, then dave the last one;
* the planner finishes the mission onto `main`, and `git log` and `podium audit verify` show the result.

Exits non-zero, with the reason, when anything turns out other than described.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

HERE = Path(__file__).resolve().parent
PODIUM = [sys.executable, "-m", "podium.server"]
STEP_TIMEOUT = 120.0
# The demo's git must not depend on the machine's configuration (signing, hooks, missing identity).
GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
IDENTITY = ("-c", "user.name=Podium demo", "-c", "user.email=demo@podium.invalid")

TOTAL = "    def total(self) -> int:\n        return sum(self.levels.values())\n"
LOW = (
    "\n"
    "    def low(self, threshold: int) -> list[str]:\n"
    '        """SKUs whose level is below `threshold`, in name order."""\n'
    "        return sorted(sku for sku, qty in self.levels.items() if qty < threshold)\n"
)
SUMMARY = "def summary(stock: Stock) -> str:\n"
SUMMARY_DOC = '    """One line per SKU in name order, then the total."""\n'
RETURN = '    return "\\n".join(lines)\n'
REORDER = (
    '    low = stock.low(threshold=5)\n    if low:\n        lines.append("reorder: " + ", ".join(low))\n'
)
README_END = "Its code is small on purpose.\n"
README_NOTE = "\n`inventory.report.summary` ends with a `reorder:` line naming the SKUs below 5.\n"

TASKS: list[dict[str, Any]] = [
    {"key": "low", "title": "Add Stock.low(threshold)", "files": ["inventory/stock.py"]},
    {"key": "doc", "title": "Document report.summary", "files": ["inventory/report.py"]},
    {
        "key": "reorder",
        "title": "List the items to reorder in the report",
        "files": ["inventory/report.py"],
        "depends_on": ["low", "doc"],
    },
    {
        "key": "readme",
        "title": "Describe the reorder line",
        "files": ["README.md"],
        "depends_on": ["reorder"],
    },
]

CHECK_SCRIPT = (
    "from inventory.stock import Stock\n"
    "from inventory.report import summary\n"
    "s = Stock()\n"
    "s.add('apple', 2)\n"
    "s.add('pear', 9)\n"
    "print(summary(s))\n"
)


class Unexpected(Exception):
    """Something the demo did not expect: it stops with this message."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Unexpected(message)


def say(who: str, text: str) -> None:
    print(f"[{who}]".ljust(10) + text, flush=True)


def indented(text: str, prefix: str = " " * 10) -> str:
    return textwrap.indent(text.rstrip("\n"), prefix)


def search_replace(path: str, search: str, replacement: str) -> dict[str, str]:
    return {"path": path, "search": search, "replace": replacement}


def run(command: list[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    if check and done.returncode != 0:
        raise Unexpected(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def prepare_project(base: Path) -> Path:
    root = base / "sample"
    shutil.copytree(HERE / "sample", root, ignore=shutil.ignore_patterns("__pycache__"))
    run(["git", "init", "--quiet", "--initial-branch=main"], root)
    run(["git", "add", "--all"], root)
    run(["git", *IDENTITY, "commit", "--quiet", "-m", "Sample inventory project"], root)
    return root


@asynccontextmanager
async def podium_session(root: Path, log: Path) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "podium.server", "mcp", "--root", str(root)],
        env=GIT_ENV,
        cwd=root,
    )
    with log.open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            with anyio.fail_after(STEP_TIMEOUT):
                await session.initialize()
            yield session


class Mission:
    """The demo's calls, each checked and bounded."""

    def __init__(self, session: ClientSession, root: Path) -> None:
        self.session = session
        self.root = root
        self.id = ""

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        with anyio.fail_after(STEP_TIMEOUT):
            result = await self.session.call_tool(tool, arguments)
        if result.is_error or result.structured_content is None:
            block = result.content[0] if result.content else None
            raise Unexpected(f"{tool} failed: {getattr(block, 'text', block)}")
        return result.structured_content

    async def claim(self, worker: str) -> dict[str, Any]:
        claimed = await self.call("task_claim", {"mission_id": self.id, "worker": worker})
        if claimed["claimed"]:
            task = claimed["task"]
            worktree = Path(claimed["worktree"]).relative_to(self.root)
            say(worker, f'task_claim -> {task["id"]} "{task["title"]}" (worktree {worktree})')
        else:
            say(worker, f"task_claim -> nothing to claim: {claimed['reason']} ({claimed['detail']})")
        return claimed

    async def submit(self, worker: str, task_id: str, *edits: dict[str, Any]) -> dict[str, Any]:
        result = await self.call("task_submit", {"task_id": task_id, "worker": worker, "edits": list(edits)})
        verdict = result["verdict"]
        if result["status"] == "merged":
            say(
                worker,
                f"task_submit {task_id} -> MERGED as {result['merged_commit'][:10]} ({verdict['summary']})",
            )
        else:
            say(worker, f"task_submit {task_id} -> {result['status'].upper()}: {verdict['summary']}")
            for finding in verdict["findings_new"]:
                where = f"{finding['path']}:{finding['line']}:{finding['column']}"
                print(indented(f"{where} {finding['severity']} {finding['code']}: {finding['message']}"))
                if finding["frame"]:
                    print(indented(finding["frame"], " " * 12))
        return result


async def alice(mission: Mission, task_id: str) -> None:
    broken = LOW.replace("-> list[str]:", "-> list[str]")
    rejected = await mission.submit(
        "alice", task_id, search_replace("inventory/stock.py", TOTAL, TOTAL + broken)
    )
    expect(rejected["status"] == "rejected", f"the broken edit of {task_id} was {rejected['status']}")
    places = {(f["path"], f["line"]) for f in rejected["verdict"]["findings_new"]}
    expect(any(path == "inventory/stock.py" for path, _ in places), f"no finding in stock.py: {places}")
    say("alice", "fixes the line the finding names and submits again")
    fix = search_replace("inventory/stock.py", "-> list[str]\n", "-> list[str]:\n")
    fixed = await mission.submit("alice", task_id, fix)
    expect(fixed["status"] == "merged", f"the fix of {task_id} was {fixed['status']}")


async def bob(mission: Mission, task_id: str) -> None:
    documented = await mission.submit(
        "bob", task_id, search_replace("inventory/report.py", SUMMARY, SUMMARY + SUMMARY_DOC)
    )
    expect(documented["status"] == "merged", f"{task_id} was {documented['status']}")


async def run_mission(session: ClientSession, root: Path) -> None:
    mission = Mission(session, root)
    started = await mission.call(
        "mission_start", {"goal": "Reorder report for the sample inventory", "tasks": TASKS}
    )
    mission.id = started["mission_id"]
    ids = started["key_ids"]
    say("planner", f"mission_start -> {mission.id} on branch {started['branch']} with {len(ids)} tasks")
    print(indented(started["roadmap"]))

    first = await mission.claim("alice")
    second = await mission.claim("bob")
    expect(
        {first["task"]["id"], second["task"]["id"]} == {ids["low"], ids["doc"]}, "the independent tasks first"
    )
    waiting = await mission.claim("carol")
    expect(not waiting["claimed"], f"{ids['reorder']} was claimable before its dependencies merged")

    say("planner", "alice and bob work in parallel")
    low_id = ids["low"]
    doc_id = ids["doc"]
    async with anyio.create_task_group() as tg:
        tg.start_soon(alice, mission, low_id)
        tg.start_soon(bob, mission, doc_id)

    dependent = await mission.claim("carol")
    expect(
        dependent["claimed"] and dependent["task"]["id"] == ids["reorder"], "carol gets the dependent task"
    )
    reorder = search_replace("inventory/report.py", RETURN, REORDER + RETURN)
    expect((await mission.submit("carol", ids["reorder"], reorder))["status"] == "merged", "reorder merges")
    last = await mission.claim("dave")
    expect(last["claimed"] and last["task"]["id"] == ids["readme"], "dave gets the last task")
    note = search_replace("README.md", README_END, README_END + README_NOTE)
    expect((await mission.submit("dave", ids["readme"], note))["status"] == "merged", "the README merges")
    done = await mission.claim("dave")
    expect(done["reason"] == "mission_done", f"the mission should be done, not {done['reason']}")

    (status,) = (await mission.call("mission_status", {"mission_id": mission.id}))["missions"]
    say("planner", f"mission_status -> {status['progress']:.0f}% merged {status['counts']}")
    print(indented(status["roadmap"]))
    finished = await mission.call("mission_finish", {"mission_id": mission.id, "apply": True})
    expect(finished["applied"] and finished["user_branch"] == "main", f"not applied to main: {finished}")
    say("planner", f"mission_finish apply=true -> {finished['kind']} of main to {finished['head'][:10]}")


def show_result(root: Path) -> None:
    print("\n$ git log --oneline main", flush=True)
    print(run(["git", "log", "--oneline", "main"], root).stdout.rstrip(), flush=True)
    print("\n$ python -c '<summary of a Stock with 2 apples and 9 pears>'", flush=True)
    output = run([sys.executable, "-c", CHECK_SCRIPT], root).stdout
    print(output.rstrip(), flush=True)
    expect("reorder: apple" in output, "the merged report does not list apple for reordering")
    print("\n$ podium audit verify", flush=True)
    audit = run([*PODIUM, "audit", "verify", "--root", str(root)], root, check=False)
    print((audit.stdout + audit.stderr).rstrip(), flush=True)
    expect(audit.returncode == 0, "the audit chain does not verify")


async def main() -> int:
    with tempfile.TemporaryDirectory(prefix="podium-mission-demo-") as tmp:
        root = prepare_project(Path(tmp))
        log = Path(tmp) / "podium-mcp.log"
        print(f"Sample project: {root} (a git repository on main)", flush=True)
        print(f"Server: podium mcp --root {root}  (stdio, driven by the official MCP client)\n", flush=True)
        try:
            async with podium_session(root, log) as session:
                await run_mission(session, root)
            show_result(root)
        except (Unexpected, TimeoutError) as exc:
            print(f"\nmission demo: unexpected: {exc or 'a step timed out'}", file=sys.stderr)
            if log.exists():
                print("podium mcp stderr:\n" + indented(log.read_text()[-4000:]), file=sys.stderr)
            return 1
    print(
        "\nDone: the broken edit was rejected with its finding, the fix merged, the dependent tasks ran once"
    )
    print("their dependencies merged, and the mission landed on main with an intact audit chain.")
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
