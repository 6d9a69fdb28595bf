"""One worker of the many-clients test, as its own process: claim, write the task's file, submit, repeat.

    python claim_worker.py --mission M --worker W (--root REPO | --url URL) --log FILE

Over stdio it starts its own `podium mcp --root REPO`; with ``--url`` it joins a running HTTP server. Once
its session is open it prints a ``ready`` line and waits for a line on stdin, so the test can start every
worker at once. Each task names one new file; the worker writes it and submits. It stops at the first
claim that gives nothing (there are no dependencies, so nothing more becomes ready). It prints one JSON
line per claim and per merge, and a last line with the reason; anything unexpected is an exit status 1
with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from mcp import ClientSession
from podium_e2e import Repo, http_session, stdio_session, text_of

CALL_TIMEOUT = 120.0


class Unexpected(Exception):
    """A result the worker cannot have been given."""


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def checked(session: ClientSession, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    with anyio.fail_after(CALL_TIMEOUT):
        result = await session.call_tool(tool, arguments)
    if result.is_error or result.structured_content is None:
        raise Unexpected(f"{tool}({arguments}) failed: {text_of(result)}")
    return result.structured_content


async def work(session: ClientSession, mission_id: str, worker: str) -> None:
    emit(event="ready", worker=worker)
    await anyio.to_thread.run_sync(sys.stdin.readline)
    while True:
        claim = await checked(session, "task_claim", {"mission_id": mission_id, "worker": worker})
        if not claim["claimed"]:
            emit(event="stop", worker=worker, reason=claim["reason"])
            return
        task = claim["task"]
        emit(event="claim", worker=worker, task=task["id"])
        (path,) = task["files"]
        content = f'"""Written by {worker} for {task["id"]}."""\n\nVALUE = {task["id"][1:]}\n'
        submitted = await checked(
            session,
            "task_submit",
            {"task_id": task["id"], "worker": worker, "edits": [{"path": path, "content": content}]},
        )
        if submitted["status"] != "merged":
            raise Unexpected(f"{task['id']} was {submitted['status']}: {submitted['verdict']}")
        emit(event="merged", worker=worker, task=task["id"], commit=submitted["merged_commit"])


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mission", required=True)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--root", type=Path)
    parser.add_argument("--url")
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    try:
        if args.url:
            async with http_session(args.url) as session:
                await work(session, args.mission, args.worker)
        else:
            repo = Repo(args.root, env=_isolation())
            async with stdio_session(repo, args.log) as session:
                await work(session, args.mission, args.worker)
    except Unexpected as exc:
        print(f"claim_worker {args.worker}: {exc}", file=sys.stderr)
        return 1
    return 0


def _isolation() -> dict[str, str]:
    # The test started this process with the repository's isolated environment; its server gets the same.
    keys = ("HOME", "XDG_CONFIG_HOME", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "GIT_CEILING_DIRECTORIES")
    return {key: os.environ[key] for key in keys if key in os.environ}


if __name__ == "__main__":
    sys.exit(anyio.run(main))
