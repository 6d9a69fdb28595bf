"""The Commander: scheduling efficiency on a random DAG, and what the gate keeps off the integration branch.

1. A 500-task random DAG (fixed seed): each task writes a new Python file of its own and depends on a few
   earlier tasks; simulated durations from the scripted backend; 32 workers; syntax gate; a real git
   repository. Makespan against the lower bound max(critical path, total work ÷ workers), reported as
   efficiency = bound ÷ makespan. A zero-duration run of the DAG's first 100 tasks measures the per-task
   overhead (claim, worktree, gate, merge, store), which the simulated durations have to exceed to dominate;
   the claims column counts the Commander's claim calls (idle lanes look for work whenever a task ends).
2. Gate on against gate off: a scripted agent breaks a fixed share of its first attempts (a syntax error;
   fixed seed) and fixes them on the next. At the end every file on the integration branch is parsed with
   tree-sitter and compiled; the broken ones are counted, with the attempts each run spent.

Run: ``python -m tests.bench.bench_commander`` (or ``make bench``). Prints tables; asserts nothing about
time.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio

from podium.orchestration.agents.script import parse_script
from podium.orchestration.agents.scripted import ScriptedBackend
from podium.orchestration.commander import Commander, CommanderSettings, RoleBackends
from podium.orchestration.config import parse_config
from podium.orchestration.git import run_git
from podium.orchestration.missions import Claim, Missions, NoTask, TaskSpec
from podium.orchestration.runreport import RunReport
from podium.orchestration.scheduling import SchedulingSettings
from podium.orchestration.store import Store
from podium.verification.gate import Gate, GatePolicy
from podium.verification.languages import language_for_path
from podium.verification.syntax import syntax_findings

SEED = 6
DAG_TASKS = 500
DAG_WORKERS = 32
MAX_DEPS = 3
"""Each task depends on up to this many earlier tasks..."""
DEP_WINDOW = 40
"""...chosen among this many tasks just before it, so the DAG has depth as well as width."""
DURATION_S = (1.0, 6.0)
"""Simulated work per task, uniform in this range (seconds)."""
ZERO_TASKS = 100
"""The zero-duration run takes the DAG's first tasks (a DAG itself): the overhead, not the whole length."""
ABLATION_TASKS = 60
ABLATION_WORKERS = 8
BROKEN_SHARE = 0.3
CONFIG = parse_config({"gate": {"diagnostics": False}})
"""The syntax gate only: this measures the loop, not language servers."""
BROKEN = "def broken(:\n    return 1\n"


@dataclass(frozen=True, slots=True)
class DagTask:
    key: str
    path: str
    depends_on: tuple[int, ...]
    duration_s: float


@dataclass(frozen=True, slots=True)
class DagRun:
    report: RunReport
    makespan_s: float
    claims: int
    claim_s: float


class CountingMissions(Missions):
    """Counts the Commander's claim calls and the time they take: idle lanes look for work too."""

    def __init__(self, root: Path, gate: Gate | None) -> None:
        super().__init__(root, CONFIG, Store.open(root), gate=gate)
        self.lock = threading.Lock()
        self.claims = 0
        self.claim_s = 0.0

    def claim(self, mission_id: str, worker: str) -> Claim | NoTask:
        started = time.perf_counter()
        try:
            return super().claim(mission_id, worker)
        finally:
            with self.lock:
                self.claims += 1
                self.claim_s += time.perf_counter() - started


def random_dag(count: int, rng: random.Random) -> list[DagTask]:
    tasks: list[DagTask] = []
    for i in range(count):
        earlier = range(max(0, i - DEP_WINDOW), i)
        deps = tuple(sorted(rng.sample(earlier, min(len(earlier), rng.randint(0, MAX_DEPS)))))
        tasks.append(DagTask(f"t{i:03d}", f"src/m{i:03d}.py", deps, rng.uniform(*DURATION_S)))
    return tasks


def critical_path(tasks: Sequence[DagTask]) -> float:
    finish: list[float] = []
    for task in tasks:
        finish.append(max((finish[d] for d in task.depends_on), default=0.0) + task.duration_s)
    return max(finish, default=0.0)


