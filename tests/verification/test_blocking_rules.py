"""Which type-checker findings block: the rules that mean a failure, and not on types the checker guessed."""

from __future__ import annotations

from podium.verification.changes import ChangeSet, FileChange
from podium.verification.findings import Finding
from podium.verification.gate import Gate, GatePolicy
from podium.verification.sources import ScriptedSource

BEFORE = "def f(x: int) -> int:\n    return x\n"
AFTER = "def f(x: int) -> int:\n    return x + 1\n"


def verdict_for(source: str, code: str, message: str, *, inferred_types_block: bool = False) -> bool:
    finding = Finding(source, code, message, "m.py", 2, 5, 2, 10)
    gate = Gate(
        GatePolicy(tree_sitter=False, python_compile=False, inferred_types_block=inferred_types_block),
        [ScriptedSource(source, {"m.py": ((), (finding,))})],
    )
    return gate.check(ChangeSet((FileChange("m.py", BEFORE, AFTER),))).accepted


def test_a_failure_rule_with_declared_types_blocks() -> None:
    message = 'Argument of type "Literal[\'x\']" cannot be assigned to parameter "n" of type "int"'

    assert not verdict_for("basedpyright", "reportArgumentType", message)


def test_a_judgement_rule_does_not_block() -> None:
    message = 'Method "__getitem__" overrides class "list" in an incompatible manner'

    assert verdict_for("basedpyright", "reportIncompatibleMethodOverride", message)


def test_a_failure_rule_quoting_an_inferred_type_does_not_block_unless_asked() -> None:
    message = 'Argument of type "str | tuple[str, Any]" cannot be assigned to parameter "key" of type "str"'

    assert verdict_for("basedpyright", "reportArgumentType", message)
    assert verdict_for("basedpyright", "reportAttributeAccessIssue", 'Cannot access "x" for class "V@f"')
    assert not verdict_for("basedpyright", "reportArgumentType", message, inferred_types_block=True)


def test_sources_without_a_rule_list_block_on_every_rule() -> None:
    assert not verdict_for("tsserver", "TS2345", 'Argument of type "string | number" is not assignable')
