"""The MCP adapter: an `MCPServer` generated from an `OperationRegistry`.

Each operation becomes one tool with the operation's name. Its input schema is the input model's JSON
schema (the arguments are the model's fields, not nested under a key), its output schema the result
model's; a success carries the result as ``structuredContent`` plus the same JSON as text, for clients
that only read text.

Errors are tool results with ``isError: true``, not JSON-RPC errors: that is the channel the model reads,
so an agent can correct a bad argument or react to a refused transition. The text says
``<code>: <message>``; the same report as data sits in the result's ``_meta["podium/error"]``. Error
results carry no ``structuredContent``, because the TypeScript SDK (Claude Code, OpenCode, Inspector)
validates any ``structuredContent`` against the output schema, error or not, and would replace our
message with a schema complaint. Resource reads have no such channel and fail with JSON-RPC errors whose
``data`` is the same report.

The SDK introspects Python signatures to build tools; Podium's schemas come from its models instead, so
tools are `Tool` objects whose ``run`` validates and maps errors itself.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, CallToolResult, TextContent
from mcp_types import Tool as ToolDefinition
from pydantic import BaseModel

from podium.server.operations import (
    ErrorReport,
    Operation,
    OperationContext,
    OperationRegistry,
    ProgressReporter,
    TextResource,
    discard_progress,
    operation_logger,
)
from podium.server.schemas import compact_schema
from podium.verification.errors import InputError, PodiumError

__all__ = [
    "ERROR_META_KEY",
    "build_mcp_server",
    "compact_schema",
    "tool_definitions",
    "tool_list_token_estimate",
]

SERVER_NAME = "podium"
ERROR_META_KEY = "podium/error"
CHARS_PER_TOKEN = 4
"""Rough size of a token in JSON-heavy English for current LLM tokenizers; good enough for a budget."""

ToolRunner = Callable[[Context[Any, Any], dict[str, Any]], Awaitable[CallToolResult]]
_CONTEXT_PARAMETER = "mcp_context"
Lifespan = Callable[[MCPServer[Any]], AbstractAsyncContextManager[object]]


def build_mcp_server(
    registry: OperationRegistry,
    *,
    name: str = SERVER_NAME,
    instructions: str | None = None,
    server_version: str | None = None,
    lifespan: Lifespan | None = None,
) -> MCPServer:
    """An MCP server offering every operation of ``registry`` as a tool and every resource as one too.

    ``lifespan`` is entered once while the server serves (once per connection for in-process clients):
    where background work the operations start, such as mission runs, lives.

    Run it with ``server.run()`` (stdio), `podium.server.http.serve_http` (streamable HTTP), or connect
    in-process with ``mcp.Client(server)``.
    """
    tools: list[Tool] = [_OperationTool.of(operation) for operation in registry]
    server = MCPServer(
        name,
        version=server_version or _package_version(),
        instructions=instructions,
        tools=tools,
        warn_on_duplicate_tools=False,
        lifespan=lifespan,
    )
    for resource in registry.resources:
        _add_resource(server, resource)
    return server


def tool_definitions(registry: OperationRegistry) -> list[ToolDefinition]:
    """The ``tools/list`` entries ``build_mcp_server`` publishes for ``registry``."""
    return [_tool_definition(operation) for operation in registry]


def _tool_definition(operation: Operation[Any, Any]) -> ToolDefinition:
    return ToolDefinition(
        name=operation.name,
        description=operation.description,
        input_schema=compact_schema(operation.input_model, "validation"),
        output_schema=compact_schema(operation.result_model, "serialization"),
    )


def tool_list_token_estimate(registry: OperationRegistry, *, include_output_schemas: bool = True) -> int:
    """Estimated tokens of the tool list: characters of its compact JSON divided by 4.

    The whole ``tools/list`` answer is the default. Clients hand models only name, description and input
    schema (Claude's and OpenAI's tool formats have no output schema), so that part, which agents pay for
    on every turn, is ``include_output_schemas=False``. No tokenizer ships with Podium; chars/4 over JSON
    errs on the high side for schema punctuation, which is the safe side for a budget.
    """
    exclude = None if include_output_schemas else {"output_schema"}
    definitions = tool_definitions(registry)
    tools = [
        tool.model_dump(by_alias=True, exclude_none=True, mode="json", exclude=exclude)
        for tool in definitions
    ]
    text = json.dumps({"tools": tools}, separators=(",", ":"))
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class _OperationTool(Tool):
    """A tool whose arguments are validated by the operation, not by the SDK's signature introspection."""

    @classmethod
    def of(cls, operation: Operation[Any, Any]) -> _OperationTool:
        definition = _tool_definition(operation)
        return cls(
            fn=_tool_runner(operation),
            name=operation.name,
            description=operation.description,
            parameters=definition.input_schema,
            fn_metadata=FuncMetadata(arg_model=ArgModelBase, output_schema=definition.output_schema),
            is_async=True,
            title=None,
            context_kwarg=None,
            annotations=None,
        )

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        runner: ToolRunner = self.fn
        return await runner(context, arguments)


