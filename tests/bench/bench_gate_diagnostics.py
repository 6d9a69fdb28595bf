"""The gate with warm language servers on a one-file edit of a 1,000-line Python file.

Measured in one run, on the same file and fresh edits (see docs/performance.md, "Gate diagnostics"):

1. The gate (tree-sitter + python-compile + ruff server + basedpyright, warm pool, base results cached),
   and the same servers' own warm latency (a second ruff and basedpyright driven directly: ``didChange`` +
   pull on an open document), taken in turn so both see the same load; back to back, then with a pause
   before each check. The overhead ratio is the gate's p50 over the slowest server's.
2. The per-check alternative: spawning the ``ruff check`` and ``basedpyright`` CLIs (through the gate's CLI
   sources, base cached, both tools concurrently): the speed-up ratio is their p50 over the gate's.
3. Cold start: a new pool's first check (servers start, analyse, then judge).

Run: ``python -m tests.bench.bench_gate_diagnostics``. Prints a table; asserts nothing about time.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio

from podium.verification.background import shared_loop
from podium.verification.catalog import (
    BASEDPYRIGHT,
    BASEDPYRIGHT_CLI,
    RUFF,
    RUFF_CLI,
    SourceSpec,
    resolve_commands,
    search_dirs,
)
from podium.verification.changes import ChangeSet, FileChange
from podium.verification.clisource import CliSource
from podium.verification.gate import Gate
from podium.verification.lspclient import LspClient
from podium.verification.lsppool import LspPool
from podium.verification.lspsource import LspSource

FUNCTIONS = 110
"""Functions in the generated file (9 lines each, plus a header: about 1,000 lines)."""
EDITED = 55
"""The function each edit changes."""
WARMUP = 5
CHECKS = 40
SPACED_CHECKS = 15
PAUSE = 0.5
"""Seconds between the spaced checks."""
CLI_CHECKS = 6
PATH = "pkg/big.py"


def big_file() -> str:
    head = '"""A generated module of about a thousand lines."""\n\nfrom __future__ import annotations\n\n'
    body = "".join(
        f"\ndef func_{i}(a: int, b: str) -> str:\n"
        f'    """Function {i}."""\n'
        f"    total = a * {i}\n"
        "    text = b.upper()\n"
        "    if total > 10:\n"
        '        return f"{text}-{total}"\n'
        "    return text\n\n"
        for i in range(FUNCTIONS)
    )
    return head + body


def edited(base: str, k: int) -> str:
    return base.replace(f"    total = a * {EDITED}\n", f"    total = a * {EDITED} + {k}\n")


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def timed(run: Callable[[], object], count: int) -> list[float]:
    samples: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


class Edits:
    """A fresh edit per check, so that no server can answer from a cache of the edited text."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.k = 0

    def next(self) -> ChangeSet:
        self.k += 1
        return ChangeSet((FileChange(PATH, self.base, edited(self.base, self.k)),))


class Direct:
    """A language server of its own, driven directly on the gate's background loop: the baseline."""

    def __init__(self, spec: SourceSpec, root: Path, base: str) -> None:
        self.spec, self.root, self.base = spec, root, base
        self.uri = (root / PATH).as_uri()
        self.version = 1
        self.loop = shared_loop()
        self.client = self.loop.call(self._start)

    async def _start(self) -> LspClient:
        [command, *_] = resolve_commands(self.spec, search_dirs(self.root))
        client = await LspClient.launch(self.spec.name, command, self.root)
        self.loop.task_group.start_soon(client.serve)
        await client.initialize()
        document = {"uri": self.uri, "languageId": "python", "version": 1, "text": self.base}
        await client.notify("textDocument/didOpen", {"textDocument": document})
        await client.pull(self.uri)
        return client

    def check(self, k: int) -> None:
        self.version += 1
        self.loop.call(self._change_and_pull, edited(self.base, k), self.version)

    async def _change_and_pull(self, text: str, version: int) -> None:
        change = {"textDocument": {"uri": self.uri, "version": version}, "contentChanges": [{"text": text}]}
        await self.client.notify("textDocument/didChange", change)
        await self.client.pull(self.uri)

    def close(self) -> None:
        self.loop.call(self._stop)

    async def _stop(self) -> None:
        with anyio.move_on_after(5):
            await self.client.shutdown()
        await self.client.terminate()


