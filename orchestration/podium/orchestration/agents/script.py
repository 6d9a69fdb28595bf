"""The script a `scripted` backend plays: a plan, and per task the attempts and reviews, as YAML or JSON.

Format (every key but `plan` optional; see docs/backends.md for a full example)::

    plan:                       # a list of tasks, or a mapping with `tasks` and step options
      sleep_s: 0.1
      tasks:
        - {key: parser, title: Add a parser, files: [src/parser.py], review: true}
        - {key: cli, title: Wire the CLI, files: [src/cli.py], depends_on: [parser]}
    tasks:
      parser:                   # a plan key, a task title or a task id (T1)
        attempts:
          - sleep_s: 0.5        # simulated work time
            edits:
              - {path: src/parser.py, content: "def parse(:\\n"}   # broken on purpose
          - edits:
              - {path: src/parser.py, search: "parse(:", replace: "parse():"}
        reviews:
          - {approve: false, comments: "Add a docstring."}
          - {approve: true}
      cli:
        attempts:
          - {fault: rate_limited, fault_calls: 2}    # the first two calls fail, then go on
          - {status: split, subtasks: [{key: cli-a, title: Parse flags}, {key: cli-b, title: Print help}]}
    default:                    # for tasks not listed; {task_id} {title} {attempt} are filled in here
      attempts:
        - edits: [{path: "done/{task_id}.txt", content: "{title}\\n"}]

Edits: `{path, content}` (whole file), `{path, search, replace}`, `{diff}` (unified diff), `{delete: path}`.
An attempt (or review, or the plan) is a *step*: its result, plus `sleep_s` and an injected `fault`
(`backend_error` or `rate_limited`) raised on the first `fault_calls` calls (default 1) that reach it.
A step with only a fault (or only a sleep) passes on to the next step once spent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Literal, TypeVar

from podium.orchestration.agents.answers import as_list, as_mapping, load_data_file, planned_tasks
from podium.orchestration.agents.base import PlannedTask, ReviewResult, WorkResult
from podium.verification.edits import DeleteFile, DiffEdit, Edit, SearchReplace, WholeFile
from podium.verification.errors import ConfigError

__all__ = ["Fault", "Script", "Step", "TaskScript", "load_script", "parse_script"]

Fault = Literal["backend_error", "rate_limited"]
_FAULTS: tuple[Fault, ...] = ("backend_error", "rate_limited")
_STEP_KEYS = frozenset({"sleep_s", "fault", "fault_calls"})
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Step(Generic[_T]):
    """One scripted answer: ``outcome`` (None for a pure fault or sleep), a simulated duration, a fault."""

    outcome: _T | None
    sleep_s: float = 0.0
    fault: Fault | None = None
    fault_calls: int = 0


@dataclass(frozen=True, slots=True)
class TaskScript:
    """What one task's worker and reviewer answer, call after call (the last step repeats)."""

    attempts: tuple[Step[WorkResult], ...] = ()
    reviews: tuple[Step[ReviewResult], ...] = ()


@dataclass(frozen=True, slots=True)
class Script:
    """A parsed script. ``tasks`` is keyed by plan key, title or id, as written."""

    plan: Step[tuple[PlannedTask, ...]] = Step(None)
    tasks: Mapping[str, TaskScript] = field(default_factory=dict[str, TaskScript])
    default: TaskScript | None = None
    keys_by_title: Mapping[str, str] = field(default_factory=dict[str, str])
    """Plan key of each planned title (subtasks included), so a script keyed by plan key finds its Task."""


def load_script(path: Path) -> Script:
    """Read a script file (`.json`, `.yaml`, `.yml`).

    Raises:
        ConfigError: unreadable, not JSON/YAML, or not a valid script; the message names the file and place.
    """
    return parse_script(load_data_file(path), source=str(path))


def parse_script(data: object, source: str = "script") -> Script:
    """A script from parsed JSON/YAML data.

    Raises:
        ConfigError: the data is not a valid script; the message names ``source`` and the place.
    """
    try:
        return _script(data)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _script(data: object) -> Script:
    top = as_mapping(data, "script")
    _only(top, {"plan", "tasks", "default"}, "script")
    titles: dict[str, str] = {}
    plan: Step[tuple[PlannedTask, ...]] = Step(None)
    if "plan" in top:
        raw = top["plan"]
        options: dict[str, object] = {"tasks": raw} if isinstance(raw, list) else as_mapping(raw, "plan")
        _only(options, _STEP_KEYS | {"tasks"}, "plan")
        tasks = planned_tasks(options.get("tasks"), where="plan.tasks") if "tasks" in options else None
        plan = _step(options, "plan", tasks)
        titles.update({task.title: task.key for task in tasks or ()})
    scripts: dict[str, TaskScript] = {}
    for name, raw in as_mapping(top.get("tasks", {}), "tasks").items():
        scripts[name] = _task_script(raw, f"tasks.{name}", titles)
    default = _task_script(top["default"], "default", titles) if "default" in top else None
    return Script(plan=plan, tasks=scripts, default=default, keys_by_title=titles)


