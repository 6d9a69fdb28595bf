from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from podium.verification.changes import ChangeSet, FileChange
from podium.verification.errors import VerificationError
from podium.verification.findings import Finding, Severity
from podium.verification.gate import Gate, GatePolicy
from podium.verification.sources import FileFindings, ScriptedSource, SourceReport

FIXTURES = Path(__file__).parent.parent / "fixtures"

# language → (extension, where its broken fixture breaks as (line, column))
LANGUAGE_CASES = {
    "python": (".py", 12, 5),
    "javascript": (".js", 11, 25),
    "typescript": (".ts", 13, 22),
    "tsx": (".tsx", 5, 22),
    "go": (".go", 10, 21),
    "rust": (".rs", 11, 31),
    "java": (".java", 10, 26),
    "c": (".c", 10, 30),
    "cpp": (".cpp", 12, 25),
    "c_sharp": (".cs", 12, 13),
    "ruby": (".rb", 7, 21),
    "php": (".php", 11, 25),
    "bash": (".sh", 12, 15),
    "json": (".json", 5, 26),
    "yaml": (".yaml", 4, 15),
    "toml": (".toml", 3, 1),
    "html": (".html", 7, 11),
    "css": (".css", 7, 3),
}


def read(language: str, kind: str) -> str:
    # Python fixtures end in .txt so that ruff and basedpyright leave the broken one alone.
    [path] = (FIXTURES / language).glob(f"{kind}{LANGUAGE_CASES[language][0]}*")
    return path.read_text()


def one_file(path: str, before: str | None, after: str | None) -> ChangeSet:
    return ChangeSet((FileChange(path, before, after),))


@pytest.mark.parametrize("language", sorted(LANGUAGE_CASES))
def test_good_edit_is_accepted(language: str) -> None:
    path = f"src/module{LANGUAGE_CASES[language][0]}"

    verdict = Gate().check(one_file(path, read(language, "base"), read(language, "good")))

    assert verdict.accepted, verdict.findings_new
    assert verdict.findings_new == ()
    assert path in verdict.files_checked


@pytest.mark.parametrize("language", sorted(LANGUAGE_CASES))
def test_broken_edit_is_rejected_at_the_line_it_breaks(language: str) -> None:
    extension, line, column = LANGUAGE_CASES[language]
    path = f"src/module{extension}"

    verdict = Gate().check(one_file(path, read(language, "base"), read(language, "broken")))

    assert not verdict.accepted
    first = verdict.findings_new[0]
    assert (first.path, first.line, first.column) == (path, line, column)
    assert verdict.findings_preexisting == ()


@dataclass(frozen=True)
class Dialect:
    """How to write a small file of three functions in one language, with statements that break it."""

    extension: str
    header: str
    function: Callable[[str, str], str]
    ok: str
    broken: str
    other_broken: str
    import_line: str

    def file(self, *bodies: tuple[str, str]) -> str:
        return self.header + "".join(self.function(name, statement) for name, statement in bodies)


DIALECTS = {
    "python": Dialect(
        ".py",
        "",
        lambda name, s: f"def {name}(x):\n    y = x * 2\n    {s}\n    return y\n\n\n",
        "y = y + 1",
        "y = = 1",
        "y = (y +) 1",
        "import os\n\n",
    ),
    "javascript": Dialect(
        ".js",
        "",
        lambda name, s: f"function {name}(x) {{\n  let y = x * 2;\n  {s}\n  return y;\n}}\n\n",
        "y = y + 1;",
        "y = = 1;",
        "y = y +;",
        "import os from 'os';\n\n",
    ),
    "typescript": Dialect(
        ".ts",
        "",
        lambda name, s: (
            f"function {name}(x: number): number {{\n  let y: number = x * 2;\n  {s}\n  return y;\n}}\n\n"
        ),
        "y = y + 1;",
        "y = = 1;",
        "y = y +;",
        "import os from 'os';\n\n",
    ),
    "go": Dialect(
        ".go",
        "package m\n\n",
        lambda name, s: f"func {name}(x int) int {{\n\ty := x * 2\n\t{s}\n\treturn y\n}}\n\n",
        "y = y + 1",
        "y = = 1",
        "y = y +, 1",
        'import "os"\n\n',
    ),
    "rust": Dialect(
        ".rs",
        "",
        lambda name, s: f"fn {name}(x: i32) -> i32 {{\n    let mut y = x * 2;\n    {s}\n    y\n}}\n\n",
        "y = y + 1;",
        "y = = 1;",
        "y = y +;",
        "use std::fs;\n\n",
    ),
}


