from __future__ import annotations

import itertools

import pytest

from podium.orchestration.errors import TransitionError
from podium.orchestration.lifecycle import (
    ACTIVE_STATES,
    HALTED_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    WAITING_STATES,
    allowed_targets,
    can_transition,
    require_transition,
)
from podium.orchestration.model import Task, TaskState
from podium.verification.errors import PodiumError

S = TaskState

# Written out independently of the module so that a change to the table has to be made twice, on purpose.
EXPECTED: set[tuple[TaskState, TaskState]] = {
    (S.PENDING, S.READY),
    (S.PENDING, S.CANCELLED),
    (S.READY, S.CLAIMED),
    (S.READY, S.PENDING),
    (S.READY, S.CANCELLED),
    (S.CLAIMED, S.SUBMITTED),
    (S.CLAIMED, S.READY),
    (S.CLAIMED, S.BLOCKED),
    (S.CLAIMED, S.FAILED),
    (S.CLAIMED, S.CANCELLED),
    (S.SUBMITTED, S.REVIEW),
    (S.SUBMITTED, S.MERGED),
    (S.SUBMITTED, S.REJECTED),
    (S.SUBMITTED, S.CANCELLED),
    (S.REVIEW, S.MERGED),
    (S.REVIEW, S.REJECTED),
    (S.REVIEW, S.CANCELLED),
    (S.REJECTED, S.CLAIMED),
    (S.REJECTED, S.READY),
    (S.REJECTED, S.BLOCKED),
    (S.REJECTED, S.FAILED),
    (S.REJECTED, S.CANCELLED),
    (S.BLOCKED, S.READY),
    (S.BLOCKED, S.CANCELLED),
    (S.FAILED, S.READY),
    (S.FAILED, S.CANCELLED),
}

ALL_PAIRS = list(itertools.product(TaskState, repeat=2))


def _task(state: TaskState, task_id: str = "T1.2") -> Task:
    return Task(id=task_id, mission_id="m1", title="a task", state=state)


@pytest.mark.parametrize(("state", "target"), ALL_PAIRS)
def test_can_transition_matches_the_table_for_every_pair_of_states(
    state: TaskState, target: TaskState
) -> None:
    assert can_transition(state, target) is ((state, target) in EXPECTED)


@pytest.mark.parametrize(("state", "target"), ALL_PAIRS)
def test_require_transition_refuses_exactly_the_moves_missing_from_the_table(
    state: TaskState, target: TaskState
) -> None:
    task = _task(state)
    if (state, target) in EXPECTED:
        require_transition(task, target)
        return
    with pytest.raises(TransitionError) as caught:
        require_transition(task, target)
    assert (caught.value.task_id, caught.value.state, caught.value.target) == ("T1.2", state, target)


def test_the_table_has_an_entry_for_every_state() -> None:
    assert set(TRANSITIONS) == set(TaskState)


def test_refusal_from_a_terminal_state_names_the_task_the_state_and_the_move() -> None:
    with pytest.raises(TransitionError) as caught:
        require_transition(_task(S.MERGED), S.CLAIMED)
    assert str(caught.value) == "task T1.2 is merged; cannot move it to claimed (allowed from merged: none)"
    assert caught.value.code == "illegal_transition"
    assert isinstance(caught.value, PodiumError)


def test_refusal_lists_the_moves_allowed_from_the_current_state() -> None:
    with pytest.raises(TransitionError) as caught:
        require_transition(_task(S.PENDING, "T7"), S.MERGED)
    assert caught.value.message == (
        "task T7 is pending; cannot move it to merged (allowed from pending: ready, cancelled)"
    )


def test_no_state_moves_to_itself() -> None:
    assert not any(can_transition(state, state) for state in TaskState)


def test_terminal_states_have_no_way_out_and_every_other_state_can_be_cancelled() -> None:
    assert {S.MERGED, S.CANCELLED} == TERMINAL_STATES
    for state in TaskState:
        if state in TERMINAL_STATES:
            assert allowed_targets(state) == frozenset()
        else:
            assert can_transition(state, S.CANCELLED)


def test_a_rejected_task_goes_back_to_claimed_for_rework() -> None:
    require_transition(_task(S.SUBMITTED), S.REJECTED)
    require_transition(_task(S.REVIEW), S.REJECTED)
    require_transition(_task(S.REJECTED), S.CLAIMED)


def test_a_failed_task_can_be_retried_by_a_person() -> None:
    assert S.FAILED not in TERMINAL_STATES
    require_transition(_task(S.FAILED), S.READY)


def test_every_state_is_in_exactly_one_group() -> None:
    groups = [WAITING_STATES, ACTIVE_STATES, HALTED_STATES, TERMINAL_STATES]
    for state in TaskState:
        assert sum(state in group for group in groups) == 1, state


def test_every_unfinished_state_can_still_reach_merged() -> None:
    for start in TaskState:
        if start in TERMINAL_STATES:
            continue
        seen = {start}
        frontier = [start]
        while frontier:
            for target in allowed_targets(frontier.pop()):
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
        assert S.MERGED in seen, start


def test_every_state_is_reachable_from_pending() -> None:
    seen = {S.PENDING}
    frontier = [S.PENDING]
    while frontier:
        for target in allowed_targets(frontier.pop()):
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(TaskState)
