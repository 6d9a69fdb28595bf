"""One prompt in a fresh OpenCode session, from the event subscription to a settled reply.

1. Subscribe to the events of the session's directory first (`server.connected` confirms it), so nothing
   the session does is published before Podium listens.
2. Create the session (title, permission rules) and send the prompt (`prompt_async`).
3. Wait until the session is *settled*: not busy, and its last assistant message completed (or failed)
   with no tool still pending or running. Events (`session.idle`, `session.status`, `session.error`) only
   wake the waiter; the decision is always taken on the server's state (the status and the message list),
   which is also read every `RECONCILE_S`, so a dropped stream or a missed event can neither hang the
   wait nor end it early. A stream that ends is re-opened.
4. Permission requests are answered per policy (`reject`, `allow`; `fail` ends the attempt), questions
   are rejected: nobody is there to answer them, and an unanswered request would hold the session forever.
5. On cancel, timeout or failure the session is aborted (shielded, bounded by `ABORT_TIMEOUT_S`).
6. The session is deleted only once it is idle and settled (never while it may still be writing), unless
   it is kept for inspection.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

import anyio

from podium.orchestration.agents.base import BackendError
from podium.orchestration.agents.opencode_http import OpenCodeClient, OpenCodeEvent, text_field
from podium.orchestration.agents.opencode_http import field as json_field

__all__ = ["PermissionPolicy", "SessionFault", "SessionOutcome", "SessionSpec", "run_session"]

logger = logging.getLogger(__name__)

PermissionPolicy = Literal["reject", "allow", "fail"]

RECONCILE_S = 5.0
"""Seconds between reads of the session's state when no event wakes the waiter."""
RECONNECT_S = 1.0
"""Seconds before a dropped event stream is re-opened."""
ABORT_TIMEOUT_S = 15.0
"""How long an abort may take to bring the session to idle."""
ABORT_POLL_S = 0.2
"""Seconds between status reads while an aborted session winds down."""
DEFAULT_SETTLE_TIMEOUT_S = 10.0
"""How long an idle session may keep an unfinished reply before it counts as failed."""

_ALWAYS_DENIED = ("question",)
_READ_ONLY_DENIED = ("edit", "bash", "task")
REJECTION = (
    "Podium runs this session unattended and does not grant this permission. Stay inside the task's "
    "directory and use the tools you are allowed."
)


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """What to ask and how: ``model`` is `(providerID, modelID)`, None for the server's default."""

    directory: Path
    title: str
    prompt: str
    agent: str
    model: tuple[str, str] | None
    timeout_s: float
    read_only: bool = False
    on_permission: PermissionPolicy = "reject"
    keep: bool = False
    settle_timeout_s: float = DEFAULT_SETTLE_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class SessionFault:
    """Why a session's reply failed: OpenCode's error name, message and the model's HTTP status."""

    name: str
    message: str
    status_code: int | None = None


@dataclass(frozen=True, slots=True)
class SessionOutcome:
    """A settled session: its last reply's text, its fault if any, and a line per step for the log."""

    session_id: str
    text: str
    fault: SessionFault | None
    transcript: tuple[str, ...]


@dataclass(slots=True)
class _State:
    status: str
    messages: Sequence[Mapping[str, object]] = ()
    settled: bool = False
    fault: SessionFault | None = None


@dataclass(slots=True)
class _Run:
    client: OpenCodeClient
    spec: SessionSpec
    name: str
    session_id: str = ""
    started: bool = False
    fault: SessionFault | None = None
    failure: str = ""
    notes: list[str] = field(default_factory=list[str])
    wake: anyio.Event = field(default_factory=anyio.Event)


async def run_session(client: OpenCodeClient, spec: SessionSpec, *, name: str) -> SessionOutcome:
    """Run ``spec`` to a settled reply (see the module docstring).

    Raises:
        BackendError: the server failed, the session timed out, or a permission request ended it.
    """
    run = _Run(client, spec, name)
    result: SessionOutcome | BackendError = BackendError(f"backend {name}: the session never ran")
    async with client.events(spec.directory) as stream, anyio.create_task_group() as group:
        group.start_soon(_watch, run, stream)
        try:
            result = await _drive(run)
        except BackendError as exc:
            result = exc
        group.cancel_scope.cancel()
    if isinstance(result, BackendError):
        raise result
    return result


