from __future__ import annotations

import json
from typing import Any

import pytest

from podium.verification.changes import ChangeSet, FileChange
from podium.verification.findings import Finding
from podium.verification.gate import Gate
from podium.verification.verdict import SourceRun, Verdict, render_verdict, verdict_json_schema

NEW = Finding(
    "tree-sitter",
    "syntax-error",
    "syntax error near `=`",
    "src/a.js",
    2,
    9,
    2,
    10,
    symbol="f",
    excerpt="=",
    frame="2 |   let y = = 1;\n  |         ^",
)
OLD = Finding("tree-sitter", "missing-node", "missing ';'", "src/a.js", 9, 3, 9, 3)


def rejected() -> Verdict:
    return Verdict(
        accepted=False,
        findings_new=(NEW,),
        findings_preexisting=(OLD, OLD),
        notes=("notes.xyz: no syntax check for this file type",),
        sources=(SourceRun("tree-sitter", 1.23456),),
        files_checked=("src/a.js",),
        files_unchecked=("notes.xyz",),
    )


def test_summary_counts_new_and_preexisting_problems() -> None:
    assert rejected().summary == "rejected: 1 new problem (2 pre-existing ignored)"
    assert Verdict(accepted=True).summary == "accepted: 0 new problems (0 pre-existing ignored)"


def test_render_lists_each_new_finding_with_its_frame_then_notes_then_the_summary() -> None:
    text = render_verdict(rejected())

    assert text.splitlines() == [
        "src/a.js:2:9  tree-sitter  syntax error near `=` (in f)",
        "2 |   let y = = 1;",
        "  |         ^",
        "",
        "note: notes.xyz: no syntax check for this file type",
        "",
        "rejected: 1 new problem (2 pre-existing ignored)",
    ]


def test_render_does_not_list_preexisting_findings() -> None:
    assert "missing ';'" not in render_verdict(rejected())


def test_to_dict_is_json_and_keeps_the_decision() -> None:
    data = json.loads(json.dumps(rejected().to_dict()))

    assert data["accepted"] is False
    assert data["findings_new"][0]["line"] == 2
    assert len(data["findings_preexisting"]) == 2
    assert data["sources"] == [{"name": "tree-sitter", "elapsed_ms": 1.235}]


def validate(instance: dict[str, Any], schema: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(instance)


@pytest.mark.parametrize(
    "verdict",
    [
        rejected(),
        Verdict(accepted=True),
        Gate().check(ChangeSet((FileChange("a.py", "x = 1\n", "def f(:\n"), FileChange("b.txt", "", "")))),
    ],
    ids=["rejected", "empty", "from-gate"],
)
def test_to_dict_validates_against_the_published_schema(verdict: Verdict) -> None:
    validate(verdict.to_dict(), verdict_json_schema())


def test_schema_requires_every_key_to_dict_produces() -> None:
    schema = verdict_json_schema()
    data = rejected().to_dict()

    assert set(schema["required"]) == set(data) == set(schema["properties"])
    finding = schema["$defs"]["finding"]
    assert set(finding["required"]) == set(data["findings_new"][0]) == set(finding["properties"])


def test_schema_rejects_a_verdict_without_its_decision() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    data = rejected().to_dict()
    del data["accepted"]

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, verdict_json_schema())