def module(i: int) -> str:
    return f'"""Module {i}."""\n\n\ndef value_{i}() -> int:\n    return {i}\n'


def title(path: str) -> str:
    """A task's title, which is also its entry in the script (the script has no plan to map keys)."""
    return f"Write {path}"


def specs(tasks: Sequence[DagTask]) -> list[TaskSpec]:
    return [
        TaskSpec(
            title=title(t.path),
            key=t.key,
            files=(t.path,),
            depends_on=tuple(tasks[d].key for d in t.depends_on),
        )
        for t in tasks
    ]


def dag_backend(tasks: Sequence[DagTask], time_scale: float) -> ScriptedBackend:
    script = {
        "tasks": {
            title(t.path): {
                "attempts": [
                    {"sleep_s": t.duration_s, "edits": [{"path": t.path, "content": module(i)}]},
                ]
            }
            for i, t in enumerate(tasks)
        }
    }
    return ScriptedBackend(parse_script(script, source="bench"), time_scale=time_scale)


def ablation_backend(count: int, broken: set[int]) -> ScriptedBackend:
    tasks: dict[str, object] = {}
    for i in range(count):
        path = f"src/m{i:03d}.py"
        good = {"edits": [{"path": path, "content": module(i)}]}
        bad = {"edits": [{"path": path, "content": BROKEN}]}
        tasks[title(path)] = {"attempts": [bad, good] if i in broken else [good]}
    return ScriptedBackend(parse_script({"tasks": tasks}, source="bench"))


@contextmanager
def isolated_git() -> Iterator[None]:
    """Git reads no user or system config (hooks, signing) while the benchmark runs."""
    changes = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def make_repo(root: Path) -> None:
    (root / "src").mkdir(parents=True)
    (root / "README.md").write_text("# bench\n")
    (root / "src" / "__init__.py").write_text("")
    run_git(root, "init", "--quiet", "--initial-branch=main")
    run_git(root, "add", "--all")
    run_git(root, "commit", "--quiet", "-m", "initial")


def run_mission(
    root: Path, backend: ScriptedBackend, plan: Sequence[TaskSpec], workers: int, gate: Gate | None = None
) -> DagRun:
    missions = CountingMissions(root, gate)
    settings = CommanderSettings(
        scheduling=SchedulingSettings(worker=workers, default_backend_cap=workers),
        # the rejections of the ablation are the point, not a sign of a stuck mission
        stagnation_rounds=10 * len(plan),
    )
    commander = Commander(missions, RoleBackends(worker=backend), settings)
    try:
        started = time.perf_counter()
        report = anyio.run(commander.run_goal, "benchmark", plan)
        return DagRun(report, time.perf_counter() - started, missions.claims, missions.claim_s)
    finally:
        missions.close()


def broken_files(root: Path, branch: str) -> tuple[int, int]:
    """Python files on ``branch`` that tree-sitter or the compiler rejects, and all Python files there."""
    listed = run_git(root, "ls-tree", "-r", "--name-only", branch).stdout.decode().split()
    paths = [p for p in listed if p.endswith(".py")]
    broken = 0
    for path in paths:
        text = run_git(root, "show", f"{branch}:{path}").stdout.decode()
        spec = language_for_path(path)
        bad = bool(spec and syntax_findings(path, text, spec))
        try:
            compile(text, path, "exec")
        except SyntaxError:
            bad = True
        broken += bad
    return broken, len(paths)


def mission_branch(root: Path, report: RunReport) -> str:
    store = Store.open(root)
    try:
        return store.get_mission(report.mission_id).branch
    finally:
        store.close()


def attempts_spent(root: Path, report: RunReport) -> int:
    store = Store.open(root)
    try:
        return sum(t.attempts for t in store.list_tasks(report.mission_id))
    finally:
        store.close()


