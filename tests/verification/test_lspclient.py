"""The LSP client against a real (fake) language server process: handshake, server requests, diagnostics."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from podium.verification.lspclient import LspClient, ServerExited

FAKE = Path(__file__).parent.parent / "fixtures" / "lsp" / "fake_server.py"
WAIT = 10.0


@asynccontextmanager
async def running(
    tmp_path: Path, *options: str, settings: dict[str, object] | None = None
) -> AsyncIterator[LspClient]:
    """The fake server, started and initialized; killed on leaving."""
    server = await LspClient.launch("fake", [sys.executable, str(FAKE), *options], tmp_path, settings)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(WAIT):
            await server.initialize()
        try:
            yield server
        finally:
            await server.terminate()
            tg.cancel_scope.cancel()


async def open_document(server: LspClient, uri: str, text: str, version: int = 1) -> None:
    document = {"uri": uri, "languageId": "python", "version": version, "text": text}
    await server.notify("textDocument/didOpen", {"textDocument": document})


async def test_pulled_diagnostics_are_the_servers_items(tmp_path: Path) -> None:
    uri = (tmp_path / "a.py").as_uri()
    async with running(tmp_path) as client:
        await open_document(client, uri, "ok\nx = BAD\n")
        with anyio.fail_after(WAIT):
            [item] = await client.pull(uri)

    assert client.offers_pull
    assert item["code"] == "FAKE1"
    assert item["range"]["start"] == {"line": 1, "character": 4}


async def test_a_pull_the_server_cancels_is_sent_again(tmp_path: Path) -> None:
    uri = (tmp_path / "a.py").as_uri()
    async with running(tmp_path) as client:
        await open_document(client, uri, "BUSY BAD\n")
        with anyio.fail_after(WAIT):
            items = await client.pull(uri)

    assert [item["code"] for item in items] == ["FAKE1"]


async def test_server_requests_are_answered_from_the_settings(tmp_path: Path) -> None:
    async with running(tmp_path, "--ask", settings={"fake": {"level": 3}}) as server:
        with anyio.fail_after(WAIT):
            # The fake reads messages in order: once it has the four answers, its state shows them.
            state = await server.request("fake/state", None)
            while len(state["answers"]) < 4:
                state = await server.request("fake/state", None)

    assert state["configuration"] == [{"level": 3}, 3, None]
    assert server.registrations["textDocument/diagnostic"] == {"identifier": "fake-id"}
    assert server.offers_pull


async def test_pushed_diagnostics_settle_past_an_early_empty_publication(tmp_path: Path) -> None:
    uri = (tmp_path / "a.py").as_uri()
    async with running(tmp_path, "--push", "--delay", "0.2") as server:
        with anyio.fail_after(WAIT):
            mark = server.publication_mark()
            await open_document(server, uri, "BAD\nWARN\n")
            items = await server.wait_published(uri, mark, 1, quiet=1.0)

    assert not server.offers_pull
    assert [item["code"] for item in items] == ["FAKE1", "FAKE2"]


async def test_a_server_that_dies_fails_the_waiting_request(tmp_path: Path) -> None:
    uri = (tmp_path / "a.py").as_uri()
    change = {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": "CRASH\n"}]}
    async with running(tmp_path) as client:
        await open_document(client, uri, "fine\n")
        with anyio.fail_after(WAIT), pytest.raises(ServerExited, match="exited with status 3"):
            await client.notify("textDocument/didChange", change)
            await client.pull(uri)


async def test_shutdown_ends_the_process(tmp_path: Path) -> None:
    async with running(tmp_path) as client:
        with anyio.fail_after(WAIT):
            await client.shutdown()

    assert client.process.returncode == 0


async def test_a_program_that_cannot_start_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ServerExited, match="cannot start"):
        await LspClient.launch("ghost", [str(tmp_path / "no-such-server")], tmp_path)
