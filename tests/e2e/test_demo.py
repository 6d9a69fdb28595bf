"""`clients/demo/mission_demo.py`, the scripted mission behind `make demo`, run as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

DEMO = Path(__file__).parents[2] / "clients" / "demo" / "mission_demo.py"
DEMO_TIMEOUT = 300.0


def test_the_mission_demo_runs_its_story_and_exits_zero(tmp_path: Path, isolated: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, str(DEMO)],
        env={**os.environ, **isolated, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"\[carol\] +task_claim -> nothing to claim: (all_claimed|waiting)", out)
    assert "[alice]   task_submit T1 -> REJECTED: rejected: 1 new problem" in out
    assert "inventory/stock.py:28:5 error syntax-error" in out
    assert "[alice]   task_submit T1 -> MERGED as " in out
    assert "[bob]     task_submit T2 -> MERGED as " in out
    assert out.index("[carol]   task_claim -> T3") > out.index("[alice]   task_submit T1 -> MERGED")
    assert "mission_finish apply=true -> fast-forward of main" in out
    assert "T3: List the items to reorder in the report" in out.split("$ git log --oneline main")[1]
    assert "reorder: apple" in out
    assert "audit: chain intact" in out
    assert not list(tmp_path.glob("podium-mission-demo-*")), "the demo left its temporary project behind"


RUN_DEMO = Path(__file__).parents[2] / "clients" / "demo" / "run_mission.py"


def test_the_server_run_demo_rejects_the_broken_attempt_reviews_and_lands_on_main(
    tmp_path: Path, isolated: dict[str, str]
) -> None:
    done = subprocess.run(
        [sys.executable, str(RUN_DEMO)],
        env={**os.environ, **isolated, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    log = done.stderr
    assert "T1 attempt 1: rejected" in log
    assert "inventory/stock.py:28:5  tree-sitter  syntax error" in log
    assert "review T1" in log and "approved" in log
    assert log.index("merged T1") < log.index("claimed T3")
    assert "completed" in done.stdout and "merged: 3" in done.stdout
    assert "fast-forward of main" in done.stdout
    assert "T3: List the items to reorder in the report" in done.stdout.split("$ git log --oneline main")[1]
    assert "audit: chain intact" in done.stdout