async def _drive(run: _Run) -> SessionOutcome:
    spec, client = run.spec, run.client
    denied = _ALWAYS_DENIED + (_READ_ONLY_DENIED if spec.read_only else ())
    rules = [{"permission": p, "pattern": "*", "action": "deny"} for p in denied]
    run.session_id = await client.create_session(spec.directory, spec.title, rules)
    logger.debug("%s: session %s in %s", run.name, run.session_id, spec.directory)
    body: dict[str, object] = {"parts": [{"type": "text", "text": spec.prompt}], "agent": spec.agent}
    if spec.model is not None:
        body["model"] = {"providerID": spec.model[0], "modelID": spec.model[1]}
    settled = False
    try:
        await client.prompt(run.session_id, spec.directory, body)
        try:
            with anyio.fail_after(spec.timeout_s):
                state = await _settle(run)
        except TimeoutError:
            raise BackendError(
                f"backend {run.name}: session {run.session_id} did not finish within {spec.timeout_s:g} s"
            ) from None
        settled = True
        text = _last_text(state.messages)
        return SessionOutcome(run.session_id, text, state.fault, _transcript(run, state))
    finally:
        with anyio.CancelScope(shield=True):
            if not settled:
                settled = await _abort(run)
            await _clean_up(run, settled)


async def _settle(run: _Run) -> _State:
    idle_since: float | None = None
    while True:
        with anyio.move_on_after(RECONCILE_S):
            await run.wake.wait()
        run.wake = anyio.Event()
        if run.failure:
            raise BackendError(f"backend {run.name}: session {run.session_id}: {run.failure}")
        state = await _look(run)
        if state.settled:
            return state
        if state.status != "idle" or not (run.started or run.fault):
            idle_since = None
            continue
        # idle with an unfinished reply: a failure whose error event says why, or one we missed
        now = anyio.current_time()
        idle_since = now if idle_since is None else idle_since
        if run.fault is not None or now - idle_since >= run.spec.settle_timeout_s:
            state.fault = run.fault or SessionFault("Unfinished", "the session went idle without finishing")
            return state


async def _look(run: _Run) -> _State:
    client, directory = run.client, run.spec.directory
    status = await client.status(run.session_id, directory)
    if status != "idle":
        run.started = True
        return _State(status)
    messages = await client.messages(run.session_id, directory)
    state = _State(status, messages)
    if not messages or text_field(messages[-1], "info", "role") != "assistant":
        return state
    run.started = True
    last = messages[-1]
    error = json_field(last, "info", "error")
    completed = json_field(last, "info", "time", "completed") is not None
    if (completed or error is not None) and not _running_tools(last):
        state.settled = True
        state.fault = _fault(error) if error is not None else None
    return state


async def _watch(run: _Run, stream: AsyncIterator[OpenCodeEvent]) -> None:
    """Consume the events, re-subscribing whenever the stream ends; never raises."""
    await _consume(run, stream)
    while True:
        # the stream ended: read the state again, in case it carried the event the waiter needs
        run.wake.set()
        await anyio.sleep(RECONNECT_S)
        try:
            async with run.client.events(run.spec.directory) as fresh:
                run.wake.set()
                await _consume(run, fresh)
        except BackendError as exc:
            logger.warning("%s: cannot re-subscribe to events: %s", run.name, exc)


async def _consume(run: _Run, stream: AsyncIterator[OpenCodeEvent]) -> None:
    try:
        async for event in stream:
            await _on_event(run, event)
    except BackendError as exc:
        logger.warning("%s: %s; re-subscribing", run.name, exc)


async def _on_event(run: _Run, event: OpenCodeEvent) -> None:
    if not run.session_id or event.session_id != run.session_id:
        return
    match event.type:
        case "session.status":
            kind = text_field(event.properties, "status", "type")
            if kind in ("busy", "retry"):
                run.started = True
            if kind == "retry":
                note = text_field(event.properties, "status", "message")
                run.notes.append(f"the model is retried: {note}")
            if kind == "idle":
                run.wake.set()
        case "session.idle":
            run.wake.set()
        case "session.error":
            run.fault = _fault(json_field(event.properties, "error"))
            run.wake.set()
        case "permission.asked":
            await _answer_permission(run, event.properties)
        case "question.asked":
            await _reject_question(run, event.properties)
        case _:
            pass


