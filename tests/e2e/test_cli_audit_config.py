"""`podium audit verify` and `podium config` as subprocesses: exit statuses and messages."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from podium.orchestration.model import Task
from podium.orchestration.store import Store

PODIUM = [sys.executable, "-m", "podium.server"]


def run_podium(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PODIUM, *args], capture_output=True, text=True, timeout=120, check=False)


def make_store(root: Path) -> None:
    with Store.open(root) as store:
        mission = store.create_mission("audit me")
        store.add_tasks(mission.id, [Task(id="T1", mission_id=mission.id, title="one")], actor="test")
        store.claim(mission.id, "w1", 60)


def test_audit_verify_passes_on_an_intact_chain(tmp_path: Path) -> None:
    make_store(tmp_path)
    done = run_podium("audit", "verify", "--root", str(tmp_path), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["events_checked"] >= 3


def test_audit_verify_names_the_altered_event(tmp_path: Path) -> None:
    make_store(tmp_path)
    with sqlite3.connect(tmp_path / ".podium" / "podium.db") as conn:
        seq = conn.execute("SELECT seq FROM events ORDER BY seq LIMIT 1 OFFSET 1").fetchone()[0]
        conn.execute("UPDATE events SET actor = 'mallory' WHERE seq = ?", (seq,))
    done = run_podium("audit", "verify", "--root", str(tmp_path))
    assert done.returncode == 1
    assert str(seq) in done.stdout


def test_audit_verify_without_a_store_is_an_input_error(tmp_path: Path) -> None:
    done = run_podium("audit", "verify", "--root", str(tmp_path))
    assert done.returncode == 2
    assert "no Podium store" in done.stderr


def test_config_schema_is_json_schema_of_every_section() -> None:
    done = run_podium("config", "schema")
    assert done.returncode == 0
    schema = json.loads(done.stdout)
    assert set(schema["properties"]) >= {"gate", "missions"}


def test_config_check_reports_unknown_keys(tmp_path: Path) -> None:
    (tmp_path / "podium.toml").write_text("[gate]\nbogus = 1\n")
    done = run_podium("config", "check", "--root", str(tmp_path))
    assert done.returncode == 2
    assert "gate.bogus" in done.stderr and "allowed" in done.stderr


def test_config_check_prints_effective_values(tmp_path: Path) -> None:
    (tmp_path / "podium.toml").write_text("[missions]\nlease_seconds = 120\n")
    done = run_podium("config", "check", "--root", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["missions"]["lease_seconds"] == 120


def test_audit_log_shows_the_evidence_of_each_merge(tmp_path: Path) -> None:
    from podium.orchestration.config import DEFAULT_CONFIG
    from podium.orchestration.missions import Claim, Missions, TaskSpec
    from podium.orchestration.submissions import Submissions
    from podium.verification.edits import WholeFile

    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    (tmp_path / "a.py").write_text("x = 1\n")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "base"]):
        subprocess.run(cmd, cwd=tmp_path, env={**env, "PATH": "/usr/bin:/bin"}, check=True)
    missions = Missions.open(tmp_path, DEFAULT_CONFIG)
    try:
        mission = missions.start("log me", [TaskSpec(title="bump", files=("a.py",))])
        claim = missions.claim(mission.id, "w1")
        assert isinstance(claim, Claim)
        outcome = Submissions(missions).submit(claim.task.id, "w1", [WholeFile("a.py", "x = 2\n")])
        assert outcome.status == "merged"
    finally:
        missions.close()
    done = run_podium("audit", "log", "--root", str(tmp_path), "--json")
    assert done.returncode == 0, done.stderr
    [record] = [json.loads(line) for line in done.stdout.splitlines()]
    assert record["task_id"] == "T1" and record["worker"] == "w1"
    assert record["merged_commit"] == outcome.merged_commit
    assert record["verdict"]["accepted"] is True
    assert len(record["diff_sha256"]) == 64
    human = run_podium("audit", "log", "--root", str(tmp_path))
    assert outcome.merged_commit is not None
    assert f"{mission.id}/T1 merged as {outcome.merged_commit[:12]}" in human.stdout