def dialect_case(language: str) -> tuple[Dialect, str, str]:
    dialect = DIALECTS[language]
    base = dialect.file(("alpha", dialect.broken), ("beta", dialect.ok), ("gamma", dialect.ok))
    return dialect, f"pkg/m{dialect.extension}", base


@pytest.mark.parametrize("language", sorted(DIALECTS))
def test_preexisting_error_left_untouched_is_accepted(language: str) -> None:
    dialect, path, base = dialect_case(language)
    after = dialect.file(
        ("alpha", dialect.broken), ("beta", dialect.ok), ("gamma", dialect.ok), ("delta", dialect.ok)
    )

    verdict = Gate().check(one_file(path, base, after))

    assert verdict.accepted, verdict.findings_new
    assert [f.symbol for f in verdict.findings_preexisting] == ["alpha"]


@pytest.mark.parametrize("language", sorted(DIALECTS))
def test_preexisting_error_moved_down_by_inserted_lines_is_accepted(language: str) -> None:
    dialect, path, base = dialect_case(language)
    after = dialect.header + dialect.import_line + base.removeprefix(dialect.header)

    verdict = Gate().check(one_file(path, base, after))

    assert verdict.accepted, verdict.findings_new
    [kept] = verdict.findings_preexisting
    assert kept.line > dialect.import_line.count("\n")


@pytest.mark.parametrize("language", sorted(DIALECTS))
def test_preexisting_error_in_a_block_moved_elsewhere_is_accepted(language: str) -> None:
    dialect, path, base = dialect_case(language)
    after = dialect.file(("beta", dialect.ok), ("gamma", dialect.ok), ("alpha", dialect.broken))

    verdict = Gate().check(one_file(path, base, after))

    assert verdict.accepted, verdict.findings_new
    [kept] = verdict.findings_preexisting
    assert kept.symbol == "alpha"
    alpha_line = after[: after.index("alpha")].count("\n") + 1
    assert alpha_line < kept.line < alpha_line + 4


@pytest.mark.parametrize("language", sorted(DIALECTS))
def test_fixing_one_error_and_adding_another_is_rejected_with_exactly_the_new_one(language: str) -> None:
    dialect, path, base = dialect_case(language)
    after = dialect.file(("alpha", dialect.ok), ("beta", dialect.ok), ("gamma", dialect.other_broken))

    verdict = Gate().check(one_file(path, base, after))

    assert not verdict.accepted
    assert [f.symbol for f in verdict.findings_new] == ["gamma"]
    assert verdict.findings_preexisting == ()


@pytest.mark.parametrize("language", sorted(DIALECTS))
def test_a_second_identical_error_is_new(language: str) -> None:
    dialect, path, base = dialect_case(language)
    after = dialect.file(("alpha", dialect.broken), ("beta", dialect.broken), ("gamma", dialect.ok))

    verdict = Gate().check(one_file(path, base, after))

    assert not verdict.accepted
    assert [f.symbol for f in verdict.findings_new] == ["beta"]
    assert [f.symbol for f in verdict.findings_preexisting] == ["alpha"]


def test_reordered_definitions_with_identical_errors_each_keep_their_own() -> None:
    dialect = DIALECTS["go"]
    names = ["a", "b", "c", "d", "e"]
    base = dialect.file(*((name, dialect.broken) for name in names))
    reordered = [(name, dialect.broken) for name in reversed(names)]
    reordered[2] = ("c", f"{dialect.broken}\n\t{dialect.broken}")

    verdict = Gate().check(one_file("m.go", base, dialect.file(*reordered)))

    assert [f.symbol for f in verdict.findings_new] == ["c"]
    assert len(verdict.findings_preexisting) == 5


def test_syntax_error_region_that_grows_with_an_edit_inside_it_is_preexisting() -> None:
    # The unclosed literal makes tree-sitter swallow the next statement; editing it changes the region.
    before = "package m\n\nfunc f() {\n\tx := [1, 2\n\ty := 3\n}\n"
    after = "package m\n\nfunc f() {\n\tx := [1, 2\n\ty := 4\n\tz := 5\n}\n"

    verdict = Gate().check(one_file("m.go", before, after))

    assert verdict.accepted, verdict.findings_new
    [kept] = verdict.findings_preexisting
    assert kept.end_line == 6


def test_error_region_over_a_whole_declaration_that_changes_inside_is_preexisting() -> None:
    # tree-sitter-javascript rejects the TypeScript-only `<T,>` and swallows the whole declaration.
    before = "const f = <T,>(a) => {\n  const b = a;\n  return b;\n};\n"
    after = "const f = <T,>(a) => {\n  const b = a * 2;\n  log(b);\n  return b;\n};\n"

    verdict = Gate().check(one_file("f.js", before, after))

    assert verdict.accepted, verdict.findings_new
    assert len(verdict.findings_preexisting) == 1


