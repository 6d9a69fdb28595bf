"""MCP latency and task throughput of `podium mcp`, against a bare `mcp` SDK server measured in the same run.

1. `mission_status` on a 1,000-task roadmap and `task_claim`, p50/p99 over stdio, each as a ratio to a bare
   SDK server's no-op tool (same client, same transport, same machine, same run).
2. The task lifecycle (claim → submit a one-file edit → syntax gate → merge) on a 1,000-file repository: p50
   latency and lifecycles per second with 1 client and with 16 concurrent clients (sessions on one streamable
   HTTP server), plus 1 client over stdio.

Run: `python -m tests.bench.bench_mcp` (or `make bench`). Prints a table; asserts nothing about time.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

HERE = Path(__file__).resolve().parent
STATUS_TASKS = 1000
STATUS_CALLS = 60
CLAIM_CALLS = 200
NOOP_CALLS = 300
LIFECYCLE_FILES = 1000
LIFECYCLE_TASKS_1 = 40
LIFECYCLE_TASKS_16 = 160
SERVER_START_TIMEOUT_S = 60.0
CALL_TIMEOUT_S = 120.0

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def make_repo(root: Path, files: int) -> None:
    env = {**os.environ, **GIT_ENV}
    (root / "src").mkdir(parents=True)
    for i in range(files):
        (root / "src" / f"m{i:04d}.py").write_text(
            f'"""Module {i}."""\n\n\ndef value_{i}() -> int:\n    return {i}\n'
        )
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "base"]):
        subprocess.run(cmd, cwd=root, env=env, check=True)


def stdio_params(args: list[str], cwd: Path) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=args, cwd=str(cwd), env={**GIT_ENV})


async def call(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    with anyio.fail_after(CALL_TIMEOUT_S):
        result = await client.call_tool(tool, args)
    if result.is_error:
        raise RuntimeError(f"{tool} failed: {result.content}")
    return dict(result.structured_content or {})


async def timed(n: int, fn: Callable[[], Awaitable[object]]) -> list[float]:
    samples: list[float] = []
    for _ in range(n):
        started = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def baseline_noop() -> list[float]:
    async with Client(stdio_params([str(HERE / "noop_server.py")], HERE)) as client:
        await timed(20, lambda: client.call_tool("noop", {}))
        return await timed(NOOP_CALLS, lambda: client.call_tool("noop", {}))


async def status_and_claim(root: Path) -> tuple[list[float], list[float]]:
    tasks = [
        {"key": f"k{i}", "title": f"task {i}", "files": [f"src/m{i:04d}.py"]} for i in range(STATUS_TASKS)
    ]
    async with Client(stdio_params(["-m", "podium.server", "mcp", "--root", str(root)], root)) as client:
        started = await call(client, "mission_start", {"goal": "bench status", "tasks": tasks})
        mission = started["mission_id"]
        status = await timed(STATUS_CALLS, lambda: call(client, "mission_status", {"mission_id": mission}))
        counter = iter(range(CLAIM_CALLS))
        claims = await timed(
            CLAIM_CALLS,
            lambda: call(client, "task_claim", {"mission_id": mission, "worker": f"w{next(counter)}"}),
        )
        return status, claims


async def run_worker(client: Client, mission: str, worker: str, samples: list[float]) -> None:
    while True:
        started = time.perf_counter()
        claim = await call(client, "task_claim", {"mission_id": mission, "worker": worker})
        if not claim.get("claimed"):
            return
        path = claim["files"][0]
        number = int(re.sub(r"\D", "", path))
        edit = {"path": path, "search": f"return {number}\n", "replace": f"return {number} + 1\n"}
        result = await call(
            client,
            "task_submit",
            {"task_id": f"{mission}/{claim['task']['id']}", "worker": worker, "edits": [edit]},
        )
        if result["status"] != "merged":
            raise RuntimeError(f"{worker}: unexpected {result['status']}: {result['verdict']['summary']}")
        samples.append((time.perf_counter() - started) * 1000)


def lifecycle_tasks(count: int) -> list[dict[str, Any]]:
    step = LIFECYCLE_FILES // count
    return [
        {"key": f"k{i}", "title": f"bump {i}", "files": [f"src/m{i * step:04d}.py"]} for i in range(count)
    ]


async def lifecycle_stdio(root: Path) -> tuple[list[float], float]:
    async with Client(stdio_params(["-m", "podium.server", "mcp", "--root", str(root)], root)) as client:
        started = await call(
            client, "mission_start", {"goal": "bench", "tasks": lifecycle_tasks(LIFECYCLE_TASKS_1)}
        )
        samples: list[float] = []
        began = time.perf_counter()
        await run_worker(client, started["mission_id"], "w0", samples)
        return samples, len(samples) / (time.perf_counter() - began)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def lifecycle_http(root: Path, clients: int, tasks: int) -> tuple[list[float], float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    log = root.parent / f"server-{clients}.log"
    server = await anyio.open_process(
        [sys.executable, "-m", "podium.server", "mcp", "--root", str(root), "--http", f"127.0.0.1:{port}"],
        cwd=root,
        env={**os.environ, **GIT_ENV},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        # The server's stderr goes to a file so that a chatty server can never block on a full pipe.
        with anyio.fail_after(SERVER_START_TIMEOUT_S):
            while b"MCP at" not in log.read_bytes():
                if server.returncode is not None:
                    raise RuntimeError(f"podium mcp --http exited: {log.read_text()}")
                await anyio.sleep(0.05)
        async with Client(url) as admin:
            started = await call(admin, "mission_start", {"goal": "bench", "tasks": lifecycle_tasks(tasks)})
        samples: list[float] = []
        began = time.perf_counter()

        async def one(index: int) -> None:
            async with Client(url) as client:
                await run_worker(client, started["mission_id"], f"w{index}", samples)

        async with anyio.create_task_group() as tg:
            for index in range(clients):
                tg.start_soon(one, index)
        return samples, len(samples) / (time.perf_counter() - began)
    finally:
        server.terminate()
        with anyio.move_on_after(30, shield=True):
            await server.wait()


def row(name: str, samples: list[float], base: float | None = None, extra: str = "") -> str:
    p50, p99 = pct(samples, 50), pct(samples, 99)
    ratio = f"{p50 / base:6.1f}x" if base else "      "
    return f"| {name:<44} | {len(samples):>5} | {p50:8.2f} | {p99:8.2f} | {ratio} | {extra}"


async def amain() -> None:
    noop = await baseline_noop()
    base = statistics.median(noop)
    with tempfile.TemporaryDirectory(prefix="podium-bench-") as tmp:
        status_root = Path(tmp) / "status"
        make_repo(status_root, 20)
        status, claims = await status_and_claim(status_root)
        root1 = Path(tmp) / "one"
        make_repo(root1, LIFECYCLE_FILES)
        life1, rate1 = await lifecycle_stdio(root1)
        root1h = Path(tmp) / "onehttp"
        make_repo(root1h, LIFECYCLE_FILES)
        life1h, rate1h = await lifecycle_http(root1h, 1, LIFECYCLE_TASKS_1)
        root16 = Path(tmp) / "sixteen"
        make_repo(root16, LIFECYCLE_FILES)
        life16, rate16 = await lifecycle_http(root16, 16, LIFECYCLE_TASKS_16)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(
        "| measurement                                  | calls |  p50 ms  |  p99 ms  | p50/noop | throughput"
    )
    print(
        "| -------------------------------------------- | ----- | -------- | -------- | ------ | ----------"
    )
    print(row("baseline: bare mcp SDK no-op tool (stdio)", noop))
    print(row(f"mission_status, {STATUS_TASKS}-task roadmap (stdio)", status, base))
    print(row(f"task_claim, {STATUS_TASKS}-task roadmap (stdio)", claims, base))
    print(row("lifecycle claim→submit→gate→merge, 1 client stdio", life1, base, f"{rate1:.1f} lifecycles/s"))
    print(row("lifecycle, 1 client, HTTP", life1h, base, f"{rate1h:.1f} lifecycles/s"))
    print(row("lifecycle, 16 clients, one HTTP server", life16, base, f"{rate16:.1f} lifecycles/s"))


def main() -> None:
    anyio.run(amain)


if __name__ == "__main__":
    main()
