from __future__ import annotations

from pathlib import Path

import pytest
import tree_sitter as ts

from podium.verification import syntax
from podium.verification.changes import ChangeSet, FileChange
from podium.verification.errors import VerificationError
from podium.verification.languages import LANGUAGES, LanguageSpec, language_for_path
from podium.verification.syntax import TreeSitterSource, syntax_findings

FIXTURES = Path(__file__).parent.parent / "fixtures"

# Where the broken fixture of each language goes wrong, as tree-sitter sees it (1-based line, column).
BROKEN_AT = {
    "python": (12, 5),
    "javascript": (11, 25),
    "typescript": (13, 22),
    "tsx": (5, 22),
    "go": (10, 21),
    "rust": (11, 31),
    "java": (10, 26),
    "c": (10, 30),
    "cpp": (12, 25),
    "c_sharp": (12, 13),
    "ruby": (7, 21),
    "php": (11, 25),
    "bash": (12, 15),
    "json": (5, 26),
    "yaml": (4, 15),
    "toml": (3, 1),
    "html": (7, 11),
    "css": (7, 3),
}


def fixture(language: str, kind: str) -> tuple[str, str]:
    """The fixture's text and the path it is checked under (a ``.txt`` suffix keeps linters off it)."""
    [path] = (FIXTURES / language).glob(f"{kind}.*")
    return f"{language}/{path.name.removesuffix('.txt')}", path.read_text()


def spec_for(path: str) -> LanguageSpec:
    spec = language_for_path(path)
    assert spec is not None
    return spec


def test_every_language_has_an_expected_broken_position() -> None:
    assert set(BROKEN_AT) == {spec.name for spec in LANGUAGES}


@pytest.mark.parametrize("language", sorted(BROKEN_AT))
@pytest.mark.parametrize("kind", ["base", "good"])
def test_valid_fixture_has_no_syntax_findings(language: str, kind: str) -> None:
    path, text = fixture(language, kind)

    assert syntax_findings(path, text, spec_for(path)) == ()


@pytest.mark.parametrize(("language", "position"), sorted(BROKEN_AT.items()))
def test_broken_fixture_is_reported_where_it_breaks(language: str, position: tuple[int, int]) -> None:
    path, text = fixture(language, "broken")

    findings = syntax_findings(path, text, spec_for(path))

    assert findings, "the broken fixture must produce a finding"
    first = findings[0]
    assert (first.line, first.column) == position
    assert first.source == "tree-sitter"
    assert first.severity == "error"
    assert first.path == path
    assert first.code in ("syntax-error", "missing-node")


def test_missing_token_is_reported_by_name_at_its_position() -> None:
    path, text = fixture("java", "broken")

    [finding] = syntax_findings(path, text, spec_for(path))

    assert finding.code == "missing-node"
    assert finding.message == "missing ';'"
    assert (finding.line, finding.column, finding.end_line, finding.end_column) == (10, 26, 10, 26)


def test_error_message_quotes_the_offending_text() -> None:
    [finding] = syntax_findings("m.go", "package m\n\nfunc f() int {\n\treturn 1 +, 2\n}\n", spec_for("m.go"))

    assert finding.code == "syntax-error"
    assert finding.message == "syntax error near `,`"
    assert finding.excerpt == ","


def test_nested_error_regions_are_reported_once() -> None:
    # The missing colon turns the module into an ERROR that contains another ERROR around the class body.
    path, text = fixture("python", "broken")

    findings = syntax_findings(path, text, spec_for(path))

    assert len(findings) == 1
    assert findings[0].end_line == 13


def test_error_region_is_reported_at_its_first_unclaimed_token() -> None:
    path, text = fixture("python", "broken")

    [finding] = syntax_findings(path, text, spec_for(path))

    assert finding.excerpt.startswith("def add(self, item)")
    assert finding.symbol == "Basket"


@pytest.mark.parametrize(
    ("language", "symbol"),
    [
        ("java", "Basket.add"),
        ("cpp", "shop.Basket.total"),
        ("c", "total"),
        ("rust", "Item.new"),
        ("c_sharp", "Shop.Basket.Add"),
        ("ruby", "Basket.add"),
        ("php", "Basket.add"),
        ("json", "scripts"),
        ("yaml", "on.push"),
        ("toml", "project"),
        ("tsx", "Greeting"),
    ],
)
def test_finding_names_its_enclosing_definitions(language: str, symbol: str) -> None:
    path, text = fixture(language, "broken")

    findings = syntax_findings(path, text, spec_for(path))

    assert findings[0].symbol == symbol


def test_top_level_error_has_no_symbol() -> None:
    [finding] = syntax_findings("a.js", "let x = 1 +;\n", spec_for("a.js"))

    assert finding.symbol == ""


def test_columns_count_characters_not_bytes() -> None:
    text = 'const s = "héllo wörld"; let x = 1 +;\n'

    [finding] = syntax_findings("a.js", text, spec_for("a.js"))

    assert finding.column == text.index("+") + 1 == 36


def test_rows_are_counted_at_newlines_only() -> None:
    # A form feed is a line break to str.splitlines() but not to tree-sitter.
    text = "x = 1\f\ny = (\n"

    [finding] = syntax_findings("a.py", text, spec_for("a.py"))

    assert finding.line == 2
    assert "2 | y = (" in finding.frame


def test_frame_shows_numbered_lines_and_a_caret_under_the_finding() -> None:
    text = "package m\n\nfunc f() int {\n\treturn 1 +, 2\n}\n"

    [finding] = syntax_findings("m.go", text, spec_for("m.go"))

    assert finding.frame.splitlines() == [
        "2 |",
        "3 | func f() int {",
        "4 | \treturn 1 +, 2",
        "  | \t          ^",
        "5 | }",
    ]


def test_tree_sitter_failure_is_a_verification_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Exploding:
        def parse(self, data: bytes) -> ts.Tree:
            raise ValueError("parsing failed")

    monkeypatch.setattr(syntax, "parser", lambda spec: Exploding())

    with pytest.raises(VerificationError, match="tree-sitter failed"):
        syntax.parse("x = 1\n", spec_for("a.py"))


def test_source_checks_both_sides_and_notes_unknown_file_types() -> None:
    changes = ChangeSet(
        (
            FileChange("a.js", "let x = 1;\n", "let x = 1 +;\n"),
            FileChange("new.go", None, "package m\nfunc f( {}\n"),
            FileChange("data.bin", "a", "b"),
            FileChange("gone.py", "def (:\n", None),
        )
    )

    report = TreeSitterSource().check(changes)

    assert [f.path for f in report.files] == ["a.js", "new.go"]
    js, go = report.files
    assert js.before == () and len(js.after) == 1
    assert go.before == () and len(go.after) == 1
    assert report.notes == ("data.bin: no syntax check for this file type",)


def test_renamed_file_is_read_with_the_grammar_of_its_new_name() -> None:
    changes = ChangeSet(
        (FileChange("b.ts", "let y = <number>x;\n", "let y = <number>x;\n", old_path="b.tsx"),)
    )

    [found] = TreeSitterSource().check(changes).files

    assert found.before == () and found.after == ()
