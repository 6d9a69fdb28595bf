"""A fault as an edit of one file: where it goes, what it replaces, and how one is chosen soundly.

Injectors (``faults.py`` for Python, ``tsfaults.py`` for TypeScript and JavaScript) list *candidate*
faults cheaply, as positions and replacement text; ``pick`` draws candidates in a seeded order and keeps
the first whose faulty file passes a soundness test, so only a few files are ever materialised and compiled.
"""

from __future__ import annotations

import builtins
import keyword
import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault that can be injected: where, what it replaces, and what it is.

    The edit replaces characters ``start:end`` of ``line`` with ``replacement``; a statement-wide edit
    (``last_line`` set) replaces lines ``line..last_line`` whole, or deletes them when ``removed``. ``line``
    is 1-based; for a deleted statement it is the first line the statement had. ``symbol`` names what the
    fault is about (the misspelt name, the removed import, the called function).
    """

    kind: str
    line: int
    label: str
    symbol: str = ""
    removed: bool = False
    start: int = 0
    end: int = 0
    replacement: str = ""
    last_line: int = 0

    def apply(self, text: str) -> str:
        """``text`` with the fault in it."""
        lines = text.split("\n")
        if self.last_line:
            lines[self.line - 1 : self.last_line] = [] if self.removed else [self.replacement]
        else:
            old = lines[self.line - 1]
            lines[self.line - 1] = old[: self.start] + self.replacement + old[self.end :]
        return "\n".join(lines)

    def faulty_line(self, text: str) -> str:
        """The fault's line as it reads after the fault is applied (one-line faults)."""
        old = text.split("\n")[self.line - 1]
        return old[: self.start] + self.replacement + old[self.end :]


def pick(
    faults: Sequence[Fault],
    text: str,
    rng: random.Random,
    is_sound: Callable[[Fault, str], bool] | None = None,
    tries: int = 25,
) -> tuple[Fault, str] | None:
    """A fault of ``faults`` chosen by ``rng`` that is sound in ``text``, and the faulty text.

    Sound (``sound``, the default for Python): a syntax fault leaves code that does not compile; any
    other fault leaves code that does. Only the first ``tries`` of the seeded order are tried.
    """
    order = list(faults)
    rng.shuffle(order)
    for fault in order[:tries]:
        faulty = fault.apply(text)
        if (is_sound or sound)(fault, faulty):
            return fault, faulty
    return None


def sound(fault: Fault, faulty: str) -> bool:
    """Whether ``faulty`` (a Python text with ``fault``) compiles exactly when the fault is not syntax."""
    return compiles(faulty) != (fault.kind == "syntax")


def typo(name: str, *taken: Collection[str]) -> str | None:
    """A misspelling of ``name`` that is a valid identifier, no builtin and in none of ``taken``."""
    variants = [name[:-1], name + name[-1], name[:-2] + name[-1:] + name[-2:-1], name + "_"]
    for variant in variants:
        if (
            len(variant) > 1
            and variant != name
            and variant.isidentifier()
            and not keyword.iskeyword(variant)
            and not any(variant in names for names in taken)
            and not hasattr(builtins, variant)
        ):
            return variant
    return None


def compiles(text: str) -> bool:
    try:
        compile(text, "<fault>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True
