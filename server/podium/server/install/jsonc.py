"""JSON with comments and trailing commas, parsed with the text span of every value, and edited in place.

Client config files (``opencode.jsonc``, ``.vscode/mcp.json``, ``~/.claude.json``) belong to their users:
their comments, key order, indentation and line endings must survive Podium adding or removing its entries.
So nothing here re-serialises a document. :func:`parse` records where each member and value sits in the text,
and the edits (:func:`insert_member`, :func:`remove_member`, :func:`replace_value`) splice new text into the
old, writing only the new value with the file's own indentation and newline. Removing a member Podium inserted
gives back the text as it was before the insertion.

What is accepted: JSON plus ``//`` and ``/* */`` comments and a trailing comma in objects and arrays (what
OpenCode and VS Code read). Anything else is a :class:`JsoncError` naming the line and column.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, cast

from podium.verification.errors import InputError

__all__ = [
    "Document",
    "JsoncError",
    "Member",
    "Node",
    "as_object",
    "insert_member",
    "parse",
    "remove_member",
    "replace_value",
]

Kind = Literal["object", "array", "scalar"]

MAX_DEPTH = 256
"""Deepest nesting parsed; config files are shallow, and this keeps recursion far from Python's limit."""

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_WHITESPACE = " \t\r\n\ufeff"


