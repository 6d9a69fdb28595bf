"""What the runs mean: per category, the rate that matters, errors and times, against issue 8's targets.

Good categories report the *false-rejection rate* (rejected / judged), bad ones the *recall* (rejected /
judged); "judged" leaves out errors (timeouts, exit status 2, unverified verdicts), which are counted in a
column of their own so none can hide. Rates come from the warm run, which judges every case; the cold run
(a sample) gives the cold times and a second rate, which should agree.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tests.bench.gate_corpus.cases import CATEGORIES, GOOD_CATEGORIES, Case
from tests.bench.gate_corpus.runner import Result

TARGETS: dict[str, tuple[str, float]] = {
    "good": ("<=", 0.01),
    "tricky-unmoved": ("<=", 0.0),
    "tricky-moved": ("<=", 0.0),
    "syntax": (">=", 0.99),
    "undefined-name": (">=", 0.99),
    "removed-import": (">=", 0.99),
    "call-arity": (">=", 0.95),
    "missing-attribute": (">=", 0.95),
    "wrong-type": (">=", 0.95),
    "ts-good": ("<=", 0.01),
    "ts-syntax": (">=", 0.99),
    "ts-undefined-name": (">=", 0.90),
}
"""Issue 8's targets: a false-rejection ceiling for good categories, a recall floor for bad ones."""
TIME_TARGETS = {"cold": 2.5, "warm": 0.3}
"""Issue 8's p50 targets in seconds, over all cases."""
HEADER = (
    "category",
    "target",
    "n",
    "rate",
    "met",
    "errors",
    "detail",
    "cold n",
    "cold rate",
    "cold p50 s",
    "cold p90 s",
    "warm p50 s",
    "warm p90 s",
)


def percentile(samples: Sequence[float], q: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def _rate(results: Sequence[Result]) -> tuple[float | None, int]:
    judged = [r for r in results if r.outcome != "error"]
    rejected = sum(r.outcome == "rejected" for r in judged)
    return (rejected / len(judged) if judged else None), len(results) - len(judged)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _detail(category: str, results: Sequence[Result], everything: Sequence[Result]) -> str:
    """Bad: how many rejections point at the fault. Tricky: see ``_tricky``."""
    if category not in GOOD_CATEGORIES:
        return f"{sum(r.on_target for r in results)} on target"
    if not category.startswith("tricky"):
        return ""
    rate, alone, pointing = _tricky(results, everything)
    return (
        f"FR {_fmt(rate, 3)} of {alone} whose edit alone passes; "
        f"{pointing} rejections name the pre-existing problem"
    )


def _tricky(results: Sequence[Result], everything: Sequence[Result]) -> tuple[float | None, int, int]:
    """What a tricky category says of pre-existing problems, apart from the release edit's own verdict.

    A tricky case is its file's release edit plus a problem the root already had. When the release edit
    alone is rejected (a false rejection the good category counts), its tricky twins are rejected for the
    same finding. So: the false-rejection rate among cases whose release edit alone passes, and how many
    rejections have a new finding that points at the pre-existing problem (its line or its name). Both
    must be 0 for the target "no false rejection on pre-existing and moved problems"; the plain rate stays
    in the table beside them.
    """
    accepted = {
        r.case.id.partition("#")[0]
        for r in everything
        if r.case.category == "good" and r.outcome == "accepted"
    }
    alone = [r for r in results if r.case.id.partition("#")[0] in accepted]
    rate, _ = _rate(alone)
    pointing = sum(r.outcome == "rejected" and r.on_target for r in results)
    return rate, len(alone), pointing


def rows(cold: Sequence[Result], warm: Sequence[Result]) -> list[tuple[str, ...]]:
    """The table, one row per category present, then an "all" row with the times over every case."""
    table: list[tuple[str, ...]] = []
    for category in CATEGORIES:
        w = [r for r in warm if r.case.category == category]
        c = [r for r in cold if r.case.category == category]
        if not w and not c:
            continue
        rate, errors = _rate(w)
        cold_rate, _ = _rate(c)
        op, bound = TARGETS[category]
        met = rate is not None and (rate <= bound if op == "<=" else rate >= bound)
        if category.startswith("tricky") and rate is not None:
            isolated, _, pointing = _tricky(w, warm)
            met = isolated is not None and isolated <= bound and pointing == 0
        detail = _detail(category, w, warm)
        kind = "FR" if category in GOOD_CATEGORIES else "recall"
        table.append(
            (
                category,
                f"{kind} {op} {bound:g}",
                str(len(w)),
                _fmt(rate, 3),
                "yes" if met else "NO",
                str(errors),
                detail,
                str(len(c)),
                _fmt(cold_rate, 3),
                _fmt(percentile([r.seconds for r in c], 50)),
                _fmt(percentile([r.seconds for r in c], 90)),
                _fmt(percentile([r.seconds for r in w], 50)),
                _fmt(percentile([r.seconds for r in w], 90)),
            )
        )
    cold_p50 = percentile([r.seconds for r in cold], 50)
    warm_p50 = percentile([r.seconds for r in warm], 50)
    met = all(p is not None and p <= TIME_TARGETS[m] for m, p in (("cold", cold_p50), ("warm", warm_p50)))
    table.append(
        (
            "all",
            "p50 cold <= 2.5 s, warm <= 0.3 s",
            str(len(warm)),
            "",
            "yes" if met else "NO",
            str(sum(r.outcome == "error" for r in warm)),
            "",
            str(len(cold)),
            "",
            _fmt(cold_p50),
            _fmt(percentile([r.seconds for r in cold], 90)),
            _fmt(warm_p50),
            _fmt(percentile([r.seconds for r in warm], 90)),
        )
    )
    return table


def plain(table: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in [HEADER, *table]) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in [HEADER, *table]
    )


