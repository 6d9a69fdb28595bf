"""Running `podium verify` on the cases: cold (one process per case) and warm (one `--batch` process).

Cold: each case gets a fresh copy of its release's tree under ``work/run/cold/``, the touched file put back
to the case's base, and its own `podium verify --root CASE --diff PATCH --json` process, which starts its
language servers, judges and stops them. At most ``jobs`` run at once.

Warm: one `podium verify --batch` process judges every case. Its gate keeps a root's servers warm, so the
cases of a release pair share one working copy under ``work/run/warm/`` (a fresh directory per case would
be a cold start every time): the runner puts the case's base in place, sends the case, waits for its line,
and puts the new release's file back. A case that outlives ``case_limit`` counts as an error; the batch
process is then killed (with its servers) and a new one takes the next case.

Every process the runner starts, and every language server those start (found by their working directory
under ``work/run/``), is stopped by process id before the runner returns.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from tests.bench.gate_corpus.cases import Case
from tests.bench.gate_corpus.sources import WORK, Pair, tree

RUN = WORK / "run"
NODE_BIN = Path(__file__).resolve().parents[2] / "e2e" / "node" / "node_modules" / ".bin"
"""Where `make bench-gate` has TypeScript's `tsc --lsp` (the pinned e2e node tools)."""
PODIUM = (sys.executable, "-m", "podium.server")
MAX_LINE = 64 * 1024 * 1024
"""Longest verdict line read from the batch process."""
STOP_TIMEOUT = 30.0
"""Seconds the batch process gets to stop its servers after end of input."""


@dataclass(frozen=True, slots=True)
class Result:
    """The gate's answer on one case: "accepted", "rejected" or "error" (``detail`` says why)."""

    case: Case
    mode: str
    outcome: str
    seconds: float
    detail: str = ""
    findings: tuple[dict[str, Any], ...] = ()

    @property
    def on_target(self) -> bool:
        """Whether a new finding points at the injected fault (its line or its symbol)."""
        case = self.case
        for finding in self.findings:
            if case.category.endswith("syntax") or case.removed:
                return True
            if finding["line"] <= case.fault_line <= finding["end_line"]:
                return True
            if case.symbol and case.symbol in f"{finding['message']} {finding['excerpt']}":
                return True
        return False


def environment() -> dict[str, str]:
    """The environment of every `podium` process: the pinned TypeScript on the tool path."""
    extra = os.environ.get("PODIUM_TOOL_PATH", "")
    return {**os.environ, "PODIUM_TOOL_PATH": os.pathsep.join(p for p in (str(NODE_BIN), extra) if p)}


def stage(pair: Pair, destination: Path) -> None:
    """A fresh copy of the pair's new release at ``destination``."""
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(tree(pair, pair.new), destination, ignore=shutil.ignore_patterns(".complete"))


def judge(case: Case, mode: str, seconds: float, verdict: dict[str, Any]) -> Result:
    """A verdict (as `podium verify --json` prints it) as a result; unverified verdicts are errors."""
    findings = tuple(verdict.get("findings_new", ()))
    if verdict.get("accepted"):
        return Result(case, mode, "accepted", seconds, findings=findings)
    unverified = [n for n in verdict.get("notes", ()) if n.startswith("unverified")]
    if unverified and not findings:
        return Result(case, mode, "error", seconds, "; ".join(unverified))
    return Result(case, mode, "rejected", seconds, findings=findings)


async def run_cold(
    cases: Sequence[Case], jobs: int, case_limit: float, progress: Callable[[Result], None]
) -> list[Result]:
    """Each case in its own `podium verify` process on its own fresh copy, ``jobs`` at a time."""
    limiter = anyio.CapacityLimiter(jobs)
    results: dict[int, Result] = {}

    async def one(index: int, case: Case) -> None:
        async with limiter:
            results[index] = await _cold_case(index, case, case_limit)
            progress(results[index])

    async with anyio.create_task_group() as tg:
        for index, case in enumerate(cases):
            tg.start_soon(one, index, case)
    return [results[i] for i in range(len(cases))]


