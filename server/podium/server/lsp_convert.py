"""The LSP adapter's conversions: command arguments in, results and errors out, feedback as LSP messages.

This is the only module that sees both sides of the LSP boundary: the operations' models and the feedback
values of `lsp_feedback` on one side, `lsprotocol` types on the other. `lsp_server` wires the results
to pygls; nothing here sends anything.

Error codes: each Podium error code gets one stable JSON-RPC error code (`RPC_ERROR_CODES`, documented in
docs/lsp.md). Refused input is JSON-RPC's own "invalid params" and a fault inside the server its
"internal error"; every other Podium code has a number of its own from 1001 up, outside the ranges
JSON-RPC and LSP reserve, and a Podium code this table does not know (a newer error) falls back to 1000.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from lsprotocol import types
from pydantic import BaseModel
from pygls.workspace.position_codec import PositionCodec

from podium.server.lsp_feedback import Level, ProgressUpdate, TaskFinding
from podium.server.operations import INTERNAL_ERROR_CODE, ArgumentError, ArgumentProblem

__all__ = [
    "COMMAND_PREFIX",
    "DIAGNOSTIC_SOURCE",
    "PODIUM_ERROR_RPC_CODE",
    "RPC_ERROR_CODES",
    "command_arguments",
    "command_id",
    "diagnostic",
    "log_message",
    "progress_value",
    "publish_diagnostics",
    "result_json",
    "rpc_error_code",
    "show_message",
    "workspace_path",
    "workspace_uri",
]

COMMAND_PREFIX = "podium."
DIAGNOSTIC_SOURCE = "podium"

PODIUM_ERROR_RPC_CODE = 1000
"""For a Podium error code missing from `RPC_ERROR_CODES`."""

RPC_ERROR_CODES: Mapping[str, int] = MappingProxyType(
    {
        "input_error": -32602,
        INTERNAL_ERROR_CODE: -32603,
        "config_error": 1001,
        "verification_error": 1002,
        "store_error": 1003,
        "conflict": 1004,
        "not_found": 1005,
        "illegal_transition": 1006,
        "invalid_roadmap": 1007,
        "workspace_error": 1008,
        "lease_error": 1009,
        "backend_error": 1010,
        "rate_limited": 1011,
        "circuit_open": 1012,
    }
)
"""The JSON-RPC error code of each Podium error code (``ErrorReport.code``)."""

_MESSAGE_TYPES: Mapping[Level, types.MessageType] = MappingProxyType(
    {
        "error": types.MessageType.Error,
        "warning": types.MessageType.Warning,
        "info": types.MessageType.Info,
        "log": types.MessageType.Log,
    }
)

_SEVERITIES: Mapping[str, types.DiagnosticSeverity] = MappingProxyType(
    {
        "error": types.DiagnosticSeverity.Error,
        "warning": types.DiagnosticSeverity.Warning,
        "info": types.DiagnosticSeverity.Information,
        "hint": types.DiagnosticSeverity.Hint,
    }
)


def command_id(operation: str) -> str:
    """The ``workspace/executeCommand`` id of an operation: ``podium.task_claim`` for ``task_claim``."""
    return f"{COMMAND_PREFIX}{operation}"


def rpc_error_code(podium_code: str) -> int:
    """The JSON-RPC error code for a Podium error code (see `RPC_ERROR_CODES`)."""
    return RPC_ERROR_CODES.get(podium_code, PODIUM_ERROR_RPC_CODE)


def command_arguments(operation: str, arguments: Sequence[object]) -> Mapping[str, Any]:
    """The operation's arguments from a command's argument list: one JSON object, or nothing.

    An empty list, a missing argument, ``null`` and an empty array (Neovim sends an empty Lua table
    as ``[]``) all mean "no fields".

    Raises:
        ArgumentError: more than one argument, or one that is not a JSON object.
    """
    if len(arguments) > 1:
        problem = f"expected one JSON object with the operation's fields, got {len(arguments)} arguments"
        raise ArgumentError(operation, (ArgumentProblem("", problem),))
    value: object = arguments[0] if arguments else None
    if value is None or value == []:
        return {}
    if not isinstance(value, dict):
        problem = f"expected one JSON object with the operation's fields, got {_json_kind(value)}"
        raise ArgumentError(operation, (ArgumentProblem("", problem),))
    return cast(dict[str, Any], value)


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else type(value).__name__


def result_json(result: BaseModel) -> dict[str, Any]:
    """An operation's result as the command's JSON answer: the same object MCP sends as structured content."""
    return result.model_dump(mode="json", by_alias=True)


def show_message(level: Level, text: str) -> types.ShowMessageParams:
    return types.ShowMessageParams(type=_MESSAGE_TYPES[level], message=text)


def log_message(level: Level, text: str) -> types.LogMessageParams:
    return types.LogMessageParams(type=_MESSAGE_TYPES[level], message=text)


def progress_value(
    update: ProgressUpdate,
) -> types.WorkDoneProgressBegin | types.WorkDoneProgressReport | types.WorkDoneProgressEnd:
    """The ``$/progress`` value of one step of a mission's (or a command's) progress."""
    if update.kind == "begin":
        return types.WorkDoneProgressBegin(
            title=update.title, message=update.message, percentage=update.percentage, cancellable=False
        )
    if update.kind == "report":
        return types.WorkDoneProgressReport(message=update.message, percentage=update.percentage)
    return types.WorkDoneProgressEnd(message=update.message)


def workspace_uri(root: Path, path: str) -> str:
    """The URI of ``path`` (relative to the repository root, POSIX style) in the user's checkout."""
    return root.joinpath(*path.split("/")).as_uri()


