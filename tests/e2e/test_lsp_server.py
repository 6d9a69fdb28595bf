"""`podium lsp` as a real process, driven by pytest-lsp with the recorded VS Code and Neovim capabilities.

Every wait is bounded: a notification is awaited with pytest-lsp's ``wait_for_notification`` inside
``anyio.fail_after``, and the condition is checked again after each one.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import anyio
import anyio.abc
import pytest
from lsprotocol import types
from podium_e2e import PODIUM, MakeRepo, Repo, refusal, stdio_session, text_of
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

from podium.server.lsp_server import ANNOUNCE

pytestmark = pytest.mark.e2e

STARTUP_TIMEOUT = 60.0
CALL_TIMEOUT = 60.0
WAIT_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

INVENTORY = """\
def total(items):
    return sum(item.count for item in items)


def names(items):
    return [item.name for item in items]
"""
BROKEN_TOTAL = INVENTORY.replace("def total(items):", "def total(items")
FIXED_TOTAL = INVENTORY.replace(
    "sum(item.count for item in items)", "sum(i.count for i in items if i.count > 0)"
)
REPORT = 'def render(rows):\n    return "\\n".join(rows)\n'
PROJECT = {"inventory.py": INVENTORY, "report.py": REPORT}

COMMANDS = [
    "podium.mission_start",
    "podium.roadmap_add",
    "podium.task_claim",
    "podium.task_heartbeat",
    "podium.task_submit",
    "podium.task_review",
    "podium.task_release",
    "podium.mission_status",
    "podium.mission_finish",
    "podium.mission_cancel",
    "podium.mission_run",
    "podium.mission_wait",
    "podium.verify",
]
CLIENTS = ["visual-studio-code", "neovim@v0.11.0"]

SHOW_MESSAGE = "window/showMessage"
DIAGNOSTICS = "textDocument/publishDiagnostics"
PROGRESS = "$/progress"


@dataclass
class Editor:
    """A test client attached to `podium lsp` on one repository."""

    client: LanguageClient
    repo: Repo
    initialized: types.InitializeResult

    async def run(self, operation: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run ``podium.<operation>`` with one object argument; its JSON result."""
        return await self.run_raw(operation, [arguments or {}])

    async def run_raw(self, operation: str, arguments: Sequence[Any] | None) -> dict[str, Any]:
        params = types.ExecuteCommandParams(command=f"podium.{operation}", arguments=arguments)
        with anyio.fail_after(CALL_TIMEOUT):
            result = await self.client.workspace_execute_command_async(params)
        assert isinstance(result, dict), result
        return cast(dict[str, Any], result)

    async def refused(self, operation: str, arguments: dict[str, Any]) -> JsonRpcException:
        with pytest.raises(JsonRpcException) as caught:
            await self.run(operation, arguments)
        return caught.value

    async def wait_for(self, method: str, condition: Callable[[], bool]) -> None:
        with anyio.fail_after(WAIT_TIMEOUT):
            while not condition():
                await self.client.wait_for_notification(method)

    def uri(self, path: str) -> str:
        return (self.repo.root.resolve() / path).as_uri()

    def diagnostics(self, path: str) -> Sequence[types.Diagnostic] | None:
        return self.client.diagnostics.get(self.uri(path))

    def cleared(self, path: str) -> bool:
        """Whether the last diagnostics published on ``path`` were none."""
        shown = self.diagnostics(path)
        return shown is not None and len(shown) == 0

    def said(self, kind: types.MessageType, fragment: str) -> bool:
        return any(m.type == kind and fragment in m.message for m in self.client.messages)

    def progress(self, prefix: str) -> list[list[Any]]:
        """The reports of every progress bar whose token starts with ``prefix``."""
        reports = self.client.progress_reports
        return [list(values) for token, values in reports.items() if str(token).startswith(prefix)]


