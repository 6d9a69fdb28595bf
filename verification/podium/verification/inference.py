"""Which checker findings rest on the checker's own inference rather than on what the code declares.

A type checker's failure rules (a wrong argument, a missing attribute, a call that matches nothing) are
worth blocking on when the types involved are ones the code declares: a literal passed where ``int`` is
annotated, an attribute a ``str`` does not have. They are opinions when the type in question is one the
checker worked out for itself: the union it narrowed a variable to, a type variable it solved, an
``Unknown`` from a package it could not import, the compatibility of one callable with another. Checkers
disagree about exactly these (mypy and pyright narrow, solve and match callables differently), and on real
release edits they made most of the remaining false rejections (docs/performance.md).

The judgement reads the *subject* of each message, the type the complaint is about, not every type the
message quotes: ``Argument of type "Literal['x']" cannot be assigned to parameter "p" of type "str | None"``
is about a literal, and the declared union it misses is the contract, not a guess.
"""

from __future__ import annotations

import re

from podium.verification.findings import Finding

_INFERRED = re.compile(r"\||@|\bUnknown\b|\*|->")
"""Marks of an inferred type: a union (narrowing), a solved type variable (``T@f``), ``Unknown``, a
synthesized type (``object*``), a callable's signature (matched structurally, where checkers differ)."""
_SUBJECTS: tuple[re.Pattern[str], ...] = (
    re.compile(
        r'^Argument of type "(?P<subject>.*?)" cannot be assigned to parameter "[^"]*" of type '
        r'"(?P<declared>.*?)"(?: in function "(?P<function>[^"]*)")?'
    ),
    re.compile(r'^Type "(?P<subject>.*?)" is not assignable to (?:declared|return) type "(?P<declared>.*?)"'),
    re.compile(r'^Cannot access (?:attribute )?"[^"]*" for class "(?P<subject>.*?)"'),
    re.compile(r'^Cannot assign to attribute "[^"]*" for class "(?P<subject>.*?)"'),
    re.compile(r'^Object of type "(?P<subject>.*?)" is not callable'),
)
_OPERATOR = re.compile(r"^__(?!init__|new__|call__)\w+__$")
"""A dunder method an operator or subscript calls (``__getitem__``, ``__add__`` …): its receiver is an
expression whose type the checker inferred, and the message does not even name it."""
_OVERLOADS = re.compile(r'^No overloads for "[^"]*" match the provided arguments(?P<rest>.*)$', re.DOTALL)
_ARGUMENT_TYPES = re.compile(r"Argument types: \((?P<types>.*)\)")
_UNPACKED = re.compile(r"(?:^|, )\*")
_QUOTED_INFERRED = re.compile(r'"[^"]*(?:\||@|\bUnknown\b|\*)[^"]*"')
_TYPE_IGNORE = re.compile(r"#\s*type:\s*ignore(?!\w)")
_VERSION_HINT = "Consider specifying `requires-python"
TYPE_CHECKERS: frozenset[str] = frozenset({"basedpyright", "pyright", "mypy"})
"""Sources that honour ``# type: ignore``."""


def depends_on_inference(message: str) -> bool:
    """Whether a type checker's ``message`` is about a type the checker inferred (see the module doc)."""
    for pattern in _SUBJECTS:
        match = pattern.match(message)
        if match:
            found = match.groupdict()
            # A declared type with ``Unknown`` in it was declared with something the checker could not
            # resolve (an uninstalled package): the contract itself is unknown.
            unknown_contract = "Unknown" in (found.get("declared") or "")
            operator = bool(_OPERATOR.match(found.get("function") or ""))
            return bool(_INFERRED.search(found["subject"])) or unknown_contract or operator
    overloads = _OVERLOADS.match(message)
    if overloads:
        # Without "Argument types" the arguments fit some overload's arity and failed on their types; the
        # checker then reports the closest overload's mismatch separately (reportArgumentType), which is
        # judged on its own subject. With them no overload takes that many arguments: a real failure,
        # unless an argument is unpacked (``*args``, ``**kwargs``) and the count is the checker's guess.
        types = _ARGUMENT_TYPES.search(overloads["rest"])
        return types is None or bool(_UNPACKED.search(types["types"]))
    return bool(_QUOTED_INFERRED.search(message))


def ignored_by_comment(findings: tuple[Finding, ...], text: str | None) -> tuple[Finding, ...]:
    """``findings`` without the type checkers' ones on a line that says ``# type: ignore``.

    PEP 484 makes the comment silence every type error on its line, whatever rule codes follow it (they are
    mypy's). basedpyright honours it from the command line but not, unless the project's configuration says
    ``enableTypeIgnoreComments``, as a language server; a project checked with mypy marks exactly the
    lines it knows a checker gets wrong this way.
    """
    if not text or not any(f.source in TYPE_CHECKERS for f in findings):
        return findings
    lines = text.splitlines()

    def ignored(finding: Finding) -> bool:
        index = finding.line - 1
        return (
            finding.source in TYPE_CHECKERS
            and 0 <= index < len(lines)
            and bool(_TYPE_IGNORE.search(lines[index]))
        )

    return tuple(f for f in findings if not ignored(f))


def is_version_builtin(message: str) -> bool:
    """Whether ruff's undefined-name ``message`` is about a builtin of a newer Python than the project's
    minimum (ruff then suggests raising ``requires-python``): code guarded by ``sys.version_info`` uses
    such names correctly, and a misspelt name is never one."""
    return _VERSION_HINT in message
