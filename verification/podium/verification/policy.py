"""What blocks a merge: the gate's policy, and how one finding is weighed against it.

A finding blocks when its rule is one that means a failure (``blocking_rules``; ruff and the TypeScript
server: every error), it is severe enough, no allow rule covers it, and it is not the checker's own
opinion: a type it inferred (``inference.py``), a name its function narrows (``narrowing.py``), a line the
project marks ``# type: ignore``, a builtin of a newer Python. ``weigh`` says which of these kept a finding
from blocking, so the verdict can name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from podium.verification.findings import Finding, Severity, at_least
from podium.verification.inference import (
    TYPE_CHECKERS,
    depends_on_inference,
    ignored_by_comment,
    is_version_builtin,
)
from podium.verification.narrowing import on_narrowed_names

SourceFailurePolicy = Literal["reject", "accept"]
DEFAULT_DENY_RULES: tuple[str, ...] = ("E9", "F63", "F7", "F82")
"""Rules that block whatever severity their tool gives them: flake8's classic "stop the build" set
(syntax and I/O errors, invalid comparisons, misplaced statements, undefined names)."""
DEFAULT_ALLOW_RULES: tuple[str, ...] = (
    "basedpyright:reportMissingImports",
    "basedpyright:reportMissingModuleSource",
    "tsserver:TS2307",
    "tsserver:TS2580",
    "tsserver:TS2582",
    "tsserver:TS2591",
    "tsserver:TS2688",
    "tsserver:TS7",
)
"""Rules that never block by default. Whether a package or its type definitions are installed is a fact
about the environment the language server runs in (Podium's, not necessarily the project's), not about the
edit: missing imports, TypeScript's "cannot find module" (TS2307) and "install type definitions for node /
jest / jquery" (TS2580, TS2582, TS2591, TS2688). TS7xxx are `noImplicitAny`-style strictness reports about
code that runs."""
TYPE_CHECKER_RULES: tuple[str, ...] = (
    "reportUndefinedVariable",
    "reportAttributeAccessIssue",
    "reportCallIssue",
    "reportArgumentType",
    "reportReturnType",
    "reportAssignmentType",
    "reportAbstractUsage",
    "reportUnhashable",
)
"""The type checker's rules that block by default: each means the code will fail when it runs or breaks a
declared contract. The rest (overrides, overloads, optional access, `Unknown` reports, …) judge code that
runs; on real release edits they made most of the false rejections (docs/performance.md)."""
DEFAULT_BLOCKING_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("basedpyright", TYPE_CHECKER_RULES),
    ("pyright", TYPE_CHECKER_RULES),
)


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """What the gate checks and what blocks a merge.

    Attributes:
        tree_sitter: run the tree-sitter syntax check.
        python_compile: run CPython's compiler over Python files as well.
        severity_threshold: findings less severe than this are ignored entirely (neither new nor
            pre-existing); at the default only errors block.
        allow_rules: findings of these rules never block (and are not reported).
        deny_rules: findings of these rules block at any severity.
        on_source_failure: what a failed diagnostics source does to the verdict: "reject" (the edit
            is not accepted, as unverified) or "accept" (a note only).
        require_attribution: a new finding blocks only if it can be tied to the edit (see
            ``attribution.py``); the others are listed in the notes as not counted.
        blocking_rules: per source, the only rules whose findings block (prefixes, as above); sources
            not listed block on every rule.
        inferred_types_block: whether a finding of a source in ``blocking_rules`` blocks when its message
            is about a type the checker inferred (see ``inference.py``); such findings
            depend on inference across the project more than on the edit.

    A rule pattern is ``source:code`` or just ``code``; the code matches as a prefix, as in ruff's
    ``select`` (``ruff:F82`` is F821, F822 and F823 of ruff; ``reportUnused`` is every such rule).
    """

    tree_sitter: bool = True
    python_compile: bool = True
    severity_threshold: Severity = "error"
    allow_rules: tuple[str, ...] = DEFAULT_ALLOW_RULES
    deny_rules: tuple[str, ...] = DEFAULT_DENY_RULES
    on_source_failure: SourceFailurePolicy = "reject"
    require_attribution: bool = True
    blocking_rules: tuple[tuple[str, tuple[str, ...]], ...] = DEFAULT_BLOCKING_RULES
    inferred_types_block: bool = False


DEFAULT_POLICY = GatePolicy()


def blocks(policy: GatePolicy, finding: Finding) -> bool:
    """Whether ``finding`` would block a merge under ``policy`` if the edit introduced it."""
    return weigh(policy, finding)[0]


def weigh(policy: GatePolicy, finding: Finding) -> tuple[bool, str]:
    """Whether ``finding`` would block, and why not when only the checker's own opinion keeps it from
    blocking (otherwise "")."""
    if _matches(finding, policy.allow_rules):
        return False, ""
    if finding.source.startswith("ruff") and is_version_builtin(finding.message):
        return False, "a builtin of a newer Python than the project's minimum"
    if _matches(finding, policy.deny_rules):
        return True, ""
    if not at_least(finding.severity, policy.severity_threshold):
        return False, ""
    rules = dict(policy.blocking_rules).get(finding.source)
    if rules is None or not finding.code:
        return True, ""
    if not any(finding.code.startswith(rule) for rule in rules):
        return False, ""
    if not policy.inferred_types_block and depends_on_inference(finding.message):
        return False, "about a type the checker inferred, not one the code declares"
    return True, ""


NARROWED = "a missing attribute of a name its function narrows: the checker's flow analysis"


def sift(
    policy: GatePolicy, findings: tuple[Finding, ...], path: str, text: str | None
) -> tuple[tuple[Finding, ...], tuple[tuple[Finding, str], ...]]:
    """``findings`` of ``path`` (whose text is ``text``) split into those that would block and those only
    the checker's opinion keeps from blocking, each with why (``weigh``, ``narrowing.py``). Findings on a
    ``# type: ignore`` line (the project's own word) and those no rule lets block are in neither."""
    marked = ignored_by_comment(findings, text)
    checked = tuple(f for f in marked if f.source in TYPE_CHECKERS)
    narrowed = set(on_narrowed_names(checked, path, text)) if checked else set[Finding]()
    blocking: list[Finding] = []
    opinions: list[tuple[Finding, str]] = []
    for finding in marked:
        would, why = weigh(policy, finding)
        if would and finding in narrowed:
            opinions.append((finding, NARROWED))
        elif would:
            blocking.append(finding)
        elif why:
            opinions.append((finding, why))
    return tuple(blocking), tuple(opinions)


def _matches(finding: Finding, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        source, sep, code = pattern.rpartition(":")
        if (not sep or source == finding.source) and finding.code.startswith(code):
            return True
    return False
