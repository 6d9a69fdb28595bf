"""A toy operation registry for the adapter tests, also runnable as a real MCP server.

    python tests/server/toy_registry.py stdio
    python tests/server/toy_registry.py http --host 127.0.0.1 --port 0

Its operations cover what the adapters must carry: a plain call (``echo``), progress (``count``),
refusals (``fail`` raises the `PodiumError` whose code it is given), a crash (``crash``), nested input
(``plan``) and a resource template (``podium://missions/{id}/roadmap``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from podium.server.mcp_adapter import build_mcp_server
from podium.server.operations import (
    OperationContext,
    OperationInput,
    OperationRegistry,
    OperationResult,
    TextResource,
)
from podium.verification.errors import InputError, PodiumError

ROADMAPS = {"m1": "# Mission m1\n\n- T1 ready: write the parser\n- T2 pending: test it (after T1)\n"}

FailureCode = Literal["not_found", "illegal_transition", "conflict", "lease_error", "input_error"]


class State(StrEnum):
    READY = "ready"
    MERGED = "merged"


class NotFound(PodiumError):
    code = "not_found"


class IllegalTransition(PodiumError):
    code = "illegal_transition"

    def __init__(self, message: str, *, task_id: str, state: State, target: State) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.state = state
        self.target = target


class Conflict(PodiumError):
    code = "conflict"


class LeaseLost(PodiumError):
    code = "lease_error"


class EchoInput(OperationInput):
    text: str = Field(description="What to say back.")
    times: int = Field(default=1, ge=1, le=5, description="How many times.")


class EchoResult(OperationResult):
    text: str


class CountInput(OperationInput):
    steps: int = Field(ge=1, le=20)


class CountResult(OperationResult):
    counted: int


class FailInput(OperationInput):
    code: FailureCode
    task_id: str = "T1"


class Nothing(OperationResult):
    pass


class NoInput(OperationInput):
    pass


class Step(BaseModel):
    id: str
    title: str
    depends_on: list[str] = Field(default_factory=list)


class PlanInput(OperationInput):
    steps: list[Step] = Field(min_length=1)
    note: str | None = None


class PlanResult(OperationResult):
    ids: list[str]
    note: str | None = None


def build_toy_registry() -> OperationRegistry:
    registry = OperationRegistry()

    @registry.operation("echo", EchoInput, EchoResult)
    async def echo(ctx: OperationContext, params: EchoInput) -> EchoResult:
        """Say the text back, joined by spaces."""
        return EchoResult(text=" ".join([params.text] * params.times))

    @registry.operation("count", CountInput, CountResult)
    async def count(ctx: OperationContext, params: CountInput) -> CountResult:
        """Count to steps, reporting progress at each step."""
        for step in range(1, params.steps + 1):
            await ctx.report(step, params.steps, f"step {step} of {params.steps}")
        return CountResult(counted=params.steps)

    @registry.operation("fail", FailInput, Nothing)
    async def fail(ctx: OperationContext, params: FailInput) -> Nothing:
        """Refuse with the error whose code is given."""
        raise _failure(params.code, params.task_id)

    @registry.operation("crash", NoInput, Nothing)
    async def crash(ctx: OperationContext, params: NoInput) -> Nothing:
        """Fail with a bug."""
        raise RuntimeError("secret internal detail")

    @registry.operation("plan", PlanInput, PlanResult)
    async def plan(ctx: OperationContext, params: PlanInput) -> PlanResult:
        """Accept a list of steps and return their ids."""
        return PlanResult(ids=[step.id for step in params.steps], note=params.note)

    async def read_roadmap(ctx: OperationContext, variables: Mapping[str, str]) -> str:
        mission = variables["id"]
        if mission not in ROADMAPS:
            raise NotFound(f"mission {mission!r} does not exist")
        return ROADMAPS[mission]

    registry.add_resource(
        TextResource(
            uri_template="podium://missions/{id}/roadmap",
            name="roadmap",
            description="A mission's roadmap as Markdown.",
            read=read_roadmap,
            mime_type="text/markdown",
        )
    )
    return registry


def _failure(code: FailureCode, task_id: str) -> PodiumError:
    match code:
        case "not_found":
            return NotFound(f"task {task_id} does not exist")
        case "illegal_transition":
            return IllegalTransition(
                f"task {task_id} is merged; it cannot become ready",
                task_id=task_id,
                state=State.MERGED,
                target=State.READY,
            )
        case "conflict":
            return Conflict(f"task {task_id} changed since it was read; read it again and retry")
        case "lease_error":
            return LeaseLost(f"the lease on task {task_id} expired; claim a task again")
        case "input_error":
            return InputError(f"path {task_id} is outside the project", path=task_id)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("transport", choices=("stdio", "http"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = build_mcp_server(build_toy_registry(), name="podium-toy")
    if args.transport == "stdio":
        server.run()
    else:
        from podium.server.http import HttpSettings, run_http

        run_http(server, HttpSettings(host=args.host, port=args.port))


if __name__ == "__main__":
    main(sys.argv[1:])