def _task_script(raw: object, where: str, titles: dict[str, str]) -> TaskScript:
    data = as_mapping(raw, where)
    _only(data, {"attempts", "reviews"}, where)
    attempts = [
        _attempt(item, f"{where}.attempts[{i}]", titles)
        for i, item in enumerate(as_list(data.get("attempts", []), f"{where}.attempts"))
    ]
    reviews = [
        _review(item, f"{where}.reviews[{i}]")
        for i, item in enumerate(as_list(data.get("reviews", []), f"{where}.reviews"))
    ]
    return TaskScript(attempts=tuple(attempts), reviews=tuple(reviews))


def _attempt(raw: object, where: str, titles: dict[str, str]) -> Step[WorkResult]:
    data = as_mapping(raw, where)
    _only(data, _STEP_KEYS | {"status", "edits", "subtasks", "log"}, where)
    log = _string(data.get("log", ""), f"{where}.log")
    edits = tuple(
        _edit(item, f"{where}.edits[{i}]")
        for i, item in enumerate(as_list(data.get("edits", []), f"{where}.edits"))
    )
    status = data.get("status", "done" if "edits" in data else None)
    if status is None:
        return _step(data, where, None)
    if status == "split":
        subtasks = planned_tasks(data.get("subtasks"), where=f"{where}.subtasks")
        if not subtasks:
            raise ValueError(f"{where}.subtasks: a split needs at least one subtask")
        titles.update({task.title: task.key for task in subtasks})
        return _step(data, where, WorkResult("split", edits=edits, subtasks=subtasks, log=log))
    if status == "done":
        return _step(data, where, WorkResult("done", edits=edits, log=log))
    if status == "gave_up":
        return _step(data, where, WorkResult("gave_up", log=log or "the script gave up"))
    raise ValueError(f"{where}.status: expected done, split or gave_up, got {status!r}")


def _review(raw: object, where: str) -> Step[ReviewResult]:
    data = as_mapping(raw, where)
    _only(data, _STEP_KEYS | {"approve", "comments"}, where)
    if "approve" not in data:
        return _step(data, where, None)
    approve = data["approve"]
    if not isinstance(approve, bool):
        raise ValueError(f"{where}.approve: expected true or false")
    comments = _string(data.get("comments", ""), f"{where}.comments")
    return _step(data, where, ReviewResult(approve=approve, comments=comments))


def _step(data: Mapping[str, object], where: str, outcome: _T | None) -> Step[_T]:
    sleep_s = data.get("sleep_s", 0.0)
    if isinstance(sleep_s, bool) or not isinstance(sleep_s, int | float) or sleep_s < 0:
        raise ValueError(f"{where}.sleep_s: expected a number of seconds ≥ 0")
    fault = data.get("fault")
    if fault is not None and fault not in _FAULTS:
        raise ValueError(f"{where}.fault: expected backend_error or rate_limited, got {fault!r}")
    calls = data.get("fault_calls", 1 if fault is not None else 0)
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 0:
        raise ValueError(f"{where}.fault_calls: expected a whole number ≥ 0")
    if outcome is None and fault is None and "sleep_s" not in data:
        raise ValueError(f"{where}: an empty step (give edits, a status, a decision, a fault or a sleep)")
    chosen: Fault | None = next((f for f in _FAULTS if f == fault), None)
    return Step(outcome, float(sleep_s), chosen, calls if chosen else 0)


def _edit(raw: object, where: str) -> Edit:
    data = as_mapping(raw, where)
    shapes: dict[frozenset[str], Callable[[], Edit]] = {
        frozenset({"path", "content"}): lambda: WholeFile(
            _s(data, "path", where), _s(data, "content", where)
        ),
        frozenset({"path", "search", "replace"}): lambda: SearchReplace(
            _s(data, "path", where), _s(data, "search", where), _s(data, "replace", where)
        ),
        frozenset({"diff"}): lambda: DiffEdit(_s(data, "diff", where)),
        frozenset({"delete"}): lambda: DeleteFile(_s(data, "delete", where)),
    }
    build = shapes.get(frozenset(data))
    if build is None:
        raise ValueError(
            f"{where}: an edit is {{path, content}}, {{path, search, replace}}, {{diff}} or {{delete}}; "
            f"got keys {', '.join(sorted(data)) or 'none'}"
        )
    return build()


def _s(data: Mapping[str, object], key: str, where: str) -> str:
    return _string(data[key], f"{where}.{key}")


def _string(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a string")
    return value


def _only(data: Mapping[str, object], allowed: set[str] | frozenset[str], where: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValueError(
            f"{where}: unknown keys {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})"
        )