@asynccontextmanager
async def editor(repo: Repo, capabilities: str) -> AsyncIterator[Editor]:
    """`podium lsp --root REPO` under a test client with ``capabilities``, initialized; shut down on exit."""
    client = make_test_lsp_client()
    await client.start_io(*PODIUM, "lsp", "--root", str(repo.root), cwd=repo.root, env=repo.full_env())
    try:
        params = types.InitializeParams(
            capabilities=client_capabilities(capabilities),
            root_uri=repo.root.resolve().as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=repo.root.resolve().as_uri(), name="repo")],
        )
        with anyio.fail_after(STARTUP_TIMEOUT):
            initialized = await client.initialize_session(params)
        yield Editor(client, repo, initialized)
        with anyio.fail_after(STOP_TIMEOUT):
            await client.shutdown_session()
        assert client._server is not None and client._server.returncode == 0  # pyright: ignore[reportPrivateUsage]
    finally:
        server = client._server  # pyright: ignore[reportPrivateUsage]
        if server is not None and server.returncode is None:
            server.terminate()
        with anyio.move_on_after(STOP_TIMEOUT, shield=True):
            await client.stop()


@pytest.mark.parametrize("capabilities", CLIENTS)
async def test_initialize_lists_one_command_per_operation_with_its_input_schema(
    repo_factory: MakeRepo, capabilities: str
) -> None:
    async with editor(repo_factory(PROJECT), capabilities) as ed:
        result = ed.initialized

    assert result.server_info is not None and result.server_info.name == "podium"
    provider = result.capabilities.execute_command_provider
    assert provider is not None and list(provider.commands) == COMMANDS
    catalog = cast(dict[str, Any], result.capabilities.experimental)["podium"]["commands"]
    assert [entry["command"] for entry in catalog] == COMMANDS
    claim = next(entry for entry in catalog if entry["operation"] == "task_claim")
    assert claim["inputSchema"]["required"] == ["mission_id", "worker"]


@pytest.mark.parametrize("capabilities", CLIENTS)
async def test_every_command_runs_and_the_editor_sees_progress_messages_and_diagnostics(
    repo_factory: MakeRepo, capabilities: str
) -> None:
    repo = repo_factory(PROJECT)
    async with editor(repo, capabilities) as ed:
        judged = await ed.run("verify", {"edits": [{"path": "inventory.py", "content": BROKEN_TOTAL}]})
        assert judged["accepted"] is False
        # an empty Lua table arrives as [], and no argument at all is fine too
        assert await ed.run_raw("mission_status", [[]]) == {"missions": []}
        assert await ed.run_raw("mission_status", None) == {"missions": []}

        started = await ed.run(
            "mission_start",
            {"goal": "tidy the inventory", "tasks": [{"title": "Count only positive items"}]},
        )
        mission_id = started["mission_id"]
        added = await ed.run(
            "roadmap_add",
            {
                "mission_id": mission_id,
                "tasks": [{"title": "Name the items", "review": True}, {"title": "Render the report"}],
            },
        )
        assert added["ids"] == ["T2", "T3"]
        mission_bar = f"podium/mission/{mission_id}/"
        await ed.wait_for(PROGRESS, lambda: bool(ed.progress(mission_bar)))

        assert (await ed.run("task_claim", {"mission_id": mission_id, "worker": "w1"}))["task"]["id"] == "T1"
        assert (await ed.run("task_heartbeat", {"task_id": "T1", "worker": "w1"}))["task_id"] == "T1"
        broken = [{"path": "inventory.py", "content": BROKEN_TOTAL}]
        rejected = await ed.run("task_submit", {"task_id": "T1", "worker": "w1", "edits": broken})
        assert rejected["status"] == "rejected"
        await ed.wait_for(DIAGNOSTICS, lambda: bool(ed.diagnostics("inventory.py")))
        await ed.wait_for(SHOW_MESSAGE, lambda: ed.said(types.MessageType.Warning, "T1 rejected"))
        shown = ed.diagnostics("inventory.py") or []
        assert {d.source for d in shown} == {"podium"}
        assert shown[0].range.start.line == 0 and "T1" in shown[0].message

        fixed = [{"path": "inventory.py", "content": FIXED_TOTAL}]
        merged = await ed.run("task_submit", {"task_id": "T1", "worker": "w1", "edits": fixed})
        assert merged["status"] == "merged"
        await ed.wait_for(DIAGNOSTICS, lambda: ed.cleared("inventory.py"))
        await ed.wait_for(SHOW_MESSAGE, lambda: ed.said(types.MessageType.Info, "T1 merged"))

        assert (await ed.run("task_claim", {"mission_id": mission_id, "worker": "w2"}))["task"]["id"] == "T2"
        names = [{"path": "inventory.py", "search": "item.name for item", "replace": "i.name for i"}]
        in_review = await ed.run("task_submit", {"task_id": "T2", "worker": "w2", "edits": names})
        assert in_review["status"] == "review"
        approved = await ed.run("task_review", {"task_id": "T2", "reviewer": "r1", "approve": True})
        assert approved["status"] == "merged"

        assert (await ed.run("task_claim", {"mission_id": mission_id, "worker": "w3"}))["task"]["id"] == "T3"
        released = await ed.run(
            "task_release", {"task_id": "T3", "worker": "w3", "status": "ready", "reason": "not today"}
        )
        assert released["task"]["state"] == "ready"
        status = await ed.run("mission_status", {"mission_id": mission_id})
        assert status["missions"][0]["counts"] == {"merged": 2, "ready": 1}

        finished = await ed.run("mission_finish", {"mission_id": mission_id})
        assert (finished["state"], finished["cancelled"]) == ("finished", ["T3"])
        await ed.wait_for(SHOW_MESSAGE, lambda: ed.said(types.MessageType.Info, f"{mission_id} finished"))
        await ed.wait_for(
            PROGRESS, lambda: isinstance(ed.progress(mission_bar)[0][-1], types.WorkDoneProgressEnd)
        )

        abandoned = (await ed.run("mission_start", {"goal": "abandoned"}))["mission_id"]
        assert (await ed.run("mission_cancel", {"mission_id": abandoned}))["state"] == "cancelled"
        await ed.wait_for(SHOW_MESSAGE, lambda: ed.said(types.MessageType.Info, f"{abandoned} cancelled"))

    [bar] = ed.progress(mission_bar)
    begin, *reports, end = bar
    assert isinstance(begin, types.WorkDoneProgressBegin) and begin.title == "Podium: tidy the inventory"
    assert reports and all(isinstance(report, types.WorkDoneProgressReport) for report in reports)
    assert {r.percentage for r in reports} >= {33, 66}
    assert isinstance(end, types.WorkDoneProgressEnd) and end.message == "mission finished"
    submit_bars = ed.progress("podium/task_submit/")
    assert len(submit_bars) == 3
    for submit_bar in submit_bars:
        kinds = [type(value).__name__ for value in submit_bar]
        assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
        assert set(kinds[1:-1]) == {"WorkDoneProgressReport"}
    assert any("merging" in (value.message or "") for bar in submit_bars for value in bar)


