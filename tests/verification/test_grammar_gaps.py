"""tree-sitter grammars lag their languages: the language's own parser decides whether an edit parses."""

from __future__ import annotations

from podium.verification.changes import ChangeSet, FileChange
from podium.verification.findings import Finding
from podium.verification.gate import Gate, GatePolicy
from podium.verification.sources import ScriptedSource
from podium.verification.verdict import Verdict

NO_BUILTINS = GatePolicy(tree_sitter=False, python_compile=False)


def syntax(path: str, source: str = "tree-sitter", code: str = "syntax-error") -> Finding:
    return Finding(source, code, "syntax error near `in out`", path, 1, 1, 1, 5)


def judge(change: FileChange, *sources: ScriptedSource) -> Verdict:
    return Gate(NO_BUILTINS, list(sources)).check(ChangeSet((change,)))


def test_valid_python_that_the_grammar_rejects_is_accepted_with_a_note() -> None:
    change = FileChange("m.py", "x = 1\n", "x = [1]\n")
    grammar = ScriptedSource("tree-sitter", {"m.py": ((), (syntax("m.py"),))})

    verdict = judge(change, grammar)

    assert verdict.accepted
    assert any("tree-sitter sees a syntax error that CPython's parser does not" in n for n in verdict.notes)


def test_python_that_does_not_parse_stays_rejected() -> None:
    change = FileChange("m.py", "x = 1\n", "x = [1\n")
    grammar = ScriptedSource("tree-sitter", {"m.py": ((), (syntax("m.py"),))})

    assert not judge(change, grammar).accepted


def test_typescript_the_server_parses_is_accepted_and_its_syntax_error_is_not() -> None:
    change = FileChange("m.ts", "let a = 1;\n", "type G<in out T> = T;\nlet a = 1;\n")
    grammar = ScriptedSource("tree-sitter", {"m.ts": ((), (syntax("m.ts"),))})
    clean_server = ScriptedSource("tsserver", {"m.ts": ((), ())})
    objecting = ScriptedSource("tsserver", {"m.ts": ((), (syntax("m.ts", "tsserver", "TS1005"),))})

    assert judge(change, grammar, clean_server).accepted
    assert not judge(change, grammar, objecting).accepted
    assert not judge(change, grammar).accepted


def test_another_parsers_recovery_from_an_old_syntax_error_is_not_new() -> None:
    before, after = "x = (\ny = 1\n", "x = (\ny = 2\nz = 3\n"
    old = syntax("m.py")
    grammar = ScriptedSource("tree-sitter", {"m.py": ((old,), (old,))})
    recovery = Finding("ruff", "invalid-syntax", "Expected `,`, found `=`", "m.py", 3, 3, 3, 4)
    linter = ScriptedSource("ruff", {"m.py": ((), (recovery,))})

    verdict = judge(FileChange("m.py", before, after), grammar, linter)

    assert verdict.accepted, verdict.findings_new
    assert recovery in verdict.findings_preexisting
