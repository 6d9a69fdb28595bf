"""The built corpus, kept under ``work/`` so a second run skips the build (about two minutes).

The file's name carries a digest of everything that decides the cases: the builder's own source, the
pinned pairs and the seed. Any change to them builds afresh; a stale file is simply never read again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from pathlib import Path

from tests.bench.gate_corpus.cases import BuildStats, Case, build
from tests.bench.gate_corpus.sources import PAIRS, WORK, Pair, log

BUILDER_MODULES = ("cases", "faults", "mutation", "pyscope", "stdlib", "tsfaults", "sources")
"""Modules whose source decides the corpus."""


def corpus(pairs: tuple[Pair, ...] = PAIRS, seed: int | None = None) -> tuple[list[Case], BuildStats]:
    """Every case (built, or read back from an earlier build with the same inputs)."""
    from tests.bench.gate_corpus.cases import SEED

    seed = SEED if seed is None else seed
    path = WORK / f"cases-{_digest(pairs, seed)}.jsonl"
    if path.exists():
        return _read(path, pairs)
    cases, stats = build(pairs, seed)
    _write(path, cases, stats)
    return cases, stats


def _digest(pairs: tuple[Pair, ...], seed: int) -> str:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(repr((pairs, seed)).encode())
    for name in BUILDER_MODULES:
        digest.update((here / f"{name}.py").read_bytes())
    return digest.hexdigest()[:16]


def _write(path: Path, cases: list[Case], stats: BuildStats) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"files": stats.files, "skipped": stats.skipped, "dropped": stats.dropped})]
    for case in cases:
        fields = {f.name: getattr(case, f.name) for f in dataclasses.fields(case)}
        fields["pair"] = case.pair.key
        lines.append(json.dumps(fields))
    temporary = path.with_suffix(".tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    temporary.replace(path)
    log(f"corpus written to {path.name}: {len(cases)} cases")


def _read(path: Path, pairs: tuple[Pair, ...]) -> tuple[list[Case], BuildStats]:
    by_key = {pair.key: pair for pair in pairs}
    lines = path.read_text(encoding="utf-8").splitlines()
    head = json.loads(lines[0])
    stats = BuildStats(Counter(head["files"]), Counter(head["skipped"]), Counter(head["dropped"]))
    cases: list[Case] = []
    for line in lines[1:]:
        fields = json.loads(line)
        fields["pair"] = by_key[fields["pair"]]
        cases.append(Case(**fields))
    log(f"corpus read from {path.name}: {len(cases)} cases")
    return cases, stats
