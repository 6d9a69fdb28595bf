"""The gate with real language servers (ruff server, basedpyright, TypeScript's tsc --lsp), kept warm.

One pool and one small project serve the whole module, as they would serve a mission: the servers start
once and every test is a check on warm servers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from podium.verification.catalog import BASEDPYRIGHT, RUFF, TSSERVER, resolve_commands, search_dirs
from podium.verification.changes import ChangeSet, FileChange
from podium.verification.gate import DEFAULT_POLICY, Gate, blocks
from podium.verification.lsppool import LspPool
from podium.verification.lspsource import LspSource
from podium.verification.verdict import Verdict

NODE_BIN = Path(__file__).resolve().parents[1] / "e2e" / "node" / "node_modules" / ".bin"

SHAPES = '''"""Shapes."""


def area(width: int, height: int) -> int:
    return width * height


def describe(name: str) -> str:
    return name.title()
'''

APP = '''"""An application module."""

import json

from shapes import area


def report(width: int) -> str:
    size = area(width, 2)
    return json.dumps({"size": size})
'''

BROKEN_BEFORE = '''"""A module with a problem already."""


def first() -> int:
    return missing_name


def second() -> int:
    return 2
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "shapes.py").write_text(SHAPES)
    (root / "app.py").write_text(APP)
    (root / "old.py").write_text(BROKEN_BEFORE)
    (root / "util.ts").write_text("export function twice(n: number): number {\n  return n * 2;\n}\n")
    return root


@pytest.fixture(scope="module")
def pool() -> Iterator[LspPool]:
    pool = LspPool()
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def gate(project: Path, pool: LspPool) -> Gate:
    return Gate(extra_sources=[LspSource(RUFF, project, pool), LspSource(BASEDPYRIGHT, project, pool)])


@pytest.fixture(scope="module")
def ts_gate(project: Path, pool: LspPool) -> Gate:
    if not resolve_commands(TSSERVER, search_dirs(project, [NODE_BIN])):
        if os.environ.get("PODIUM_REQUIRE_E2E_TOOLS"):
            pytest.fail(f"no TypeScript language server in {NODE_BIN} (run `make node-tools`)")
        pytest.skip("no TypeScript language server installed (make node-tools)")
    return Gate(extra_sources=[LspSource(TSSERVER, project, pool, [NODE_BIN])])


def edit(path: str, before: str | None, after: str | None) -> ChangeSet:
    return ChangeSet((FileChange(path, before, after),))


def new_codes(verdict: Verdict) -> set[tuple[str, str]]:
    return {(f.source, f.code) for f in verdict.findings_new}


def test_a_new_undefined_name_is_rejected_by_ruff_and_basedpyright(gate: Gate) -> None:
    after = APP.replace('return json.dumps({"size": size})', 'return json.dumps({"size": sise})')

    verdict = gate.check(edit("app.py", APP, after))

    assert not verdict.accepted
    assert new_codes(verdict) == {("ruff", "F821"), ("basedpyright", "reportUndefinedVariable")}
    finding = verdict.findings_new[0]
    assert (finding.line, finding.symbol, finding.excerpt) == (10, "report", "sise")
    assert "^^^^" in finding.frame


def test_removing_an_import_still_in_use_is_rejected(gate: Gate) -> None:
    after = APP.replace("import json\n\n", "")

    verdict = gate.check(edit("app.py", APP, after))

    assert not verdict.accepted
    assert {f.excerpt for f in verdict.findings_new} == {"json"}
    assert ("basedpyright", "reportUndefinedVariable") in new_codes(verdict)


def test_a_wrong_argument_count_to_a_project_function_is_rejected_by_basedpyright(gate: Gate) -> None:
    # `area` lives in shapes.py on disk: the server resolves the import against the project.
    after = APP.replace("area(width, 2)", "area(width, 2, 3)")

    verdict = gate.check(edit("app.py", APP, after))

    assert not verdict.accepted
    [finding] = verdict.findings_new
    assert (finding.source, finding.code) == ("basedpyright", "reportCallIssue")
    assert finding.message == "Expected 2 positional arguments"


def test_an_obvious_type_error_is_rejected_by_basedpyright(gate: Gate) -> None:
    after = SHAPES.replace("return name.title()", "return len(name)")

    verdict = gate.check(edit("shapes.py", SHAPES, after))

    assert not verdict.accepted
    [finding] = verdict.findings_new
    assert (finding.source, finding.code, finding.symbol) == ("basedpyright", "reportReturnType", "describe")


def test_a_correct_edit_is_accepted(gate: Gate) -> None:
    after = APP.replace("area(width, 2)", "area(width, width)")

    verdict = gate.check(edit("app.py", APP, after))

    assert verdict.accepted, verdict.findings_new
    assert {s.name for s in verdict.sources} >= {"ruff", "basedpyright"}


def test_a_preexisting_error_left_alone_is_accepted(gate: Gate) -> None:
    after = BROKEN_BEFORE.replace("return 2", "return 3")

    verdict = gate.check(edit("old.py", BROKEN_BEFORE, after))

    assert verdict.accepted, verdict.findings_new
    assert {(f.source, f.line) for f in verdict.findings_preexisting} == {("ruff", 5), ("basedpyright", 5)}


def test_the_same_error_moved_down_by_inserted_lines_is_accepted(gate: Gate) -> None:
    inserted = "\n\ndef zeroth() -> int:\n    return 0\n"
    after = BROKEN_BEFORE.replace(
        '"""A module with a problem already."""\n', '"""A module with a problem already."""\n' + inserted
    )

    verdict = gate.check(edit("old.py", BROKEN_BEFORE, after))

    assert verdict.accepted, verdict.findings_new
    assert {f.line for f in verdict.findings_preexisting} == {9}


def test_an_edit_that_breaks_another_touched_file_is_rejected_there(gate: Gate) -> None:
    shapes = SHAPES.replace("def area(", "def surface(")
    app = APP.replace('"""An application module."""', '"""An application module, still using area."""')
    changes = ChangeSet((FileChange("shapes.py", SHAPES, shapes), FileChange("app.py", APP, app)))

    verdict = gate.check(changes)

    assert not verdict.accepted
    assert {f.path for f in verdict.findings_new} == {"app.py"}
    assert ("basedpyright", "reportAttributeAccessIssue") in new_codes(verdict)


def test_a_new_file_is_judged_whole(gate: Gate) -> None:
    verdict = gate.check(edit("fresh.py", None, "from shapes import area\n\nvalue: str = area(1, 2)\n"))

    assert not verdict.accepted
    assert new_codes(verdict) == {("basedpyright", "reportAssignmentType")}


def test_a_file_that_no_longer_parses_is_judged_by_the_syntax_check_alone(gate: Gate) -> None:
    after = APP.replace("def report(width: int) -> str:", "def report(width: int) -> str")

    verdict = gate.check(edit("app.py", APP, after))

    assert not verdict.accepted
    assert {f.source for f in verdict.findings_new} <= {"tree-sitter", "python-compile"}
    assert "app.py: does not parse after the edit; judged by the syntax check alone" in verdict.notes


def test_a_typescript_type_error_is_rejected_by_the_typescript_server(ts_gate: Gate) -> None:
    before = 'import { twice } from "./util";\n\nexport const four: number = twice(2);\n'
    after = 'import { twice } from "./util";\n\nexport const four: string = twice(2);\n'

    verdict = ts_gate.check(edit("main.ts", before, after))

    assert not verdict.accepted
    [finding] = verdict.findings_new
    assert (finding.source, finding.code, finding.line) == ("tsserver", "TS2322", 3)
    assert "not assignable to type 'string'" in finding.message


def test_a_correct_typescript_edit_is_accepted(ts_gate: Gate) -> None:
    before = 'import { twice } from "./util";\n\nexport const four: number = twice(2);\n'
    after = 'import { twice } from "./util";\n\nexport const eight: number = twice(4);\n'

    verdict = ts_gate.check(edit("main.ts", before, after))

    assert verdict.accepted, verdict.findings_new
    assert "tsserver" in {s.name for s in verdict.sources}


def test_basedpyright_findings_the_code_marks_or_narrows_are_the_checkers_opinion(gate: Gate) -> None:
    ignored = APP + "\n\ndef extra() -> int:\n    return area(1, 2, 3)  # type: ignore[call-arg]\n"
    narrowed = APP + (
        "\n\ndef shout(thing: str | int) -> str:\n"
        "    if hasattr(thing, 'upper'):\n"
        "        return thing.upper()\n"
        "    return ''\n"
    )
    real = APP + "\n\ndef extra() -> int:\n    return area(1, 2, 3)\n"

    assert gate.check(edit("app.py", APP, ignored)).accepted
    assert gate.check(edit("app.py", APP, narrowed)).accepted
    rejected = gate.check(edit("app.py", APP, real))
    assert ("basedpyright", "reportCallIssue") in new_codes(rejected)


def test_podiums_own_packages_are_not_the_projects(gate: Gate) -> None:
    # pydantic is installed with Podium, not with this project: its import is unresolved (which never
    # blocks), and nothing about pydantic's own types can reject the edit.
    after = APP + "\n\nimport pydantic\n\n\ndef model() -> int:\n    return pydantic.BaseModel(1, 2, 3)\n"

    verdict = gate.check(edit("app.py", APP, after))

    assert verdict.accepted, verdict.findings_new


def test_a_global_the_projects_typescript_lib_leaves_out_is_not_an_undefined_name(ts_gate: Gate) -> None:
    # No tsconfig.json: TypeScript's default lib lacks esnext.disposable, whose AsyncDisposable is no typo.
    before = "export const a = 1;\n"
    lib_global = "export const a = 1;\nexport function f(x: AsyncDisposable): AsyncDisposable { return x; }\n"
    misspelt = lib_global.replace("(x: AsyncDisposable)", "(x: AsyncDisposabl)")

    accepted = ts_gate.check(edit("disposable.ts", before, lib_global))
    rejected = ts_gate.check(edit("disposable.ts", before, misspelt))

    assert accepted.accepted, accepted.findings_new
    assert [(f.code, f.line) for f in rejected.findings_new] == [("TS2304", 2)]
    assert "AsyncDisposabl'" in rejected.findings_new[0].message


def test_a_file_changed_on_disk_since_an_earlier_check_is_seen_as_it_is_now(
    tmp_path: Path, pool: LspPool
) -> None:
    # An earlier check leaves shapes.py open with its base text; then the file changes on disk (a task was
    # merged). A later edit of another file importing the new function must not see the stale text.
    (tmp_path / "shapes.py").write_text(SHAPES)
    (tmp_path / "app.py").write_text(APP)
    gate = Gate(extra_sources=[LspSource(BASEDPYRIGHT, tmp_path, pool)])
    grown = SHAPES + "\n\ndef perimeter(width: int, height: int) -> int:\n    return 2 * (width + height)\n"
    assert gate.check(ChangeSet((FileChange("shapes.py", SHAPES, grown),))).accepted

    (tmp_path / "shapes.py").write_text(grown)
    app = APP.replace("from shapes import area", "from shapes import area, perimeter").replace(
        "size = area(width, 2)", "size = area(width, 2) + perimeter(width, 2)"
    )
    verdict = gate.check(ChangeSet((FileChange("app.py", APP, app),)))

    assert verdict.accepted, verdict.findings_new


def test_with_the_gates_blocking_test_the_base_is_still_read_when_the_edit_has_a_blocking_finding(
    project: Path, pool: LspPool
) -> None:
    # The source checks the edited text first and reads the base only if something there could block:
    # here the pre-existing undefined name could, so the base is read and it is recognised as old.
    source = LspSource(BASEDPYRIGHT, project, pool, blocking=partial(blocks, DEFAULT_POLICY))
    after = BROKEN_BEFORE.replace("return 2", "return 3")

    verdict = Gate(extra_sources=[source]).check(edit("old.py", BROKEN_BEFORE, after))

    assert verdict.accepted, verdict.findings_new
    assert [f.code for f in verdict.findings_preexisting] == ["reportUndefinedVariable"]
