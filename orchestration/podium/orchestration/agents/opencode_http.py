"""A small async client of `opencode serve` (OpenCode 1.18's HTTP API), on httpx2.

Every route takes `?directory=`, which picks the project instance the server works in; Podium passes the
task's worktree. The routes used (the authoritative description is the server's own `GET /doc`):

* `GET /global/health` → `{"healthy": true, "version": …}`;
* `GET /event` → server-sent events, each `{"type", "properties"}`: `server.connected` first, then bus events
  (`session.status` with `{"type": "idle"|"busy"|"retry"}`, `session.idle`, `session.error`,
  `message.updated`, `message.part.updated`, `permission.asked`, `question.asked`) and a
  `server.heartbeat` every 10 s;
* `GET /session`, `POST /session`, `POST /session/{id}/prompt_async` (answers 204 at once),
  `GET /session/{id}/message`, `GET /session/status` (only sessions that are not idle),
  `POST /session/{id}/abort`, `DELETE /session/{id}`, `POST /permission/{id}/reply`,
  `POST /question/{id}/reject`.

Every failure (refused connection, timeout, an HTTP error status, a body that is not JSON) is a
`BackendError` naming the route.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx2

from podium.orchestration.agents.base import BackendError

__all__ = ["HEALTH_REQUEST_TIMEOUT_S", "OpenCodeClient", "OpenCodeEvent", "field", "text_field"]

HEALTH_REQUEST_TIMEOUT_S = 1.0
"""One health request: short, because an early request to a starting server once hung for minutes."""

EVENT_READ_TIMEOUT_S = 45.0
"""Silence after which an event stream counts as dead (the server sends a heartbeat every 10 s)."""

ERROR_BODY_CHARS = 300


@dataclass(frozen=True, slots=True)
class OpenCodeEvent:
    """One bus event: its `type` and `properties`."""

    type: str
    properties: Mapping[str, object]

    @property
    def session_id(self) -> str:
        return text_field(self.properties, "sessionID")


def field(value: object, *path: str) -> object:
    """The value at ``path`` in nested JSON objects, or None where a step is missing or not an object."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = cast(Mapping[str, object], value).get(key)
    return value


def text_field(value: object, *path: str) -> str:
    found = field(value, *path)
    return found if isinstance(found, str) else ""