def workspace_path(root: Path, uri: str) -> str | None:
    """The root-relative POSIX path of a ``file:`` URI inside ``root``; ``None`` for anything else."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme != "file":
        return None
    local = Path(urllib.request.url2pathname(parsed.path))
    for base in dict.fromkeys((root, root.resolve())):
        try:
            return local.relative_to(base).as_posix()
        except ValueError:
            continue
    return None


def publish_diagnostics(
    root: Path, path: str, findings: Sequence[TaskFinding], codec: PositionCodec
) -> types.PublishDiagnosticsParams:
    """Every finding on ``path`` as its diagnostics; no findings clears the file."""
    return types.PublishDiagnosticsParams(
        uri=workspace_uri(root, path), diagnostics=[diagnostic(finding, codec) for finding in findings]
    )


def diagnostic(finding: TaskFinding, codec: PositionCodec) -> types.Diagnostic:
    """A finding of a rejected task as an editor diagnostic (source ``podium``).

    Findings count 1-based lines and code points; the editor wants 0-based lines and the code units of
    the negotiated position encoding, which the finding's own line texts allow to count exactly.
    """
    start = types.Position(
        line=max(finding.line - 1, 0), character=_units(codec, finding.line_text, finding.column - 1)
    )
    end = types.Position(
        line=max(finding.end_line - 1, 0),
        character=_units(codec, finding.end_line_text, finding.end_column - 1),
    )
    if (end.line, end.character) < (start.line, start.character):
        end = start
    return types.Diagnostic(
        range=types.Range(start=start, end=end),
        severity=_SEVERITIES.get(finding.severity, types.DiagnosticSeverity.Error),
        code=finding.code or None,
        source=DIAGNOSTIC_SOURCE,
        message=f"{finding.message} ({finding.source}, {finding.task_id} of {finding.mission_id})",
        data={"mission_id": finding.mission_id, "task_id": finding.task_id, "finding_source": finding.source},
    )


def _units(codec: PositionCodec, line_text: str, code_points: int) -> int:
    """Code units of the first ``code_points`` characters of a line; past its end, one per character."""
    code_points = max(code_points, 0)
    prefix = line_text[:code_points]
    return codec.client_num_units(prefix) + (code_points - len(prefix))
