"""The configuration snippets users copy (Helix, VS Code's mcp.json, docs/editors.md) parse and start Podium.

They are data a person pastes into another program, so a typo would only show up there: each is parsed
here, and the `podium` subcommands they name are checked to exist.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).parents[2]
HELIX = REPO / "clients" / "helix" / "languages.toml"
VSCODE_MCP = REPO / "clients" / "vscode" / "mcp.json.example"
EDITORS_DOC = REPO / "docs" / "editors.md"
HELP_TIMEOUT = 60.0


def json_blocks(markdown: str) -> list[Any]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", markdown, flags=re.DOTALL)]


def test_the_helix_snippet_declares_podium_lsp_and_adds_it_to_every_language_it_lists() -> None:
    config = tomllib.loads(HELIX.read_text())

    server = config["language-server"]["podium"]
    assert (server["command"], server["args"]) == ("podium", ["lsp"])
    languages = config["language"]
    assert languages and all("podium" in language["language-servers"] for language in languages)


def test_the_vscode_mcp_example_starts_podium_mcp_in_the_workspace() -> None:
    server = json.loads(VSCODE_MCP.read_text())["servers"]["podium"]

    assert server["type"] == "stdio" and server["command"] == "podium"
    assert server["args"] == ["mcp", "--root", "${workspaceFolder}"]


def test_every_json_snippet_in_the_editors_doc_parses_and_the_opencode_one_runs_both_servers() -> None:
    blocks = json_blocks(EDITORS_DOC.read_text())

    (opencode,) = [block for block in blocks if "lsp" in block]
    assert opencode["mcp"]["podium"] == {"type": "local", "command": ["podium", "mcp"], "enabled": True}
    assert opencode["lsp"]["podium"]["command"] == ["podium", "lsp"]
    assert all(ext.startswith(".") for ext in opencode["lsp"]["podium"]["extensions"])
    assert json.loads(VSCODE_MCP.read_text()) in blocks, "docs/editors.md shows another mcp.json"


def test_the_subcommands_the_snippets_start_exist() -> None:
    for subcommand in ("lsp", "mcp"):
        done = subprocess.run(
            [sys.executable, "-m", "podium.server", subcommand, "--help"],
            capture_output=True,
            text=True,
            timeout=HELP_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "--root" in done.stdout
