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


def test_the_subject_decides_not_the_declared_parameter_type() -> None:
    literal = (
        'Argument of type "Literal[\'wrong\']" cannot be assigned to parameter "n" of type "int | None" in '
        'function "f"; Type "Literal[\'wrong\']" is not assignable to type "int | None"'
    )
    callable_argument = (
        'Argument of type "(typ: Any, converter: Converter) -> Hook" cannot be assigned to parameter '
        '"factory" of type "Factory[BaseConverter]" in function "register"'
    )

    assert not verdict_for("basedpyright", "reportArgumentType", literal)
    assert verdict_for("basedpyright", "reportArgumentType", callable_argument)
    access = "reportAttributeAccessIssue"
    assert not verdict_for("basedpyright", access, 'Cannot access attribute "x" for class "str"')
    assert verdict_for("basedpyright", access, 'Cannot access attribute "x" for class "A | B"')


def test_overloads_block_on_arity_not_on_types() -> None:
    arity = (
        'No overloads for "sub" match the provided arguments; '
        "Argument types: (Literal['a'], str, Literal[0])"
    )
    solved = 'No overloads for "update" match the provided arguments; Argument types: (**dict[str, V@Mixin])'
    typevar = 'No overloads for "cast" match the provided arguments; Argument types: (type[T@f], object, int)'
    # The arguments fit an overload's arity; the closest overload's mismatch is its own reportArgumentType.
    types_only = 'No overloads for "iter" match the provided arguments'

    assert not verdict_for("basedpyright", "reportCallIssue", arity)
    assert verdict_for("basedpyright", "reportCallIssue", solved)
    # One argument too many is one too many, whatever types the arguments have.
    assert not verdict_for("basedpyright", "reportCallIssue", typevar)
    assert verdict_for("basedpyright", "reportCallIssue", types_only)


def test_a_builtin_of_a_newer_python_is_not_an_undefined_name() -> None:
    guarded = (
        'Undefined name `ExceptionGroup`. Consider specifying `requires-python = ">= 3.11"` or '
        '`tool.ruff.target-version = "py311"` in your `pyproject.toml` file.'
    )

    assert verdict_for("ruff", "F821", guarded)
    assert not verdict_for("ruff", "F821", "Undefined name `ExceptionGrop`")


def test_an_unknown_contract_or_an_operators_receiver_is_the_checkers_guess() -> None:
    unknown_declared = 'Type "None" is not assignable to declared type "(v: Unknown) -> Unknown"'
    declared = 'Type "None" is not assignable to declared type "(v: int) -> int"'
    subscript = (
        'Argument of type "str" cannot be assigned to parameter "s" of type "slice[Any, Any, Any]" in '
        'function "__getitem__"'
    )
    constructor = (
        'Argument of type "str" cannot be assigned to parameter "n" of type "int" in function "__init__"'
    )

    assert verdict_for("basedpyright", "reportAssignmentType", unknown_declared)
    assert not verdict_for("basedpyright", "reportAssignmentType", declared)
    assert verdict_for("basedpyright", "reportArgumentType", subscript)
    assert not verdict_for("basedpyright", "reportArgumentType", constructor)