async def test_refusals_are_json_rpc_errors_carrying_the_podium_code_and_message(
    repo_factory: MakeRepo,
) -> None:
    async with editor(repo_factory(PROJECT), "visual-studio-code") as ed:
        unknown = await ed.refused("task_claim", {"mission_id": "m-00000000", "worker": "w1"})
        mistyped = await ed.refused("task_claim", {"mission_id": 7})
        mission_id = (await ed.run("mission_start", {"goal": "g", "tasks": [{"title": "t"}]}))["mission_id"]
        await ed.run("task_claim", {"mission_id": mission_id, "worker": "w1"})
        not_yours = await ed.refused("task_heartbeat", {"task_id": "T1", "worker": "w2"})

    assert (unknown.code, unknown.message) == (1005, "not_found: no mission m-00000000")
    assert unknown.data == {"code": "not_found", "message": "no mission m-00000000"}
    assert mistyped.code == -32602
    report = cast(dict[str, Any], mistyped.data)
    assert report["code"] == "input_error"
    problems = {p["field"]: p["problem"] for p in report["details"]["problems"]}
    assert set(problems) == {"mission_id", "worker"}
    assert not_yours.code == 1009 and not_yours.message.startswith("lease_error: task T1 is held by w1")


async def test_changes_made_through_a_concurrent_podium_mcp_reach_the_editor(
    repo_factory: MakeRepo, tmp_path: Any
) -> None:
    repo = repo_factory(PROJECT)
    async with editor(repo, "visual-studio-code") as ed, stdio_session(repo, tmp_path / "mcp.log") as mcp:
        with anyio.fail_after(CALL_TIMEOUT):
            tools = (await mcp.list_tools()).tools
        catalog = cast(dict[str, Any], ed.initialized.capabilities.experimental)["podium"]["commands"]
        assert {t.name: t.input_schema for t in tools} == {e["operation"]: e["inputSchema"] for e in catalog}

        started = await mcp_call(mcp, "mission_start", {"goal": "tidy", "tasks": [{"title": "Count"}]})
        mission_id = started["mission_id"]
        await ed.wait_for(PROGRESS, lambda: bool(ed.progress(f"podium/mission/{mission_id}/")))
        await mcp_call(mcp, "task_claim", {"mission_id": mission_id, "worker": "agent"})
        broken = [{"path": "inventory.py", "content": BROKEN_TOTAL}]
        submitted = await mcp_call(mcp, "task_submit", {"task_id": "T1", "worker": "agent", "edits": broken})
        assert submitted["status"] == "rejected"
        await ed.wait_for(DIAGNOSTICS, lambda: bool(ed.diagnostics("inventory.py")))
        await ed.wait_for(SHOW_MESSAGE, lambda: ed.said(types.MessageType.Warning, "T1 rejected"))

        # An editor that opens the file later (and drops what it had, as OpenCode does) is told again.
        ed.client.diagnostics.pop(ed.uri("inventory.py"), None)
        document = types.TextDocumentItem(ed.uri("inventory.py"), "python", 1, PROJECT["inventory.py"])
        ed.client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=document))
        await ed.wait_for(DIAGNOSTICS, lambda: bool(ed.diagnostics("inventory.py")))

        fixed = [{"path": "inventory.py", "content": FIXED_TOTAL}]
        submitted = await mcp_call(mcp, "task_submit", {"task_id": "T1", "worker": "agent", "edits": fixed})
        assert submitted["status"] == "merged"
        await ed.wait_for(DIAGNOSTICS, lambda: ed.cleared("inventory.py"))
        await ed.wait_for(SHOW_MESSAGE, lambda: ed.said(types.MessageType.Info, "T1 merged"))

        arguments = {"mission_id": "m-00000000", "worker": "agent"}
        report = await refusal(mcp, "task_claim", arguments)
        with anyio.fail_after(CALL_TIMEOUT):
            text = text_of(await mcp.call_tool("task_claim", arguments))
        refused = await ed.refused("task_claim", arguments)
        assert (refused.message, refused.data) == (text, report)


