"""`python -m tests.bench.gate_corpus` (`make bench-gate`): the gate on real release edits (issue 8).

Builds the corpus (downloading the pinned releases on first use), samples each category deterministically,
runs the warm pass (every sampled case through one `podium verify --batch`) and the cold pass (a smaller
sample, one `podium verify` process per case), then prints the per-category table (plain, then Markdown
for docs/performance.md) and the commonest causes of false rejections. Progress goes to stderr; every
result is kept in ``work/results-*.jsonl`` and the false rejections, misses and errors in
``work/details.md``. Asserts nothing: the table says which targets are met.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Callable

import anyio

from tests.bench.gate_corpus import report
from tests.bench.gate_corpus.cases import CATEGORIES, GOOD, SEED, TS_GOOD, Case
from tests.bench.gate_corpus.manifest import corpus
from tests.bench.gate_corpus.runner import Result, run_cold, run_warm
from tests.bench.gate_corpus.sources import PAIRS, WORK, log

WARM_PER_CATEGORY = 100
"""Cases per category in the warm pass (a seeded sample when a category has more), good ones excepted:
every release edit is judged, so that a 1 % false-rejection rate is measured on a few hundred edits and
each tricky case's release edit has a verdict of its own (see ``report._detail``)."""
COLD_PER_CATEGORY = 5
"""Cases per category in the cold pass: each costs a process and a cold start (seconds)."""
CASE_TIMEOUT = 120.0
"""Seconds one case may take before it counts as an error."""


def sample(cases: list[Case], per_category: int, seed: int, *, every_good: bool = False) -> list[Case]:
    """At most ``per_category`` cases of each category (all release edits when ``every_good``), drawn
    with ``seed``, in corpus order."""
    chosen: set[str] = set()
    for category in CATEGORIES:
        ids = [c.id for c in cases if c.category == category]
        keep = len(ids) if every_good and category in (GOOD, TS_GOOD) else min(per_category, len(ids))
        chosen.update(random.Random(f"{seed}:{category}").sample(ids, keep))
    return [c for c in cases if c.id in chosen]


def progress(total: int, mode: str) -> Callable[[Result], None]:
    """A progress line on stderr per finished case."""
    done = [0]

    def tell(result: Result) -> None:
        done[0] += 1
        extra = f" ({result.detail})" if result.detail else ""
        log(f"[{mode} {done[0]}/{total}] {result.outcome:8} {result.seconds:6.2f} s  {result.case.id}{extra}")

    return tell


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.gate_corpus", description=__doc__)
    parser.add_argument("--warm-per-category", type=int, default=WARM_PER_CATEGORY)
    parser.add_argument("--cold-per-category", type=int, default=COLD_PER_CATEGORY)
    parser.add_argument("--jobs", type=int, default=1, help="cold processes at once (at most 2 on 2 cores)")
    parser.add_argument("--timeout", type=float, default=CASE_TIMEOUT, help="seconds per case")
    parser.add_argument("--only", action="append", choices=CATEGORIES, help="only these categories")
    parser.add_argument("--package", action="append", help="only these packages (by name)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--build-only", action="store_true", help="build and check the corpus, run nothing")
    parser.add_argument(
        "--cold-only", action="store_true", help="skip the warm pass (the cold sample stays the same)"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="print the table of the last run's saved results again"
    )
    parser.add_argument(
        "--recheck",
        action="store_true",
        help="also re-run cold every good case the warm pass rejected (splits warm-state artifacts off)",
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    pairs = tuple(p for p in PAIRS if not args.package or p.name in args.package)
    cases, stats = corpus(pairs, args.seed)
    cases = [c for c in cases if not args.only or c.category in args.only]
    built = time.perf_counter() - started
    log(
        f"corpus: {len(cases)} cases from {sum(stats.files.values())} changed files in {len(pairs)} pairs "
        f"({built:.0f} s); per category {dict(Counter(c.category for c in cases))}"
    )
    log(f"left out: {dict(stats.skipped)}; dropped by build checks: {dict(stats.dropped)}")
    if args.build_only:
        return 0
    if args.report_only:
        warm = report.load(WORK / "results-warm.jsonl", cases)
        cold = report.load(WORK / "results-cold.jsonl", cases)
        print(report.markdown(report.rows(cold, warm)))
        return 0

    warm_cases = sample(cases, args.warm_per_category, args.seed, every_good=True)
    cold_cases = sample(warm_cases, args.cold_per_category, args.seed)
    warm = (
        []
        if args.cold_only
        else anyio.run(run_warm, warm_cases, args.timeout, progress(len(warm_cases), "warm"))
    )
    warm_done = time.perf_counter()
    cold = anyio.run(
        run_cold, cold_cases, max(1, min(args.jobs, 2)), args.timeout, progress(len(cold_cases), "cold")
    )
    recheck: list[Result] = []
    if args.recheck:
        rejected = [r.case for r in warm if r.case.good and r.outcome == "rejected"]
        recheck = anyio.run(run_cold, rejected, 1, args.timeout, progress(len(rejected), "recheck"))
        report.save(WORK / "results-recheck-cold.jsonl", recheck)
    finished = time.perf_counter()

    if not args.cold_only:
        report.save(WORK / "results-warm.jsonl", warm)
    report.save(WORK / "results-cold.jsonl", cold)
    (WORK / "details.md").write_text(report.details([*warm, *cold]), encoding="utf-8")
    table = report.rows(cold, warm)
    print(report.plain(table))
    print()
    print(report.markdown(table))
    print()
    print("Commonest new findings on falsely rejected good cases (cases):")
    for cause, count in report.causes(warm):
        print(f"  {count:4}  {cause}")
    if args.recheck:
        print(report.recheck_summary(recheck))
    print()
    print(
        f"corpus {built:.0f} s, warm pass {warm_done - started - built:.0f} s, cold pass "
        f"{finished - warm_done:.0f} s, total {finished - started:.0f} s; details in {WORK / 'details.md'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