async def _answer_permission(run: _Run, request: Mapping[str, object]) -> None:
    what = f"{text_field(request, 'permission')} {_patterns(request)}".strip()
    policy = run.spec.on_permission
    if policy == "fail":
        run.failure = f"OpenCode asked for permission ({what}) and on_permission is 'fail'"
        run.wake.set()
        return
    reply = "once" if policy == "allow" else "reject"
    run.notes.append(f"permission {what}: {reply}")
    try:
        await run.client.reply_permission(text_field(request, "id"), run.spec.directory, reply, REJECTION)
    except BackendError as exc:
        run.failure = f"cannot answer a permission request ({what}): {exc}"
        run.wake.set()


async def _reject_question(run: _Run, request: Mapping[str, object]) -> None:
    run.notes.append("a question to the user: rejected")
    try:
        await run.client.reject_question(text_field(request, "id"), run.spec.directory)
    except BackendError as exc:
        run.failure = f"cannot reject a question: {exc}"
        run.wake.set()


async def _abort(run: _Run) -> bool:
    """Abort the session and wait for it to be idle; True when it is."""
    with anyio.move_on_after(ABORT_TIMEOUT_S):
        try:
            await run.client.abort(run.session_id, run.spec.directory)
            while True:
                if await run.client.status(run.session_id, run.spec.directory) == "idle":
                    return True
                await anyio.sleep(ABORT_POLL_S)
        except BackendError as exc:
            logger.warning("%s: cannot abort session %s: %s", run.name, run.session_id, exc)
    return False


async def _clean_up(run: _Run, settled: bool) -> None:
    if run.spec.keep:
        return
    if not settled:
        logger.warning("%s: session %s is not idle; it is left in place", run.name, run.session_id)
        return
    with anyio.move_on_after(ABORT_TIMEOUT_S):
        try:
            await run.client.delete_session(run.session_id, run.spec.directory)
        except BackendError as exc:
            logger.warning("%s: cannot delete session %s: %s", run.name, run.session_id, exc)


def _running_tools(message: Mapping[str, object]) -> bool:
    for part in _parts(message):
        status = text_field(part, "state", "status")
        if text_field(part, "type") == "tool" and status in ("pending", "running"):
            return True
    return False


def _fault(error: object) -> SessionFault:
    code = json_field(error, "data", "statusCode")
    message = text_field(error, "data", "message") or str(error)
    status_code = code if isinstance(code, int) else None
    return SessionFault(text_field(error, "name") or "Error", message, status_code)


def _parts(message: Mapping[str, object]) -> list[Mapping[str, object]]:
    parts = message.get("parts")
    items = cast(list[object], parts) if isinstance(parts, list) else []
    return [cast(Mapping[str, object], p) for p in items if isinstance(p, Mapping)]


def _last_text(messages: Sequence[Mapping[str, object]]) -> str:
    for message in reversed(messages):
        if text_field(message, "info", "role") == "assistant":
            texts = [text_field(p, "text") for p in _parts(message) if text_field(p, "type") == "text"]
            if any(texts):
                return "\n".join(t for t in texts if t)
    return ""


def _patterns(request: Mapping[str, object]) -> str:
    patterns = request.get("patterns")
    items = cast(list[object], patterns) if isinstance(patterns, list) else []
    return ", ".join(str(p) for p in items)


def _transcript(run: _Run, state: _State) -> tuple[str, ...]:
    lines = [f"session {run.session_id}"]
    for message in state.messages:
        if text_field(message, "info", "role") != "assistant":
            continue
        for part in _parts(message):
            kind = text_field(part, "type")
            if kind == "tool":
                status = text_field(part, "state", "status")
                title = text_field(part, "state", "title") or text_field(part, "state", "error")
                lines.append(f"tool {text_field(part, 'tool')} {status}: {title}".rstrip(": "))
            elif kind == "text" and text_field(part, "text"):
                lines.append(f"text: {text_field(part, 'text')}")
    lines += run.notes
    if state.fault is not None:
        lines.append(f"error {state.fault.name}: {state.fault.message}")
    return tuple(lines)
