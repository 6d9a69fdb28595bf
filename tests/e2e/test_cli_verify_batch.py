"""`podium verify --batch`: many diffs judged by one process with warm servers, one JSON line each."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from podium_e2e import PODIUM, processes_in

CALC = '''"""Calculator."""


def add(a: int, b: int) -> int:
    return a + b
'''

GOOD = """--- a/calc.py
+++ b/calc.py
@@ -4,2 +4,5 @@
 def add(a: int, b: int) -> int:
     return a + b
+
+
+TOTAL = add(1, 2)
"""

TOO_MANY_ARGUMENTS = GOOD.replace("add(1, 2)", "add(1, 2, 3)")
NOT_APPLYING = GOOD.replace(" def add(a: int, b: int) -> int:", " def add(a, b):")


def run_batch(lines: list[str], *extra: str) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    done = subprocess.run(
        [*PODIUM, "verify", "--batch", *extra],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    return [json.loads(line) for line in done.stdout.splitlines()], done


def test_batch_judges_each_line_and_a_malformed_line_gets_an_error_line_while_the_batch_goes_on(
    tmp_path: Path,
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "calc.py").write_text(CALC)
    (tmp_path / "bad.patch").write_text(TOO_MANY_ARGUMENTS)
    requests = [
        json.dumps({"root": str(root), "diff": GOOD, "id": "good"}),
        '{"root": "unterminated',
        json.dumps({"root": str(root), "diff_file": str(tmp_path / "bad.patch"), "id": "bad"}),
        json.dumps({"root": str(root), "diff": NOT_APPLYING, "id": "stale"}),
        json.dumps({"diff": GOOD, "id": "default-root"}),
    ]

    answers, done = run_batch(requests, "--root", str(root))

    assert done.returncode == 0, done.stderr
    good, malformed, bad, stale, default_root = answers
    assert (good["id"], good["accepted"], good["findings_new"]) == ("good", True, [])
    assert good["elapsed_ms"] > 0
    assert {run["name"] for run in good["sources"]} >= {"tree-sitter", "python-compile", "basedpyright"}
    assert malformed["line"] == 2 and malformed["error"]["code"] == "invalid_json"
    assert (bad["id"], bad["accepted"]) == ("bad", False)
    assert [(f["source"], f["code"], f["line"]) for f in bad["findings_new"]] == [
        ("basedpyright", "reportCallIssue", 8)
    ]
    assert stale["id"] == "stale" and stale["error"]["code"] == "input_error"
    assert "does not apply" in stale["error"]["message"]
    assert (default_root["id"], default_root["accepted"]) == ("default-root", True)
    assert processes_in(root) == []


def test_batch_refuses_a_diff_flag_because_its_diffs_come_from_stdin(tmp_path: Path) -> None:
    done = subprocess.run(
        [*PODIUM, "verify", "--batch", "--diff", "x.patch", "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert "--diff cannot be combined" in done.stderr