def markdown(table: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "| " + " | ".join("---" for _ in HEADER) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in table]
    return "\n".join(lines)


def causes(results: Sequence[Result], top: int = 12) -> list[tuple[str, int]]:
    """The (source, code) pairs of new findings on falsely rejected good cases, most cases first."""
    counts: Counter[str] = Counter()
    for result in results:
        if result.case.good and result.outcome == "rejected":
            counts.update({f"{f['source']}:{f['code']}" for f in result.findings})
    return counts.most_common(top)


def recheck_summary(recheck: Sequence[Result]) -> str:
    """How many warm false rejections a cold run repeats, per category (the rest are warm-state artifacts)."""
    lines = ["Warm false rejections re-run cold (rejected again / re-run):"]
    for category in CATEGORIES:
        runs = [r for r in recheck if r.case.category == category]
        if runs:
            again = sum(r.outcome == "rejected" for r in runs)
            lines.append(f"  {category:16} {again:4} / {len(runs)}")
    return "\n".join(lines)


def details(results: Sequence[Result]) -> str:
    """Markdown: every false rejection with its findings, every missed fault, every error."""
    out = ["# Gate corpus: details of the last run", ""]
    wrong = [r for r in results if r.case.good and r.outcome == "rejected"]
    out += [f"## False rejections ({len(wrong)})", ""]
    for r in wrong:
        out.append(f"- `{r.case.id}` ({r.case.label or 'release edit'})")
        out += [f"  - {f['path']}:{f['line']} {f['source']} {f['code']}: {f['message']}" for f in r.findings]
    missed = [r for r in results if not r.case.good and r.outcome == "accepted"]
    out += ["", f"## Missed faults ({len(missed)})", ""]
    out += [f"- `{r.case.id}` line {r.case.fault_line}: {r.case.label}" for r in missed]
    errors = [r for r in results if r.outcome == "error"]
    out += ["", f"## Errors ({len(errors)})", ""]
    out += [f"- `{r.case.id}` ({r.mode}): {r.detail}" for r in errors]
    return "\n".join(out) + "\n"


def save(path: Path, results: Sequence[Result]) -> None:
    """Every result as a JSON line (for later analysis)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for r in results:
            record = {
                "id": r.case.id,
                "category": r.case.category,
                "mode": r.mode,
                "outcome": r.outcome,
                "seconds": round(r.seconds, 3),
                "detail": r.detail,
                "label": r.case.label,
                "fault_line": r.case.fault_line,
                "on_target": r.on_target,
                "findings": list(r.findings),
            }
            out.write(json.dumps(record) + "\n")


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def load(path: Path, cases: Sequence[Case]) -> list[Result]:
    """The results ``save`` wrote to ``path``, for the cases of the corpus still present."""
    by_id = {case.id: case for case in cases}
    results: list[Result] = []
    if not path.exists():
        return results
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        case = by_id.get(record["id"])
        if case is not None:
            results.append(
                Result(
                    case,
                    record["mode"],
                    record["outcome"],
                    record["seconds"],
                    record["detail"],
                    tuple(record["findings"]),
                )
            )
    return results
