"""Every mission tool through the official MCP client, in-process, on a real git repository per test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from podium_project import INVENTORY, REPORT, Project, call, isolate_git, make_project, refusal

from podium.server.core_ops import ROADMAP_URI

FIXED_TOTAL = INVENTORY.replace(
    "return sum(item.count for item in items)", "return sum(item.count for item in items if item.count > 0)"
)
BROKEN_TOTAL = INVENTORY.replace("def total(items):", "def total(items")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    isolate_git(tmp_path, monkeypatch)
    return make_project(tmp_path)


async def start(client: Client, *tasks: dict[str, Any], goal: str = "tidy the inventory") -> dict[str, Any]:
    return await call(client, "mission_start", {"goal": goal, "tasks": list(tasks)})


async def claim(client: Client, mission_id: str, worker: str) -> dict[str, Any]:
    return await call(client, "task_claim", {"mission_id": mission_id, "worker": worker})


def whole(path: str, content: str) -> dict[str, str]:
    return {"path": path, "content": content}


def show(project: Project, ref: str, path: str) -> str:
    return project.git("show", f"{ref}:{path}")


async def test_mission_start_numbers_the_tasks_maps_keys_and_renders_the_roadmap(project: Project) -> None:
    async with project.client() as client:
        started = await start(
            client,
            {"key": "parse", "title": "Parse rows", "files": ["report.py"], "size": "S"},
            {"key": "test", "title": "Test parsing", "depends_on": ["parse"], "review": True},
        )

    mission_id = started["mission_id"]
    assert started["branch"] == f"podium/{mission_id}"
    assert project.head(started["branch"]) == project.head()
    assert started["key_ids"] == {"parse": "T1", "test": "T2"}
    first, second = started["tasks"]
    assert (first["id"], first["state"], first["files"], first["size"]) == ("T1", "ready", ["report.py"], "S")
    assert (second["id"], second["state"], second["depends_on"], second["review"]) == (
        "T2",
        "pending",
        ["T1"],
        True,
    )
    assert "T1: Parse rows" in started["roadmap"]
    assert "T2: Test parsing" in started["roadmap"]


async def test_roadmap_add_continues_the_numbering_and_resolves_keys_and_existing_ids(
    project: Project,
) -> None:
    async with project.client() as client:
        mission_id = (await start(client, {"title": "First"}))["mission_id"]
        added = await call(
            client,
            "roadmap_add",
            {
                "mission_id": mission_id,
                "tasks": [
                    {"key": "b", "title": "Second", "depends_on": ["T1"]},
                    {"key": "c", "title": "Third", "depends_on": ["b"], "role": "reviewer"},
                ],
            },
        )
        status = await call(client, "mission_status", {"mission_id": mission_id})

    assert added == {"mission_id": mission_id, "ids": ["T2", "T3"], "key_ids": {"b": "T2", "c": "T3"}}
    tasks = {task.id: task for task in project.missions.store.list_tasks(mission_id)}
    assert tasks["T3"].depends_on == ("T2",)
    assert tasks["T3"].role.value == "reviewer"
    assert status["missions"][0]["counts"] == {"pending": 2, "ready": 1}


async def test_claims_follow_the_dependencies_and_say_why_nothing_is_left(project: Project) -> None:
    async with project.client() as client:
        mission_id = (
            await start(
                client,
                {"key": "a", "title": "Count only positive items", "files": ["inventory.py"]},
                {"key": "b", "title": "Render the total", "depends_on": ["a"]},
            )
        )["mission_id"]
        first = await claim(client, mission_id, "w1")
        claimed_file = Path(first["worktree"]).joinpath("inventory.py").read_text()
        blocked = await claim(client, mission_id, "w2")
        await call(
            client,
            "task_submit",
            {"task_id": "T1", "worker": "w1", "edits": [whole("inventory.py", FIXED_TOTAL)]},
        )
        second = await claim(client, mission_id, "w2")
        await call(
            client,
            "task_submit",
            {
                "task_id": f"{mission_id}/T2",
                "worker": "w2",
                "edits": [whole("report.py", REPORT + "\n# ok\n")],
            },
        )
        done = await claim(client, mission_id, "w1")

    assert first["claimed"] and first["task"]["id"] == "T1"
    assert first["files"] == ["inventory.py"]
    assert claimed_file == INVENTORY
    assert first["base_commit"] == project.head()
    assert first["lease_expires"] == project.clock.now + 600
    assert (blocked["claimed"], blocked["task"], blocked["reason"]) == (False, None, "all_claimed")
    assert "T1" in blocked["detail"]
    assert second["claimed"] and second["task"]["id"] == "T2"
    assert (done["claimed"], done["reason"]) == (False, "mission_done")


async def test_heartbeat_extends_the_lease_from_now(project: Project) -> None:
    async with project.client() as client:
        mission_id = (await start(client, {"title": "Work"}))["mission_id"]
        claimed = await claim(client, mission_id, "w1")
        project.clock.advance(500)
        beat = await call(client, "task_heartbeat", {"task_id": "T1", "worker": "w1"})

    assert beat == {"task_id": "T1", "lease_expires": project.clock.now + 600}
    assert beat["lease_expires"] > claimed["lease_expires"]


async def test_a_broken_submit_is_rejected_with_its_finding_and_the_fix_merges(project: Project) -> None:
    async with project.client() as client:
        mission_id = (await start(client, {"title": "Filter totals", "files": ["inventory.py"]}))[
            "mission_id"
        ]
        claimed = await claim(client, mission_id, "w1")
        rejected = await call(
            client,
            "task_submit",
            {"task_id": "T1", "worker": "w1", "edits": [whole("inventory.py", BROKEN_TOTAL)]},
        )
        fixed = await call(
            client,
            "task_submit",
            {"task_id": "T1", "worker": "w1", "edits": [whole("inventory.py", FIXED_TOTAL)]},
        )

    assert rejected["status"] == "rejected"
    assert rejected["task"]["state"] == "rejected"
    assert rejected["merged_commit"] is None
    assert rejected["worktree"] == claimed["worktree"]
    verdict = rejected["verdict"]
    assert not verdict["accepted"]
    assert verdict["summary"].startswith("rejected: 1 new problem")
    (finding,) = verdict["findings_new"]
    assert (finding["path"], finding["line"], finding["severity"]) == ("inventory.py", 1, "error")
    assert "def total(items" in finding["frame"]
    assert {source["name"] for source in verdict["sources"]} >= {"tree-sitter"}

    assert fixed["status"] == "merged"
    assert fixed["task"]["state"] == "merged"
    assert fixed["verdict"]["accepted"]
    assert fixed["merged_commit"] == project.head(f"podium/{mission_id}")
    assert show(project, fixed["merged_commit"], "inventory.py") == FIXED_TOTAL
    assert (project.root / "inventory.py").read_text() == INVENTORY


async def test_submit_without_edits_takes_the_worktree_as_it_is_and_reports_progress(
    project: Project,
) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with project.client() as client:
        mission_id = (await start(client, {"title": "Filter totals"}))["mission_id"]
        worktree = Path((await claim(client, mission_id, "w1"))["worktree"])
        (worktree / "inventory.py").write_text(FIXED_TOTAL)
        result = await client.call_tool(
            "task_submit", {"task_id": "T1", "worker": "w1"}, progress_callback=on_progress
        )

    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["status"] == "merged"
    assert show(project, f"podium/{mission_id}", "inventory.py") == FIXED_TOTAL
    assert [progress for progress, _, _ in seen] == [1, 2]
    assert [message for _, _, message in seen] == [
        "gate: checking 1 file(s)",
        "merging onto the integration branch",
    ]


async def test_two_tasks_on_one_file_conflict_and_the_resolution_merges(project: Project) -> None:
    positive = FIXED_TOTAL
    weighted = INVENTORY.replace("item.count for", "item.count * item.weight for")
    resolved = INVENTORY.replace(
        "return sum(item.count for item in items)",
        "return sum(item.count * item.weight for item in items if item.count > 0)",
    )
    async with project.client() as client:
        mission_id = (
            await start(
                client,
                {"title": "Count positive items", "files": ["inventory.py"]},
                {"title": "Weigh items", "files": ["inventory.py"]},
            )
        )["mission_id"]
        await claim(client, mission_id, "w1")
        await claim(client, mission_id, "w2")
        first = await call(
            client,
            "task_submit",
            {"task_id": "T1", "worker": "w1", "edits": [whole("inventory.py", positive)]},
        )
        conflict = await call(
            client,
            "task_submit",
            {"task_id": "T2", "worker": "w2", "edits": [whole("inventory.py", weighted)]},
        )
        marked = Path(conflict["worktree"]).joinpath("inventory.py").read_text()
        merged = await call(
            client,
            "task_submit",
            {"task_id": "T2", "worker": "w2", "edits": [whole("inventory.py", resolved)]},
        )

    assert first["status"] == "merged"
    assert conflict["status"] == "conflict"
    assert conflict["task"]["state"] == "rejected"
    assert conflict["base_commit"] == first["merged_commit"]
    (finding,) = conflict["verdict"]["findings_new"]
    assert finding["path"] == "inventory.py"
    assert finding["code"].startswith("conflict")
    assert "<<<<<<<" in marked and ">>>>>>>" in marked
    assert merged["status"] == "merged"
    assert merged["merged_commit"] == project.head(f"podium/{mission_id}")
    assert show(project, merged["merged_commit"], "inventory.py") == resolved


async def test_a_reviewed_task_waits_for_approval_and_then_merges(project: Project) -> None:
    async with project.client() as client:
        mission_id = (await start(client, {"title": "Filter totals", "review": True}))["mission_id"]
        await claim(client, mission_id, "w1")
        submitted = await call(
            client,
            "task_submit",
            {"task_id": "T1", "worker": "w1", "edits": [whole("inventory.py", FIXED_TOTAL)]},
        )
        branch_during_review = project.head(f"podium/{mission_id}")
        approved = await call(client, "task_review", {"task_id": "T1", "reviewer": "r1", "approve": True})

    assert submitted["status"] == "review"
    assert submitted["task"]["state"] == "review"
    assert submitted["verdict"]["accepted"]
    assert branch_during_review == project.head("main")
    assert approved["status"] == "merged"
    assert approved["task"]["state"] == "merged"
    assert approved["merged_commit"] == project.head(f"podium/{mission_id}")
    assert show(project, approved["merged_commit"], "inventory.py") == FIXED_TOTAL


async def test_a_rejected_review_goes_back_to_its_worker_with_the_comments(project: Project) -> None:
    async with project.client() as client:
        mission_id = (await start(client, {"title": "Filter totals", "review": True}))["mission_id"]
        await claim(client, mission_id, "w1")
        await call(
            client,
            "task_submit",
            {"task_id": "T1", "worker": "w1", "edits": [whole("inventory.py", FIXED_TOTAL)]},
        )
        rejected = await call(
            client,
            "task_review",
            {"task_id": "T1", "reviewer": "r1", "approve": False, "comments": "negative counts are refunds"},
        )
        status = await call(client, "mission_status", {"mission_id": mission_id})

    assert rejected["status"] == "rejected"
    assert rejected["task"]["state"] == "rejected"
    assert rejected["task"]["lease_holder"] == "w1"
    assert any("negative counts are refunds" in note for note in rejected["verdict"]["notes"])
    (last,) = status["missions"][0]["last_verdicts"]
    assert last["task_id"] == "T1"
    assert "negative counts are refunds" in last["summary"]
    assert project.head(f"podium/{mission_id}") == project.head("main")


@pytest.mark.parametrize("status", ["ready", "blocked", "failed"])
async def test_release_gives_the_task_back_in_the_state_asked_for(project: Project, status: str) -> None:
    async with project.client() as client:
        mission_id = (await start(client, {"title": "Filter totals"}))["mission_id"]
        await claim(client, mission_id, "w1")
        released = await call(
            client,
            "task_release",
            {"task_id": "T1", "worker": "w1", "status": status, "reason": "stuck on data"},
        )
        again = await claim(client, mission_id, "w2")

    task = released["task"]
    assert (task["id"], task["state"], task["lease_holder"], task["lease_expires"]) == (
        "T1",
        status,
        None,
        None,
    )
    if status == "ready":
        assert again["claimed"] and again["task"]["id"] == "T1"
        assert again["task"]["attempts"] == 2
    else:
        assert (again["claimed"], again["reason"]) == (False, "all_blocked")


async def test_mission_status_without_an_id_lists_every_mission_with_leases(project: Project) -> None:
    async with project.client() as client:
        first = (await start(client, {"title": "One"}, goal="first goal"))["mission_id"]
        second = (await start(client, {"title": "Two"}, goal="second goal"))["mission_id"]
        await claim(client, second, "w9")
        status = await call(client, "mission_status", {})

    by_id = {view["mission_id"]: view for view in status["missions"]}
    assert set(by_id) == {first, second}
    assert by_id[first]["goal"] == "first goal"
    assert by_id[first]["leases"] == []
    assert by_id[second]["leases"] == [{"task_id": "T1", "worker": "w9", "expires": project.clock.now + 600}]
    assert by_id[second]["counts"] == {"claimed": 1}
    assert by_id[second]["progress"] == 0.0
    assert by_id[second]["state"] == "active"


async def test_mission_finish_with_apply_lands_the_work_on_the_users_branch(project: Project) -> None:
    async with project.client() as client:
        mission_id = (
            await start(client, {"title": "Filter totals"}, {"title": "Never started", "depends_on": ["T1"]})
        )["mission_id"]
        await claim(client, mission_id, "w1")
        await call(
            client,
            "task_submit",
            {"task_id": "T1", "worker": "w1", "edits": [whole("inventory.py", FIXED_TOTAL)]},
        )
        finished = await call(client, "mission_finish", {"mission_id": mission_id, "apply": True})
        status = await call(client, "mission_status", {"mission_id": mission_id})

    assert finished == {
        "mission_id": mission_id,
        "state": "finished",
        "applied": True,
        "user_branch": "main",
        "head": project.head(),
        "kind": "fast-forward",
        "cancelled": ["T2"],
    }
    assert (project.root / "inventory.py").read_text() == FIXED_TOTAL
    assert project.git("status", "--porcelain") == ""
    assert status["missions"][0]["state"] == "finished"


async def test_mission_finish_without_apply_leaves_the_users_branch_alone(project: Project) -> None:
    main_before = project.head()
    async with project.client() as client:
        mission_id = (await start(client, {"title": "Filter totals"}))["mission_id"]
        await claim(client, mission_id, "w1")
        await call(
            client,
            "task_submit",
            {"task_id": "T1", "worker": "w1", "edits": [whole("inventory.py", FIXED_TOTAL)]},
        )
        finished = await call(client, "mission_finish", {"mission_id": mission_id})

    assert (finished["applied"], finished["user_branch"], finished["head"], finished["kind"]) == (
        False,
        None,
        None,
        None,
    )
    assert project.head() == main_before
    assert (project.root / "inventory.py").read_text() == INVENTORY


async def test_mission_cancel_cancels_open_tasks_and_removes_their_worktrees(project: Project) -> None:
    async with project.client() as client:
        mission_id = (await start(client, {"title": "One"}, {"title": "Two"}))["mission_id"]
        worktree = Path((await claim(client, mission_id, "w1"))["worktree"])
        cancelled = await call(client, "mission_cancel", {"mission_id": mission_id})
        closed = await claim(client, mission_id, "w2")

    assert cancelled == {"mission_id": mission_id, "state": "cancelled", "cancelled": ["T1", "T2"]}
    assert str(worktree) not in project.git("worktree", "list", "--porcelain")
    assert (closed["claimed"], closed["reason"]) == (False, "mission_closed")
    assert project.git("branch", "--list", f"podium/{mission_id}").strip() != ""


async def test_verify_judges_edits_without_writing_them(project: Project) -> None:
    async with project.client() as client:
        accepted = await call(client, "verify", {"edits": [whole("inventory.py", FIXED_TOTAL)]})
        rejected = await call(
            client,
            "verify",
            {"edits": [{"path": "report.py", "search": "def render(rows):", "replace": "def render(rows)"}]},
        )

    assert accepted["accepted"]
    assert accepted["findings_new"] == []
    assert not rejected["accepted"]
    assert [(f["path"], f["line"]) for f in rejected["findings_new"]] == [("report.py", 1)]
    assert (project.root / "inventory.py").read_text() == INVENTORY
    assert (project.root / "report.py").read_text() == REPORT


async def test_verify_judges_against_a_task_worktree_given_as_root(project: Project) -> None:
    edit = {"path": "helper.py", "search": "return 1", "replace": "return 2"}
    async with project.client() as client:
        mission_id = (await start(client, {"title": "Add a helper"}))["mission_id"]
        worktree = Path((await claim(client, mission_id, "w1"))["worktree"])
        (worktree / "helper.py").write_text("def helper():\n    return 1\n")
        relative = worktree.relative_to(project.root).as_posix()
        in_worktree = await call(client, "verify", {"root": relative, "edits": [edit]})
        in_project = await refusal(client, "verify", {"edits": [edit]})

    assert in_worktree["accepted"]
    assert in_project["code"] == "input_error"
    assert "helper.py: file does not exist" in in_project["message"]
    assert (worktree / "helper.py").read_text() == "def helper():\n    return 1\n"


async def test_the_roadmap_resource_serves_the_rendered_roadmap(project: Project) -> None:
    async with project.client() as client:
        started = await start(client, {"title": "Filter totals"})
        templates = (await client.list_resource_templates()).resource_templates
        read = await client.read_resource(ROADMAP_URI.replace("{id}", started["mission_id"]))

    assert [template.uri_template for template in templates] == [ROADMAP_URI]
    text = getattr(read.contents[0], "text", "")
    assert text == started["roadmap"]
