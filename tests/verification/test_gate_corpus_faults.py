"""The gate corpus's fault injectors and build-time checks (tests/bench/gate_corpus), on small inline sources.

No network: the release pairs are stand-ins and the texts are written here. Each test builds cases the way
`make bench-gate` does (``file_cases`` then ``check``) and asserts what the benchmark relies on: a fault
sits on a line the patch adds (a deleted import on one it removes), non-syntax faults still compile, the
patch applies (``git apply``) and the same seed gives the same corpus.
"""

from __future__ import annotations

import io
import random
import re
import tarfile
from dataclasses import replace
from pathlib import Path, PurePosixPath

import pytest

from tests.bench.gate_corpus.cases import (
    MOVED,
    UNMOVED,
    Case,
    added_lines,
    apply_case,
    check,
    file_cases,
    unchanged_lines,
    unified_diff,
)
from tests.bench.gate_corpus.faults import PYTHON_KINDS, python_faults
from tests.bench.gate_corpus.mutation import pick
from tests.bench.gate_corpus.sources import DownloadError, Pair, _read_archive, _select
from tests.bench.gate_corpus.tsfaults import parses_cleanly, ts_faults

PY_PAIR = Pair("pypi", "demo", "1.0", "1.1")
TS_PAIR = Pair("npm", "demo-ts", "1.0", "1.1", keep=("src",))

OLD = '''"""A small module."""

import json
import os
from typing import Any, Optional


def scale(value: int, factor: int) -> int:
    return value * factor


def label(name: str) -> str:
    return name.upper()


class Store:
    def put(self, key: str, size: int) -> None:
        self.key = key

    def dump(self) -> str:
        return json.dumps({"key": self.key})


def unchanged_helper(items: list[str]) -> int:
    total = len(items)
    return scale(total, 2)
'''

NEW = OLD.replace(
    """def label(name: str) -> str:
    return name.upper()
""",
    """def label(name: str, suffix: Optional[str] = None) -> str:
    text = name.upper() + os.path.basename(name)
    size = scale(len(text), 3)
    store = Store()
    store.put(text, size)
    return ", ".join([text, json.dumps(size), label(text)])


def extra(name: str) -> str:
    return label(name)
""",
)


def cases_of(old: str, new: str, path: str = "pkg/mod.py", seed: int = 8) -> dict[str, Case]:
    pair = PY_PAIR if path.endswith(".py") else TS_PAIR
    built = file_cases(pair, path, old, new, random.Random(seed))
    return {case.category: case for case in built}


def after(case: Case) -> str:
    """The case's patch applied to its base by `git apply`."""
    applied = apply_case(case)
    assert applied is not None, case.id
    return applied


def compiles(text: str) -> bool:
    try:
        compile(text, "<test>", "exec")
    except SyntaxError:
        return False
    return True


def test_every_python_fault_kind_fits_this_edit_and_passes_the_build_checks() -> None:
    cases = cases_of(OLD, NEW)

    assert set(PYTHON_KINDS) <= cases.keys()
    for kind in PYTHON_KINDS:
        assert check(cases[kind], NEW) == "", kind


@pytest.mark.parametrize("kind", [k for k in PYTHON_KINDS if k != "removed-import"])
def test_a_python_fault_sits_on_a_line_the_patch_adds(kind: str) -> None:
    case = cases_of(OLD, NEW)[kind]

    assert case.fault_line in added_lines(case.diff)
    assert case.fault_line in added_lines(unified_diff(case.path, OLD, NEW))


@pytest.mark.parametrize("kind", [k for k in PYTHON_KINDS if k != "syntax"])
def test_a_non_syntax_fault_still_compiles(kind: str) -> None:
    assert compiles(after(cases_of(OLD, NEW)[kind]))


def test_a_syntax_fault_does_not_compile() -> None:
    assert not compiles(after(cases_of(OLD, NEW)["syntax"]))


def test_a_deleted_import_is_a_removed_line_whose_name_the_edit_uses() -> None:
    faults = python_faults("removed-import", NEW, added_lines(unified_diff("m.py", OLD, NEW)))

    assert {f.symbol for f in faults} == {"json", "os", "Optional"}
    deleted = next(f for f in faults if f.symbol == "os")
    assert deleted.removed and "import os" not in deleted.apply(NEW)
    trimmed = next(f for f in faults if f.symbol == "Optional")
    assert not trimmed.removed
    assert trimmed.apply(NEW).splitlines()[trimmed.line - 1] == "from typing import Any"


def test_faults_are_only_offered_on_the_given_lines() -> None:
    lines = {9}  # `return value * factor`: no call, so no arity or type fault can go there

    assert python_faults("call-arity", OLD, lines) == []
    assert {f.line for f in python_faults("undefined-name", OLD, lines)} == {9}


def test_the_fault_of_each_kind_is_labelled_and_names_its_symbol() -> None:
    cases = cases_of(OLD, NEW)

    assert "positional arguments" in cases["call-arity"].label
    names = set(re.findall(r"\w+", NEW))
    assert cases["undefined-name"].symbol not in names
    assert cases["missing-attribute"].symbol not in names
    assert "wrong" in after(cases["wrong-type"]).splitlines()[cases["wrong-type"].fault_line - 1]


def test_the_same_seed_builds_the_same_cases() -> None:
    first = cases_of(OLD, NEW, seed=8)
    second = cases_of(OLD, NEW, seed=8)

    assert first == second


