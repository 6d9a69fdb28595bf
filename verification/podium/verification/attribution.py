"""Why a new finding is the edit's doing, in one line, or that it is not.

The baseline delta (``delta.py``) says which findings were not there before. That is not yet blame: a
type checker re-infers the whole file after any edit, and a finding can appear on a line nobody touched
because an inferred type elsewhere changed shape (an ``Unknown`` cascade, a narrowed union). Holding those
against the edit is what makes naive before/after gates reject about one correct release edit in five.

A new finding is *attributed* to the edit when one of these holds, checked in this order:

1. it comes from a syntax source (the file no longer parses);
2. the file is new;
3. its range touches a line the edit added or changed;
4. it names, on its line or in its message, a name the edit *removed* (bound on an old line the edit
   took away and bound nowhere on the lines it added: a deleted import, a renamed function);
5. it names a name the edit (re)defined on a changed line (a changed signature breaks an untouched call).

Anything else is reported as not counted, never silently dropped. Bindings come from Python's ``ast``
where the text parses, otherwise from a line-based scan that also covers JavaScript and TypeScript.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass

from podium.verification.changes import FileChange
from podium.verification.findings import Finding
from podium.verification.linemap import LineMap

SYNTAX_SOURCES: frozenset[str] = frozenset({"tree-sitter", "python-compile"})
"""Sources whose new findings in a file mean it does not parse (the gate then skips the others there)."""

_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")
_QUOTED = re.compile(r"[\"'`“‘]([A-Za-z_$][\w$.]*)[\"'`”’]")
_SCAN_PATTERNS = (
    re.compile(
        r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?(?:def|class|function\*?)\s+([A-Za-z_$][\w$]*)"
    ),
    re.compile(r"^\s*(?:export\s+)?(?:const|let|var|interface|type|enum)\s+([A-Za-z_$][\w$]*)"),
    re.compile(r"^\s*([A-Za-z_][\w]*)\s*(?::[^=]*)?=(?!=)"),
)
_IMPORT_LINE = re.compile(r"^\s*(?:from\s+\S+\s+)?import\s+(.*)$")
_MAX_NAMES_QUOTED = 12


@dataclass(frozen=True, slots=True)
class Footprint:
    """What an edit did to one file, as attribution needs it.

    Attributes:
        created: the file did not exist before.
        changed: new line numbers the edit added or changed (not carried over untouched).
        removed: names the edit unbound, with the old line that bound them.
        defined: names bound on changed lines, with the new line.
    """

    created: bool
    changed: frozenset[int]
    removed: dict[str, int]
    defined: dict[str, int]

    @classmethod
    def of(cls, change: FileChange, linemap: LineMap | None) -> Footprint:
        after = change.after or ""
        if change.before is None or linemap is None:
            return cls(True, frozenset(range(1, after.count("\n") + 2)), {}, {})
        changed = frozenset(n for n in range(1, linemap.new_count + 1) if not linemap.is_unchanged(n))
        old_bound = _bindings(change.before)
        new_bound = _bindings(after)
        kept_old = {line for line in range(1, linemap.old_count + 1) if linemap.exact(line) is not None}
        removed: dict[str, int] = {}
        for name, lines in old_bound.items():
            # Unbound: every line that bound it was taken away, and nothing in the new text binds it.
            if not (lines & kept_old) and name not in new_bound:
                removed[name] = min(lines)
        defined = {name: min(lines & changed) for name, lines in new_bound.items() if lines & changed}
        return cls(False, changed, removed, defined)


@dataclass(frozen=True, slots=True)
class EditNames:
    """Names removed and (re)defined anywhere in a change set, with where: a rename in one file breaks
    another."""

    removed: dict[str, tuple[str, int]]
    defined: dict[str, tuple[str, int]]

    @classmethod
    def of(cls, footprints: dict[str, Footprint]) -> EditNames:
        removed: dict[str, tuple[str, int]] = {}
        defined: dict[str, tuple[str, int]] = {}
        for path, footprint in sorted(footprints.items()):
            for name, line in footprint.removed.items():
                removed.setdefault(name, (path, line))
            for name, line in footprint.defined.items():
                defined.setdefault(name, (path, line))
        # A name bound again in another file moved there; it was not removed.
        return cls({n: w for n, w in removed.items() if n not in defined}, defined)


def attribute(finding: Finding, footprint: Footprint | None, names: EditNames, after_text: str) -> str | None:
    """One line saying why ``finding`` is the edit's doing, or ``None`` when nothing ties it to the edit.

    ``footprint`` is that of the finding's own file (``None`` for a file outside the change set).
    """
    if finding.source in SYNTAX_SOURCES:
        return "the file does not parse after the edit"
    if footprint is not None:
        if footprint.created:
            return "in a file the edit created"
        lines = set(range(finding.line, max(finding.end_line, finding.line) + 1))
        touched = sorted(lines & footprint.changed)
        if touched:
            return f"on line {touched[0]}, which the edit changed"
    mentioned = _names_of(finding, after_text)
    for name in mentioned:
        if name in names.removed:
            path, line = names.removed[name]
            return f"uses `{name}`, which the edit removed ({_where(path, finding.path)}old line {line})"
    for name in mentioned:
        if name in names.defined:
            path, line = names.defined[name]
            return f"uses `{name}`, which the edit changed ({_where(path, finding.path)}line {line})"
    return None


def _where(path: str, own: str) -> str:
    return "" if path == own else f"{path}, "


def _names_of(finding: Finding, after_text: str) -> list[str]:
    """Names the finding mentions: quoted in its message first, then identifiers on its first line."""
    found: list[str] = []
    for match in _QUOTED.finditer(finding.message):
        for part in match.group(1).split("."):
            if part and part not in found:
                found.append(part)
        if len(found) >= _MAX_NAMES_QUOTED:
            break
    lines = after_text.split("\n")
    if 1 <= finding.line <= len(lines):
        for name in _IDENTIFIER.findall(_strip_strings(lines[finding.line - 1])):
            if name not in found:
                found.append(name)
    return found


def _strip_strings(line: str) -> str:
    """The line without string literals and a trailing comment, so words inside them are not names."""
    line = re.sub(r"(\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*')", '""', line)
    return line.split("#", 1)[0] if "#" in line else line


def _bindings(text: str) -> dict[str, set[int]]:
    """Names bound at module or class level or as functions anywhere, with the lines that bind them."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return _scan_bindings(text)
    bound: dict[str, set[int]] = {}

    def add(name: str, line: int) -> None:
        bound.setdefault(name, set()).add(line)

    for node in ast.walk(tree):
        match node:
            case ast.FunctionDef() | ast.AsyncFunctionDef() | ast.ClassDef():
                add(node.name, node.lineno)
            case ast.Import() | ast.ImportFrom():
                for alias in node.names:
                    name = alias.asname or alias.name.split(".")[0]
                    if name != "*":
                        add(name, getattr(alias, "lineno", node.lineno))
            case ast.Assign() | ast.AnnAssign() | ast.AugAssign():
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in _names_in(targets):
                    add(target.id, target.lineno)
            case _:
                pass
    return bound


def _names_in(targets: Iterable[ast.expr]) -> Iterable[ast.Name]:
    for target in targets:
        if isinstance(target, ast.Name):
            yield target
        elif isinstance(target, ast.Tuple | ast.List):
            yield from _names_in(target.elts)


def _scan_bindings(text: str) -> dict[str, set[int]]:
    """Line-based bindings for text ``ast`` cannot read (JavaScript, TypeScript, broken Python)."""
    bound: dict[str, set[int]] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        names: list[str] = []
        imported = _IMPORT_LINE.match(line)
        if imported:
            clause = re.sub(r"\bfrom\b.*$", "", imported.group(1))
            for part in re.split(r"[,{}()]", clause):
                words = part.split()
                if words and words[-1] not in {"*", "import", "type"}:
                    names.append(words[-1])
        for pattern in _SCAN_PATTERNS:
            match = pattern.match(line)
            if match:
                names.append(match.group(1))
        for name in names:
            if _IDENTIFIER.fullmatch(name):
                bound.setdefault(name, set()).add(number)
    return bound
