from __future__ import annotations

import dataclasses

import pytest

from podium.orchestration.errors import RoadmapError
from podium.orchestration.model import Size, Task, TaskState
from podium.orchestration.roadmap import (
    claim_order,
    critical_path_length,
    id_sort_key,
    next_task_id,
    ready_ids,
    remaining_path,
    topological_order,
    validate_dag,
)

S = TaskState


def task(
    task_id: str,
    *depends_on: str,
    state: TaskState = S.PENDING,
    priority: int = 0,
    size: Size = Size.M,
) -> Task:
    return Task(
        id=task_id,
        mission_id="m1",
        title=f"task {task_id}",
        depends_on=depends_on,
        state=state,
        priority=priority,
        size=size,
    )


def merge(tasks: list[Task], *ids: str) -> list[Task]:
    return [dataclasses.replace(t, state=S.MERGED) if t.id in ids else t for t in tasks]


def diamond() -> list[Task]:
    return [
        task("T1", size=Size.S),
        task("T2", "T1", size=Size.L),
        task("T3", "T1", size=Size.XS),
        task("T4", "T2", "T3", size=Size.M),
    ]


def chain(length: int) -> list[Task]:
    return [task("T1")] + [task(f"T{i}", f"T{i - 1}") for i in range(2, length + 1)]


def roadmap_error(tasks: list[Task]) -> RoadmapError:
    with pytest.raises(RoadmapError) as caught:
        validate_dag(tasks)
    assert caught.value.code == "invalid_roadmap"
    return caught.value


# validate_dag


def test_validate_dag_accepts_a_diamond() -> None:
    validate_dag(diamond())


def test_validate_dag_accepts_an_empty_roadmap() -> None:
    validate_dag([])


def test_validate_dag_names_a_duplicate_id() -> None:
    error = roadmap_error([task("T1"), task("T2"), task("T1")])
    assert error.problems == ("duplicate task id T1",)


def test_validate_dag_names_the_task_and_the_missing_dependency() -> None:
    error = roadmap_error([task("T1"), task("T2", "T1", "T9")])
    assert str(error) == "task T2 depends on unknown task T9"


def test_validate_dag_refuses_a_task_that_depends_on_itself() -> None:
    error = roadmap_error([task("T1", "T1")])
    assert error.problems == ("task T1 depends on itself",)


def test_validate_dag_names_the_cycle_path() -> None:
    error = roadmap_error([task("T1", "T3"), task("T2", "T1"), task("T3", "T2"), task("T4", "T1")])
    assert str(error) == "dependency cycle: T1 → T3 → T2 → T1 (each task depends on the next)"


def test_a_cycle_is_reported_the_same_way_whatever_the_input_order() -> None:
    tasks = [task("T2", "T1"), task("T3", "T2"), task("T1", "T3")]
    messages = {str(roadmap_error(tasks[i:] + tasks[:i])) for i in range(3)}
    assert messages == {"dependency cycle: T1 → T3 → T2 → T1 (each task depends on the next)"}


def test_validate_dag_finds_a_two_task_cycle_beside_a_valid_part() -> None:
    error = roadmap_error([task("T1"), task("T2", "T1"), task("T3", "T2", "T4"), task("T4", "T3")])
    assert "dependency cycle: T3 → T4 → T3" in str(error)


def test_validate_dag_reports_every_problem_at_once() -> None:
    error = roadmap_error(
        [task("T1", "T1"), task("T2", "T8"), task("T2"), task("T3", "T4"), task("T4", "T3")]
    )
    assert error.problems == (
        "duplicate task id T2",
        "task T1 depends on itself",
        "task T2 depends on unknown task T8",
        "dependency cycle: T3 → T4 → T3 (each task depends on the next)",
    )
    assert str(error) == "; ".join(error.problems)


def test_a_long_list_of_problems_is_cut_short_in_the_message_but_kept_whole() -> None:
    error = roadmap_error([task(f"T{i}", "T0") for i in range(1, 26)])
    assert len(error.problems) == 25
    assert str(error).endswith("; and 15 more")
    assert str(error).count("depends on unknown task T0") == 10


def test_a_repeated_dependency_is_not_a_problem() -> None:
    validate_dag([task("T1"), task("T2", "T1", "T1")])


# ready_ids


def test_only_tasks_without_dependencies_are_ready_at_first() -> None:
    assert ready_ids(diamond()) == ("T1",)


def test_ready_set_grows_as_dependencies_merge() -> None:
    tasks = merge(diamond(), "T1")
    assert ready_ids(tasks) == ("T2", "T3")
    assert ready_ids(merge(tasks, "T2")) == ("T3",)
    assert ready_ids(merge(tasks, "T2", "T3")) == ("T4",)
    assert ready_ids(merge(tasks, "T2", "T3", "T4")) == ()


def test_claimed_blocked_and_finished_tasks_are_not_ready() -> None:
    tasks = [
        task("T1", state=S.CLAIMED),
        task("T2", state=S.BLOCKED),
        task("T3", state=S.CANCELLED),
        task("T4", state=S.FAILED),
        task("T5", state=S.READY),
        task("T6"),
    ]
    assert ready_ids(tasks) == ("T5", "T6")


def test_a_dependency_that_is_claimed_or_cancelled_keeps_its_dependent_waiting() -> None:
    tasks = [task("T1", state=S.CLAIMED), task("T2", state=S.CANCELLED), task("T3", "T1"), task("T4", "T2")]
    assert ready_ids(tasks) == ()


def test_ready_ids_come_in_natural_order() -> None:
    assert ready_ids([task("T10"), task("T2"), task("T1.10"), task("T1.2")]) == ("T1.2", "T1.10", "T2", "T10")


