"""Which findings an edit introduced: the after-file's findings minus those it already had.

A finding after the edit is *pre-existing* when it can be paired with a finding of the same source before
the edit; each before-finding pairs with at most one after-finding (multiset matching: two identical
errors before and three after leave one new). Pairs are made in four passes, strongest first, and a
pass only sees what earlier passes left unpaired:

1. **In place** — same identity (code, message with its numbers ignored, source text, enclosing
   definition) and the before-finding's line is an unchanged line that now sits exactly at the
   after-finding's line, at the same column. This survives lines inserted or deleted above.
2. **Moved** — same identity anywhere in the file, nearest first. This covers a block moved
   elsewhere, and an edited line whose error persists identically.
3. **Renamed around** — as pass 1 but ignoring the enclosing definition, whose name the edit changed.
   It comes after pass 2 so that, in a file full of identical errors, each pairs with its own first.
4. **Drifted** — the before-finding's lines, mapped through the edit, overlap the after-finding's
   lines. For sources whose findings quote a region that grows and shrinks with the surrounding text
   (tree-sitter: one ERROR node swallows differently sized regions as nearby code changes, and a
   MISSING node may turn into an ERROR) any finding of the same source qualifies; for other sources
   code, message and enclosing definition must match too.

When the source could not see all of the before-file (``before_complete=False``: a parser error stopped
the compiler early), an after-finding left unpaired that lies entirely on lines the edit did not touch
is counted as pre-existing too: it was there, only hidden.

Known limit: within one edited region, fixing a syntax error and making another that overlaps the old
error's mapped lines reads as the old error persisting. Edits elsewhere in the file are judged exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from podium.verification.findings import Finding, identity_message
from podium.verification.linemap import LineMap

DRIFTING_SOURCES: frozenset[str] = frozenset({"tree-sitter"})
"""Sources whose findings' regions drift with surrounding text (see pass 4)."""


_Pass = tuple[
    Callable[[Finding], Hashable], Callable[[Finding], Hashable], Callable[[Finding, Finding], bool]
]


@dataclass(frozen=True, slots=True)
class Delta:
    """After-findings split into those the edit introduced and those it inherited, each in file order."""

    new: tuple[Finding, ...]
    preexisting: tuple[Finding, ...]


def classify(
    before: Iterable[Finding],
    after: Iterable[Finding],
    linemap: LineMap | None,
    *,
    before_complete: bool = True,
    drifting: frozenset[str] = DRIFTING_SOURCES,
) -> Delta:
    """Split ``after`` into new and pre-existing findings relative to ``before``.

    Args:
        before: findings in the file before the edit (line numbers of the old text).
        after: findings in the file after the edit.
        linemap: old to new lines; ``None`` for a file that did not exist before (all findings new).
        before_complete: false when the source stopped early on the old text.
        drifting: sources whose regions drift (compared by overlap alone in the last pass).
    """
    after_list = sorted(after, key=_order)
    if linemap is None:
        return Delta(tuple(after_list), ())
    before_list = list(before)
    unpaired_before = set(range(len(before_list)))
    paired: set[int] = set()

    def mapped(key: Callable[[Finding], Hashable]) -> Callable[[Finding], Hashable]:
        return lambda b: (key(b), linemap.exact(b.line), b.column)

    def placed(key: Callable[[Finding], Hashable]) -> Callable[[Finding], Hashable]:
        return lambda a: (key(a), a.line, a.column)

    def drift_key(f: Finding) -> Hashable:
        if f.source in drifting:
            return (f.source,)
        return (f.source, f.code, identity_message(f.message), f.symbol)

    def overlaps(b: Finding, a: Finding) -> bool:
        low, high = linemap.span(b.line, b.end_line)
        return low <= a.end_line and a.line <= high

    def distance(b: int, a: Finding) -> int:
        old = before_list[b].line
        return abs(linemap.span(old, old)[0] - a.line)

    # Each pass: key of a before-finding, key of an after-finding, and a final check on a candidate pair.
    passes: tuple[_Pass, ...] = (
        (mapped(_identity_key), placed(_identity_key), _always),
        (_identity_key, _identity_key, _always),
        (mapped(_place_key), placed(_place_key), _always),
        (drift_key, drift_key, overlaps),
    )
    for before_key, after_key, fits in passes:
        buckets: dict[Hashable, list[int]] = {}
        for b in sorted(unpaired_before):
            buckets.setdefault(before_key(before_list[b]), []).append(b)
        for index, finding in enumerate(after_list):
            if index in paired:
                continue
            bucket = buckets.get(after_key(finding), [])
            candidates = [b for b in bucket if fits(before_list[b], finding)]
            if candidates:
                best = min(candidates, key=lambda b: distance(b, finding))
                bucket.remove(best)
                unpaired_before.discard(best)
                paired.add(index)

    if not before_complete:
        for index, finding in enumerate(after_list):
            lines = range(finding.line, finding.end_line + 1)
            if index not in paired and all(linemap.is_unchanged(line) for line in lines):
                paired.add(index)

    new = tuple(f for i, f in enumerate(after_list) if i not in paired)
    preexisting = tuple(f for i, f in enumerate(after_list) if i in paired)
    return Delta(new, preexisting)


def _always(before: Finding, after: Finding) -> bool:
    return True


def _place_key(finding: Finding) -> Hashable:
    """Identity without the enclosing definition."""
    return (finding.source, finding.code, identity_message(finding.message), finding.excerpt)


def _identity_key(finding: Finding) -> Hashable:
    return (finding.source, finding.code, identity_message(finding.message), finding.excerpt, finding.symbol)


def _order(finding: Finding) -> tuple[int, int, str]:
    return (finding.line, finding.column, finding.source)
