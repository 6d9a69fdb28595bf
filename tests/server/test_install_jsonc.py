"""The JSON-with-comments parser and the in-place edits `podium install` makes with it."""

from __future__ import annotations

from typing import Any

import pytest

from podium.server.install.jsonc import JsoncError, insert_member, parse, remove_member, replace_value

ENTRY = {"type": "local", "command": ["/opt/podium/bin/podium", "mcp"], "enabled": True}

LAYOUTS = [
    pytest.param("{}", id="empty"),
    pytest.param("{}\n", id="empty-newline"),
    pytest.param('{"a": 1}', id="one-line"),
    pytest.param('{"a": 1,}', id="one-line-trailing-comma"),
    pytest.param('{\n  "a": 1\n}\n', id="two-spaces"),
    pytest.param('{\n  "a": 1, // why a is 1\n}\n', id="trailing-comma-and-comment"),
    pytest.param('{\n  "a": 1 // why a is 1\n}\n', id="line-comment-after-last"),
    pytest.param("{\n    // nothing here yet\n}", id="only-a-comment"),
    pytest.param('// head\n{\n\t"a": {\n\t\t"x": [1, 2]\n\t},\n\t/* b */ "b": "c"\n}\n', id="tabs"),
    pytest.param('{\r\n  "a": 1\r\n}\r\n', id="crlf"),
    pytest.param('\ufeff{\n  "a": 1\n}', id="bom"),
]


@pytest.mark.parametrize("text", LAYOUTS)
def test_removing_an_inserted_member_gives_back_the_text_byte_for_byte(text: str) -> None:
    doc = parse(text)
    assert doc.root is not None
    inserted = parse(insert_member(doc, doc.root, "podium", ENTRY))
    assert inserted.root is not None
    assert inserted.root.python["podium"] == ENTRY
    assert {k: v for k, v in inserted.root.python.items() if k != "podium"} == doc.root.python
    for start, end in doc.comments:
        assert text[start:end] in inserted.text

    (member,) = inserted.root.member("podium")
    assert remove_member(inserted, inserted.root, member) == text


def test_an_inserted_member_takes_the_indentation_and_newlines_of_the_file() -> None:
    text = '{\r\n\t"a": {\r\n\t\t"x": 1\r\n\t}\r\n}\r\n'
    doc = parse(text)
    assert doc.root is not None

    result = insert_member(doc, doc.root.members[0].value, "mcp", {"podium": {"command": ["p", "mcp"]}})

    assert result == (
        '{\r\n\t"a": {\r\n\t\t"x": 1,\r\n\t\t"mcp": {\r\n\t\t\t"podium": {\r\n'
        '\t\t\t\t"command": ["p", "mcp"]\r\n\t\t\t}\r\n\t\t}\r\n\t}\r\n}\r\n'
    )


def test_removing_a_member_in_the_middle_takes_its_own_comma_and_line() -> None:
    text = '{\n  "a": 1,\n  "podium": {"x": 1},\n  "b": 2 // keep me\n}\n'
    doc = parse(text)
    assert doc.root is not None

    assert remove_member(doc, doc.root, doc.root.members[1]) == '{\n  "a": 1,\n  "b": 2 // keep me\n}\n'


def test_removing_the_only_member_leaves_an_empty_object() -> None:
    doc = parse('{"mcp": {\n  "podium": 1\n}}')
    assert doc.root is not None
    mcp = doc.root.members[0].value

    assert remove_member(doc, mcp, mcp.members[0]) == '{"mcp": {}}'


def test_replacing_a_value_keeps_everything_around_it() -> None:
    text = '{\n  // servers\n  "podium": {"command": ["old"]}, // ours\n  "b": 2\n}'
    doc = parse(text)
    assert doc.root is not None

    result = replace_value(doc, doc.root, doc.root.members[0], {"command": ["new", "mcp"]})

    assert (
        result == '{\n  // servers\n  "podium": {\n    "command": ["new", "mcp"]\n  }, // ours\n  "b": 2\n}'
    )


def test_values_and_comment_spans_are_parsed() -> None:
    text = '/* a */ {"s": "\\u00e9\\n", "n": -1.5e3, "t": true, "f": false, "z": null, "l": [1, {"k": []},],}'
    doc = parse(text)
    assert doc.root is not None

    expected: dict[str, Any] = {
        "s": "é\n",
        "n": -1500.0,
        "t": True,
        "f": False,
        "z": None,
        "l": [1, {"k": []}],
    }
    assert doc.root.python == expected
    assert doc.comments == ((0, 7),)
    assert doc.has_comment(0, 3) and not doc.has_comment(8, len(text))


def test_a_document_of_only_comments_has_no_root() -> None:
    assert parse("// nothing\n/* at all */\n").root is None


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ('{"a": 1', "line 1, column 1", "never closed"),
        ('{\n  "a" 1\n}', "line 2, column 7", "expected ':'"),
        ("{a: 1}", "line 1, column 2", "double-quoted key"),
        ('{"a": 1 "b": 2}', "line 1, column 9", "expected ',' or '}'"),
        ("[1 2]", "line 1, column 4", "expected ',' or ']'"),
        ('{"a": 1} x', "line 1, column 10", "after the end"),
        ("/* x", "line 1, column 1", "never closed"),
        ('{"a": "b\nc"}', "line 1, column 9", "control character"),
        ('{"a": "\\q"}', "line 1, column 7", "invalid escape"),
        ('{"a": 1,,}', "line 1, column 9", "double-quoted key"),
        ('{"a": tru}', "line 1, column 7", "expected a value"),
    ],
)
def test_malformed_text_is_refused_with_its_line_and_column(text: str, where: str, what: str) -> None:
    with pytest.raises(JsoncError) as caught:
        parse(text)

    assert caught.value.message.startswith(where)
    assert what in caught.value.message
