"""What an attempt hands the next one: findings and notes read back from the last verdict."""

from __future__ import annotations

import json

from podium.orchestration.attempts import finding_key, previous_feedback
from podium.verification.findings import Finding
from podium.verification.verdict import Verdict

FINDING = Finding("tree-sitter", "syntax-error", "invalid syntax", "util.py", 3, 5, 3, 6)


def test_the_findings_notes_and_comments_of_a_rejection_reach_the_next_attempt() -> None:
    record = Verdict(accepted=False, findings_new=(FINDING,), notes=("merge conflict with main",)).to_dict()
    record["comments"] = "add a docstring"
    findings, feedback = previous_feedback(json.dumps(record))
    assert findings == (FINDING,)
    assert feedback == "merge conflict with main\nreviewer: add a docstring"


def test_an_accepted_or_missing_verdict_hands_on_nothing() -> None:
    assert previous_feedback(None) == ((), "")
    assert previous_feedback(json.dumps(Verdict(accepted=True).to_dict())) == ((), "")


def test_a_verdict_that_is_not_json_is_passed_on_as_text() -> None:
    assert previous_feedback("the server crashed") == ((), "the server crashed")


def test_a_finding_key_leaves_out_positions_so_repeats_are_recognised() -> None:
    moved = Finding("tree-sitter", "syntax-error", "invalid syntax", "util.py", 9, 1, 9, 2)
    assert finding_key(FINDING) == finding_key(moved) == "util.py: invalid syntax [tree-sitter syntax-error]"
