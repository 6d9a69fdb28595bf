"""Operations: every action Podium offers to agents, declared once for all adapters.

An `Operation` names an action, its pydantic input and result models, a one-paragraph description and an
async handler. The MCP adapter turns each into a tool and the LSP adapter into a `workspace/executeCommand`
command, both from the same `OperationRegistry`, so an action cannot exist on one surface and be missing on
the other. Adapters differ only in how they carry arguments, progress and errors; the handler sees the
same `OperationContext` from either.

Input arrives as untrusted JSON. `Operation.invoke` validates it and raises `ArgumentError` (an
`InputError`) that names every bad field; `ErrorReport` turns any `PodiumError` into the plain data both
adapters put on the wire.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from podium.verification.errors import InputError, PodiumError

__all__ = [
    "ArgumentError",
    "ArgumentProblem",
    "ErrorReport",
    "Operation",
    "OperationContext",
    "OperationInput",
    "OperationRegistry",
    "OperationResult",
    "ProgressReporter",
    "TextResource",
    "discard_progress",
    "operation_logger",
]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
"""Operation names: snake_case, valid as an MCP tool name and as the tail of an LSP command id."""

_TEMPLATE_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

InputT = TypeVar("InputT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)


class OperationInput(BaseModel):
    """Base for input models: unknown arguments are refused, so a misspelt optional field is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OperationResult(BaseModel):
    """Base for result models: immutable values."""

    model_config = ConfigDict(frozen=True)


class ProgressReporter(Protocol):
    """Where a handler's progress goes; the adapter decides (MCP progress, LSP `$/progress`, nowhere)."""

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None: ...


async def discard_progress(progress: float, total: float | None, message: str | None) -> None:
    """The reporter for callers that asked for no progress."""
    return None


@dataclass(frozen=True, slots=True)
class OperationContext:
    """What a handler may use besides its input; each adapter builds one per call.

    Attributes:
        operation: name of the running operation.
        logger: logger for this operation (stderr or a file, never the protocol channel).
        progress: receives progress reports; discards them when the caller asked for none.
    """

    operation: str
    logger: logging.Logger
    progress: ProgressReporter = discard_progress

    async def report(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Report progress, e.g. ``await ctx.report(2, 5, "checking syntax")``; free when nobody listens."""
        await self.progress(progress, total, message)

    @classmethod
    def detached(cls, operation: str) -> OperationContext:
        """A context with no progress listener, for the CLI and tests."""
        return cls(operation=operation, logger=operation_logger(operation))


def operation_logger(operation: str) -> logging.Logger:
    """The logger every adapter gives to handlers of ``operation``."""
    return logging.getLogger(f"podium.operations.{operation}")


@dataclass(frozen=True, slots=True)
class ArgumentProblem:
    """One invalid argument: where (``tasks[0].id``, empty for the whole input) and what is wrong."""

    field: str
    problem: str

    def describe(self) -> str:
        return f"{self.field or '(arguments)'}: {self.problem}"


class ArgumentError(InputError):
    """Arguments that do not fit an operation's input model; ``problems`` names each bad field."""

    def __init__(self, operation: str, problems: tuple[ArgumentProblem, ...]) -> None:
        listing = "; ".join(problem.describe() for problem in problems)
        super().__init__(f"invalid arguments for {operation}: {listing}")
        self.operation = operation
        self.problems = problems

    @classmethod
    def from_validation(cls, operation: str, error: ValidationError) -> ArgumentError:
        problems = tuple(
            ArgumentProblem(field=_location(detail["loc"]), problem=detail["msg"])
            for detail in error.errors()
        )
        return cls(operation, problems)


def _is_model_class(candidate: object) -> bool:
    return inspect.isclass(candidate) and issubclass(candidate, BaseModel)


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True, slots=True)
class Operation(Generic[InputT, ResultT]):
    """One action, described once.

    Attributes:
        name: snake_case name; the MCP tool name and the LSP command's suffix.
        description: what it does and when to call it, shown to agents; keep it short.
        input_model: validates the arguments; its JSON schema is the tool's input schema.
        result_model: what the handler returns; its JSON schema is the tool's output schema.
        handler: ``async (ctx, params) -> result``.
    """

    name: str
    description: str
    input_model: type[InputT]
    result_model: type[ResultT]
    handler: Callable[[OperationContext, InputT], Awaitable[ResultT]]

    def __post_init__(self) -> None:
        if not NAME_PATTERN.fullmatch(self.name):
            raise ValueError(f"operation name {self.name!r} must be snake_case ({NAME_PATTERN.pattern})")
        if not self.description.strip():
            raise ValueError(f"operation {self.name!r} needs a description: agents choose tools by it")
        for role, model in (("input", self.input_model), ("result", self.result_model)):
            if not _is_model_class(model):
                raise TypeError(f"operation {self.name!r}: {role} model must subclass pydantic.BaseModel")

    def parse_input(self, arguments: Mapping[str, Any] | None) -> InputT:
        """Validate raw arguments into the input model.

        Raises:
            ArgumentError: naming every missing, mistyped or unknown field.
        """
        raw = dict(arguments or {})
        try:
            return self.input_model.model_validate(raw)
        except ValidationError as error:
            # Some clients send a list or object argument as a JSON string; accept that on a second try
            # rather than making the agent guess why "[...]" is not a list.
            unwrapped = _unwrap_json_strings(raw)
            if unwrapped != raw:
                try:
                    return self.input_model.model_validate(unwrapped)
                except ValidationError:
                    pass
            raise ArgumentError.from_validation(self.name, error) from None

    async def invoke(self, ctx: OperationContext, arguments: Mapping[str, Any] | None) -> ResultT:
        """Validate ``arguments``, run the handler and check that it returned the declared result model.

        Raises:
            ArgumentError: the arguments do not fit the input model.
            PodiumError: whatever the handler refuses.
            TypeError: the handler returned something other than its result model (a bug).
        """
        params = self.parse_input(arguments)
        result = await self.handler(ctx, params)
        if not isinstance(result, self.result_model):
            raise TypeError(
                f"operation {self.name!r} returned {type(result).__name__}, not {self.result_model.__name__}"
            )
        return result