# remaining_path and critical_path_length


def test_critical_path_of_a_chain_adds_the_sizes() -> None:
    assert critical_path_length(chain(3)) == 9
    assert critical_path_length(chain(3), by_size=False) == 3


def test_critical_path_of_a_diamond_takes_the_longer_branch() -> None:
    assert critical_path_length(diamond()) == 2 + 5 + 3
    assert critical_path_length(diamond(), by_size=False) == 3


def test_remaining_path_counts_the_work_each_task_holds_up() -> None:
    assert remaining_path(diamond()) == {"T1": 10, "T2": 8, "T3": 4, "T4": 3}


def test_merged_tasks_no_longer_count() -> None:
    tasks = merge(diamond(), "T1", "T2")
    assert remaining_path(tasks) == {"T1": 0, "T2": 0, "T3": 4, "T4": 3}
    assert critical_path_length(tasks) == 4


def test_a_cancelled_task_ends_the_chain() -> None:
    tasks = [task("T1"), task("T2", "T1", state=S.CANCELLED), task("T3", "T2")]
    assert remaining_path(tasks, by_size=False) == {"T1": 1, "T2": 0, "T3": 1}


def test_critical_path_is_zero_when_nothing_remains() -> None:
    assert critical_path_length([]) == 0
    assert critical_path_length(merge(chain(2), "T1", "T2")) == 0


def test_remaining_path_refuses_an_invalid_roadmap() -> None:
    with pytest.raises(RoadmapError, match="dependency cycle"):
        remaining_path([task("T1", "T2"), task("T2", "T1")])


# claim_order


def test_claim_order_puts_higher_priority_first() -> None:
    tasks = [task("T1"), task("T2", priority=5), task("T3", priority=1)]
    assert claim_order(tasks) == ["T2", "T3", "T1"]


def test_claim_order_breaks_priority_ties_by_the_longer_remaining_path() -> None:
    tasks = [task("T1", size=Size.XS), task("T2", size=Size.S), task("T3", "T1"), task("T4", "T3")]
    assert claim_order(tasks) == ["T1", "T2"]


def test_claim_order_breaks_remaining_ties_by_natural_id() -> None:
    tasks = [task("T10"), task("T2"), task("T1.10"), task("T1.2")]
    assert claim_order(tasks) == ["T1.2", "T1.10", "T2", "T10"]


def test_claim_order_skips_tasks_whose_dependencies_are_not_merged() -> None:
    tasks = [task("T1", state=S.CLAIMED), task("T2", "T1", priority=9), task("T3")]
    assert claim_order(tasks) == ["T3"]


# topological_order


def test_topological_order_puts_every_task_after_its_dependencies() -> None:
    tasks = [task("T4", "T2", "T3"), task("T3", "T1"), task("T2", "T1"), task("T1"), task("T5")]
    order = topological_order(tasks)
    assert sorted(order) == ["T1", "T2", "T3", "T4", "T5"]
    for t in tasks:
        assert all(order.index(dep) < order.index(t.id) for dep in t.depends_on)


def test_topological_order_takes_the_natural_smallest_available_task_first() -> None:
    tasks = [task("T2"), task("T10"), task("T1"), task("T1.1", "T1"), task("T3", "T10")]
    assert topological_order(tasks) == ["T1", "T1.1", "T2", "T10", "T3"]


def test_topological_order_refuses_a_cycle() -> None:
    with pytest.raises(RoadmapError, match="dependency cycle: T1 → T2 → T1"):
        topological_order([task("T1", "T2"), task("T2", "T1")])


# next_task_id


def test_next_task_id_starts_at_t1() -> None:
    assert next_task_id([]) == "T1"
    assert next_task_id([], parent="T4") == "T4.1"


def test_next_task_id_goes_one_above_the_highest_without_filling_gaps() -> None:
    assert next_task_id(["T1", "T10", "T2"]) == "T11"
    assert next_task_id(["T1", "T1.1", "T1.3", "T2.7"], parent="T1") == "T1.4"


def test_deeper_ids_reserve_their_ancestors() -> None:
    assert next_task_id(["T1", "T3.1"]) == "T4"
    assert next_task_id(["T1.2.5"], parent="T1") == "T1.3"
    assert next_task_id(["T1.2.5"], parent="T1.2") == "T1.2.6"


def test_next_task_id_ignores_ids_of_another_shape() -> None:
    assert next_task_id(["setup", "T2x", "T2"]) == "T3"


def test_next_task_id_refuses_a_parent_that_is_not_a_task_id() -> None:
    with pytest.raises(RoadmapError, match="invalid parent task id 'epic'"):
        next_task_id(["T1"], parent="epic")


# ids and scale


def test_ids_sort_naturally() -> None:
    ids = ["T10", "T1.10", "T2", "T1", "T1.2", "T1.1.1", "T01.3"]
    assert sorted(ids, key=id_sort_key) == ["T1", "T1.1.1", "T1.2", "T01.3", "T1.10", "T2", "T10"]


def test_a_5000_task_chain_works_without_recursion() -> None:
    tasks = chain(5000)
    validate_dag(tasks)
    assert topological_order(tasks) == [f"T{i}" for i in range(1, 5001)]
    assert critical_path_length(tasks, by_size=False) == 5000
    assert claim_order(tasks) == ["T1"]


def test_a_5000_task_cycle_is_found_and_named() -> None:
    tasks = [task("T1", "T5000")] + chain(5000)[1:]
    message = str(roadmap_error(tasks))
    assert message.startswith("dependency cycle: T1 → T5000 → T4999 → ")
    assert message.endswith(" → T2 → T1 (each task depends on the next)")
    assert message.count("→") == 5000
