"""Refusals of the mission tools: each is a structured error with the right code and an actionable message,
and leaves the store (events, task versions) and the repository (refs, worktrees, the user's files)
exactly as they were.

Each test builds one project in a known state and runs its group of bad calls against it, comparing the
whole state before and after every call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from podium_project import INVENTORY, REPORT, Project, call, isolate_git, make_project, refusal

from podium.orchestration.git import run_git

PODIUM_TOML = """\
[missions]
lease_seconds = 1

[gate]
max_file_bytes = 2000
"""

UNKNOWN_MISSION = "m-00000000"
MISSION = "{mission}"
"""Placeholder for the scenario's mission id inside a case's arguments."""


@dataclass(frozen=True)
class Case:
    tool: str
    arguments: dict[str, Any]
    code: str
    says: tuple[str, ...]


def case(tool: str, arguments: dict[str, Any], code: str, *says: str) -> Case:
    return Case(tool, arguments, code, says)


@dataclass(frozen=True)
class Snapshot:
    events: int
    missions: dict[str, int]
    tasks: dict[tuple[str, str], tuple[str, int]]
    refs: str
    worktrees: dict[str, tuple[str, str]]
    user_status: str
    user_files: dict[str, str]


def snapshot(project: Project) -> Snapshot:
    store = project.missions.store
    missions = store.list_missions()
    tasks = {
        (task.mission_id, task.id): (task.state.value, task.version)
        for mission in missions
        for task in store.list_tasks(mission.id)
    }
    listing = project.git("worktree", "list", "--porcelain")
    paths = [line.removeprefix("worktree ") for line in listing.splitlines() if line.startswith("worktree ")]
    worktrees = {
        path: (
            run_git(Path(path), "rev-parse", "HEAD").text,
            run_git(Path(path), "status", "--porcelain", "--untracked-files=all").text,
        )
        for path in paths
    }
    return Snapshot(
        events=store.last_seq(),
        missions={mission.id: mission.version for mission in missions},
        tasks=tasks,
        refs=project.git("for-each-ref", "--format=%(refname) %(objectname)"),
        worktrees=worktrees,
        user_status=project.git("status", "--porcelain", "--untracked-files=all"),
        user_files={name: (project.root / name).read_text() for name in ("inventory.py", "report.py")},
    )


@dataclass(frozen=True)
class Scenario:
    """T1 claimed by w1 (on inventory.py), T2 in review (w2's change to report.py), T3 pending on T1."""

    project: Project
    mission_id: str
    worktree: Path


@pytest.fixture
async def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    isolate_git(tmp_path, monkeypatch)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("TOKEN = 'x'\n")
    root = tmp_path / "repo"
    root.mkdir()
    (root / "linked").symlink_to(outside, target_is_directory=True)
    project = make_project(tmp_path, PODIUM_TOML)
    async with project.client() as client:
        started = await call(
            client,
            "mission_start",
            {
                "goal": "tidy the inventory",
                "tasks": [
                    {"key": "a", "title": "Filter totals", "files": ["inventory.py"]},
                    {"key": "b", "title": "Render rows", "files": ["report.py"], "review": True},
                    {"key": "c", "title": "Use the filter", "depends_on": ["a"]},
                ],
            },
        )
        mission_id = started["mission_id"]
        first = await call(client, "task_claim", {"mission_id": mission_id, "worker": "w1"})
        await call(client, "task_claim", {"mission_id": mission_id, "worker": "w2"})
        edit = {"path": "report.py", "content": REPORT + "\n\nFOOTER = ''\n"}
        review = await call(client, "task_submit", {"task_id": "T2", "worker": "w2", "edits": [edit]})
    assert review["status"] == "review"
    return Scenario(project, mission_id, Path(first["worktree"]))


def _fill(value: Any, mission_id: str) -> Any:
    if isinstance(value, str):
        return value.replace(MISSION, mission_id)
    if isinstance(value, list):
        return [_fill(item, mission_id) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, mission_id) for key, item in value.items()}
    return value


async def assert_refusals(scenario: Scenario, cases: list[Case]) -> None:
    project = scenario.project
    async with project.client() as client:
        for each in cases:
            await _assert_refused(client, scenario, each)


async def _assert_refused(client: Client, scenario: Scenario, each: Case) -> None:
    before = snapshot(scenario.project)
    report = await refusal(client, each.tool, _fill(each.arguments, scenario.mission_id))
    after = snapshot(scenario.project)
    label = f"{each.tool}({each.arguments})"
    assert report["code"] == each.code, f"{label}: {report}"
    for fragment in each.says:
        assert _fill(fragment, scenario.mission_id) in report["message"], f"{label}: {report['message']}"
    assert after == before, f"{label} changed the state"


