"""The cases: real release edits (good), the same edits with one injected fault (bad), and edits of files
that already had a problem outside the edited lines (tricky good), each checked as it is built.

A case is a root and a diff. The root is the *new* release with the touched file put back to ``base`` (its
old version, or the old version with a pre-existing problem), so applying the diff yields the new release
(or the new release with the fault). Build-time checks, each of which drops a case that fails it (and is
counted, see ``BuildStats``): ``git apply`` turns ``base`` into the expected text; a bad case's fault sits on
an added line (a deleted import: on a removed line); a pre-existing problem sits on no added line and, for
``tricky-unmoved``, keeps its line number; Python faults other than syntax still compile, syntax ones do not.
"""

from __future__ import annotations

import difflib
import random
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from tests.bench.gate_corpus.faults import PYTHON_KINDS, python_faults
from tests.bench.gate_corpus.mutation import Fault, pick, sound
from tests.bench.gate_corpus.sources import PAIRS, Pair, log, tree
from tests.bench.gate_corpus.tsfaults import TS_KINDS, ts_faults, ts_sound

SEED = 8
"""The corpus's fixed seed (issue 8)."""
MAX_LINES = 3000
"""Files longer than this (before or after) are left out: generated tables, vendored code."""
TRICKY_KINDS = ("undefined-name", "missing-attribute", "call-arity", "wrong-type", "syntax")
"""Pre-existing problems a tricky case may carry (one per case, the first of a seeded order that fits)."""
PY_SUFFIXES = (".py",)
TS_SUFFIXES = (".ts", ".tsx", ".mts", ".cts", ".js", ".mjs", ".cjs")
GOOD, UNMOVED, MOVED, TS_GOOD = "good", "tricky-unmoved", "tricky-moved", "ts-good"
CATEGORIES = (GOOD, UNMOVED, MOVED, *PYTHON_KINDS, TS_GOOD, *TS_KINDS)
"""Every category, in report order. Good ones must be accepted; the others must be rejected."""
GOOD_CATEGORIES = frozenset({GOOD, UNMOVED, MOVED, TS_GOOD})


@dataclass(frozen=True, slots=True)
class Case:
    """One judgement to ask of the gate.

    ``fault_line`` is the fault's line after the edit (for a pre-existing problem: the problem's line after
    the edit; for a deleted import: the line it had in ``base``). ``label`` says what was injected.
    """

    id: str
    category: str
    pair: Pair
    path: str
    base: str
    diff: str
    fault_line: int = 0
    label: str = ""
    symbol: str = ""
    removed: bool = False

    @property
    def good(self) -> bool:
        return self.category in GOOD_CATEGORIES


@dataclass(slots=True)
class BuildStats:
    """What the builder saw: files per pair, files left out and why, cases dropped by a check."""

    files: Counter[str] = field(default_factory=Counter[str])
    skipped: Counter[str] = field(default_factory=Counter[str])
    dropped: Counter[str] = field(default_factory=Counter[str])


def build(pairs: tuple[Pair, ...] = PAIRS, seed: int = SEED) -> tuple[list[Case], BuildStats]:
    """Every case of every pair, in a deterministic order (downloads on first use)."""
    stats = BuildStats()
    cases: list[Case] = []
    for pair in pairs:
        old_root, new_root = tree(pair, pair.old), tree(pair, pair.new)
        for path, old, new in _changed_files(pair, old_root, new_root, stats):
            rng = random.Random(f"{seed}:{pair.key}:{path}")
            for case in file_cases(pair, path, old, new, rng):
                problem = check(case, new)
                if problem:
                    stats.dropped[f"{case.category}: {problem}"] += 1
                else:
                    cases.append(case)
        log(f"built {pair.key}: {stats.files[pair.key]} changed files")
    return cases, stats


def _changed_files(
    pair: Pair, old_root: Path, new_root: Path, stats: BuildStats
) -> Iterator[tuple[str, str, str]]:
    suffixes = PY_SUFFIXES if pair.registry == "pypi" else TS_SUFFIXES
    for new_file in sorted(new_root.rglob("*")):
        path = new_file.relative_to(new_root).as_posix()
        old_file = old_root / path
        if (
            not new_file.is_file()
            or not path.endswith(suffixes)
            or path.endswith(".d.ts")
            or not old_file.is_file()
        ):
            continue
        old_bytes, new_bytes = old_file.read_bytes(), new_file.read_bytes()
        if old_bytes == new_bytes:
            continue
        try:
            old, new = old_bytes.decode("utf-8"), new_bytes.decode("utf-8")
        except UnicodeDecodeError:
            stats.skipped["not UTF-8"] += 1
            continue
        if "\r" in old or "\r" in new:
            stats.skipped["CR line endings"] += 1
        elif max(old.count("\n"), new.count("\n")) > MAX_LINES:
            stats.skipped[f"over {MAX_LINES} lines"] += 1
        else:
            stats.files[pair.key] += 1
            yield path, old, new


