"""Reading structured data that backends hand back: roadmaps, review decisions, JSON inside chatty text.

The roadmap format is shared by every planner answer, the `plan` section of a scripted backend's script and
`podium run --plan FILE`::

    {"tasks": [{"key": "parser", "title": "Add a parser", "description": "...",
                "files": ["src/parser.py"], "depends_on": [], "priority": 0, "size": "M",
                "review": false, "role": "worker"}]}

A bare list of tasks is accepted too. Only `title` is required; `key` defaults to the title, and
`depends_on` names other tasks by key. Parsers raise `ValueError` with a message that names the offending
place (`tasks[2].files`); each caller turns that into the error of its boundary (`ConfigError` for a script,
`InputError` for a plan file, `BackendError` for an agent's answer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

from podium.orchestration.agents.base import PlannedTask, ReviewResult
from podium.orchestration.model import Role, Size
from podium.verification.errors import ConfigError, InputError

__all__ = [
    "as_list",
    "as_mapping",
    "extract_json",
    "load_data_file",
    "load_plan_file",
    "parse_data",
    "parse_review",
    "planned_tasks",
]

_E = TypeVar("_E", Role, Size)

_TASK_FIELDS = frozenset(
    {"key", "id", "title", "description", "files", "depends_on", "role", "priority", "size", "review"}
)
_FENCE = re.compile(r"```[a-zA-Z]*\n(.*?)```", re.DOTALL)
_DECISION = re.compile(r"^\W*(APPROVE|APPROVED|REJECT|REJECTED)\b\W*", re.IGNORECASE)


def as_mapping(value: object, where: str) -> dict[str, object]:
    """``value`` as a mapping with string keys, or `ValueError` naming ``where``."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {_kind(value)}")
    items = cast(Mapping[object, object], value)
    if not all(isinstance(key, str) for key in items):
        raise ValueError(f"{where}: keys must be strings")
    return {str(key): item for key, item in items.items()}


def as_list(value: object, where: str) -> list[object]:
    """``value`` as a list, or `ValueError` naming ``where``."""
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list, got {_kind(value)}")
    return list(cast(list[object], value))


def planned_tasks(data: object, *, where: str = "tasks", strict: bool = True) -> tuple[PlannedTask, ...]:
    """Planned tasks from a roadmap (`{"tasks": [...]}` or a bare list); see the module docstring.

    ``strict`` refuses unknown fields (a typo in a script); answers from agents are read leniently.

    Raises:
        ValueError: the data does not have the roadmap's shape; the message names the place.
    """
    source: object = data
    if data is None or isinstance(data, str | int | float):
        raise ValueError(f"{where}: expected a list of tasks, got {_kind(data)}")
    if not isinstance(data, list):
        source = as_mapping(data, where).get("tasks")
        if source is None:
            raise ValueError(f"{where}: expected a 'tasks' list")
    items = as_list(source, where)
    tasks = tuple(_planned_task(item, f"{where}[{index}]", strict) for index, item in enumerate(items))
    keys = [task.key for task in tasks]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"{where}: duplicate task keys {', '.join(duplicates)}")
    return tasks


def parse_review(text: str) -> ReviewResult:
    """A review decision: a JSON object `{"approve": bool, "comments": str}`, or text whose first non-empty
    line starts with APPROVE or REJECT and whose remaining text is the comments.

    Raises:
        ValueError: neither form was found.
    """
    try:
        data = extract_json(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        answer = as_mapping(cast(object, data), "review")
        approve = answer.get("approve")
        if isinstance(approve, bool):
            comments = answer.get("comments", "")
            return ReviewResult(approve=approve, comments=comments if isinstance(comments, str) else "")
    lines = text.strip().splitlines()
    first = lines[0] if lines else ""
    match = _DECISION.match(first)
    if match is None:
        raise ValueError(f"the review must start with APPROVE or REJECT, not {first[:80]!r}")
    rest = "\n".join([first[match.end() :], *lines[1:]]).strip()
    return ReviewResult(approve=match.group(1).upper().startswith("APPROVE"), comments=rest)


def extract_json(text: str) -> Any:
    """The JSON value in an agent's output: the whole text, else the last fenced block that parses, else
    the first object or array embedded in the text.

    Raises:
        ValueError: no JSON value was found.
    """
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    for block in reversed(_FENCE.findall(text)):
        try:
            return json.loads(block)
        except ValueError:
            continue
    decoder = json.JSONDecoder()
    for index, char in enumerate(text):
        if char in "{[":
            try:
                value, _ = decoder.raw_decode(text, index)
            except ValueError:
                continue
            if value:
                return value
    raise ValueError("no JSON value found in the output")


def parse_data(text: str, source: str) -> Any:
    """Parse a JSON or YAML document; YAML when ``source`` ends in .yaml/.yml or the text is not JSON.

    Raises:
        ValueError: the text is neither; or it is YAML and PyYAML is not installed.
    """
    if not source.endswith((".yaml", ".yml")):
        try:
            return json.loads(text)
        except ValueError as exc:
            if source.endswith(".json"):
                raise ValueError(f"not valid JSON: {exc}") from None
    try:
        import yaml  # PyYAML is optional: JSON scripts and plans work without it.
    except ImportError:
        raise ValueError("YAML needs PyYAML (pip install pyyaml); or write the file as JSON") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from None


def load_data_file(path: Path) -> Any:
    """Read and parse a JSON or YAML file.

    Raises:
        ConfigError: the file is unreadable or not valid JSON/YAML (the message names it).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        return parse_data(text, path.name)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_plan_file(path: Path) -> tuple[PlannedTask, ...]:
    """The roadmap in a JSON or YAML file (`podium run --plan FILE`).

    Raises:
        InputError: the file is unreadable, not JSON/YAML, or not a roadmap; the message names the place.
    """
    try:
        return planned_tasks(load_data_file(path))
    except ConfigError as exc:
        raise InputError(exc.message, path=str(path)) from None
    except ValueError as exc:
        raise InputError(f"{path}: {exc}", path=str(path)) from None


def _planned_task(item: object, where: str, strict: bool) -> PlannedTask:
    data = as_mapping(item, where)
    unknown = sorted(set(data) - _TASK_FIELDS)
    if strict and unknown:
        raise ValueError(
            f"{where}: unknown fields {', '.join(unknown)} (allowed: {', '.join(sorted(_TASK_FIELDS))})"
        )
    title = _text(data.get("title"), f"{where}.title", required=True)
    key = _text(data.get("key", data.get("id")), f"{where}.key") or title
    priority = data.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ValueError(f"{where}.priority: expected an integer")
    review = data.get("review", False)
    if not isinstance(review, bool):
        raise ValueError(f"{where}.review: expected true or false")
    return PlannedTask(
        title=title,
        key=key,
        description=_text(data.get("description"), f"{where}.description"),
        files=_strings(data.get("files"), f"{where}.files"),
        depends_on=_strings(data.get("depends_on"), f"{where}.depends_on"),
        role=_choice(Role, data.get("role", "worker"), f"{where}.role"),
        priority=priority,
        size=_choice(Size, data.get("size", "M"), f"{where}.size"),
        review=review,
    )


def _text(value: object, where: str, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValueError(f"{where}: expected a {'non-empty ' if required else ''}string")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = as_list(value, where)
    if not all(isinstance(item, str) for item in items):
        raise ValueError(f"{where}: expected a list of strings")
    return tuple(str(item) for item in items)


def _choice(enum: type[_E], value: object, where: str) -> _E:
    allowed = [member.value for member in enum]
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{where}: expected one of {', '.join(allowed)}, got {value!r}")
    return enum(value)


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__
