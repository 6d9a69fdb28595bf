"""Where the lines of a file went when it was edited: old line numbers mapped to new ones.

The map is built from a patience-style line diff: lines that occur exactly once on both sides anchor
the match (their longest common order), the stretches between anchors are matched the same way, and
only small stretches without anchors fall back to ``difflib.SequenceMatcher``. This keeps large
rearranged files cheap (SequenceMatcher alone is quadratic on files full of repeated lines such as
``}`` or blank lines) and prefers the matches a reader would pick.

A line in an unchanged block maps to exactly one new line; a line that was replaced or deleted maps to
the span of new lines that took the place of its block, which is the best any diff can say about it.
"""

from __future__ import annotations

import bisect
import difflib
from collections import Counter
from dataclasses import dataclass, field

FALLBACK_LIMIT = 40_000
"""Largest old × new line count of an anchorless stretch handed to SequenceMatcher."""


@dataclass(frozen=True, slots=True)
class Block:
    """A run of old lines ``[old_start, old_end)`` that became new lines ``[new_start, new_end)``.

    0-based, half-open. ``equal`` blocks have the same length on both sides and map line by line.
    """

    old_start: int
    old_end: int
    new_start: int
    new_end: int
    equal: bool


@dataclass(frozen=True, slots=True)
class LineMap:
    """Old (before the edit) line numbers to new ones; every public method counts lines from 1."""

    blocks: tuple[Block, ...]
    """Blocks holding at least one old line, in order; pure insertions only shift later blocks."""
    old_count: int
    new_count: int
    _starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", tuple(b.old_start for b in self.blocks))

    @classmethod
    def between(cls, before: str, after: str) -> LineMap:
        """The map from ``before`` to ``after``, both split at ``"\\n"`` as tree-sitter counts rows."""
        old = before.split("\n")
        new = after.split("\n")
        return cls(tuple(_blocks(_matched_lines(old, new), len(old), len(new))), len(old), len(new))

    @classmethod
    def unchanged(cls, line_count: int) -> LineMap:
        """The map of a file the edit did not touch: every line stays where it was."""
        count = max(line_count, 1)
        return cls((Block(0, count, 0, count, True),), count, count)

    def exact(self, line: int) -> int | None:
        """The new number of an unchanged old ``line``, or ``None`` if it was edited or deleted."""
        block = self._block(line - 1)
        if block is None or not block.equal:
            return None
        return line - block.old_start + block.new_start

    def span(self, first: int, last: int) -> tuple[int, int]:
        """The new lines (inclusive) that old lines ``first..last`` (inclusive) became, at the least."""
        low = self._bounds(first - 1)[0]
        high = self._bounds(max(last, first) - 1)[1]
        return low + 1, max(high, low) + 1

    def is_unchanged(self, new_line: int) -> bool:
        """Whether new ``new_line`` is an old line carried over untouched."""
        row = new_line - 1
        return any(b.equal and b.new_start <= row < b.new_end for b in self.blocks)

    def _block(self, row: int) -> Block | None:
        index = bisect.bisect_right(self._starts, row) - 1
        if index < 0:
            return None
        block = self.blocks[index]
        return block if row < block.old_end else None

    def _bounds(self, row: int) -> tuple[int, int]:
        """0-based inclusive new rows for a 0-based old row."""
        block = self._block(row)
        if block is None:
            last = max(self.new_count - 1, 0)
            return last, last
        if block.equal:
            new = row - block.old_start + block.new_start
            return new, new
        if block.new_end > block.new_start:
            return block.new_start, block.new_end - 1
        # Deleted outright: it sat between the new lines either side of the gap.
        return max(block.new_start - 1, 0), min(block.new_start, max(self.new_count - 1, 0))


def _matched_lines(old: list[str], new: list[str]) -> list[tuple[int, int]]:
    """Pairs ``(old_row, new_row)`` of equal lines, increasing on both sides."""
    pairs: list[tuple[int, int]] = []
    pending = [(0, len(old), 0, len(new))]
    while pending:
        o_lo, o_hi, n_lo, n_hi = pending.pop()
        while o_lo < o_hi and n_lo < n_hi and old[o_lo] == new[n_lo]:
            pairs.append((o_lo, n_lo))
            o_lo, n_lo = o_lo + 1, n_lo + 1
        while o_lo < o_hi and n_lo < n_hi and old[o_hi - 1] == new[n_hi - 1]:
            o_hi, n_hi = o_hi - 1, n_hi - 1
            pairs.append((o_hi, n_hi))
        if o_lo == o_hi or n_lo == n_hi:
            continue
        anchors = _anchors(old, new, o_lo, o_hi, n_lo, n_hi)
        if anchors:
            pairs.extend(anchors)
            bounds = [(o_lo - 1, n_lo - 1), *anchors, (o_hi, n_hi)]
            for (o_a, n_a), (o_b, n_b) in zip(bounds, bounds[1:], strict=False):
                if o_b - o_a > 1 and n_b - n_a > 1:
                    pending.append((o_a + 1, o_b, n_a + 1, n_b))
        elif (o_hi - o_lo) * (n_hi - n_lo) <= FALLBACK_LIMIT:
            matcher = difflib.SequenceMatcher(None, old[o_lo:o_hi], new[n_lo:n_hi], autojunk=False)
            for i, j, size in matcher.get_matching_blocks():
                pairs.extend((o_lo + i + k, n_lo + j + k) for k in range(size))
    pairs.sort()
    return pairs


def _anchors(
    old: list[str], new: list[str], o_lo: int, o_hi: int, n_lo: int, n_hi: int
) -> list[tuple[int, int]]:
    """Lines unique on both sides of the stretch, in their longest common order."""
    old_counts = Counter(old[o_lo:o_hi])
    new_counts = Counter(new[n_lo:n_hi])
    new_rows = {new[j]: j for j in range(n_lo, n_hi) if new_counts[new[j]] == 1}
    unique = [
        (i, new_rows[old[i]]) for i in range(o_lo, o_hi) if old_counts[old[i]] == 1 and old[i] in new_rows
    ]
    # Longest increasing run of new rows (patience sorting), keeping back-links to rebuild it.
    tails: list[int] = []
    tail_index: list[int] = []
    back: list[int] = []
    for index, (_, j) in enumerate(unique):
        position = bisect.bisect_left(tails, j)
        back.append(tail_index[position - 1] if position else -1)
        if position == len(tails):
            tails.append(j)
            tail_index.append(index)
        else:
            tails[position] = j
            tail_index[position] = index
    chain: list[tuple[int, int]] = []
    index = tail_index[-1] if tail_index else -1
    while index >= 0:
        chain.append(unique[index])
        index = back[index]
    chain.reverse()
    return chain


def _blocks(pairs: list[tuple[int, int]], old_count: int, new_count: int) -> list[Block]:
    """Runs of consecutive pairs as equal blocks, the gaps between them as replaced ones."""
    blocks: list[Block] = []
    o_at = n_at = 0
    index = 0
    while index <= len(pairs):
        o_next, n_next = pairs[index] if index < len(pairs) else (old_count, new_count)
        if o_next > o_at:
            blocks.append(Block(o_at, o_next, n_at, n_next, False))
        if index == len(pairs):
            break
        run = 1
        while index + run < len(pairs) and pairs[index + run] == (o_next + run, n_next + run):
            run += 1
        blocks.append(Block(o_next, o_next + run, n_next, n_next + run, True))
        o_at, n_at = o_next + run, n_next + run
        index += run
    return blocks