async def _cold_case(index: int, case: Case, case_limit: float) -> Result:
    root = RUN / "cold" / str(index)
    patch = RUN / "cold" / f"{index}.patch"
    stage(case.pair, root)
    (root / case.path).write_bytes(case.base.encode("utf-8"))
    patch.write_bytes(case.diff.encode("utf-8"))
    argv = [*PODIUM, "verify", "--root", str(root), "--diff", str(patch), "--json"]
    started = time.perf_counter()
    process = await anyio.open_process(argv, env=environment(), start_new_session=True)
    output: dict[str, bytes] = {}
    try:
        with anyio.move_on_after(case_limit) as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_drain, process.stdout, output, "out")
                tg.start_soon(_drain, process.stderr, output, "err")
            await process.wait()
        seconds = time.perf_counter() - started
        if scope.cancelled_caught:
            return Result(case, "cold", "error", seconds, f"timeout after {case_limit:g} s")
        last = " ".join(output.get("err", b"").decode("utf-8", "replace").strip().splitlines()[-1:])
        if process.returncode in (0, 1):
            try:
                return judge(case, "cold", seconds, json.loads(output["out"]))
            except json.JSONDecodeError:
                return Result(
                    case, "cold", "error", seconds, f"exit {process.returncode}, no verdict: {last}"
                )
        return Result(case, "cold", "error", seconds, f"exit {process.returncode}: {last}")
    finally:
        _kill_group(process)
        stop_servers_under(root)
        shutil.rmtree(root, ignore_errors=True)
        patch.unlink(missing_ok=True)


async def _drain(stream: anyio.abc.ByteReceiveStream | None, into: dict[str, bytes], key: str) -> None:
    chunks: list[bytes] = []
    if stream is not None:
        async for chunk in stream:
            chunks.append(chunk)
    into[key] = b"".join(chunks)


async def run_warm(
    cases: Sequence[Case], case_limit: float, progress: Callable[[Result], None]
) -> list[Result]:
    """Every case through one `podium verify --batch`, the cases of a pair on one working copy."""
    results: list[Result] = []
    batch = await _Batch.start()
    try:
        for pair in dict.fromkeys(case.pair for case in cases):
            root = RUN / "warm" / pair.key.replace("/", "__")
            stage(pair, root)
            release = tree(pair, pair.new)
            for case in (c for c in cases if c.pair == pair):
                (root / case.path).write_bytes(case.base.encode("utf-8"))
                try:
                    result = await batch.judge(case, root, case_limit)
                finally:
                    shutil.copyfile(release / case.path, root / case.path)
                if result.outcome == "error" and result.detail.startswith(("timeout", "batch process died")):
                    await batch.kill()
                    batch = await _Batch.start()
                results.append(result)
                progress(result)
    finally:
        await batch.stop()
        stop_servers_under(RUN / "warm")
        shutil.rmtree(RUN / "warm", ignore_errors=True)
    return results


class _Batch:
    """One running `podium verify --batch` process."""

    def __init__(self, process: anyio.abc.Process, log: Any) -> None:
        self.process = process
        self.log = log
        assert process.stdout is not None
        self.lines = BufferedByteReceiveStream(process.stdout)

    @classmethod
    async def start(cls) -> _Batch:
        (WORK / "logs").mkdir(parents=True, exist_ok=True)
        log = (WORK / "logs" / "warm-batch.stderr").open("ab")
        argv = [*PODIUM, "verify", "--batch"]
        process = await anyio.open_process(argv, env=environment(), stderr=log, start_new_session=True)
        return cls(process, log)

    async def judge(self, case: Case, root: Path, case_limit: float) -> Result:
        assert self.process.stdin is not None
        request = json.dumps({"root": str(root), "diff": case.diff, "id": case.id}) + "\n"
        started = time.perf_counter()
        with anyio.move_on_after(case_limit):
            try:
                await self.process.stdin.send(request.encode("utf-8"))
                line = await self.lines.receive_until(b"\n", MAX_LINE)
            except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError):
                seconds = time.perf_counter() - started
                return Result(case, "warm", "error", seconds, "batch process died (see work/logs)")
            seconds = time.perf_counter() - started
            answer: dict[str, Any] = json.loads(line)
            if "error" in answer:
                return Result(case, "warm", "error", seconds, answer["error"]["message"])
            return judge(case, "warm", seconds, answer)
        return Result(case, "warm", "error", time.perf_counter() - started, f"timeout after {case_limit:g} s")

    async def kill(self) -> None:
        """Kill the process and every server it started (they all work under ``work/run/warm``)."""
        _kill_group(self.process)
        stop_servers_under(RUN / "warm")
        await self.process.wait()
        self.log.close()

    async def stop(self) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.aclose()
        with anyio.move_on_after(STOP_TIMEOUT):
            await self.process.wait()
        _kill_group(self.process)
        self.log.close()


def _kill_group(process: anyio.abc.Process) -> None:
    """Kill the process group the runner started (the `podium` process is its leader)."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def stop_servers_under(directory: Path) -> list[int]:
    """Kill the processes (language servers our `podium` processes started) working under ``directory``."""
    killed: list[int] = []
    base = directory.resolve()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == base or base in cwd.parents:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
            except ProcessLookupError:
                continue
    return killed