def _tool_runner(operation: Operation[Any, Any]) -> ToolRunner:
    logger = operation_logger(operation.name)

    async def run(context: Context[Any, Any], arguments: dict[str, Any]) -> CallToolResult:
        ctx = OperationContext(operation.name, logger, progress=_progress_reporter(context))
        try:
            result: BaseModel = await operation.invoke(ctx, arguments)
        except PodiumError as error:
            logger.info("%s refused: %s", operation.name, error.message)
            return _error_result(ErrorReport.from_error(error))
        except Exception:
            logger.exception("%s raised an unexpected exception", operation.name)
            return _error_result(ErrorReport.internal(operation.name))
        return CallToolResult(
            content=[TextContent(type="text", text=result.model_dump_json(by_alias=True))],
            structured_content=result.model_dump(mode="json", by_alias=True),
        )

    return run


def _error_result(report: ErrorReport) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=report.describe())],
        is_error=True,
        _meta={ERROR_META_KEY: report.to_dict()},
    )


def _progress_reporter(context: Context[Any, Any] | None) -> ProgressReporter:
    try:
        session = context.request_context.session if context is not None else None
    except ValueError:
        session = None  # MCPServer.call_tool from Python, outside any request
    if session is None:
        return discard_progress
    active = session

    async def report(progress: float, total: float | None, message: str | None) -> None:
        # The SDK drops it when the client sent no progress token.
        await active.report_progress(progress, total, message)

    return report


def _add_resource(server: MCPServer, resource: TextResource) -> None:
    logger = operation_logger(resource.name)

    async def read(context: Context[Any, Any] | None, variables: dict[str, str]) -> str:
        ctx = OperationContext(resource.name, logger, _progress_reporter(context))
        try:
            return await resource.read(ctx, variables)
        except PodiumError as error:
            report = ErrorReport.from_error(error)
            client_fault = isinstance(error, InputError) or error.code == "not_found"
            code = INVALID_PARAMS if client_fault else INTERNAL_ERROR
            raise MCPError(code=code, message=report.describe(), data=report.to_dict()) from None
        except Exception:
            logger.exception("reading %s raised an unexpected exception", resource.uri_template)
            report = ErrorReport.internal(f"reading {resource.name}")
            raise MCPError(code=INTERNAL_ERROR, message=report.describe(), data=report.to_dict()) from None

    register = server.resource(
        resource.uri_template,
        name=resource.name,
        description=resource.description,
        mime_type=resource.mime_type,
    )
    register(_resource_function(resource, read))


def _resource_function(
    resource: TextResource, read: Callable[[Context[Any, Any] | None, dict[str, str]], Awaitable[str]]
) -> Callable[..., Awaitable[str]]:
    # The SDK matches template variables to the function's parameters by name, and the names come from
    # the registry at run time, so the signature is built rather than written.
    if not resource.variables:

        async def read_static() -> str:
            return await read(None, {})

        return read_static

    if _CONTEXT_PARAMETER in resource.variables:
        raise ValueError(f"resource {resource.uri_template!r}: {{{_CONTEXT_PARAMETER}}} is a reserved name")

    async def read_template(**arguments: Any) -> str:
        context: Context[Any, Any] = arguments.pop(_CONTEXT_PARAMETER)
        return await read(context, arguments)

    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [inspect.Parameter(_CONTEXT_PARAMETER, keyword, annotation=Context)]
    parameters += [inspect.Parameter(name, keyword, annotation=str) for name in resource.variables]
    read_template.__signature__ = inspect.Signature(parameters, return_annotation=str)  # pyright: ignore
    read_template.__annotations__ = {
        _CONTEXT_PARAMETER: Context,
        **dict.fromkeys(resource.variables, str),
        "return": str,
    }
    return read_template


def _package_version() -> str:
    try:
        return version("podium")
    except PackageNotFoundError:
        return "0"
