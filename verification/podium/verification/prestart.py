"""Starting the default language servers before anything else, for a one-shot check (`podium verify`).

A cold check spends most of its time in the servers' own start (node, type stubs, the first analysis). The
command line knows the root and the touched paths long before its configuration is loaded and the change
set built, so it starts the servers then, and the gate finds them running. Only the built-in defaults are
started this way: a project that configures its own sources waits for its configuration.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from podium.verification.catalog import DEFAULT_LANGUAGES, DEFAULT_SOURCES, resolve_commands, search_dirs
from podium.verification.languages import language_for_path
from podium.verification.lsppool import LspPool


def prestart_default_servers(root: Path, paths: Iterable[str], pool: LspPool | None = None) -> LspPool:
    """``pool`` (a new one when None) with the default language servers of ``paths``' languages starting."""
    pool = pool or LspPool()
    root = root.resolve()
    names: dict[str, None] = {}
    for path in paths:
        language = language_for_path(path)
        if language is not None:
            names.update(dict.fromkeys(DEFAULT_LANGUAGES.get(language.name, ())))
    dirs = search_dirs(root)
    for name in names:
        spec = DEFAULT_SOURCES[name]
        commands = resolve_commands(spec, dirs)
        if spec.kind == "lsp" and commands:
            pool.warm(spec, commands, root)
    return pool