def interleaved(root: Path, base: str) -> tuple[dict[str, list[float]], dict[str, list[float]], float]:
    """Gate and direct checks taken in turn, back to back and then paused, so that both see one load."""
    pool = LspPool()
    gate = Gate(
        extra_sources=[LspSource(RUFF, root, pool), LspSource(BASEDPYRIGHT, root, pool)], resources=[pool]
    )
    edits = Edits(base)
    directs = {"ruff": Direct(RUFF, root, base), "basedpyright": Direct(BASEDPYRIGHT, root, base)}
    with gate:
        started = time.perf_counter()
        first = gate.check(edits.next())
        cold = (time.perf_counter() - started) * 1000
        assert first.accepted, first.findings_new
        runs: dict[str, Callable[[], object]] = {"gate": lambda: gate.check(edits.next())}
        for name, direct in directs.items():
            runs[name] = lambda direct=direct: direct.check(edits.k + 1000)
        for run in runs.values():
            timed(run, WARMUP)
        back_to_back: dict[str, list[float]] = {name: [] for name in runs}
        spaced: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(CHECKS):
            for name, run in runs.items():
                back_to_back[name] += timed(run, 1)
        for _ in range(SPACED_CHECKS):
            for name, run in runs.items():
                time.sleep(PAUSE)
                spaced[name] += timed(run, 1)
    for direct in directs.values():
        direct.close()
    return back_to_back, spaced, cold


def cli_samples(root: Path, base: str) -> list[float]:
    gate = Gate(extra_sources=[CliSource(RUFF_CLI, root), CliSource(BASEDPYRIGHT_CLI, root)])
    edits = Edits(base)
    gate.check(edits.next())
    return timed(lambda: gate.check(edits.next()), CLI_CHECKS)


def row(label: str, samples: list[float], extra: str = "") -> str:
    return f"| {label} | {pct(samples, 50):8.1f} | {pct(samples, 90):8.1f} | {len(samples):3d} | {extra} |"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="podium-bench-gate-") as scratch:
        root = Path(scratch)
        base = big_file()
        (root / PATH).parent.mkdir(parents=True)
        (root / PATH).write_text(base)
        warm, spaced, cold = interleaved(root, base)
        cli = cli_samples(root, base)
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; file: {base.count(chr(10))} lines"
    )
    print("| measurement | p50 ms | p90 ms | n | ratio |")
    print("| --- | ---: | ---: | ---: | --- |")
    for label, samples in (("back to back", warm), (f"one every {PAUSE:g} s", spaced)):
        slowest = max(statistics.median(samples["ruff"]), statistics.median(samples["basedpyright"]))
        gate = statistics.median(samples["gate"])
        ratio = f"{gate / slowest:.2f}× the slowest server (+{gate - slowest:.0f} ms)"
        print(row(f"gate: syntax + ruff + basedpyright, warm, {label}", samples["gate"], ratio))
        print(row(f"ruff server alone, warm (didChange + pull), {label}", samples["ruff"]))
        print(row(f"basedpyright alone, warm (didChange + pull), {label}", samples["basedpyright"]))
    speedup = statistics.median(cli) / statistics.median(warm["gate"])
    print(row("CLIs per check: ruff check + basedpyright", cli, f"the warm gate is {speedup:.1f}× faster"))
    print(f"| cold start: new pool, first check | {cold:8.1f} | | 1 | |")


if __name__ == "__main__":
    main()
