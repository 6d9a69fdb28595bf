"""Attribution: a new finding blocks only when something ties it to the edit, and the verdict says what."""

from __future__ import annotations

from podium.verification.attribution import EditNames, Footprint, attribute
from podium.verification.changes import ChangeSet, FileChange
from podium.verification.findings import Finding
from podium.verification.gate import Gate, GatePolicy
from podium.verification.linemap import LineMap
from podium.verification.sources import ScriptedSource

BEFORE = """\
import os
import sys


def where():
    return os.sep


def size(a):
    return len(a)


X = size("ab")
"""


def finding(line: int, message: str, *, path: str = "m.py", source: str = "checker") -> Finding:
    return Finding(source, "reportSomething", message, path, line, 5, line, 9)


def footprint(before: str, after: str) -> Footprint:
    return Footprint.of(FileChange("m.py", before, after), LineMap.between(before, after))


def reason(before: str, after: str, found: Finding) -> str | None:
    own = footprint(before, after)
    return attribute(found, own, EditNames.of({"m.py": own}), after)


def test_a_finding_on_a_changed_line_is_the_edits_doing() -> None:
    after = BEFORE.replace("return len(a)", "return len(a) + undefined")

    assert reason(BEFORE, after, finding(10, '"undefined" is not defined')) == (
        "on line 10, which the edit changed"
    )


def test_a_removed_import_is_blamed_at_its_untouched_use_site() -> None:
    after = BEFORE.replace("import os\n", "")

    found = finding(5, '"os" is not defined')

    assert reason(BEFORE, after, found) == "uses `os`, which the edit removed (old line 1)"


def test_a_changed_signature_is_blamed_at_an_untouched_call() -> None:
    after = BEFORE.replace("def size(a):", "def size(a, b):")

    found = finding(13, 'Argument missing for parameter "b"')

    assert reason(BEFORE, after, found) == "uses `size`, which the edit changed (line 9)"


def test_a_new_finding_on_an_untouched_line_naming_nothing_changed_is_not_the_edits_doing() -> None:
    after = BEFORE.replace("import sys\n", "import sys\nimport json\n")

    assert reason(BEFORE, after, finding(7, 'Type of "sep" is partially unknown')) is None


def test_words_inside_strings_and_comments_are_not_names() -> None:
    before = 'import os\n\nLABEL = "os"  # os\n'
    after = before.replace("import os\n", "")

    assert reason(before, after, finding(2, "Something changed")) is None


def test_a_name_moved_to_another_file_was_not_removed() -> None:
    old_a, new_a = "def helper():\n    return 1\n\nY = helper()\n", "from b import helper\n\nY = helper()\n"
    own = Footprint.of(FileChange("a.py", old_a, new_a), LineMap.between(old_a, new_a))
    other = Footprint.of(FileChange("b.py", None, "def helper():\n    return 1\n"), None)
    names = EditNames.of({"a.py": own, "b.py": other})

    assert "helper" not in names.removed


def test_a_rename_in_one_file_is_blamed_in_another() -> None:
    old_s, new_s = "def area(r):\n    return r * r\n", "def surface(r):\n    return r * r\n"
    app = "import shapes\n\nprint(shapes.area(2))\n"
    prints = {
        "shapes.py": Footprint.of(FileChange("shapes.py", old_s, new_s), LineMap.between(old_s, new_s)),
        "app.py": Footprint.of(FileChange("app.py", app, app), LineMap.between(app, app)),
    }
    found = finding(3, '"area" is not a known attribute of module "shapes"', path="app.py")

    why = attribute(found, prints["app.py"], EditNames.of(prints), app)

    assert why == "uses `area`, which the edit removed (shapes.py, old line 1)"


def test_javascript_bindings_are_scanned_line_by_line() -> None:
    before = 'import { parse, format } from "./util";\n\nexport function run(x) {\n  return parse(x);\n}\n'
    after = before.replace("parse, ", "")

    found = finding(4, "Cannot find name 'parse'.", path="m.js")
    own = Footprint.of(FileChange("m.js", before, after), LineMap.between(before, after))

    assert attribute(found, own, EditNames.of({"m.js": own}), after) == (
        "uses `parse`, which the edit removed (old line 1)"
    )


def test_syntax_findings_and_new_files_are_always_the_edits_doing() -> None:
    created = Footprint.of(FileChange("n.py", None, "x = (\n"), None)
    names = EditNames.of({"n.py": created})

    assert attribute(finding(1, "x", source="tree-sitter"), None, names, "") == (
        "the file does not parse after the edit"
    )
    assert attribute(finding(1, "whatever", path="n.py"), created, names, "x = (\n") == (
        "in a file the edit created"
    )


def gate_with(found: Finding, *, require: bool) -> Gate:
    source = ScriptedSource("checker", {"m.py": ((), (found,))})
    policy = GatePolicy(tree_sitter=False, python_compile=False, require_attribution=require)
    return Gate(policy, [source])


def test_the_gate_lists_an_unattributed_finding_as_not_counted_and_accepts() -> None:
    after = BEFORE.replace("import sys\n", "import sys\nimport json\n")
    unrelated = finding(7, 'Type of "sep" is partially unknown')

    verdict = gate_with(unrelated, require=True).check(ChangeSet((FileChange("m.py", BEFORE, after),)))

    assert verdict.accepted
    assert verdict.findings_new == ()
    assert any(n.startswith("not counted: m.py:7:5 checker") for n in verdict.notes)


def test_the_gate_holds_an_attributed_finding_with_its_reason() -> None:
    after = BEFORE.replace("import os\n", "")

    verdict = gate_with(finding(5, '"os" is not defined'), require=True).check(
        ChangeSet((FileChange("m.py", BEFORE, after),))
    )

    assert not verdict.accepted
    assert [f.reason for f in verdict.findings_new] == ["uses `os`, which the edit removed (old line 1)"]
    assert verdict.to_dict()["findings_new"][0]["reason"].startswith("uses `os`")


def test_without_required_attribution_every_new_finding_blocks() -> None:
    after = BEFORE.replace("import sys\n", "import sys\nimport json\n")

    verdict = gate_with(finding(7, 'Type of "sep" is partially unknown'), require=False).check(
        ChangeSet((FileChange("m.py", BEFORE, after),))
    )

    assert not verdict.accepted
    assert verdict.findings_new[0].reason == "new after the edit (attribution not required)"