def _problems(report: dict[str, Any]) -> list[str]:
    return [problem["field"] for problem in report["details"]["problems"]]


async def test_missing_arguments_are_refused_naming_each_missing_field(scenario: Scenario) -> None:
    await assert_refusals(
        scenario,
        [
            case("mission_start", {}, "input_error", "goal: Field required"),
            case("mission_start", {"goal": "g", "tasks": [{"key": "a"}]}, "input_error", "tasks[0].title"),
            case("roadmap_add", {"tasks": [{"title": "x"}]}, "input_error", "mission_id: Field required"),
            case("roadmap_add", {"mission_id": MISSION}, "input_error", "tasks: Field required"),
            case("task_claim", {"mission_id": MISSION}, "input_error", "worker: Field required"),
            case("task_heartbeat", {"worker": "w1"}, "input_error", "task_id: Field required"),
            case("task_submit", {"task_id": "T1"}, "input_error", "worker: Field required"),
            case(
                "task_review", {"task_id": "T2", "reviewer": "r1"}, "input_error", "approve: Field required"
            ),
            case("task_release", {"task_id": "T1", "worker": "w1"}, "input_error", "status: Field required"),
            case("mission_finish", {}, "input_error", "mission_id: Field required"),
            case("mission_cancel", {}, "input_error", "mission_id: Field required"),
            case("verify", {}, "input_error", "edits: Field required"),
        ],
    )


async def test_mistyped_or_unknown_arguments_are_refused_naming_the_field(scenario: Scenario) -> None:
    ok_edit = {"path": "inventory.py", "content": INVENTORY}
    await assert_refusals(
        scenario,
        [
            case("mission_start", {"goal": 7}, "input_error", "goal: Input should be a valid string"),
            case(
                "roadmap_add",
                {"mission_id": MISSION, "tasks": [{"title": "x", "priority": "high"}]},
                "input_error",
                "tasks[0].priority",
            ),
            case(
                "roadmap_add",
                {"mission_id": MISSION, "tasks": [{"title": "x", "size": "XL"}]},
                "input_error",
                "tasks[0].size",
            ),
            case(
                "roadmap_add",
                {"mission_id": MISSION, "tasks": [{"title": "x", "role": "boss"}]},
                "input_error",
                "tasks[0].role",
            ),
            case("task_claim", {"mission_id": MISSION, "worker": 5}, "input_error", "worker"),
            case(
                "task_claim",
                {"mission_id": MISSION, "worker": "w3", "wokrer": "w3"},
                "input_error",
                "wokrer: Extra inputs are not permitted",
            ),
            case(
                "task_review",
                {"task_id": "T2", "reviewer": "r1", "approve": "maybe"},
                "input_error",
                "approve",
            ),
            case(
                "task_release",
                {"task_id": "T1", "worker": "w1", "status": "done"},
                "input_error",
                "status: Input should be 'ready', 'blocked' or 'failed'",
            ),
            case("mission_status", {"mission_id": 3}, "input_error", "mission_id"),
            case("mission_finish", {"mission_id": MISSION, "apply": [1]}, "input_error", "apply"),
            case(
                "task_submit",
                {"task_id": "T1", "worker": "w1", "edits": "rewrite it"},
                "input_error",
                "edits",
            ),
            case(
                "task_submit",
                {
                    "task_id": "T1",
                    "worker": "w1",
                    "edits": [ok_edit, {"path": "report.py", "search": "rows"}],
                },
                "input_error",
                "edits[1]",
                "{path, search, replace}",
            ),
            case(
                "verify",
                {"edits": [{"path": "inventory.py", "diff": "--- a\n+++ b\n"}]},
                "input_error",
                "edits[0]",
            ),
            case("verify", {"edits": [{"delete": True}]}, "input_error", "edits[0]"),
        ],
    )


