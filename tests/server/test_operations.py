from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import pytest
from pydantic import BaseModel, Field, model_validator
from toy_registry import EchoInput, EchoResult, PlanInput, PlanResult, build_toy_registry

from podium.server.operations import (
    ArgumentError,
    ArgumentProblem,
    ErrorReport,
    Operation,
    OperationContext,
    OperationInput,
    OperationRegistry,
    OperationResult,
    TextResource,
)
from podium.verification.errors import InputError, PodiumError


async def _echo(ctx: OperationContext, params: EchoInput) -> EchoResult:
    return EchoResult(text=params.text)


def _echo_operation(name: str = "echo") -> Operation[EchoInput, EchoResult]:
    return Operation(name, "Say it back.", EchoInput, EchoResult, _echo)


async def _plan(ctx: OperationContext, params: PlanInput) -> PlanResult:
    return PlanResult(ids=[step.id for step in params.steps], note=params.note)


PLAN = Operation("plan", "Plan.", PlanInput, PlanResult, _plan)


def test_registering_a_second_operation_with_the_same_name_is_refused() -> None:
    registry = OperationRegistry()
    registry.register(_echo_operation())

    with pytest.raises(ValueError, match="'echo' is already registered"):
        registry.register(_echo_operation())


@pytest.mark.parametrize("name", ["Echo", "task-claim", "1st", "", "task.claim", "a" * 65])
def test_operation_names_must_be_snake_case(name: str) -> None:
    with pytest.raises(ValueError, match="snake_case"):
        _echo_operation(name)


def test_an_operation_without_a_description_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a description"):
        Operation("echo", "  ", EchoInput, EchoResult, _echo)


def test_models_that_are_not_pydantic_models_are_refused() -> None:
    with pytest.raises(TypeError, match="input model must subclass pydantic.BaseModel"):
        Operation("echo", "Say it back.", dict, EchoResult, _echo)  # type: ignore[arg-type]


def test_the_decorator_registers_the_handler_with_its_docstring_as_description() -> None:
    registry = OperationRegistry()

    @registry.operation("echo", EchoInput, EchoResult)
    async def echo(ctx: OperationContext, params: EchoInput) -> EchoResult:
        """Say the text back.

        Longer explanation.
        """
        return EchoResult(text=params.text)

    operation = registry["echo"]
    assert operation.handler is echo
    assert operation.description == "Say the text back.\n\nLonger explanation."
    assert (operation.input_model, operation.result_model) == (EchoInput, EchoResult)


def test_the_registry_iterates_in_registration_order_and_looks_up_by_name() -> None:
    registry = build_toy_registry()

    assert [operation.name for operation in registry] == ["echo", "count", "fail", "crash", "plan"]
    assert registry.names == ("echo", "count", "fail", "crash", "plan")
    assert len(registry) == 5
    assert "count" in registry
    assert "missing" not in registry
    assert registry.get("missing") is None
    assert registry.get("plan") is registry["plan"]
    with pytest.raises(KeyError):
        registry["missing"]


async def test_invoke_validates_the_arguments_and_returns_the_handler_result() -> None:
    result = await _echo_operation().invoke(OperationContext.detached("echo"), {"text": "hi"})

    assert result == EchoResult(text="hi")


async def test_invoke_names_every_missing_mistyped_or_unknown_field() -> None:
    with pytest.raises(ArgumentError) as caught:
        await _echo_operation().invoke(OperationContext.detached("echo"), {"times": "often", "colour": "red"})

    error = caught.value
    assert isinstance(error, InputError)
    assert error.code == "input_error"
    assert [problem.field for problem in error.problems] == ["text", "times", "colour"]
    assert error.problems[0].problem == "Field required"
    assert error.message.startswith("invalid arguments for echo: text: Field required; times: ")


def test_nested_field_locations_read_like_paths() -> None:
    with pytest.raises(ArgumentError) as caught:
        PLAN.parse_input({"steps": [{"id": "a", "title": "A"}, {"id": 7}]})

    assert [problem.field for problem in caught.value.problems] == ["steps[1].id", "steps[1].title"]


class Window(OperationInput):
    start: int
    end: int

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end < self.start:
            raise ValueError("end comes before start")
        return self


async def _window(ctx: OperationContext, params: Window) -> Window:
    return params


def test_a_problem_with_the_input_as_a_whole_is_reported_against_the_arguments() -> None:
    operation = Operation("window", "Window.", Window, Window, _window)

    with pytest.raises(ArgumentError) as caught:
        operation.parse_input({"start": 5, "end": 1})

    assert caught.value.problems == (ArgumentProblem("", "Value error, end comes before start"),)
    assert (
        caught.value.message
        == "invalid arguments for window: (arguments): Value error, end comes before start"
    )


