"""`build_gate` and the verify functions: the sources `podium.toml` asks for, and no server left behind."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from podium.orchestration.config import DEFAULT_CONFIG, parse_config
from podium.orchestration.verify import build_gate, source_specs, verify_diff
from podium.verification.changes import ChangeSet, FileChange
from podium.verification.clisource import CliSource
from podium.verification.lsppool import LspPool
from podium.verification.lspsource import LspSource

FAKE = Path(__file__).parent.parent / "fixtures" / "lsp" / "fake_server.py"
FAKE_CONFIG = parse_config(
    {
        "gate": {
            "sources": {"fake": {"commands": [[sys.executable, str(FAKE)]], "timeout": 5.0}},
            "languages": {"python": ["fake"]},
        }
    }
)


def processes_in(root: Path) -> list[int]:
    """Ids of processes whose working directory is ``root`` (language servers run there)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == root.resolve():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_without_a_root_the_gate_checks_syntax_only() -> None:
    with build_gate(DEFAULT_CONFIG) as gate:
        assert [s.name for s in gate.sources] == ["tree-sitter", "python-compile"]


def test_with_a_root_the_default_diagnostics_sources_join(tmp_path: Path) -> None:
    with build_gate(DEFAULT_CONFIG, tmp_path) as gate:
        names = [s.name for s in gate.sources]

    assert names == ["tree-sitter", "python-compile", "ruff", "basedpyright", "tsserver"]


def test_diagnostics_can_be_switched_off(tmp_path: Path) -> None:
    config = parse_config({"gate": {"diagnostics": False}})

    with build_gate(config, tmp_path) as gate:
        assert [s.name for s in gate.sources] == ["tree-sitter", "python-compile"]


def test_source_settings_override_the_built_in_ones_and_languages_fill_in(tmp_path: Path) -> None:
    config = parse_config(
        {
            "gate": {
                "sources": {
                    "basedpyright": {"timeout": 7.5, "settings": {"basedpyright": {"analysis": {"x": 1}}}},
                    "lint": {
                        "kind": "cli",
                        "commands": [["ruff", "check", "--output-format", "json", "{files}"]],
                        "output_format": "ruff",
                    },
                },
                "languages": {
                    "python": ["basedpyright", "lint"],
                    "typescript": [],
                    "tsx": [],
                    "javascript": [],
                },
            }
        }
    )

    specs = source_specs(config)
    with build_gate(config, tmp_path) as gate:
        kinds = {s.name: type(s) for s in gate.sources}

    assert set(specs) == {"basedpyright", "lint"}
    assert specs["basedpyright"].timeout == 7.5
    assert specs["basedpyright"].diagnostics == "pull"
    assert specs["basedpyright"].settings == {"basedpyright": {"analysis": {"x": 1}}}
    assert specs["lint"].languages == ("python",)
    assert kinds["basedpyright"] is LspSource and kinds["lint"] is CliSource


def test_a_shared_pool_is_left_running_when_the_gate_closes(tmp_path: Path) -> None:
    pool = LspPool()
    try:
        with build_gate(FAKE_CONFIG, tmp_path, pool=pool) as gate:
            gate.check(_changes())
        assert list(pool.running()) == ["fake"]
    finally:
        pool.close()


def test_verify_diff_reports_the_servers_findings_and_stops_its_servers(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    diff = "--- a/a.py\n+++ b/a.py\n@@ -1 +1,2 @@\n x = 1\n+y = 2  # BAD\n"

    verdict = verify_diff(tmp_path, diff, FAKE_CONFIG)

    assert not verdict.accepted
    assert [(f.source, f.line) for f in verdict.findings_new] == [("fake", 2)]
    assert processes_in(tmp_path) == []


def _changes() -> ChangeSet:
    return ChangeSet((FileChange("a.py", "x = 1\n", "x = 2\n"),))