async def test_unknown_mission_and_task_ids_are_not_found(scenario: Scenario) -> None:
    edit = {"path": "inventory.py", "content": INVENTORY + "\n"}
    await assert_refusals(
        scenario,
        [
            case("mission_status", {"mission_id": UNKNOWN_MISSION}, "not_found", UNKNOWN_MISSION),
            case("mission_status", {"mission_id": ""}, "not_found"),
            case("roadmap_add", {"mission_id": UNKNOWN_MISSION, "tasks": [{"title": "x"}]}, "not_found"),
            case("task_claim", {"mission_id": UNKNOWN_MISSION, "worker": "w3"}, "not_found", UNKNOWN_MISSION),
            case("mission_finish", {"mission_id": UNKNOWN_MISSION}, "not_found", UNKNOWN_MISSION),
            case("mission_cancel", {"mission_id": UNKNOWN_MISSION}, "not_found", UNKNOWN_MISSION),
            case("task_heartbeat", {"task_id": "T99", "worker": "w1"}, "not_found", "T99"),
            case(
                "task_submit",
                {"task_id": f"{UNKNOWN_MISSION}/T1", "worker": "w1", "edits": [edit]},
                "not_found",
            ),
            case("task_review", {"task_id": "T99", "reviewer": "r1", "approve": True}, "not_found", "T99"),
            case("task_release", {"task_id": "T99", "worker": "w1", "status": "ready"}, "not_found", "T99"),
            case("task_heartbeat", {"task_id": f"{MISSION}/T99", "worker": "w1"}, "not_found", "T99"),
        ],
    )


async def test_a_roadmap_that_is_not_a_dag_is_refused_and_no_mission_is_created(scenario: Scenario) -> None:
    cycle = [
        {"key": "a", "title": "A", "depends_on": ["b"]},
        {"key": "b", "title": "B", "depends_on": ["a"]},
    ]
    await assert_refusals(
        scenario,
        [
            case("mission_start", {"goal": "circular", "tasks": cycle}, "invalid_roadmap", "cycle"),
            case(
                "roadmap_add",
                {"mission_id": MISSION, "tasks": [{"title": "x", "depends_on": ["T42"]}]},
                "invalid_roadmap",
                "T42",
            ),
            case("roadmap_add", {"mission_id": MISSION, "tasks": cycle}, "invalid_roadmap", "cycle"),
            case("mission_start", {"goal": "   "}, "input_error", "goal"),
            case("roadmap_add", {"mission_id": MISSION, "tasks": []}, "input_error", "no tasks"),
        ],
    )


async def test_acting_on_a_task_held_by_another_worker_is_a_lease_error(scenario: Scenario) -> None:
    edit = {"path": "inventory.py", "content": INVENTORY + "\n"}
    await assert_refusals(
        scenario,
        [
            case("task_heartbeat", {"task_id": "T1", "worker": "w2"}, "lease_error", "held by w1, not w2"),
            case(
                "task_submit", {"task_id": "T1", "worker": "w2", "edits": [edit]}, "lease_error", "held by w1"
            ),
            case("task_release", {"task_id": "T1", "worker": "w2", "status": "ready"}, "lease_error", "w1"),
            case("task_heartbeat", {"task_id": "T3", "worker": "w1"}, "lease_error", "held by nobody"),
        ],
    )


async def test_an_expired_lease_is_refused_until_the_task_is_claimed_again(scenario: Scenario) -> None:
    scenario.project.clock.advance(2)
    edit = {"path": "inventory.py", "content": INVENTORY + "\n"}
    await assert_refusals(
        scenario,
        [
            case(
                "task_heartbeat",
                {"task_id": "T1", "worker": "w1"},
                "lease_error",
                "expired",
                "task_heartbeat",
            ),
            case("task_submit", {"task_id": "T1", "worker": "w1", "edits": [edit]}, "lease_error", "expired"),
            case(
                "task_release",
                {"task_id": "T1", "worker": "w1", "status": "failed"},
                "lease_error",
                "expired",
            ),
        ],
    )


async def test_moves_the_task_states_do_not_allow_are_refused(scenario: Scenario) -> None:
    edit = {"path": "report.py", "content": REPORT + "\n"}
    await assert_refusals(
        scenario,
        [
            case(
                "task_release",
                {"task_id": "T2", "worker": "w2", "status": "blocked"},
                "illegal_transition",
                "T2 is review; cannot move it to blocked",
            ),
            case(
                "task_submit",
                {"task_id": "T2", "worker": "w2", "edits": [edit]},
                "input_error",
                "only a claimed or rejected task can be submitted",
            ),
            case(
                "task_review",
                {"task_id": "T1", "reviewer": "r1", "approve": True},
                "input_error",
                "not in review",
            ),
            case(
                "mission_finish", {"mission_id": MISSION}, "input_error", "still has work in progress", "T1"
            ),
            case("task_submit", {"task_id": "T1", "worker": "w1"}, "input_error", "nothing to submit"),
        ],
    )