class JsoncError(InputError):
    """Text that is not JSON with comments; the message says where and what was expected."""

    def __init__(self, message: str, *, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class Member:
    """``"key": value`` in an object: where the key starts, the value, and the comma after it, if any."""

    key: str
    start: int
    value: Node
    comma: int | None


@dataclass(frozen=True, slots=True)
class Node:
    """A value and its span ``[start, end)`` in the text; ``members`` for objects, ``python`` for all."""

    kind: Kind
    start: int
    end: int
    python: Any
    members: tuple[Member, ...] = ()

    def member(self, key: str) -> list[Member]:
        """Every member named ``key`` (JSON allows repeats; more than one means the file is ambiguous)."""
        return [member for member in self.members if member.key == key]


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed text: its root value (``None`` when it holds only whitespace and comments) and comments."""

    text: str
    root: Node | None
    comments: tuple[tuple[int, int], ...]

    def has_comment(self, start: int, end: int) -> bool:
        """Whether a comment lies (even partly) inside ``[start, end)``."""
        return any(c_start < end and c_end > start for c_start, c_end in self.comments)


def as_object(value: Any) -> dict[str, Any] | None:
    """``value`` as a JSON object (typed for the checker), or None when it is anything else."""
    return cast(dict[str, Any], value) if isinstance(value, dict) else None


def parse(text: str) -> Document:
    """Parse ``text``; raises :class:`JsoncError` naming the line and column of the first problem."""
    parser = _Parser(text)
    parser.skip()
    root = None if parser.pos >= len(text) else parser.value(0)
    parser.skip()
    if parser.pos < len(text):
        parser.fail("unexpected text after the end of the document")
    return Document(text, root, tuple(parser.comments))


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.comments: list[tuple[int, int]] = []

    def fail(self, message: str, at: int | None = None) -> NoReturn:
        where = self.pos if at is None else at
        line = self.text.count("\n", 0, where) + 1
        column = where - (self.text.rfind("\n", 0, where) + 1) + 1
        raise JsoncError(message, line=line, column=column)

    def skip(self) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in _WHITESPACE:
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                end = len(text) if end < 0 else end
                self.comments.append((self.pos, end))
                self.pos = end
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    self.fail("a /* comment is never closed")
                self.comments.append((self.pos, end + 2))
                self.pos = end + 2
            else:
                return

    def value(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            self.fail(f"nested deeper than {MAX_DEPTH} levels")
        if self.pos >= len(self.text):
            self.fail("expected a value, found the end of the file")
        char = self.text[self.pos]
        if char == "{":
            return self.object(depth)
        if char == "[":
            return self.array(depth)
        start = self.pos
        if char == '"':
            decoded = self.string()
            return Node("scalar", start, self.pos, decoded)
        for word, python in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, start):
                self.pos = start + len(word)
                return Node("scalar", start, self.pos, python)
        match = _NUMBER.match(self.text, start)
        if match is None or match.end() == start:
            self.fail(f"expected a value, found {self.text[start : start + 12]!r}")
        self.pos = match.end()
        return Node("scalar", start, self.pos, json.loads(match.group(0)))

    def string(self) -> str:
        start = self.pos
        index = start + 1
        text = self.text
        while True:
            if index >= len(text):
                self.fail("a string is never closed", start)
            char = text[index]
            if char == "\\":
                index += 2
                continue
            if char == '"':
                break
            if char < " ":
                self.fail("a control character (a line break?) inside a string", index)
            index += 1
        self.pos = index + 1
        try:
            decoded: str = json.loads(text[start : self.pos])
        except ValueError:
            self.fail("a string with an invalid escape", start)
        return decoded

    def object(self, depth: int) -> Node:
        start = self.pos
        self.pos += 1
        members: list[Member] = []
        python: dict[str, Any] = {}
        while True:
            self.skip()
            if self.pos >= len(self.text):
                self.fail("an object is never closed", start)
            if self.text[self.pos] == "}":
                self.pos += 1
                return Node("object", start, self.pos, python, tuple(members))
            if members and members[-1].comma is None:
                self.fail("expected ',' or '}' after a member")
            if self.text[self.pos] != '"':
                self.fail("expected a double-quoted key or '}'")
            key_start = self.pos
            key = self.string()
            self.skip()
            if self.pos >= len(self.text) or self.text[self.pos] != ":":
                self.fail(f"expected ':' after the key {key!r}")
            self.pos += 1
            self.skip()
            value = self.value(depth + 1)
            self.skip()
            comma = None
            if self.pos < len(self.text) and self.text[self.pos] == ",":
                comma = self.pos
                self.pos += 1
            members.append(Member(key, key_start, value, comma))
            python[key] = value.python

    def array(self, depth: int) -> Node:
        start = self.pos
        self.pos += 1
        items: list[Any] = []
        expect_comma = False
        while True:
            self.skip()
            if self.pos >= len(self.text):
                self.fail("an array is never closed", start)
            if self.text[self.pos] == "]":
                self.pos += 1
                return Node("array", start, self.pos, items)
            if expect_comma:
                self.fail("expected ',' or ']' after an item")
            items.append(self.value(depth + 1).python)
            self.skip()
            expect_comma = True
            if self.pos < len(self.text) and self.text[self.pos] == ",":
                self.pos += 1
                expect_comma = False


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _line_end(text: str, pos: int) -> int:
    """Index of the line break ending the line at ``pos`` (``\\r`` of a CRLF), or the end of the text."""
    end = text.find("\n", pos)
    if end < 0:
        return len(text)
    return end - 1 if end > 0 and text[end - 1] == "\r" else end


def _indent_of(text: str, pos: int) -> str:
    start = _line_start(text, pos)
    end = start
    while end < len(text) and text[end] in " \t":
        end += 1
    return text[start:end]


def _indent_unit(doc: Document) -> str:
    """The file's indentation step: the first member line's indent when the root is laid out on lines."""
    root = doc.root
    if root is not None and root.kind == "object" and root.members:
        first = root.members[0].start
        indent = _indent_of(doc.text, first)
        if _line_start(doc.text, first) > root.start and indent:
            return indent[len(_indent_of(doc.text, root.start)) :] or indent
    return "  "


def _multiline(text: str, obj: Node) -> bool:
    if obj.members:
        return "\n" in text[obj.start : obj.members[0].start]
    return "\n" in text[obj.start : obj.end]


def _render(value: Any, indent: str, unit: str, newline: str) -> str:
    """``value`` laid out one member per line, starting at ``indent``; a list of scalars stays on one line,
    as people write ``"command": ["podium", "mcp"]``."""
    inner = indent + unit
    if isinstance(value, dict) and value:
        members: list[str] = [
            f"{json.dumps(key, ensure_ascii=False)}: {_render(item, inner, unit, newline)}"
            for key, item in cast(dict[str, Any], value).items()
        ]
        return "{" + "".join(f"{newline}{inner}{m}," for m in members)[:-1] + f"{newline}{indent}}}"
    items_in: list[Any] = cast(list[Any], value) if isinstance(value, list) else []
    if any(isinstance(item, dict | list) for item in items_in):
        items = [_render(item, inner, unit, newline) for item in items_in]
        return "[" + "".join(f"{newline}{inner}{item}," for item in items)[:-1] + f"{newline}{indent}]"
    return _compact(value)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _rest_of_line_is_trailing(text: str, pos: int) -> bool:
    """Whether only whitespace, or whitespace and a ``//`` comment, follows ``pos`` on its line."""
    rest = text[pos : _line_end(text, pos)].lstrip(" \t")
    return not rest or rest.startswith("//")


def insert_member(doc: Document, obj: Node, key: str, value: Any) -> str:
    """The text with ``"key": value`` added as the last member of ``obj``, laid out like its siblings."""
    text = doc.text
    newline = _newline(text)
    unit = _indent_unit(doc)
    if not _multiline(text, obj) and obj.members:
        last = obj.members[-1]
        member = f"{json.dumps(key, ensure_ascii=False)}: {_compact(value)}"
        if last.comma is not None:
            anchor = last.comma + 1
            return text[:anchor] + f" {member}," + text[anchor:]
        anchor = last.value.end
        return text[:anchor] + f", {member}" + text[anchor:]
    if obj.members:
        last = obj.members[-1]
        indent = _indent_of(text, last.start)
        member = f"{json.dumps(key, ensure_ascii=False)}: {_render(value, indent, unit, newline)}"
        if last.comma is not None:
            anchor, comma, trailing = last.comma + 1, "", ","
        else:
            anchor, comma, trailing = last.value.end, ",", ""
        where = _line_end(text, anchor) if _rest_of_line_is_trailing(text, anchor) else anchor
        added = newline + indent + member + trailing
        return text[:anchor] + comma + text[anchor:where] + added + text[where:]
    outer = _indent_of(text, obj.start)
    indent = outer + unit
    member = f"{json.dumps(key, ensure_ascii=False)}: {_render(value, indent, unit, newline)}"
    interior = text[obj.start + 1 : obj.end - 1]
    if interior.strip(_WHITESPACE) == "":
        return text[: obj.start + 1] + newline + indent + member + newline + outer + text[obj.end - 1 :]
    return text[: obj.start + 1] + newline + indent + member + text[obj.start + 1 :]


def remove_member(doc: Document, obj: Node, member: Member) -> str:
    """The text without ``member`` (and the comma that separated it); an emptied object becomes ``{}``."""
    text = doc.text
    index = obj.members.index(member)
    cuts: list[tuple[int, int]] = []
    start = member.start
    end = member.comma + 1 if member.comma is not None else member.value.end
    line_start = _line_start(text, start)
    line_end = _line_end(text, end)
    whole_lines = text[line_start:start].strip(" \t") == "" and text[end:line_end].strip(" \t") == ""
    if whole_lines:
        after = line_end + (2 if text.startswith("\r\n", line_end) else 1 if line_end < len(text) else 0)
        cuts.append((line_start, after))
    elif member.comma is not None and index + 1 < len(obj.members):
        after = end
        while after < len(text) and text[after] in " \t":
            after += 1
        cuts.append((start, after))
    else:
        before = start
        while before > 0 and text[before - 1] in " \t":
            before -= 1
        cuts.append((before, end))
    if member.comma is None and index > 0:
        previous = obj.members[index - 1]
        if previous.comma is not None:
            cuts.append((previous.comma, previous.comma + 1))
    for cut_start, cut_end in sorted(cuts, reverse=True):
        text = text[:cut_start] + text[cut_end:]
    if len(obj.members) == 1:
        shift = sum(cut_end - cut_start for cut_start, cut_end in cuts)
        close = obj.end - shift
        if text[obj.start + 1 : close - 1].strip(_WHITESPACE) == "":
            text = text[: obj.start + 1] + text[close - 1 :]
    return text


def replace_value(doc: Document, obj: Node, member: Member, value: Any) -> str:
    """The text with ``member``'s value replaced by ``value``, laid out like the member's object."""
    text = doc.text
    if _multiline(text, obj):
        rendered = _render(value, _indent_of(text, member.start), _indent_unit(doc), _newline(text))
    else:
        rendered = _compact(value)
    return text[: member.value.start] + rendered + text[member.value.end :]
