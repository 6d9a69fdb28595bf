"""Prompt templates: placeholders, feedback paragraphs and bounds."""

from __future__ import annotations

from pathlib import Path

from podium.orchestration.agents.base import ReviewRequest, WorkRequest
from podium.orchestration.agents.prompts import (
    MAX_DIFF_CHARS,
    MAX_PROMPT_CHARS,
    PLAN_TEMPLATE,
    fill,
    render_findings,
    review_prompt,
    work_prompt,
)
from podium.orchestration.model import Task
from podium.verification.findings import Finding

TASK = Task(id="T1", mission_id="m1", title="Do it", files=("a.py",))


def finding(line: int) -> Finding:
    return Finding("tree-sitter", "syntax-error", "bad", "a.py", line, 1, line, 2)


def test_fill_replaces_known_placeholders_and_leaves_other_braces_and_values_alone() -> None:
    text = fill('{"tasks": []} {goal} {unknown} {{x}}', {"goal": "{unknown} {goal}"})

    assert text == '{"tasks": []} {unknown} {goal} {unknown} {{x}}'


def test_the_plan_template_keeps_its_json_example() -> None:
    assert '{"tasks": [{"key": "short-label"' in fill(PLAN_TEMPLATE, {"goal": "g", "root": "/r"})


def test_a_first_attempt_prompt_has_no_feedback_paragraphs() -> None:
    prompt = work_prompt(WorkRequest(task=TASK, worktree=Path("/w"), attempt=1))

    assert "rejected" not in prompt
    assert "Task T1: Do it" in prompt
    assert "- a.py" in prompt


def test_findings_beyond_the_limit_are_counted_not_listed() -> None:
    text = render_findings([finding(n) for n in range(1, 36)], limit=30)

    assert "a.py:30:1" in text
    assert "a.py:31:1" not in text
    assert text.endswith("- … and 5 more")


def test_prompts_are_cut_to_their_bound() -> None:
    task = Task(id="T1", mission_id="m1", title="x", description="y" * (2 * MAX_PROMPT_CHARS))

    prompt = work_prompt(WorkRequest(task=task, worktree=Path("/w"), attempt=1))

    assert len(prompt) == MAX_PROMPT_CHARS
    assert prompt.endswith("(prompt cut to its limit)\n")


def test_a_long_diff_is_cut_for_the_reviewer() -> None:
    diff = "+" + "z" * (MAX_DIFF_CHARS + 500)

    prompt = review_prompt(ReviewRequest(task=TASK, worktree=Path("/w"), diff=diff, verdict_summary="ok"))

    assert "(501 more characters not shown)" in prompt
    assert "APPROVE or REJECT" in prompt
