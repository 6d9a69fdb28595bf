"""`podium verify` with the language servers: a type error only basedpyright sees, as a user runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from podium_e2e import PODIUM, processes_in

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
