"""TypeScript's standard library globals: a name it lacks because of the project's ``lib`` is not a typo.

``TS2304 Cannot find name 'AsyncDisposable'`` means the compilation's ``lib`` setting leaves out the file
that declares it (``lib.esnext.disposable.d.ts``): a fact about the project's configuration, or about the
defaults TypeScript uses when a package ships no ``tsconfig.json``, not about the edit. The TypeScript
server installed beside the one Podium runs lists every such name in its ``lib.*.d.ts`` files; a misspelt
identifier is never one of them. Findings of that kind are dropped by the TypeScript source like a
missing module (TS2307), which never blocks either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from podium.verification.findings import Finding

UNKNOWN_NAME_CODES = frozenset({"TS2304", "TS2552", "TS2580", "TS2583", "TS2584"})
""""Cannot find name" in its variants (plain, "did you mean", "install types", "change your lib")."""
_UNKNOWN_NAME = re.compile(r"^Cannot find name '(?P<name>[A-Za-z_$][\w$]*)'")
_DECLARATION = re.compile(
    r"^\s*(?:declare\s+)?(?:interface|var|let|const|function|class|namespace|type|enum)\s+"
    r"(?P<name>[A-Za-z_$][\w$]*)",
    re.MULTILINE,
)
_PACKAGE_LIBS = ("typescript/lib", "@typescript/*/lib")
"""Where TypeScript's lib files sit under ``node_modules``: the JavaScript package, or the native
(TypeScript 7) compiler's platform package."""


@cache
def lib_dirs(program: str) -> tuple[Path, ...]:
    """The directories of ``lib.*.d.ts`` files belonging to the TypeScript that ``program`` runs."""
    try:
        resolved = Path(program).resolve()
    except (OSError, RuntimeError):
        return ()
    for parent in resolved.parents:
        if parent.name == "node_modules":
            found = (d for pattern in _PACKAGE_LIBS for d in sorted(parent.glob(pattern)))
            return tuple(d for d in found if (d / "lib.es5.d.ts").is_file())
    return ()


@cache
def lib_globals(dirs: tuple[Path, ...]) -> frozenset[str]:
    """Every name a ``lib.*.d.ts`` file in ``dirs`` declares at its top level."""
    names: set[str] = set()
    for directory in dirs:
        for file in directory.glob("lib.*.d.ts"):
            try:
                names.update(m["name"] for m in _DECLARATION.finditer(file.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError):
                continue
    return frozenset(names)


def without_lib_names(findings: Iterable[Finding], names: frozenset[str]) -> tuple[Finding, ...]:
    """``findings`` without the unknown-name ones about a name TypeScript's lib declares."""

    def lib_name(finding: Finding) -> bool:
        match = _UNKNOWN_NAME.match(finding.message)
        return finding.code in UNKNOWN_NAME_CODES and match is not None and match["name"] in names

    return tuple(f for f in findings if not lib_name(f))