class OpenCodeClient:
    """Talks to one `opencode serve`; create it inside the event loop and `aclose` it."""

    def __init__(
        self,
        base_url: str,
        *,
        request_timeout_s: float,
        auth: tuple[str, str] | None = None,
        name: str = "opencode-server",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = request_timeout_s
        self._name = name
        self._http = httpx2.AsyncClient(
            base_url=self.base_url,
            timeout=request_timeout_s,
            auth=httpx2.BasicAuth(*auth) if auth else None,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def health(self, timeout_s: float = HEALTH_REQUEST_TIMEOUT_S) -> str:
        """The server's version; `BackendError` when it does not answer healthy within ``timeout_s``."""
        answer = await self._call("GET", "/global/health", timeout_s=timeout_s)
        if field(answer, "healthy") is not True:
            raise BackendError(f"backend {self._name}: {self.base_url} is not healthy: {answer!r}")
        return text_field(answer, "version")

    async def create_session(
        self, directory: Path, title: str, permission: Sequence[Mapping[str, str]] = ()
    ) -> str:
        """A new session working in ``directory``; ``permission`` rules narrow what its tools may do."""
        body: dict[str, object] = {"title": title}
        if permission:
            body["permission"] = [dict(rule) for rule in permission]
        answer = await self._call("POST", "/session", directory, json_body=body)
        session_id = text_field(answer, "id")
        if not session_id:
            raise BackendError(f"backend {self._name}: POST /session answered without an id: {answer!r}")
        return session_id

    async def sessions(self, directory: Path) -> list[Mapping[str, object]]:
        """The sessions of ``directory``'s project (kept ones, for inspection)."""
        answer = await self._call("GET", "/session", directory)
        items = cast(list[object], answer) if isinstance(answer, list) else []
        found = [cast(Mapping[str, object], s) for s in items if isinstance(s, Mapping)]
        return [s for s in found if s.get("directory") == str(directory)]

    async def prompt(self, session_id: str, directory: Path, body: Mapping[str, object]) -> None:
        """Send a prompt; the session works on it in the background."""
        await self._call("POST", f"/session/{session_id}/prompt_async", directory, json_body=dict(body))

    async def messages(self, session_id: str, directory: Path) -> list[Mapping[str, object]]:
        """The session's messages, oldest first, each `{"info": …, "parts": […]}`."""
        answer = await self._call("GET", f"/session/{session_id}/message", directory)
        if not isinstance(answer, list):
            raise BackendError(f"backend {self._name}: the message list is not a list: {answer!r}"[:300])
        items = cast(list[object], answer)
        return [cast(Mapping[str, object], m) for m in items if isinstance(m, Mapping)]

    async def status(self, session_id: str, directory: Path) -> str:
        """`busy`, `retry` or `idle` (the server lists only sessions that are not idle)."""
        answer = await self._call("GET", "/session/status", directory)
        return text_field(answer, session_id, "type") or "idle"

    async def abort(self, session_id: str, directory: Path) -> None:
        await self._call("POST", f"/session/{session_id}/abort", directory)

    async def delete_session(self, session_id: str, directory: Path) -> None:
        await self._call("DELETE", f"/session/{session_id}", directory)

    async def reply_permission(self, request_id: str, directory: Path, reply: str, message: str) -> None:
        """Answer a permission request: `once`, `always` or `reject` (with ``message`` as the reason)."""
        body = {"reply": reply, "message": message} if reply == "reject" else {"reply": reply}
        await self._call("POST", f"/permission/{request_id}/reply", directory, json_body=body)

    async def reject_question(self, request_id: str, directory: Path) -> None:
        await self._call("POST", f"/question/{request_id}/reject", directory)

    @asynccontextmanager
    async def events(self, directory: Path) -> AsyncGenerator[AsyncIterator[OpenCodeEvent]]:
        """Subscribe to the bus events of ``directory``'s instance.

        Returns once the server confirmed the subscription (`server.connected`), so nothing published
        after that is missed. The iterator ends when the stream does; a silent stream raises
        `BackendError` after `EVENT_READ_TIMEOUT_S`.
        """
        timeout = httpx2.Timeout(self._timeout, read=EVENT_READ_TIMEOUT_S)
        params = {"directory": str(directory)}
        try:
            async with self._http.sse("/event", params=params, timeout=timeout) as source:
                if source.response.status_code >= 400:
                    await source.response.aread()
                    raise self._status_error("GET", "/event", source.response)
                stream = aiter(source)
                first = await anext(stream, None)
                if first is None or _event(first.data).type != "server.connected":
                    raise BackendError(f"backend {self._name}: GET /event did not confirm the subscription")
                yield self._decoded(stream)
        except httpx2.TimeoutException:
            raise BackendError(f"backend {self._name}: the events of {directory} went silent") from None
        except httpx2.HTTPError as exc:
            raise BackendError(f"backend {self._name}: the events of {directory} failed: {exc}") from None

    async def _decoded(self, stream: AsyncIterator[httpx2.ServerSentEvent]) -> AsyncIterator[OpenCodeEvent]:
        # The consumer may iterate in another task than the one holding the subscription open, so the
        # stream's own failures are converted here rather than where the subscription was opened.
        try:
            async for sse in stream:
                event = _event(sse.data)
                if event.type:
                    yield event
        except httpx2.TimeoutException:
            raise BackendError(f"backend {self._name}: the event stream went silent") from None
        except httpx2.HTTPError as exc:
            raise BackendError(f"backend {self._name}: the event stream failed: {exc}") from None

    async def _call(
        self,
        method: str,
        route: str,
        directory: Path | None = None,
        *,
        json_body: object = None,
        timeout_s: float | None = None,
    ) -> object:
        params = {"directory": str(directory)} if directory is not None else None
        timeout = timeout_s if timeout_s is not None else self._timeout
        try:
            response = await self._http.request(method, route, params=params, json=json_body, timeout=timeout)
        except httpx2.TimeoutException:
            raise BackendError(
                f"backend {self._name}: no answer to {method} {route} within {timeout:g} s"
            ) from None
        except httpx2.HTTPError as exc:
            raise BackendError(f"backend {self._name}: {method} {route} failed: {exc}") from None
        if response.status_code >= 400:
            raise self._status_error(method, route, response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return cast(object, response.json())
        except ValueError:
            raise BackendError(
                f"backend {self._name}: {method} {route} answered with no JSON: {response.text[:100]!r}"
            ) from None

    def _status_error(self, method: str, route: str, response: httpx2.Response) -> BackendError:
        body = response.text[:ERROR_BODY_CHARS]
        status = response.status_code
        return BackendError(f"backend {self._name}: HTTP {status} from {method} {route}: {body}")


def _event(data: str) -> OpenCodeEvent:
    try:
        value: Any = json.loads(data)
    except ValueError:
        return OpenCodeEvent("", {})
    kind = text_field(value, "type")
    properties = field(value, "properties")
    if not isinstance(properties, Mapping):
        properties = {}
    return OpenCodeEvent(kind, cast(Mapping[str, object], properties))
