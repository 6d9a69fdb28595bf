"""Parsing scripted-backend scripts: shapes, shorthands and errors that name the place."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from podium.orchestration.agents.script import load_script, parse_script
from podium.verification.edits import DiffEdit
from podium.verification.errors import ConfigError

FIXTURES = Path(__file__).parents[2] / "fixtures" / "agents"


def test_the_yaml_and_json_forms_of_a_script_parse_to_the_same_script() -> None:
    assert load_script(FIXTURES / "mission.yaml") == load_script(FIXTURES / "mission.json")


def test_a_plan_may_be_a_bare_list_of_tasks() -> None:
    script = parse_script({"plan": [{"title": "Only one"}]})

    assert script.plan.outcome is not None
    assert [(t.key, t.title) for t in script.plan.outcome] == [("Only one", "Only one")]


def test_subtask_titles_map_to_their_keys_so_scripts_can_name_subtasks_by_key() -> None:
    attempt = {"status": "split", "subtasks": [{"key": "a", "title": "Part A"}]}
    script = parse_script({"tasks": {"T1": {"attempts": [attempt]}}})

    assert script.keys_by_title["Part A"] == "a"


def test_a_diff_edit_is_read_as_a_unified_diff() -> None:
    script = parse_script({"tasks": {"T1": {"attempts": [{"edits": [{"diff": "--- a/x\n+++ b/x\n"}]}]}}})

    outcome = script.tasks["T1"].attempts[0].outcome
    assert outcome is not None
    assert outcome.edits == (DiffEdit("--- a/x\n+++ b/x\n"),)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"plan": [{"title": "x"}], "task": {}}, r"script: unknown keys task"),
        ({"tasks": {"T1": {"attempts": [{"sleep": 1}]}}}, r"tasks\.T1\.attempts\[0\]: unknown keys sleep"),
        (
            {"tasks": {"T1": {"attempts": [{"edits": [{"path": "a"}]}]}}},
            r"attempts\[0\]\.edits\[0\]: an edit is",
        ),
        ({"tasks": {"T1": {"attempts": [{"status": "maybe"}]}}}, r"status: expected done, split or gave_up"),
        (
            {"tasks": {"T1": {"attempts": [{"fault": "oops"}]}}},
            r"fault: expected backend_error or rate_limited",
        ),
        (
            {"tasks": {"T1": {"attempts": [{"status": "split"}]}}},
            r"attempts\[0\]\.subtasks: expected a list of tasks, got nothing",
        ),
        (
            {"tasks": {"T1": {"reviews": [{"approve": "yes"}]}}},
            r"reviews\[0\]\.approve: expected true or false",
        ),
        ({"tasks": {"T1": {"attempts": [{}]}}}, r"attempts\[0\]: an empty step"),
        ({"plan": {"tasks": [{"title": "x", "sise": "S"}]}}, r"plan\.tasks\[0\]: unknown fields sise"),
        ({"plan": {"sleep_s": -1, "tasks": []}}, r"plan\.sleep_s: expected a number"),
        ([], r"script: expected a mapping"),
    ],
)
def test_an_invalid_script_is_a_config_error_naming_the_place(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_script(data, source="s.yaml")


def test_an_unreadable_script_file_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")

    with pytest.raises(ConfigError, match=r"bad\.json: not valid JSON"):
        load_script(bad)


def test_the_example_script_in_the_docs_is_valid() -> None:
    docs = Path(__file__).parents[3] / "docs" / "backends.md"
    block = docs.read_text().split("```yaml\n", 1)[1].split("```", 1)[0]

    script = parse_script(yaml.safe_load(block), source="docs/backends.md")

    assert script.plan.outcome is not None and len(script.plan.outcome) == 2
    assert set(script.tasks) == {"parser", "cli", "flags", "Print help"}
    assert script.default is not None
