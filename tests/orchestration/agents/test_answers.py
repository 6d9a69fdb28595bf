"""Reading roadmaps, review decisions and JSON out of agents' answers and plan files."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.orchestration.agents.answers import extract_json, load_plan_file, parse_review, planned_tasks
from podium.orchestration.model import Role, Size
from podium.verification.errors import InputError


def test_planned_tasks_reads_every_field_and_defaults_the_key_to_the_title() -> None:
    data = {
        "tasks": [
            {"title": "A"},
            {
                "key": "b",
                "title": "B",
                "description": "d",
                "files": ["b.py"],
                "depends_on": ["A"],
                "role": "reviewer",
                "priority": 3,
                "size": "L",
                "review": True,
            },
        ]
    }

    first, second = planned_tasks(data)

    assert (first.key, first.size, first.role) == ("A", Size.M, Role.WORKER)
    assert (second.key, second.files, second.depends_on, second.priority) == ("b", ("b.py",), ("A",), 3)
    assert (second.role, second.size, second.review, second.description) == (Role.REVIEWER, Size.L, True, "d")


def test_lenient_reading_ignores_unknown_fields_and_strict_reading_refuses_them() -> None:
    data = [{"title": "A", "estimate": "2h"}]

    assert planned_tasks(data, strict=False)[0].title == "A"
    with pytest.raises(ValueError, match=r"tasks\[0\]: unknown fields estimate"):
        planned_tasks(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([{"title": "A"}, {"title": "A"}], "duplicate task keys A"),
        ([{"title": ""}], r"tasks\[0\]\.title: expected a non-empty string"),
        ([{"title": "A", "size": "XXL"}], r"size: expected one of XS, S, M, L"),
        ([{"title": "A", "files": "a.py"}], r"files: expected a list"),
        ({"steps": []}, "expected a 'tasks' list"),
    ],
)
def test_a_malformed_roadmap_names_the_problem(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        planned_tasks(data)


def test_extract_json_finds_fenced_and_embedded_values() -> None:
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('Sure!\n```json\n{"a": 2}\n```\nBye') == {"a": 2}
    assert extract_json('The plan is {} then {"a": 3} and {"b": 4} as asked') == {"a": 3}
    assert extract_json("Here: [1, 2] done") == [1, 2]
    with pytest.raises(ValueError, match="no JSON"):
        extract_json("no json here {")


def test_parse_review_reads_text_decisions_and_json_decisions() -> None:
    text = parse_review("\n**REJECT**: tests are missing\nAdd one for the empty input.")
    approved = parse_review("APPROVE")
    json_answer = parse_review('```json\n{"approve": true, "comments": "fine"}\n```')

    assert (text.approve, text.comments) == (False, "tests are missing\nAdd one for the empty input.")
    assert (approved.approve, approved.comments) == (True, "")
    assert (json_answer.approve, json_answer.comments) == (True, "fine")
    with pytest.raises(ValueError, match="APPROVE or REJECT"):
        parse_review("Looks good to me")


def test_a_plan_file_in_yaml_is_read_as_a_roadmap(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("tasks:\n  - key: a\n    title: Do A\n    files: [a.py]\n")

    (task,) = load_plan_file(plan)

    assert (task.key, task.title, task.files) == ("a", "Do A", ("a.py",))


def test_an_invalid_plan_file_is_an_input_error_naming_the_file_and_place(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text('{"tasks": [{"title": 3}]}')

    with pytest.raises(InputError, match=r"plan\.json: tasks\[0\]\.title"):
        load_plan_file(plan)
