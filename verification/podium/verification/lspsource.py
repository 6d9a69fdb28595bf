"""A language server as a diagnostics source: the touched files' diagnostics before and after an edit.

The server is rooted at the project (``root``), so imports resolve against the project's files. A check
writes nothing: it gives each touched file its base text as an in-memory document, takes the diagnostics,
replaces the text with the edited one (``didChange``), takes them again, and puts the base text back (or
closes the documents, see ``_Documents``). Base results are cached by (path, content hash): when every
touched file's base was seen before, the base round is skipped. Diagnostics are pulled
(``textDocument/diagnostic``) when the server offers it, else taken from ``publishDiagnostics`` by the
settle rule of ``LspClient.wait_published``.

Outcomes: a missing program or one that is not a language server is a note ("unavailable"); a server that
crashes, answers with errors or exceeds its timeout makes the report's ``failure``, for the gate's policy.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import anyio

from podium.verification.catalog import SourceSpec, resolve_commands, search_dirs
from podium.verification.changes import ChangeSet, FileChange
from podium.verification.diagnostics import BaseCache, from_lsp, to_findings
from podium.verification.errors import VerificationError
from podium.verification.findings import Finding
from podium.verification.languages import language_for_path
from podium.verification.lspclient import Json, LspClient
from podium.verification.lsppool import LspPool, ServerUnusable
from podium.verification.sources import FileFindings, SourceReport
from podium.verification.tslib import lib_dirs, lib_globals, without_lib_names

logger = logging.getLogger(__name__)

LANGUAGE_IDS: Mapping[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "typescriptreact",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascriptreact",
}
"""LSP language identifiers by extension; other files use their tree-sitter language name."""
RESTING_DOCUMENTS = 64
"""Documents a server keeps open between checks (see ``_Documents``)."""


@dataclass(slots=True)
class LspSource:
    """Diagnostics of one language server (``spec``) for the files of its languages.

    Attributes:
        spec: the source's configuration (commands, languages, timeouts, settings).
        root: the workspace root the server runs in; change-set paths are relative to it.
        pool: where the warm server lives.
        tool_dirs: extra directories to find the server's program in (see ``catalog.search_dirs``).
    """

    spec: SourceSpec
    root: Path
    pool: LspPool
    tool_dirs: Sequence[Path] = ()
    blocking: Callable[[Finding], bool] | None = None
    """The gate's test of whether a finding could block; without it the base texts are always checked."""
    _cache: BaseCache = field(default_factory=BaseCache)
    _context: dict[str, str] = field(default_factory=dict[str, str])
    _resting: dict[str, str] = field(default_factory=dict[str, str])
    """Path → digest of the base text a document was left open with after a check."""
    _lib_names: frozenset[str] = frozenset()
    """TypeScript's lib globals, for a TypeScript/JavaScript server (see ``tslib.py``)."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def deadline(self) -> float:
        """Seconds the gate waits at most: starting the server, then the check."""
        return self.spec.start_timeout + self.spec.timeout

    def handles(self, path: str) -> bool:
        """Whether ``path`` is a file of one of this source's languages."""
        language = language_for_path(path)
        return language is not None and language.name in self.spec.languages

    async def diagnose(self, changes: ChangeSet) -> SourceReport:
        """Findings before and after the edit for the files this server understands."""
        files = [c for c in changes.files if self.handles(c.path)]
        if not any(c.after is not None for c in files):
            return SourceReport()
        commands = resolve_commands(self.spec, search_dirs(self.root, self.tool_dirs))
        if not commands:
            looked = ", ".join(command[0] for command in self.spec.commands if command)
            return SourceReport(notes=(f"{self.name}: unavailable ({looked} not found)",))
        if {"typescript", "tsx", "javascript"} & set(self.spec.languages):
            self._lib_names = lib_globals(lib_dirs(commands[0][0]))
        try:
            async with self.pool.session(self.spec, commands, self.root) as server:
                with anyio.fail_after(self.spec.timeout):
                    touched = {c.path for c in files} | {c.old_path for c in files if c.old_path}
                    context = {p: t for p, t in changes.context if p not in touched}
                    return SourceReport(await self._check(server, files, context))
        except ServerUnusable as exc:
            return SourceReport(notes=(f"{self.name}: unavailable ({exc.message})",))
        except TimeoutError:
            return SourceReport(failure=f"{self.name}: no answer within the time limit; server restarted")
        except VerificationError as exc:
            return SourceReport(failure=f"{self.name}: {exc.message}")

    async def _check(
        self, server: LspClient, files: list[FileChange], context: Mapping[str, str]
    ) -> tuple[FileFindings, ...]:
        documents = _Documents(server, self.root, self.spec.settle, pull=self._pulls(server))
        await self._forget_stale(documents, {c.path for c in files} | context.keys())
        await self._show_context(documents, {p: t for p, t in context.items() if self.handles(p)})
        base = {c.path: c.before for c in files if c.before is not None}
        edited = {c.path: c.after for c in files if c.after is not None}
        before: dict[str, tuple[Finding, ...]] = {}
        for path in edited.keys() & base.keys():
            cached = self._cache.get(path, base[path])
            if cached is not None:
                before[path] = cached
        # The edited texts first: when none of their findings could block, the base texts' findings cannot
        # change the verdict, and a cold server is spared a second analysis.
        found = await documents.diagnose(edited)
        after = {path: self._findings(server, path, text, found[path]) for path, text in edited.items()}
        needed = self.blocking is None or any(map(self.blocking, (f for fs in after.values() for f in fs)))
        if needed and any(path in base and path not in before for path in edited):
            # All touched files take their base texts together: one file's errors may come from another.
            found_base = await documents.diagnose(base)
            for path in edited.keys() & base.keys():
                before[path] = self._findings(server, path, base[path], found_base[path])
                self._cache.put(path, base[path], before[path])
        await documents.rest(base)
        for path, text in base.items():
            if documents.uri(path) in server.open_documents:
                self._resting[path] = _digest(text)
        return tuple(FileFindings(path, before.get(path, ()), after[path]) for path in edited)

    async def _forget_stale(self, documents: _Documents, wanted: set[str]) -> None:
        """Close documents an earlier check left open whose text is no longer the file on disk.

        An open document overrides the disk for the server, so a file changed since (a task merged, the
        user edited it) would be analysed as it was: another file importing a name it gained would look
        broken. Those this check sends anyway (touched or context) are left to it.
        """
        open_documents = documents.server.open_documents
        for path, digest in sorted(self._resting.items()):
            uri = documents.uri(path)
            if uri not in open_documents:
                del self._resting[path]
            elif path not in wanted and _file_digest(self.root / PurePosixPath(path)) != digest:
                await documents.close(uri)
                del self._resting[path]

    async def _show_context(self, documents: _Documents, context: Mapping[str, str]) -> None:
        """Open the change's context files with their texts; close those of an earlier check not wanted now.

        Context documents stay open between checks (tasks of one mission share most of them), so only the
        ones whose text changed are sent again; a closed one falls back to the file on disk.
        """
        server = documents.server
        for path in sorted(self._context.keys() - context.keys()):
            if documents.uri(path) in server.open_documents:
                await documents.close(documents.uri(path))
        for path, text in context.items():
            if documents.uri(path) not in server.open_documents or self._context.get(path) != text:
                await documents.set_text(path, text)
        self._context = dict(context)

    def _pulls(self, server: LspClient) -> bool:
        if self.spec.diagnostics == "auto":
            return server.offers_pull
        return self.spec.diagnostics == "pull"

    def _findings(self, server: LspClient, path: str, text: str, items: list[Json]) -> tuple[Finding, ...]:
        found = to_findings(
            self.name, path, text, (from_lsp(item) for item in items), server.position_encoding
        )
        return without_lib_names(found, self._lib_names) if self._lib_names else found


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _file_digest(path: Path) -> str | None:
    try:
        return _digest(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


class _Documents:
    """One check's view of the documents open on a server, and the diagnostics of their texts.

    Documents stay open between checks ("resting"), holding the base text of the last check that touched
    them: reopening a document costs basedpyright a fresh analysis (about 240 ms against 90 ms for a
    change on a 1,000-line file). Resting documents are bounded (``RESTING_DOCUMENTS`` per server, least
    recently used closed first). Push-mode servers get their documents closed after every check instead:
    their late, unversioned publication for a reverted text could pass for the next check's result.
    """

    def __init__(self, server: LspClient, root: Path, settle: float, *, pull: bool) -> None:
        self.server = server
        self.root = root.resolve()
        self.settle = settle
        self.pull = pull
        self.touched: set[str] = set()

    def uri(self, path: str) -> str:
        return (self.root / PurePosixPath(path)).as_uri()

    async def diagnose(self, texts: Mapping[str, str]) -> dict[str, list[Json]]:
        """Give every document in ``texts`` that text (opening it if needed) and return its diagnostics.

        Documents this check touched before but absent from ``texts`` (a deleted file) are closed first.
        """
        for path in sorted(self.touched - texts.keys()):
            await self.close(self.uri(path))
        mark = self.server.publication_mark()
        versions: dict[str, int] = {}
        for path, text in texts.items():
            versions[path] = await self.set_text(path, text)
            self.touched.add(path)
        found: dict[str, list[Json]] = {}
        errors: list[VerificationError] = []

        async def fetch(path: str, scope: anyio.CancelScope) -> None:
            uri = self.uri(path)
            try:
                if self.pull:
                    found[path] = await self.server.pull(uri)
                else:
                    found[path] = await self.server.wait_published(uri, mark, versions[path], self.settle)
            except VerificationError as exc:
                errors.append(exc)
                scope.cancel()

        async with anyio.create_task_group() as tg:
            for path in texts:
                tg.start_soon(fetch, path, tg.cancel_scope)
        if errors:
            raise errors[0]
        return found

    async def rest(self, base: Mapping[str, str]) -> None:
        """End the check: touched documents go back to their base text, or are closed (see the class)."""
        for path in sorted(self.touched):
            uri = self.uri(path)
            if uri not in self.server.open_documents:
                continue
            if self.pull and path in base:
                await self.set_text(path, base[path])
            else:
                await self.close(uri)
        while len(self.server.open_documents) > RESTING_DOCUMENTS:
            await self.close(next(iter(self.server.open_documents)))

    async def set_text(self, path: str, text: str) -> int:
        uri = self.uri(path)
        open_documents = self.server.open_documents
        # Versions grow over the server's whole life, so a late publication of an earlier check's
        # document can never pass for the current one.
        self.server.document_version += 1
        version = self.server.document_version
        if uri in open_documents:
            change = {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}
            await self.server.notify("textDocument/didChange", change)
            open_documents.move_to_end(uri)
        else:
            language = language_for_path(path)
            language_id = LANGUAGE_IDS.get(
                PurePosixPath(path).suffix.lower(), language.name if language else "plaintext"
            )
            document = {"uri": uri, "languageId": language_id, "version": version, "text": text}
            await self.server.notify("textDocument/didOpen", {"textDocument": document})
        open_documents[uri] = version
        return version

    async def close(self, uri: str) -> None:
        mark = self.server.publication_mark()
        await self.server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        self.server.open_documents.pop(uri, None)
        if not self.pull:
            # Servers clear a closed document's diagnostics with one more (unversioned) publication; let
            # it arrive now rather than be taken for the next check's result.
            with anyio.move_on_after(self.settle):
                await self.server.wait_published(uri, mark, 0, 0.0)
