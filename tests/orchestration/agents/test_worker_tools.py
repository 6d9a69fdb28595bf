"""The worker tool set: useful inside the worktree, refused (as tool errors) outside it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from podium.orchestration.agents.worker_tools import TOOL_DEFINITIONS, WorkerTools

MakeRepo = Callable[[Mapping[str, str]], Path]

FILES = {"app/main.py": "def main():\n    return 1\n", "app/util.py": "VALUE = 1\n", "README.md": "# App\n"}


@pytest.fixture
def worktree(make_repo: MakeRepo, tmp_path: Path) -> Path:
    root = make_repo(FILES)
    (tmp_path / "secret.txt").write_text("TOP SECRET\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("TOP SECRET\n")
    (root / "out").symlink_to(tmp_path / "outside")
    return root


async def call(tools: WorkerTools, name: str, **args: object) -> str:
    return await tools.call(name, json.dumps(args))


def test_every_tool_is_declared_with_a_json_schema() -> None:
    names = [d["function"]["name"] for d in TOOL_DEFINITIONS]

    assert names == ["read_file", "list_files", "search", "write_file", "replace_in_file", "verify"]
    assert all(d["function"]["parameters"]["type"] == "object" for d in TOOL_DEFINITIONS)


async def test_read_list_and_search_see_the_worktree_files_but_not_git_or_symlinks(worktree: Path) -> None:
    tools = WorkerTools(worktree)

    assert await call(tools, "read_file", path="app/main.py") == FILES["app/main.py"]
    assert (await call(tools, "list_files")).splitlines() == ["README.md", "app/main.py", "app/util.py"]
    assert (await call(tools, "list_files", path="app")).splitlines() == ["app/main.py", "app/util.py"]
    assert await call(tools, "search", pattern="VALUE") == "app/util.py:1: VALUE = 1"
    assert await call(tools, "search", pattern=r"def \w+\(", regex=True) == "app/main.py:1: def main():"
    assert await call(tools, "search", pattern="TOP SECRET") == "no matches"


async def test_write_and_replace_change_the_worktree(worktree: Path) -> None:
    tools = WorkerTools(worktree)

    assert await call(tools, "write_file", path="app/new/mod.py", content="X = 2\n") == "wrote app/new/mod.py"
    replaced = await call(
        tools, "replace_in_file", path="app/util.py", search="VALUE = 1", replace="VALUE = 3"
    )

    assert replaced == "replaced one passage in app/util.py"
    assert (worktree / "app/new/mod.py").read_text() == "X = 2\n"
    assert (worktree / "app/util.py").read_text() == "VALUE = 3\n"
    assert tools.written == {"app/new/mod.py", "app/util.py"}


async def test_a_replace_that_does_not_match_exactly_once_is_a_tool_error(worktree: Path) -> None:
    tools = WorkerTools(worktree)

    result = await call(tools, "replace_in_file", path="app/util.py", search="NOPE", replace="x")

    assert result.startswith("error: app/util.py: search text not found")
    assert (worktree / "app/util.py").read_text() == FILES["app/util.py"]


@pytest.mark.parametrize(
    ("tool", "args", "reason"),
    [
        ("read_file", {"path": "../secret.txt"}, "escapes the root"),
        ("read_file", {"path": "/etc/passwd"}, "absolute paths are not allowed"),
        ("read_file", {"path": "out/secret.txt"}, "symlink"),
        ("read_file", {"path": ".git/config"}, "inside .git"),
        ("write_file", {"path": "../evil.py", "content": "x"}, "escapes the root"),
        ("write_file", {"path": "out/evil.py", "content": "x"}, "symlink"),
        ("write_file", {"path": ".git/hooks/pre-commit", "content": "x"}, "inside .git"),
        ("replace_in_file", {"path": "../secret.txt", "search": "TOP", "replace": "x"}, "escapes the root"),
        ("list_files", {"path": "../"}, "escapes the root"),
        ("list_files", {"path": "out"}, "symlink"),
        ("search", {"pattern": "SECRET", "path": "out"}, "symlink"),
    ],
)
async def test_paths_outside_the_worktree_are_tool_errors_and_touch_nothing(
    worktree: Path, tmp_path: Path, tool: str, args: dict[str, object], reason: str
) -> None:
    tools = WorkerTools(worktree)

    result = await tools.call(tool, json.dumps(args))

    assert result.startswith("error: ")
    assert reason in result
    assert "TOP SECRET" not in result
    assert not (tmp_path / "evil.py").exists()
    assert not (tmp_path / "outside" / "evil.py").exists()
    assert (tmp_path / "secret.txt").read_text() == "TOP SECRET\n"
    assert not (worktree / ".git" / "hooks" / "pre-commit").exists()


async def test_verify_judges_the_uncommitted_changes_with_the_gate(make_repo: MakeRepo) -> None:
    tools = WorkerTools(make_repo(FILES))

    nothing = await call(tools, "verify")
    await call(tools, "write_file", path="app/util.py", content="VALUE = (1 +\n")
    rejected = await call(tools, "verify")
    await call(tools, "write_file", path="app/util.py", content="VALUE = (2)\n")
    accepted = await call(tools, "verify")

    assert nothing.startswith("error: ") and "no uncommitted changes" in nothing
    assert "app/util.py:1:" in rejected
    assert rejected.splitlines()[-1].startswith("rejected: 1 new problem")
    assert accepted.splitlines()[-1].startswith("accepted")


async def test_unknown_tools_and_malformed_arguments_are_tool_errors(worktree: Path) -> None:
    tools = WorkerTools(worktree)

    assert (await tools.call("rm_rf", "{}")).startswith("error: unknown tool 'rm_rf'")
    assert (await tools.call("read_file", "{not json")).startswith("error: the arguments of read_file")
    assert (await tools.call("read_file", "{}")).startswith("error: missing argument 'path'")
    assert (await tools.call("read_file", '{"path": 3}')).startswith(
        "error: argument 'path' must be a string"
    )


async def test_long_results_are_cut_for_the_model(worktree: Path) -> None:
    (worktree / "big.txt").write_text("x" * 500)
    tools = WorkerTools(worktree, max_output_chars=100)

    result = await call(tools, "read_file", path="big.txt")

    assert result.startswith("x" * 100)
    assert result.endswith("(400 more characters not shown)")