def row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def bench_dag(base: Path) -> list[str]:
    tasks = random_dag(DAG_TASKS, random.Random(SEED))
    plan = specs(tasks)
    work = sum(t.duration_s for t in tasks)
    path = critical_path(tasks)
    bound = max(path, work / DAG_WORKERS)
    depth = dag_depth(tasks)
    print(
        f"DAG: {DAG_TASKS} tasks, {sum(len(t.depends_on) for t in tasks)} edges, depth {depth}, "
        f"total work {work:.1f} s, critical path {path:.1f} s, work/{DAG_WORKERS} {work / DAG_WORKERS:.1f} s",
        flush=True,
    )
    lines = [
        row(["run", "merged", "makespan s", "bound s", "efficiency", "s per task", "claims", "claim s"]),
        row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]),
    ]
    zero_root = base / "dag-zero"
    make_repo(zero_root)
    zero = run_mission(zero_root, dag_backend(tasks, 0.0), plan[:ZERO_TASKS], DAG_WORKERS)
    per_task = zero.makespan_s / ZERO_TASKS
    lines.append(dag_row(f"first {ZERO_TASKS} tasks, zero durations", zero, ZERO_TASKS, 0.0))
    print(lines[-1], flush=True)
    timed_root = base / "dag-timed"
    make_repo(timed_root)
    timed = run_mission(timed_root, dag_backend(tasks, 1.0), plan, DAG_WORKERS)
    lines.append(dag_row(f"all {DAG_TASKS} tasks, simulated durations", timed, DAG_TASKS, bound))
    floor = max(bound, per_task * DAG_TASKS)
    lines.append(
        row(
            [
                f"the same run against max(bound, {DAG_TASKS} × the per-task overhead)",
                "",
                f"{timed.makespan_s:.1f}",
                f"{floor:.1f}",
                f"{floor / timed.makespan_s:.2f}",
                "",
                "",
                "",
            ]
        )
    )
    print("\n".join(lines[-2:]), flush=True)
    return lines


def dag_row(name: str, run: DagRun, count: int, bound: float) -> str:
    return row(
        [
            name,
            len(run.report.merged),
            f"{run.makespan_s:.1f}",
            f"{bound:.1f}",
            f"{bound / run.makespan_s:.2f}" if bound else "",
            f"{run.makespan_s / count:.3f}",
            run.claims,
            f"{run.claim_s:.1f}",
        ]
    )


def dag_depth(tasks: Sequence[DagTask]) -> int:
    level: list[int] = []
    for task in tasks:
        level.append(max((level[d] for d in task.depends_on), default=0) + 1)
    return max(level, default=0)


def bench_ablation(base: Path) -> list[str]:
    rng = random.Random(SEED)
    broken = set(rng.sample(range(ABLATION_TASKS), round(BROKEN_SHARE * ABLATION_TASKS)))
    paths = [f"src/m{i:03d}.py" for i in range(ABLATION_TASKS)]
    plan = [TaskSpec(title=title(p), key=f"t{i:03d}", files=(p,)) for i, p in enumerate(paths)]
    lines = [
        row(
            ["gate", "tasks merged", "broken first attempts", "attempts", "broken files on branch", "time s"]
        ),
        row(["---", "---:", "---:", "---:", "---:", "---:"]),
    ]
    gates: list[tuple[str, Gate | None]] = [
        ("on (tree-sitter + compile)", None),
        ("off (accepts everything)", Gate(GatePolicy(tree_sitter=False, python_compile=False))),
    ]
    for name, gate in gates:
        root = base / f"ablation-{name.split()[0]}"
        make_repo(root)
        run = run_mission(root, ablation_backend(ABLATION_TASKS, broken), plan, ABLATION_WORKERS, gate)
        bad, total = broken_files(root, mission_branch(root, run.report))
        lines.append(
            row(
                [
                    name,
                    len(run.report.merged),
                    len(broken),
                    attempts_spent(root, run.report),
                    f"{bad} of {total}",
                    f"{run.makespan_s:.1f}",
                ]
            )
        )
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    with isolated_git(), tempfile.TemporaryDirectory(prefix="podium-bench-commander-") as tmp:
        base = Path(tmp)
        dag = bench_dag(base)
        ablation = bench_ablation(base)
    print(f"\nCommander benchmarks (Python {sys.version.split()[0]}, {os.cpu_count()} cores)\n")
    print("\n".join(dag))
    print()
    print("\n".join(ablation))


if __name__ == "__main__":
    main()