def test_python_return_outside_function_is_rejected_by_the_compiler() -> None:
    before = "def f():\n    return 1\n"
    after = "def f():\n    return 1\n\n\nreturn 2\n"

    verdict = Gate().check(one_file("a.py", before, after))

    assert not verdict.accepted
    [finding] = verdict.findings_new
    assert finding.source == "python-compile"
    assert (finding.line, finding.column) == (5, 1)
    assert finding.message == "'return' outside function"


def test_python_compiler_can_be_switched_off() -> None:
    verdict = Gate(GatePolicy(python_compile=False)).check(one_file("a.py", "", "return 2\n"))

    assert verdict.accepted
    assert [s.name for s in verdict.sources] == ["tree-sitter"]


def test_unknown_file_type_is_accepted_with_a_note() -> None:
    verdict = Gate().check(one_file("clients/x.xyz", "old", "}}} not code {{{"))

    assert verdict.accepted
    assert verdict.notes == ("clients/x.xyz: no syntax check for this file type",)
    assert verdict.files_checked == ()
    assert verdict.files_unchecked == ("clients/x.xyz",)


def test_deleted_file_is_not_checked() -> None:
    verdict = Gate().check(one_file("gone.py", "def broken(:\n", None))

    assert verdict.accepted
    assert verdict.files_checked == ()
    assert verdict.files_unchecked == ()


def test_every_error_in_an_added_file_is_new() -> None:
    verdict = Gate().check(one_file("new.js", None, "let a = 1 +;\nlet b = = 2;\n"))

    assert not verdict.accepted
    assert [f.line for f in verdict.findings_new] == [1, 2]


def test_findings_are_ordered_by_the_change_set_then_position() -> None:
    changes = ChangeSet(
        (
            FileChange("z.js", None, "let a = = 1;\n"),
            FileChange("a.go", None, "package m\nfunc f( {}\nfunc g( {}\n"),
        )
    )

    verdict = Gate().check(changes)

    assert [(f.path, f.line) for f in verdict.findings_new] == [("z.js", 1), ("a.go", 2), ("a.go", 3)]


def test_every_source_that_ran_is_timed() -> None:
    verdict = Gate().check(one_file("a.py", "x = 1\n", "x = 2\n"))

    assert [s.name for s in verdict.sources] == ["tree-sitter", "python-compile"]
    assert all(s.elapsed_ms >= 0 for s in verdict.sources)


def scripted(line: int, severity: Severity = "error", message: str = "x is not defined") -> Finding:
    return Finding(
        source="fake-lsp",
        code="undefined",
        message=message,
        path="a.py",
        line=line,
        column=1,
        end_line=line,
        end_column=2,
        severity=severity,
    )


def test_extra_sources_are_judged_like_the_built_in_ones() -> None:
    source = ScriptedSource("fake-lsp", {"a.py": ((scripted(1),), (scripted(2), scripted(3, message="y")))})
    before, after = "x\n", "import y\nx\ny\n"

    verdict = Gate(extra_sources=[source]).check(one_file("a.py", before, after))

    assert not verdict.accepted
    assert [(f.source, f.line) for f in verdict.findings_new] == [("fake-lsp", 3)]
    assert [(f.source, f.line) for f in verdict.findings_preexisting] == [("fake-lsp", 2)]
    assert [s.name for s in verdict.sources] == ["tree-sitter", "python-compile", "fake-lsp"]


def test_findings_below_the_severity_threshold_are_ignored() -> None:
    source = ScriptedSource("fake-lsp", {"a.py": ((), (scripted(1, severity="warning"),))})
    policy = GatePolicy(tree_sitter=False, python_compile=False)

    assert Gate(policy, [source]).check(one_file("a.py", "", "x\n")).accepted
    strict = GatePolicy(tree_sitter=False, python_compile=False, severity_threshold="warning")
    assert not Gate(strict, [source]).check(one_file("a.py", "", "x\n")).accepted


def test_findings_in_a_file_outside_the_change_set_are_compared_in_place() -> None:
    elsewhere = Finding("fake-lsp", "undefined", "gone", "lib.py", 4, 1, 4, 2)
    source = ScriptedSource("fake-lsp", {"lib.py": ((elsewhere,), (elsewhere,))})

    class Widening:
        name = "fake-lsp"

        def check(self, changes: ChangeSet) -> SourceReport:
            return source.check(ChangeSet((*changes.files, FileChange("lib.py", "", ""))))

    verdict = Gate(GatePolicy(tree_sitter=False, python_compile=False), [Widening()]).check(
        one_file("a.py", "", "x\n")
    )

    assert verdict.accepted
    assert verdict.findings_preexisting == (elsewhere,)