def test_a_list_sent_as_a_json_string_is_accepted() -> None:
    params = PLAN.parse_input({"steps": '[{"id": "a", "title": "A"}]'})

    assert [step.id for step in params.steps] == ["a"]


def test_a_string_field_keeps_text_that_looks_like_json() -> None:
    params = PLAN.parse_input({"steps": [{"id": "a", "title": "A"}], "note": "[1, 2]"})

    assert params.note == "[1, 2]"


def test_a_json_string_that_still_does_not_fit_reports_the_original_problem() -> None:
    with pytest.raises(ArgumentError) as caught:
        PLAN.parse_input({"steps": '[{"id": 1}]'})

    assert caught.value.problems[0].field == "steps"


async def test_invoke_refuses_a_handler_that_returns_another_model() -> None:
    async def wrong(ctx: OperationContext, params: EchoInput) -> EchoResult:
        return PlanResult(ids=[])  # type: ignore[return-value]

    operation = Operation("echo", "Say it back.", EchoInput, EchoResult, wrong)

    with pytest.raises(TypeError, match="returned PlanResult, not EchoResult"):
        await operation.invoke(OperationContext.detached("echo"), {"text": "x"})


async def test_progress_reports_reach_the_contexts_reporter() -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def record(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    registry = build_toy_registry()
    ctx = OperationContext("count", OperationContext.detached("count").logger, progress=record)
    await registry["count"].invoke(ctx, {"steps": 2})

    assert seen == [(1, 2, "step 1 of 2"), (2, 2, "step 2 of 2")]


async def test_a_detached_context_accepts_progress_and_names_its_logger() -> None:
    ctx = OperationContext.detached("count")

    await ctx.report(1, None, None)

    assert ctx.logger.name == "podium.operations.count"


class Colour(StrEnum):
    RED = "red"


class Refusal(PodiumError):
    code = "illegal_transition"

    def __init__(self, message: str, *, task_id: str, state: Colour, blockers: tuple[str, ...]) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.state = state
        self.blockers = blockers
        self._private = object()


def test_an_error_report_carries_the_code_the_message_and_the_errors_attributes() -> None:
    error = Refusal("task T1 is red", task_id="T1", state=Colour.RED, blockers=("T2", "T3"))

    report = ErrorReport.from_error(error)

    assert report.to_dict() == {
        "code": "illegal_transition",
        "message": "task T1 is red",
        "details": {"task_id": "T1", "state": "red", "blockers": ["T2", "T3"]},
    }
    assert report.describe() == "illegal_transition: task T1 is red"


def test_an_error_report_of_bad_arguments_lists_each_problem() -> None:
    error = ArgumentError("echo", (ArgumentProblem("text", "Field required"),))

    assert ErrorReport.from_error(error).to_dict()["details"] == {
        "operation": "echo",
        "problems": [{"field": "text", "problem": "Field required"}],
    }


def test_an_error_without_attributes_reports_no_details() -> None:
    assert ErrorReport.from_error(PodiumError("boom")).to_dict() == {
        "code": "podium_error",
        "message": "boom",
    }


def test_an_internal_error_report_names_the_operation_and_nothing_else() -> None:
    report = ErrorReport.internal("task_claim")

    assert report.code == "internal_error"
    assert "task_claim" in report.message
    assert report.details == {}


async def _read(ctx: OperationContext, variables: Mapping[str, str]) -> str:
    return ""


def test_a_text_resource_knows_its_template_variables() -> None:
    resource = TextResource("podium://missions/{id}/tasks/{task}", "task", "A task.", _read)

    assert resource.variables == ("id", "task")


def test_a_template_that_repeats_a_variable_is_refused() -> None:
    with pytest.raises(ValueError, match="repeats a variable"):
        TextResource("podium://{id}/{id}", "x", "X.", _read)


def test_registering_a_resource_template_twice_is_refused() -> None:
    registry = OperationRegistry()
    registry.add_resource(TextResource("podium://missions/{id}/roadmap", "roadmap", "R.", _read))

    with pytest.raises(ValueError, match="already registered"):
        registry.add_resource(TextResource("podium://missions/{id}/roadmap", "other", "O.", _read))
    assert [resource.name for resource in registry.resources] == ["roadmap"]


class Strict(OperationInput):
    n: int = Field(ge=0)


class Frozen(OperationResult):
    n: int


def test_operation_input_refuses_unknown_fields_and_results_are_immutable() -> None:
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        Strict.model_validate({"n": 1, "m": 2})
    result = Frozen(n=1)
    with pytest.raises(ValueError, match="frozen"):
        result.n = 2


def test_plain_base_models_are_accepted_as_operation_models() -> None:
    class Loose(BaseModel):
        n: int

    async def handler(ctx: OperationContext, params: Loose) -> Loose:
        return params

    assert Operation("loose", "Loose.", Loose, Loose, handler).parse_input({"n": 1, "extra": 2}) == Loose(n=1)