def _unwrap_json_strings(arguments: dict[str, Any]) -> dict[str, Any]:
    unwrapped = dict(arguments)
    for key, value in arguments.items():
        if isinstance(value, str) and value.lstrip().startswith(("[", "{")):
            try:
                decoded = json.loads(value)
            except (ValueError, RecursionError):
                continue
            if isinstance(decoded, list | dict):
                unwrapped[key] = decoded
    return unwrapped


ResourceReader = Callable[[OperationContext, Mapping[str, str]], Awaitable[str]]
"""Reads a resource: receives the URI template's variables by name, returns the text."""


@dataclass(frozen=True, slots=True)
class TextResource:
    """A read-only text view addressed by a URI template such as ``podium://missions/{id}/roadmap``.

    Attributes:
        uri_template: RFC 6570 level-1 template; each ``{name}`` is passed to ``read`` by name.
        name: short identifier shown in resource lists.
        description: what the text shows.
        read: ``async (ctx, variables) -> str``.
        mime_type: of the text.
    """

    uri_template: str
    name: str
    description: str
    read: ResourceReader
    mime_type: str = "text/plain"
    variables: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        variables = tuple(_TEMPLATE_VARIABLE.findall(self.uri_template))
        if len(set(variables)) != len(variables):
            raise ValueError(f"resource {self.uri_template!r} repeats a variable")
        object.__setattr__(self, "variables", variables)


class OperationRegistry:
    """The operations and resources one server offers, in registration order."""

    def __init__(self) -> None:
        self._operations: dict[str, Operation[Any, Any]] = {}
        self._resources: dict[str, TextResource] = {}

    def register(self, operation: Operation[InputT, ResultT]) -> Operation[InputT, ResultT]:
        """Add ``operation``; a second operation with the same name is a programming error."""
        if operation.name in self._operations:
            raise ValueError(f"operation {operation.name!r} is already registered")
        self._operations[operation.name] = operation
        return operation

    def operation(
        self,
        name: str,
        input_model: type[InputT],
        result_model: type[ResultT],
        *,
        description: str | None = None,
    ) -> Callable[
        [Callable[[OperationContext, InputT], Awaitable[ResultT]]],
        Callable[[OperationContext, InputT], Awaitable[ResultT]],
    ]:
        """Decorator form of `register`; the description defaults to the handler's docstring."""

        def decorate(
            handler: Callable[[OperationContext, InputT], Awaitable[ResultT]],
        ) -> Callable[[OperationContext, InputT], Awaitable[ResultT]]:
            text = description if description is not None else inspect.getdoc(handler) or ""
            self.register(Operation(name, text, input_model, result_model, handler))
            return handler

        return decorate

    def add_resource(self, resource: TextResource) -> TextResource:
        """Add ``resource``; a second resource with the same template is a programming error."""
        if resource.uri_template in self._resources:
            raise ValueError(f"resource {resource.uri_template!r} is already registered")
        self._resources[resource.uri_template] = resource
        return resource

    def get(self, name: str) -> Operation[Any, Any] | None:
        """The operation called ``name``, or None."""
        return self._operations.get(name)

    def __getitem__(self, name: str) -> Operation[Any, Any]:
        return self._operations[name]

    def __contains__(self, name: object) -> bool:
        return name in self._operations

    def __iter__(self) -> Iterator[Operation[Any, Any]]:
        return iter(tuple(self._operations.values()))

    def __len__(self) -> int:
        return len(self._operations)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._operations)

    @property
    def resources(self) -> tuple[TextResource, ...]:
        return tuple(self._resources.values())


INTERNAL_ERROR_CODE = "internal_error"


@dataclass(frozen=True, slots=True)
class ErrorReport:
    """An error as plain data for the wire: the stable ``code``, a message a person can act on, and the
    error's own attributes (bad fields, task id, states, path …) as JSON-safe ``details``."""

    code: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict[str, Any])

    @classmethod
    def from_error(cls, error: PodiumError) -> ErrorReport:
        if isinstance(error, ArgumentError):
            details: dict[str, Any] = {
                "operation": error.operation,
                "problems": [{"field": p.field, "problem": p.problem} for p in error.problems],
            }
        else:
            details = {
                key: _json_safe(value)
                for key, value in vars(error).items()
                if not key.startswith("_") and key != "message" and value is not None
            }
        return cls(code=error.code, message=error.message, details=details)

    @classmethod
    def internal(cls, operation: str) -> ErrorReport:
        """For a fault that is not a `PodiumError`: no internals leak, the log has the traceback."""
        message = f"{operation} failed inside the server; the server log has the details"
        return cls(code=INTERNAL_ERROR_CODE, message=message)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            data["details"] = dict(self.details)
        return data

    def describe(self) -> str:
        """One line per fact, e.g. ``input_error: invalid arguments for x: id: Field required``."""
        return f"{self.code}: {self.message}"


def _json_safe(value: object) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return _json_safe(value.value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in cast(Mapping[object, object], value).items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(item) for item in cast(Iterable[object], value)]
    return str(value)
