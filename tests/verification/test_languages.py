from __future__ import annotations

from pathlib import Path

import pytest
import tree_sitter as ts

from podium.verification.errors import VerificationError
from podium.verification.languages import LANGUAGES, LanguageSpec, grammar, language_for_path, parser

FIXTURES = Path(__file__).parent.parent / "fixtures"

EXPECTED = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".hxx": "cpp",
    ".cs": "c_sharp",
    ".rb": "ruby",
    ".php": "php",
    ".sh": "bash",
    ".bash": "bash",
    ".json": "json",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".toml": "toml",
    ".html": "html",
    ".htm": "html",
    ".css": "css",
}


@pytest.mark.parametrize(("extension", "name"), sorted(EXPECTED.items()))
def test_extension_selects_its_language(extension: str, name: str) -> None:
    spec = language_for_path(f"src/pkg/module{extension}")

    assert spec is not None
    assert spec.name == name


def test_extension_match_ignores_case() -> None:
    spec = language_for_path("Scripts/Build.PY")

    assert spec is not None and spec.name == "python"


@pytest.mark.parametrize("path", ["notes.xyz", "Makefile", "README", "archive.tar.gz", "dir.py/file"])
def test_unknown_or_missing_extension_has_no_language(path: str) -> None:
    assert language_for_path(path) is None


def test_every_language_has_a_fixture_directory() -> None:
    missing = [spec.name for spec in LANGUAGES if not (FIXTURES / spec.name).is_dir()]

    assert missing == []


@pytest.mark.parametrize("spec", LANGUAGES, ids=lambda spec: spec.name)
def test_every_grammar_loads_and_parses_its_base_fixture_cleanly(spec: LanguageSpec) -> None:
    [base] = (FIXTURES / spec.name).glob("base.*")
    assert language_for_path(base.name.removesuffix(".txt")) == spec

    tree = parser(spec).parse(base.read_bytes())

    assert isinstance(grammar(spec), ts.Language)
    assert tree.root_node.child_count > 0
    assert not tree.root_node.has_error


def test_grammar_and_parser_are_loaded_once_and_reused() -> None:
    spec = language_for_path("a.go")
    assert spec is not None

    assert grammar(spec) is grammar(spec)
    assert parser(spec) is parser(spec)


def test_a_missing_grammar_wheel_is_a_verification_error() -> None:
    ghost = LanguageSpec("ghost", "tree_sitter_does_not_exist", "language", (".ghost",))

    with pytest.raises(VerificationError, match="ghost"):
        grammar(ghost)


def test_typescript_and_tsx_use_different_grammars() -> None:
    ts_spec = language_for_path("a.ts")
    tsx_spec = language_for_path("a.tsx")
    assert ts_spec is not None and tsx_spec is not None

    # `<T>x` is a type assertion in TypeScript and an unclosed element in TSX.
    source = b"let y = <number>x;\n"

    assert not parser(ts_spec).parse(source).root_node.has_error
    assert parser(tsx_spec).parse(source).root_node.has_error
