"""Where the lines of a file went when it was edited: old line numbers mapped to new ones.

The map is built from a line diff (``difflib.SequenceMatcher``). A line in an unchanged block maps to
exactly one new line; a line that was replaced or deleted maps to the span of new lines that took the
place of its block, which is the best any diff can say about it.
"""

from __future__ import annotations

import bisect
import difflib
from dataclasses import dataclass, field


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
        # Edits are usually local: diff only the middle so large files stay cheap to compare.
        prefix = 0
        limit = min(len(old), len(new))
        while prefix < limit and old[prefix] == new[prefix]:
            prefix += 1
        suffix = 0
        while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
            suffix += 1
        blocks: list[Block] = []
        if prefix:
            blocks.append(Block(0, prefix, 0, prefix, True))
        matcher = difflib.SequenceMatcher(
            None, old[prefix : len(old) - suffix], new[prefix : len(new) - suffix], autojunk=False
        )
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if i2 > i1:
                blocks.append(Block(i1 + prefix, i2 + prefix, j1 + prefix, j2 + prefix, tag == "equal"))
        if suffix:
            blocks.append(Block(len(old) - suffix, len(old), len(new) - suffix, len(new), True))
        return cls(tuple(blocks), len(old), len(new))

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