async def mcp_call(session: Any, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    with anyio.fail_after(CALL_TIMEOUT):
        result = await session.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    return cast(dict[str, Any], result.structured_content)


async def test_podium_lsp_over_tcp_serves_one_editor_and_exits_after_it(repo_factory: MakeRepo) -> None:
    repo = repo_factory(PROJECT)
    command = [*PODIUM, "lsp", "--root", str(repo.root), "--tcp", "127.0.0.1:0"]
    process = await anyio.open_process(
        command, cwd=repo.root, env=repo.full_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    try:
        port = await announced_port(process)
        client = make_test_lsp_client()
        await client.start_tcp("127.0.0.1", port)
        with anyio.fail_after(STARTUP_TIMEOUT):
            await client.initialize_session(
                types.InitializeParams(capabilities=client_capabilities("neovim@v0.11.0"))
            )
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="podium.mission_status", arguments=[{}])
        )
        assert result == {"missions": []}
        with anyio.fail_after(STOP_TIMEOUT):
            await client.shutdown_session()
            assert await process.wait() == 0
        await client.stop()
    finally:
        if process.returncode is None:
            process.kill()
        with anyio.move_on_after(STOP_TIMEOUT, shield=True):
            await process.aclose()


async def announced_port(process: anyio.abc.Process) -> int:
    assert process.stderr is not None
    seen = b""
    with anyio.fail_after(STARTUP_TIMEOUT):
        async for chunk in process.stderr:
            seen += chunk
            for line in seen.decode(errors="replace").splitlines():
                if line.startswith(ANNOUNCE):
                    return int(line.rpartition(":")[2])
    raise AssertionError(f"podium lsp --tcp never announced its address:\n{seen.decode(errors='replace')}")


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["--tcp", "localhost"], "--tcp localhost: expected HOST:PORT"),
        (["--tcp", "127.0.0.1:99999"], "expected HOST:PORT"),
        (["--root", "missing"], "--root missing: not a directory"),
    ],
)
def test_podium_lsp_refuses_bad_flags_before_serving(
    repo_factory: MakeRepo, arguments: list[str], complaint: str
) -> None:
    repo = repo_factory(PROJECT)
    done = repo.podium("lsp", *arguments)

    assert done.returncode == 2
    assert complaint in done.stderr
    assert done.stdout == ""
