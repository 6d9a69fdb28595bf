"""`podium run` as a real process: scripted and command backends, interrupts, and resume after SIGKILL."""

from __future__ import annotations

import queue
import random
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from podium_e2e import PODIUM, MakeRepo, Repo

FAKE_AGENT = Path(__file__).parent.parent / "fixtures" / "agents" / "fake_agent.py"
EVENT_TIMEOUT = 60.0
"""Seconds to wait for the next progress line of a running `podium run`."""
RUN_TIMEOUT = 180.0
"""Seconds one `podium run` may take to finish."""
FAST_GATE = "[gate]\ndiagnostics = false\n"

SCRIPT = """\
plan:
  tasks:
    - {key: parser, title: Add a parser, files: [parser.py], review: true}
    - {key: cli, title: Wire the CLI, files: [cli.py], depends_on: [parser]}
    - {key: docs, title: Write the notes, files: [NOTES.md]}
tasks:
  parser:
    attempts:
      - edits:
          - {path: parser.py, content: "def parse(text:\\n    return text.split()\\n"}
      - edits:
          - {path: parser.py, content: "def parse(text):\\n    return text.split()\\n"}
    reviews:
      - {approve: true, comments: Clear enough.}
  cli:
    attempts:
      - sleep_s: 0.05
        edits:
          - {path: cli.py, content: "from parser import parse\\n\\nprint(parse('a b'))\\n"}
  docs:
    attempts:
      - edits:
          - {path: NOTES.md, content: "# Notes\\n"}
"""


def scripted_repo(repo_factory: MakeRepo, script: str = SCRIPT, extra: str = "") -> Repo:
    repo = repo_factory({"app.py": "x = 1\n"})
    (repo.root / "script.yaml").write_text(script)
    (repo.root / "podium.toml").write_text(FAST_GATE + '[agents.scripted]\nscript = "script.yaml"\n' + extra)
    return repo


def mission_of(summary: str) -> str:
    found = re.search(r"^mission (m-[0-9a-f]+): ", summary, re.MULTILINE)
    assert found, f"no mission in the summary:\n{summary}"
    return found.group(1)


def show(repo: Repo, mission: str, path: str) -> str:
    return repo.git("show", f"podium/{mission}:{path}")