def test_a_source_that_cannot_run_raises_verification_error() -> None:
    class Broken:
        name = "broken"

        def check(self, changes: ChangeSet) -> SourceReport:
            raise VerificationError("language server did not start")

    with pytest.raises(VerificationError, match="did not start"):
        Gate(extra_sources=[Broken()]).check(one_file("a.py", "", "x = 1\n"))


class AsyncScripted:
    """A diagnostics source (run on the gate's event loop) with a fixed report for ``.py`` files."""

    def __init__(self, name: str, report: SourceReport) -> None:
        self.name = name
        self.report = report
        self.deadline = 5.0
        self.calls = 0

    def handles(self, path: str) -> bool:
        return path.endswith(".py")

    async def diagnose(self, changes: ChangeSet) -> SourceReport:
        self.calls += 1
        return self.report


def lsp_finding(code: str, severity: Severity = "error", line: int = 1) -> Finding:
    return Finding("lsp", code, f"problem {code}", "a.py", line, 1, line, 2, severity=severity)


def test_diagnostics_sources_are_judged_with_the_syntax_sources_in_source_order() -> None:
    source = AsyncScripted("lsp", SourceReport((FileFindings("a.py", (), (lsp_finding("E1"),)),)))

    verdict = Gate(extra_sources=[source]).check(one_file("a.py", "x = 1\n", "x = 2\n"))

    assert not verdict.accepted
    assert [f.code for f in verdict.findings_new] == ["E1"]
    assert [s.name for s in verdict.sources] == ["tree-sitter", "python-compile", "lsp"]


def test_a_failed_diagnostics_source_rejects_as_unverified_unless_the_policy_accepts() -> None:
    source = AsyncScripted("lsp", SourceReport(failure="lsp: exited with status 9"))
    changes = one_file("a.py", "x = 1\n", "x = 2\n")

    rejected = Gate(extra_sources=[source]).check(changes)
    accepted = Gate(GatePolicy(on_source_failure="accept"), [source]).check(changes)

    assert not rejected.accepted and rejected.findings_new == ()
    assert rejected.notes == (
        "unverified: source lsp failed (lsp: exited with status 9); not accepted until it can judge the edit",
    )
    assert accepted.accepted
    assert "judged without it" in accepted.notes[0]


def test_diagnostics_sources_are_not_run_for_files_they_do_not_handle() -> None:
    source = AsyncScripted("lsp", SourceReport(failure="should not run"))

    verdict = Gate(extra_sources=[source]).check(one_file("a.go", "package m\n", "package m\n\n"))

    assert verdict.accepted
    assert source.calls == 0


@pytest.mark.parametrize(
    ("allow", "deny", "blocking"),
    [
        ((), (), ["F821", "reportX"]),
        (("F8",), (), ["reportX"]),
        (("lsp:report",), (), ["F821"]),
        (("other:F821",), (), ["F821", "reportX"]),
        ((), ("W2",), ["F821", "W291", "reportX"]),
        (("W2",), ("W2",), ["F821", "reportX"]),
    ],
)
def test_rule_patterns_allow_and_deny_by_source_and_code_prefix(
    allow: tuple[str, ...], deny: tuple[str, ...], blocking: list[str]
) -> None:
    after = (lsp_finding("F821"), lsp_finding("W291", "warning"), lsp_finding("reportX"))
    source = AsyncScripted("lsp", SourceReport((FileFindings("a.py", (), after),)))
    policy = GatePolicy(tree_sitter=False, python_compile=False, allow_rules=allow, deny_rules=deny)

    verdict = Gate(policy, [source]).check(one_file("a.py", "", "x\n"))

    assert sorted(f.code for f in verdict.findings_new) == sorted(blocking)


def test_a_file_that_does_not_parse_is_left_to_the_syntax_check() -> None:
    source = AsyncScripted("lsp", SourceReport((FileFindings("a.py", (), (lsp_finding("E1"),)),)))

    verdict = Gate(extra_sources=[source]).check(one_file("a.py", "x = 1\n", "x = = 1\n"))

    assert not verdict.accepted
    assert {f.source for f in verdict.findings_new} == {"tree-sitter"}
    assert verdict.notes == ("a.py: does not parse after the edit; judged by the syntax check alone",)