def test_tricky_cases_keep_a_pre_existing_problem_off_the_added_lines() -> None:
    cases = cases_of(OLD, NEW)
    unmoved, moved = cases[UNMOVED], cases[MOVED]

    for case in (unmoved, moved):
        assert check(case, NEW) == "", case.id
        assert case.fault_line not in added_lines(case.diff)
        assert case.label.startswith("pre-existing ")
    assert unchanged_lines(unmoved.base, after(unmoved))[unmoved.fault_line] == unmoved.fault_line
    assert unchanged_lines(moved.base, after(moved))[moved.fault_line] != moved.fault_line


def test_a_good_case_yields_exactly_the_new_release_even_without_a_final_newline() -> None:
    old, new = "x = 1\ny = 2", "x = 1\ny = 3\nz = 4"
    good = cases_of(old, new)["good"]

    assert check(good, new) == ""
    assert after(good) == new


def test_the_checks_refuse_a_patch_that_does_not_apply_and_a_fault_off_the_added_lines() -> None:
    case = cases_of(OLD, NEW)["undefined-name"]

    assert check(replace(case, base=OLD.replace("name.upper()", "name.lower()")), NEW) == (
        "the patch does not apply"
    )
    assert check(replace(case, fault_line=1), NEW) == "the fault is not on an added line"


def test_pick_keeps_only_sound_faults() -> None:
    lines = set(range(1, NEW.count("\n") + 2))
    syntax = python_faults("syntax", NEW, lines)
    chosen = pick(syntax, NEW, random.Random(1))

    assert chosen is not None
    fault, faulty = chosen
    assert fault.kind == "syntax" and not compiles(faulty)


TS_OLD = """import { twice } from "./util";

export function total(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
"""
TS_NEW = (
    TS_OLD
    + """
export function doubled(values: number[]): number {
  const sum = total(values);
  return twice(sum);
}
"""
)


def test_typescript_faults_sit_on_added_lines_and_a_syntax_fault_breaks_the_parse() -> None:
    cases = cases_of(TS_OLD, TS_NEW, path="src/main.ts")

    syntax, undefined = cases["ts-syntax"], cases["ts-undefined-name"]
    for case in (syntax, undefined):
        assert check(case, TS_NEW) == ""
        assert case.fault_line in added_lines(unified_diff(case.path, TS_OLD, TS_NEW))
    assert not parses_cleanly("src/main.ts", after(syntax))
    assert parses_cleanly("src/main.ts", after(undefined))
    assert undefined.symbol not in set(re.findall(r"\w+", TS_NEW))


def test_a_typescript_declaration_is_never_renamed() -> None:
    faults = ts_faults("ts-undefined-name", "src/main.ts", TS_NEW, {7})  # `export function doubled(...)`

    assert {f.label for f in faults} == set()


def tarball(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_an_archive_member_that_leaves_its_folder_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil-1.0.tar.gz"
    archive.write_bytes(tarball({"evil-1.0/pkg/__init__.py": b"", "evil-1.0/../../escape.py": b"x = 1\n"}))

    with pytest.raises(DownloadError, match="unsafe member path"):
        _read_archive(archive)


def test_a_release_tree_keeps_sources_and_checker_configs_but_not_tests(tmp_path: Path) -> None:
    archive = tmp_path / "demo-1.0.tar.gz"
    archive.write_bytes(
        tarball(
            {
                "demo-1.0/pyproject.toml": b"[tool.ruff]\n",
                "demo-1.0/setup.py": b"",
                "demo-1.0/src/demo/__init__.py": b"",
                "demo-1.0/src/demo/tests/test_x.py": b"",
                "demo-1.0/tests/test_y.py": b"",
                "demo-1.0/docs/conf.py": b"",
            }
        )
    )

    kept = _select(PY_PAIR, _read_archive(archive))

    assert set(kept) == {PurePosixPath("pyproject.toml"), PurePosixPath("src/demo/__init__.py")}


def test_a_tricky_case_fails_the_target_only_when_the_pre_existing_problem_makes_the_rejection() -> None:
    from tests.bench.gate_corpus.report import rows
    from tests.bench.gate_corpus.runner import Result

    def result(name: str, category: str, outcome: str, line: int = 0) -> Result:
        case = Case(f"demo/{name}.py#{category}", category, PY_PAIR, f"{name}.py", "", "", fault_line=50)
        finding = {"line": line, "end_line": line, "message": "m", "excerpt": ""}
        return Result(case, "warm", outcome, 0.1, findings=(finding,) if outcome == "rejected" else ())

    def tricky_row(results: list[Result]) -> tuple[str, ...]:
        return next(row for row in rows([], results) if row[0] == MOVED)

    goods = [result("a", "good", "accepted"), result("b", "good", "rejected", 10)]
    # b's release edit is rejected on its own line 10: its tricky twin is rejected for the same finding.
    twin = tricky_row([*goods, result("a", MOVED, "accepted"), result("b", MOVED, "rejected", 10)])
    # a's release edit passes, but its tricky case is rejected at the pre-existing problem (line 50).
    fooled = tricky_row([*goods, result("a", MOVED, "rejected", 50), result("b", MOVED, "accepted")])

    assert (twin[3], twin[4]) == ("0.500", "yes")
    assert "0 rejections name the pre-existing problem" in twin[6]
    assert (fooled[3], fooled[4]) == ("0.500", "NO")