def test_scripted_mission_rejects_a_broken_attempt_reviews_and_merges_everything(
    repo_factory: MakeRepo,
) -> None:
    repo = scripted_repo(repo_factory)
    done = repo.podium("run", "parse and print words", "--workers", "2")
    assert done.returncode == 0, done.stderr
    mission = mission_of(done.stdout)
    assert f"mission {mission}: completed" in done.stdout
    assert "merged: 3 (T1, T2, T3)" in done.stdout
    assert "all 3 tasks merged" in done.stdout
    assert re.search(r"verdict T1: T1 attempt 1: rejected", done.stderr)
    assert re.search(r"review T1: T1: approved by scripted: Clear enough\.", done.stderr)
    assert show(repo, mission, "parser.py") == "def parse(text):\n    return text.split()\n"
    assert show(repo, mission, "cli.py").startswith("from parser import parse")
    assert sorted(repo.task_trailers(f"podium/{mission}", since="main")) == ["T1", "T2", "T3"]
    audit = repo.podium("audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_apply_brings_a_completed_mission_onto_the_users_branch(repo_factory: MakeRepo) -> None:
    repo = scripted_repo(repo_factory)
    done = repo.podium("run", "parse and print words", "--apply")
    assert done.returncode == 0, done.stderr
    assert "applied: fast-forward of main" in done.stdout
    assert (repo.root / "parser.py").read_text() == "def parse(text):\n    return text.split()\n"
    assert sorted(repo.task_trailers("main")) == ["T1", "T2", "T3"]


def test_a_plan_file_replaces_the_planner(repo_factory: MakeRepo) -> None:
    script = "default:\n  attempts:\n    - edits: [{path: 'out/{task_id}.txt', content: \"{title}\\n\"}]\n"
    repo = scripted_repo(repo_factory, script=script)
    (repo.root / "plan.json").write_text(
        '{"tasks": [{"key": "a", "title": "First", "files": ["out/T1.txt"]},'
        ' {"key": "b", "title": "Second", "files": ["out/T2.txt"], "depends_on": ["a"]}]}'
    )
    done = repo.podium("run", "two notes", "--plan", "plan.json")
    assert done.returncode == 0, done.stderr
    mission = mission_of(done.stdout)
    assert "] planned:" not in done.stderr
    assert show(repo, mission, "out/T2.txt") == "Second\n"


def test_a_task_that_never_passes_fails_the_run_with_its_findings(repo_factory: MakeRepo) -> None:
    script = (
        "plan:\n  tasks:\n    - {key: bad, title: Break things, files: [bad.py]}\n"
        "tasks:\n  bad:\n    attempts:\n      - edits: [{path: bad.py, content: 'def (:\\n'}]\n"
    )
    repo = scripted_repo(repo_factory, script=script, extra="[commander]\nmax_attempts = 2\n")
    done = repo.podium("run", "doomed")
    assert done.returncode == 1, done.stderr
    assert ": failed" in done.stdout
    assert "failed: 1" in done.stdout
    assert "T1 (Break things)" in done.stdout


def test_the_command_backend_runs_a_cli_agent_in_each_worktree(repo_factory: MakeRepo) -> None:
    repo = repo_factory({"app.py": "x = 1\n"})
    agent = [sys.executable, str(FAKE_AGENT)]
    argv = [*agent, "work", "--write", "{task_id}.py=DONE = '{task_id}'\\n", "{prompt}"]
    (repo.root / "podium.toml").write_text(
        FAST_GATE
        + '[agents]\nworker = "command"\n[agents.command]\n'
        + f"argv = {toml_list(argv)}\nplan_argv = {toml_list([*agent, 'plan', '{prompt}'])}\n"
        + "timeout_s = 60\n"
    )
    done = repo.podium("run", "a model and a view")
    assert done.returncode == 0, done.stderr
    mission = mission_of(done.stdout)
    assert "merged: 2 (T1, T2)" in done.stdout
    assert show(repo, mission, "T2.py") == "DONE = 'T2'\n"
    log = (repo.root / ".podium" / "logs" / mission / "T1.log").read_text()
    assert "edited 1 file(s)" in log
    assert repo.podium("audit", "verify").returncode == 0


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items) + "]"


def test_an_unknown_config_key_is_an_input_error_that_names_it(repo_factory: MakeRepo) -> None:
    repo = scripted_repo(repo_factory, extra="[agents]\nwroker = 'command'\n")
    done = repo.podium("run", "anything")
    assert done.returncode == 2
    assert "agents.wroker" in done.stderr


def test_a_hook_cycle_is_a_config_error_naming_the_cycle(repo_factory: MakeRepo) -> None:
    hooks = "".join(
        f"[[hooks.commands]]\nname = '{a}'\nargv = ['true']\nevents = ['after_merge']\ndepends_on = ['{b}']\n"
        for a, b in (("a", "b"), ("b", "a"))
    )
    repo = scripted_repo(repo_factory, extra=hooks)
    done = repo.podium("run", "anything")
    assert done.returncode == 2
    assert "a → b → a" in done.stderr


def test_run_without_goal_or_resume_is_an_input_error(repo_factory: MakeRepo) -> None:
    repo = scripted_repo(repo_factory)
    done = repo.podium("run")
    assert done.returncode == 2
    assert "needs a goal" in done.stderr