def file_cases(pair: Pair, path: str, old: str, new: str, rng: random.Random) -> Iterator[Case]:
    """The cases of one changed file, unchecked: good, then one per fault kind that fits, then tricky."""
    key = f"{pair.key}/{path}"
    python = pair.registry == "pypi"
    diff = unified_diff(path, old, new)
    yield Case(f"{key}#good", GOOD if python else TS_GOOD, pair, path, old, diff)
    added = added_lines(diff)
    kept = unchanged_lines(old, new)
    for kind in PYTHON_KINDS if python else TS_KINDS:
        if python:
            # A deleted import must be one the old file had, or the diff would not remove it.
            faults = [f for f in python_faults(kind, new, added) if not f.removed or f.line in kept]
            chosen = pick(faults, new, rng)
        else:
            chosen = pick(ts_faults(kind, path, new, added), new, rng, ts_sound(path))
        if chosen is not None:
            fault, faulty = chosen
            bad = unified_diff(path, old, faulty)
            line = kept[fault.line] if fault.removed else fault.line
            yield Case(
                f"{key}#{kind}", kind, pair, path, old, bad, line, fault.label, fault.symbol, fault.removed
            )
    if python:
        for category, moved in ((UNMOVED, False), (MOVED, True)):
            tricky = _preexisting(old, new, moved, rng)
            if tricky is not None:
                fault, before, after = tricky
                label = f"pre-existing {fault.kind}: {fault.label}"
                diff = unified_diff(path, before, after)
                yield Case(
                    f"{key}#{category}", category, pair, path, before, diff, fault.line, label, fault.symbol
                )


def _preexisting(old: str, new: str, moved: bool, rng: random.Random) -> tuple[Fault, str, str] | None:
    """The same one-line fault on an unchanged line of both texts: (the fault in new, old and new with it)."""
    mapping = unchanged_lines(old, new)
    chosen = {n: o for n, o in mapping.items() if (o != n) == moved}
    kinds = list(TRICKY_KINDS)
    rng.shuffle(kinds)
    for kind in kinds:
        in_old = {(f.line, f.faulty_line(old)): f for f in python_faults(kind, old, set(chosen.values()))}
        twins: dict[Fault, Fault] = {}
        for fault in python_faults(kind, new, set(chosen)):
            twin = in_old.get((chosen[fault.line], fault.faulty_line(new)))
            if twin is not None:
                twins[fault] = twin

        def both_sound(fault: Fault, faulty: str, twins: dict[Fault, Fault] = twins) -> bool:
            return sound(fault, twins[fault].apply(old)) and sound(fault, faulty)

        found = pick(list(twins), new, rng, both_sound)
        if found is not None:
            fault, after = found
            return fault, twins[fault].apply(old), after
    return None


def unified_diff(path: str, before: str, after: str) -> str:
    """A git-style diff of one file (``a/`` and ``b/`` prefixes, 3 lines of context)."""
    out = [f"diff --git a/{path} b/{path}\n"]
    for line in difflib.unified_diff(_lines(before), _lines(after), f"a/{path}", f"b/{path}", n=3):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def added_lines(diff: str) -> set[int]:
    """New-side numbers of the lines a diff adds."""
    return _hunk_lines(diff)[1]


def _hunk_lines(diff: str) -> tuple[set[int], set[int]]:
    """(old-side numbers of removed lines, new-side numbers of added lines)."""
    removed: set[int] = set()
    added: set[int] = set()
    old = new = 0
    for line in diff.split("\n"):
        if line.startswith("@@"):
            ranges = line.split("@@")[1].split()
            old, new = int(ranges[0][1:].split(",")[0]), int(ranges[1][1:].split(",")[0])
        elif line.startswith("+") and not line.startswith("+++"):
            added.add(new)
            new += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed.add(old)
            old += 1
        elif line.startswith(" "):
            old, new = old + 1, new + 1
    return removed, added


@lru_cache(maxsize=16)
def unchanged_lines(old: str, new: str) -> dict[int, int]:
    """New line number → old line number for every line the edit left as it was."""
    matcher = difflib.SequenceMatcher(None, old.split("\n"), new.split("\n"), autojunk=False)
    mapping: dict[int, int] = {}
    for tag, i1, i2, j1, _ in matcher.get_opcodes():
        if tag == "equal":
            mapping.update({j1 + k + 1: i1 + k + 1 for k in range(i2 - i1)})
    return mapping


def check(case: Case, new: str) -> str:
    """Why ``case`` is unsound, or "" when every build-time check passes (see the module docstring)."""
    after = apply_case(case)
    if after is None:
        return "the patch does not apply"
    removed, added = _hunk_lines(case.diff)
    if case.category in (GOOD, TS_GOOD):
        return "" if after == new else "the patch does not yield the new release"
    if case.category in (UNMOVED, MOVED):
        if case.fault_line in added:
            return "the pre-existing problem sits on an added line"
        line_in_base = unchanged_lines(case.base, after).get(case.fault_line)
        if line_in_base is None or (line_in_base == case.fault_line) != (case.category == UNMOVED):
            return "the pre-existing problem is not unchanged (or moved) as labelled"
    elif case.removed and case.fault_line not in removed:
        return "the deleted import is not a removed line"
    elif not case.removed and case.fault_line not in added:
        return "the fault is not on an added line"
    python_fault = case.path.endswith(".py") and case.category != "syntax" and "syntax" not in case.label
    if python_fault and not (_compiles(after) and _compiles(case.base)):
        return "a non-syntax fault does not compile"
    if case.category == "syntax" and _compiles(after):
        return "the syntax fault compiles"
    return ""


def _compiles(text: str) -> bool:
    try:
        compile(text, "<case>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def apply_case(case: Case) -> str | None:
    """The text ``git apply`` makes of ``case.base`` with ``case.diff``, or None when it refuses."""
    with tempfile.TemporaryDirectory(prefix="gate-corpus-") as tmp:
        target = Path(tmp) / case.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(case.base, encoding="utf-8", newline="")
        (Path(tmp) / "case.patch").write_text(case.diff, encoding="utf-8", newline="")
        done = subprocess.run(
            ["git", "apply", "--whitespace=nowarn", "case.patch"],
            cwd=tmp,
            capture_output=True,
            check=False,
            timeout=60,
        )
        return target.read_bytes().decode("utf-8") if done.returncode == 0 else None
