"""`podium verify` with the language servers: a type error only basedpyright sees, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PODIUM = [sys.executable, "-m", "podium.server"]

CALC = '''"""Calculator."""


def add(a: int, b: int) -> int:
    return a + b
'''

TYPE_ERROR = """--- a/calc.py
+++ b/calc.py
@@ -4,2 +4,6 @@
 def add(a: int, b: int) -> int:
     return a + b
+
+
+def label(n: int) -> str:
+    return add(n, 1)
"""


def processes_in(root: Path) -> list[int]:
    """Ids of processes whose working directory is ``root`` (where the language servers run)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == root.resolve():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_verify_rejects_a_type_error_found_by_basedpyright_and_leaves_no_server_running(
    tmp_path: Path,
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "calc.py").write_text(CALC)
    (tmp_path / "change.patch").write_text(TYPE_ERROR)

    done = subprocess.run(
        [*PODIUM, "verify", "--root", str(root), "--diff", str(tmp_path / "change.patch"), "--json"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert done.returncode == 1, done.stderr
    verdict = json.loads(done.stdout)
    [finding] = verdict["findings_new"]
    assert (finding["source"], finding["code"]) == ("basedpyright", "reportReturnType")
    assert (finding["path"], finding["line"], finding["symbol"]) == ("calc.py", 9, "label")
    assert "return add(n, 1)" in finding["frame"]
    assert {run["name"] for run in verdict["sources"]} == {
        "tree-sitter",
        "python-compile",
        "ruff",
        "basedpyright",
    }
    assert processes_in(root) == []
