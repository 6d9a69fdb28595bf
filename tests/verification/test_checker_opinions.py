"""Findings the file's own text shows to be a checker's opinion: `# type: ignore` lines, narrowed names."""

from __future__ import annotations

from podium.verification.changes import ChangeSet, FileChange
from podium.verification.findings import Finding
from podium.verification.gate import Gate, GatePolicy
from podium.verification.sources import ScriptedSource

BEFORE = "import os\n"


ACCESS = "reportAttributeAccessIssue"


def judged(after: str, line: int, column: int, message: str, code: str = ACCESS) -> bool:
    finding = Finding("basedpyright", code, message, "m.py", line, column, line, column + 3)
    gate = Gate(
        GatePolicy(tree_sitter=False, python_compile=False),
        [ScriptedSource("basedpyright", {"m.py": ((), (finding,))})],
    )
    return gate.check(ChangeSet((FileChange("m.py", BEFORE, after),))).accepted


def test_a_type_ignore_comment_silences_the_type_checker_on_its_line() -> None:
    after = "def f() -> int:\n    return 1\n\nx = f(1)  # type: ignore[call-arg]\ny = f(2)\n"

    assert judged(after, 4, 7, "Expected 0 positional arguments", "reportCallIssue")
    assert not judged(after, 5, 7, "Expected 0 positional arguments", "reportCallIssue")


def test_a_missing_attribute_of_a_name_the_function_narrows_is_an_opinion() -> None:
    after = (
        "def render(thing: str | int) -> str:\n"
        "    if hasattr(thing, 'upper'):\n"
        "        return thing.upper()\n"
        "    return 'x'.uper()\n"
    )
    narrowed = 'Cannot access attribute "upper" for class "int"; Attribute "upper" is unknown'
    literal = 'Cannot access attribute "uper" for class "str"; Attribute "uper" is unknown'

    assert judged(after, 3, 22, narrowed)
    # A literal is narrowed by nothing: its missing attribute is a real failure.
    assert not judged(after, 4, 16, literal)


def test_a_name_narrowed_only_after_the_access_still_blocks() -> None:
    after = (
        "def render(thing: str) -> str:\n"
        "    value = thing.uper()\n"
        "    if isinstance(thing, str):\n"
        "        return value\n"
        "    return ''\n"
    )

    assert not judged(after, 2, 19, 'Cannot access attribute "uper" for class "str"')


def test_new_calls_of_a_callee_the_checker_already_misread_are_not_new_problems() -> None:
    before = "import trio\n\n\ndef at(d):\n    return trio.CancelScope(deadline=d)\n"
    after = (
        "import trio\n\n\ndef at(d, shield=False):\n"
        "    return trio.CancelScope(deadline=d, shield=shield)\n\n\n"
        "def after(s):\n    return trio.CancelScope(relative_deadline=s)\n\n\n"
        "def other(s):\n    return max(s, key=len, bogus=1)\n"
    )

    def call_issue(line: int, column: int, name: str) -> Finding:
        message = f'No parameter named "{name}"'
        return Finding("basedpyright", "reportCallIssue", message, "m.py", line, column, line, column + 5)

    old = (call_issue(5, 29, "deadline"),)
    new = (
        call_issue(5, 29, "deadline"),
        call_issue(5, 41, "shield"),
        call_issue(9, 29, "relative_deadline"),
        call_issue(13, 27, "bogus"),
    )
    gate = Gate(
        GatePolicy(tree_sitter=False, python_compile=False),
        [ScriptedSource("basedpyright", {"m.py": (old, new)})],
    )

    verdict = gate.check(ChangeSet((FileChange("m.py", before, after),)))

    # trio.CancelScope was misread before the edit; max was not, so its new call finding stands.
    assert [f.message for f in verdict.findings_new] == ['No parameter named "bogus"']
    assert len(verdict.findings_preexisting) == 3


def test_an_old_argument_type_finding_does_not_excuse_a_new_one_on_the_same_callee() -> None:
    before = "def g(r):\n    r.set(1, None)\n"
    after = "def g(r):\n    r.set(1, None)\n    r.set('wrong', None)\n"
    old = (Finding("basedpyright", "reportArgumentType", 'Argument of type "None" …', "m.py", 2, 14, 2, 18),)
    new = (
        Finding("basedpyright", "reportArgumentType", 'Argument of type "None" …', "m.py", 2, 14, 2, 18),
        Finding("basedpyright", "reportArgumentType", 'Argument of type "Literal" …', "m.py", 3, 11, 3, 18),
    )
    gate = Gate(
        GatePolicy(tree_sitter=False, python_compile=False),
        [ScriptedSource("basedpyright", {"m.py": (old, new)})],
    )

    verdict = gate.check(ChangeSet((FileChange("m.py", before, after),)))

    assert [f.line for f in verdict.findings_new] == [3]


def test_the_verdict_names_what_it_did_not_count_as_the_checkers_opinion_and_why() -> None:
    after = (
        "def render(thing: str | int) -> str:\n"
        "    if hasattr(thing, 'upper'):\n"
        "        return thing.upper()\n"
        "    return 'x'\n"
    )
    narrowed = Finding(
        "basedpyright", ACCESS, 'Cannot access attribute "upper" for class "int"', "m.py", 3, 22, 3, 27
    )
    inferred = Finding(
        "basedpyright",
        "reportArgumentType",
        'Argument of type "str | int" cannot be assigned to parameter "s" of type "str"',
        "m.py",
        3,
        16,
        3,
        21,
    )
    gate = Gate(
        GatePolicy(tree_sitter=False, python_compile=False),
        [ScriptedSource("basedpyright", {"m.py": ((), (narrowed, inferred))})],
    )

    verdict = gate.check(ChangeSet((FileChange("m.py", BEFORE, after),)))

    assert verdict.accepted
    assert [n for n in verdict.notes if n.startswith("not counted")] == [
        'not counted: m.py:3:16 basedpyright Argument of type "str | int" cannot be assigned to parameter '
        '"s" of type "str" (about a type the checker inferred, not one the code declares; on line 3, '
        "which the edit changed)",
        'not counted: m.py:3:22 basedpyright Cannot access attribute "upper" for class "int" (a missing '
        "attribute of a name its function narrows: the checker's flow analysis; on line 3, which the edit "
        "changed)",
    ]