async def test_edits_that_do_not_apply_are_refused_naming_the_file(scenario: Scenario) -> None:
    def submit(*edits: dict[str, Any]) -> dict[str, Any]:
        return {"task_id": "T1", "worker": "w1", "edits": list(edits)}

    bad_diff = (
        "--- a/inventory.py\n+++ b/inventory.py\n@@ -1,1 +1,1 @@\n-def totl(items):\n+def sum_(items):\n"
    )
    await assert_refusals(
        scenario,
        [
            case(
                "task_submit",
                submit({"path": "inventory.py", "search": "def average(", "replace": "def mean("}),
                "input_error",
                "inventory.py: search text not found (0 matches)",
            ),
            case(
                "task_submit",
                submit({"path": "inventory.py", "search": "    return ", "replace": "    yield "}),
                "input_error",
                "inventory.py: search text matches 2 times (at lines 2, 6)",
                "include more surrounding lines",
            ),
            case(
                "task_submit",
                submit({"path": "missing.py", "search": "x", "replace": "y"}),
                "input_error",
                "missing.py: file does not exist",
            ),
            case("task_submit", submit({"diff": bad_diff}), "input_error", "inventory.py", "does not apply"),
            case("task_submit", submit({"path": "gone.py", "delete": True}), "input_error", "gone.py"),
            case(
                "verify",
                {"edits": [{"path": "inventory.py", "search": "nowhere", "replace": ""}]},
                "input_error",
                "0 matches",
            ),
        ],
    )


async def test_paths_outside_the_project_are_refused(scenario: Scenario) -> None:
    def submit(path: str) -> dict[str, Any]:
        return {"task_id": "T1", "worker": "w1", "edits": [{"path": path, "content": "x = 1\n"}]}

    await assert_refusals(
        scenario,
        [
            case("task_submit", submit("../x.py"), "input_error", "../x.py: path escapes the root"),
            case("task_submit", submit("/etc/passwd"), "input_error", "absolute paths are not allowed"),
            case("task_submit", submit("linked/secret.py"), "input_error", "symlink linked pointing outside"),
            case("task_submit", submit(".git/config"), "input_error", "inside .git"),
            case(
                "verify", {"edits": [{"path": "../x.py", "content": ""}]}, "input_error", "escapes the root"
            ),
            case(
                "verify",
                {"edits": [{"path": "linked/secret.py", "search": "x", "replace": "y"}]},
                "input_error",
                "pointing outside",
            ),
            case(
                "verify",
                {"root": "..", "edits": [{"path": "a.py", "content": ""}]},
                "input_error",
                "outside the project",
            ),
            case(
                "verify",
                {"root": "/etc", "edits": [{"path": "a.py", "content": ""}]},
                "input_error",
                "outside the project",
            ),
            case(
                "verify",
                {"root": "inventory.py", "edits": [{"path": "a.py", "content": ""}]},
                "input_error",
                "not a directory",
            ),
            case(
                "verify",
                {"root": "linked", "edits": [{"path": "a.py", "content": ""}]},
                "input_error",
                "outside",
            ),
            case(
                "verify",
                {"root": ".git", "edits": [{"path": "config", "content": ""}]},
                "input_error",
                ".git",
            ),
        ],
    )


async def test_edits_over_the_size_limit_are_refused(scenario: Scenario) -> None:
    huge = "x = 1\n" * 500
    await assert_refusals(
        scenario,
        [
            case(
                "task_submit",
                {"task_id": "T1", "worker": "w1", "edits": [{"path": "big.py", "content": huge}]},
                "input_error",
                "big.py: new content is 3000 bytes, over the limit of 2000 bytes",
            ),
            case(
                "verify",
                {"edits": [{"path": "inventory.py", "content": huge}]},
                "input_error",
                "over the limit of 2000 bytes",
            ),
        ],
    )


async def test_argument_errors_list_every_bad_field_in_the_details(scenario: Scenario) -> None:
    async with scenario.project.client() as client:
        report = await refusal(client, "task_release", {"task_id": 1, "status": "later", "extra": True})

    assert sorted(_problems(report)) == ["extra", "status", "task_id", "worker"]
    assert report["details"]["operation"] == "task_release"


async def test_a_failed_edit_leaves_the_worktree_files_as_the_worker_left_them(scenario: Scenario) -> None:
    target = scenario.worktree / "inventory.py"
    target.write_text(INVENTORY + "# in progress\n")
    edits = [
        {"path": "inventory.py", "content": INVENTORY.replace("total", "grand_total")},
        {"path": "report.py", "search": "not there", "replace": ""},
    ]
    async with scenario.project.client() as client:
        report = await refusal(client, "task_submit", {"task_id": "T1", "worker": "w1", "edits": edits})

    assert report["code"] == "input_error"
    assert target.read_text() == INVENTORY + "# in progress\n"
