"""The roadmap of a mission as a DAG: validation, ready tasks, claim order, critical path, task ids.

Functions take the tasks of one mission (ids are unique within a mission) in any order. Every graph walk
is iterative and linear in tasks plus dependencies (topological order adds a heap for its tie-break), so
long chains cannot hit the recursion limit and 1,000-task roadmaps stay cheap to recompute on each claim.

Path lengths are measured in size points, :data:`SIZE_WEIGHT` (XS=1, S=2, M=3, L=5), so a chain of three
M tasks is 9 long; pass ``by_size=False`` to count tasks instead. Only remaining tasks (neither merged nor
cancelled) count, and a chain stops at a task that no longer remains.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeAlias

from podium.orchestration.errors import RoadmapError
from podium.orchestration.lifecycle import TERMINAL_STATES, WAITING_STATES
from podium.orchestration.model import TASK_ID_PATTERN, Size, Task, TaskState

__all__ = [
    "SIZE_WEIGHT",
    "claim_order",
    "critical_path_length",
    "id_sort_key",
    "next_task_id",
    "ready_ids",
    "remaining_path",
    "topological_order",
    "validate_dag",
]

SIZE_WEIGHT: Mapping[Size, int] = MappingProxyType({Size.XS: 1, Size.S: 2, Size.M: 3, Size.L: 5})
"""Rough effort of a task by size; the unit of path lengths."""

_MAX_PROBLEMS_IN_MESSAGE = 10
_CHUNK = re.compile(r"(\d+)")

IdKey: TypeAlias = tuple[tuple[int, int, str], ...]


def id_sort_key(task_id: str) -> IdKey:
    """Sort key putting ids in natural order: T2 before T10, T1 before T1.1, T1.2 before T1.10."""
    key: list[tuple[int, int, str]] = []
    for chunk in _CHUNK.split(task_id):
        if chunk.isdigit():
            digits = chunk.lstrip("0") or "0"
            # numbers sort before text; among numbers, fewer digits first, then digit by digit
            key.append((0, len(digits), digits))
        elif chunk:
            key.append((1, 0, chunk))
    return tuple(key)


@dataclass(frozen=True, slots=True)
class _Graph:
    """A validated roadmap: ``order`` is a topological order (dependencies first)."""

    tasks: Mapping[str, Task]
    depends_on: Mapping[str, tuple[str, ...]]
    dependents: Mapping[str, tuple[str, ...]]
    order: tuple[str, ...]


def validate_dag(tasks: Sequence[Task]) -> None:
    """Check that the tasks form a DAG.

    Raises:
        RoadmapError: listing every duplicate id, self-dependency and unknown dependency (naming the task
            and the missing id), or the first dependency cycle found, as its path.
    """
    _build(tasks)


def ready_ids(tasks: Sequence[Task]) -> tuple[str, ...]:
    """Return the pending or ready tasks whose dependencies are all merged, in natural id order.

    A dependency on an unknown task never counts as merged; this function does not validate the DAG.
    """
    state = {task.id: task.state for task in tasks}
    ready = {
        task.id
        for task in tasks
        if task.state in WAITING_STATES and all(state.get(dep) is TaskState.MERGED for dep in task.depends_on)
    }
    return tuple(sorted(ready, key=id_sort_key))


def remaining_path(tasks: Sequence[Task], *, by_size: bool = True) -> dict[str, int]:
    """Return, for each task, the length of the longest chain of remaining tasks starting at it.

    The chain runs through the task's dependents: it is the work the task holds up, itself included.
    A merged or cancelled task has length 0.

    Raises:
        RoadmapError: if the tasks are not a valid DAG.
    """
    graph = _build(tasks)
    length: dict[str, int] = {}
    for task_id in reversed(graph.order):
        task = graph.tasks[task_id]
        if task.state in TERMINAL_STATES:
            length[task_id] = 0
            continue
        weight = SIZE_WEIGHT[task.size] if by_size else 1
        length[task_id] = weight + max((length[d] for d in graph.dependents[task_id]), default=0)
    return length


def critical_path_length(tasks: Sequence[Task], *, by_size: bool = True) -> int:
    """Return the length of the longest chain of remaining tasks (0 when nothing remains).

    Raises:
        RoadmapError: if the tasks are not a valid DAG.
    """
    return max(remaining_path(tasks, by_size=by_size).values(), default=0)


def claim_order(tasks: Sequence[Task]) -> list[str]:
    """Return the ready tasks best-first: priority, then remaining path, both descending, then natural id.

    Raises:
        RoadmapError: if the tasks are not a valid DAG.
    """
    path = remaining_path(tasks)
    priority = {task.id: task.priority for task in tasks}
    return sorted(ready_ids(tasks), key=lambda i: (-priority[i], -path[i], id_sort_key(i)))


def topological_order(tasks: Sequence[Task]) -> list[str]:
    """Return every task id after all its dependencies; among available tasks, the natural-smallest first.

    Raises:
        RoadmapError: if the tasks are not a valid DAG.
    """
    graph = _build(tasks)
    waiting = {task_id: len(deps) for task_id, deps in graph.depends_on.items()}
    heap = [(id_sort_key(i), i) for i, count in waiting.items() if count == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        _, task_id = heapq.heappop(heap)
        order.append(task_id)
        for dependent in graph.dependents[task_id]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(heap, (id_sort_key(dependent), dependent))
    return order


def next_task_id(existing_ids: Iterable[str], parent: str | None = None) -> str:
    """Return the next free id: T1, T2, … at the top level, or T1.1, T1.2, … under ``parent``.

    The new number is one above the highest in use at that level (gaps are not reused, so the id of a
    cancelled task is never handed out again); deeper ids count for their ancestors, so T3.1 reserves T3.
    The parent need not be among ``existing_ids``; ids not shaped like ``T1.2`` are ignored.

    Raises:
        RoadmapError: if ``parent`` is not a task id.
    """
    prefix: tuple[int, ...] = ()
    if parent is not None:
        if not TASK_ID_PATTERN.fullmatch(parent):
            raise RoadmapError(f"invalid parent task id {parent!r}: task ids look like T1 or T1.2")
        prefix = _numbers(parent)
    depth = len(prefix)
    highest = 0
    for existing in existing_ids:
        if not TASK_ID_PATTERN.fullmatch(existing):
            continue
        numbers = _numbers(existing)
        if len(numbers) > depth and numbers[:depth] == prefix:
            highest = max(highest, numbers[depth])
    return f"T{highest + 1}" if parent is None else f"{parent}.{highest + 1}"


def _numbers(task_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in task_id[1:].split("."))


def _build(tasks: Sequence[Task]) -> _Graph:
    problems: list[str] = []
    by_id: dict[str, Task] = {}
    duplicates: dict[str, None] = {}
    for task in tasks:
        if task.id in by_id:
            duplicates[task.id] = None
        by_id[task.id] = task
    problems.extend(f"duplicate task id {task_id}" for task_id in duplicates)

    # every task as given, so that a duplicate cannot hide the problems of the copy that lost
    for task in tasks:
        for dep in dict.fromkeys(task.depends_on):
            if dep == task.id:
                problems.append(f"task {task.id} depends on itself")
            elif dep not in by_id:
                problems.append(f"task {task.id} depends on unknown task {dep}")
    depends_on = {
        task.id: tuple(dep for dep in dict.fromkeys(task.depends_on) if dep != task.id and dep in by_id)
        for task in by_id.values()
    }

    order, cycle = _postorder(depends_on)
    if cycle:
        problems.append(f"dependency cycle: {' → '.join(cycle)} (each task depends on the next)")
    if problems:
        problems = list(dict.fromkeys(problems))
        shown = problems[:_MAX_PROBLEMS_IN_MESSAGE]
        if len(problems) > len(shown):
            shown.append(f"and {len(problems) - len(shown)} more")
        raise RoadmapError("; ".join(shown), problems=problems)

    dependents: dict[str, list[str]] = {task_id: [] for task_id in depends_on}
    for task_id, known in depends_on.items():
        for dep in known:
            dependents[dep].append(task_id)
    return _Graph(
        tasks=by_id,
        depends_on=depends_on,
        dependents={task_id: tuple(ds) for task_id, ds in dependents.items()},
        order=tuple(order),
    )


def _postorder(depends_on: Mapping[str, tuple[str, ...]]) -> tuple[list[str], list[str]]:
    """Depth-first over dependencies, iteratively; return (postorder, first cycle found as a closed path)."""
    finished: set[str] = set()
    position: dict[str, int] = {}  # index in ``path`` of each task on the current walk
    order: list[str] = []
    for root in depends_on:
        if root in finished:
            continue
        path = [root]
        position[root] = 0
        pending = [iter(depends_on[root])]
        while pending:
            dep = next(pending[-1], None)
            if dep is None:
                done = path.pop()
                pending.pop()
                del position[done]
                finished.add(done)
                order.append(done)
            elif dep in position:
                return order, _closed_cycle(path[position[dep] :])
            elif dep not in finished:
                position[dep] = len(path)
                path.append(dep)
                pending.append(iter(depends_on[dep]))
    return order, []


def _closed_cycle(cycle: list[str]) -> list[str]:
    # start at the natural-smallest id so the same cycle is always reported the same way
    start = min(range(len(cycle)), key=lambda i: id_sort_key(cycle[i]))
    rotated = cycle[start:] + cycle[:start]
    return [*rotated, rotated[0]]