class RunningPodium:
    """A `podium run` in the background whose progress lines (stderr) can be awaited one by one."""

    def __init__(self, repo: Repo, *args: str) -> None:
        self.process = subprocess.Popen(
            [*PODIUM, "run", *args],
            cwd=repo.root,
            env=repo.full_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def wait_events(self, count: int, pattern: str = "podium: [") -> bool:
        """Wait for ``count`` progress lines containing ``pattern``; False when the run ended first."""
        seen = 0
        while seen < count:
            line = self.lines.get(timeout=EVENT_TIMEOUT)
            if line is None:
                return False
            seen += pattern in line
        return True

    def finish(self) -> tuple[int, str]:
        stdout, _ = self.process.communicate(timeout=RUN_TIMEOUT)
        self._reader.join(timeout=EVENT_TIMEOUT)
        return self.process.returncode, stdout


def test_ctrl_c_stops_gracefully_and_resume_completes(repo_factory: MakeRepo) -> None:
    slow = SCRIPT.replace("      - sleep_s: 0.05\n", "      - sleep_s: 30\n")
    repo = scripted_repo(repo_factory, script=slow, extra="[commander]\nshutdown_grace_s = 0.5\n")
    run = RunningPodium(repo, "parse and print words")
    assert run.wait_events(1, "claimed T2")
    run.process.send_signal(signal.SIGINT)
    code, summary = run.finish()
    assert code == 130
    assert ": stopped" in summary
    mission = mission_of(summary)
    (repo.root / "script.yaml").write_text(SCRIPT)
    resumed = repo.podium("run", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"mission {mission}: completed" in resumed.stdout
    assert sorted(repo.task_trailers(f"podium/{mission}", since="main")) == ["T1", "T2", "T3"]


TASKS = 100
KILLS = 10


def hundred_task_plan(rng: random.Random) -> str:
    lines = ["tasks:"]
    for n in range(1, TASKS + 1):
        earlier = rng.sample(range(1, n), k=min(n - 1, rng.randint(0, 2)))
        deps = ", ".join(f"k{d}" for d in earlier)
        lines.append(f"  - {{key: k{n}, title: Task {n}, files: [done/T{n}.txt], depends_on: [{deps}]}}")
    return "\n".join(lines) + "\n"


def test_sigkill_at_random_points_then_resume_merges_every_task_exactly_once(
    repo_factory: MakeRepo,
) -> None:
    rng = random.Random(6)
    script = (
        "default:\n  attempts:\n    - sleep_s: 0.02\n"
        "      edits: [{path: 'done/{task_id}.txt', content: \"{title}\\n\"}]\n"
    )
    repo = scripted_repo(repo_factory, script=script)
    (repo.root / "plan.yaml").write_text(hundred_task_plan(rng))
    args: tuple[str, ...] = ("a hundred notes", "--plan", "plan.yaml", "--workers", "8")
    kills = 0
    code: int | None = None
    summary = ""
    for _ in range(KILLS):
        run = RunningPodium(repo, *args)
        if run.wait_events(rng.randint(5, 40)):
            run.process.kill()
            run.finish()
            kills += 1
            args = ("--resume",)
            continue
        code, summary = run.finish()
        break
    if code is None:
        code, summary = RunningPodium(repo, "--resume").finish()
    assert kills >= 3, "the mission ended before three kills; raise the event counts"
    assert code == 0, summary
    mission = mission_of(summary)
    assert f"merged: {TASKS}" in summary
    trailers = repo.task_trailers(f"podium/{mission}", since="main")
    assert sorted(trailers) == sorted(f"T{n}" for n in range(1, TASKS + 1))
    for n in (1, TASKS // 2, TASKS):
        assert show(repo, mission, f"done/T{n}.txt") == f"Task {n}\n"
    audit = repo.podium("audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr


@pytest.mark.parametrize("flag", [["--workers", "0"], ["--backend", "nope"]])
def test_bad_flags_are_input_errors(repo_factory: MakeRepo, flag: list[str]) -> None:
    repo = scripted_repo(repo_factory)
    done = repo.podium("run", "anything", *flag)
    assert done.returncode == 2
    assert flag[1] in done.stderr
