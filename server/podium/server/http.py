"""The MCP server over streamable HTTP, for agents that are not child processes of their client.

Binds ``127.0.0.1`` by default. Two guards, each for its own attack:

- DNS rebinding (a web page in the user's browser reaching a local port through a hostname it controls):
  the SDK's transport security refuses a ``Host`` that is not an address of this server (421) and an
  ``Origin`` that is not one of its pages (403). Without explicit settings the SDK leaves the check off
  for any bind address but loopback, so Podium always passes them.
- Other machines: bound to a non-loopback address, every request needs ``Authorization: Bearer <token>``.
  The token comes from ``PODIUM_MCP_TOKEN``, else a fresh one is generated and printed on stderr at start.
  On loopback the token is required only when ``PODIUM_MCP_TOKEN`` is set.

The SDK's own bearer support is built for OAuth (it wants an issuer URL and serves discovery metadata);
a shared secret needs a dozen lines of ASGI instead.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import anyio
import uvicorn
from anyio.abc import TaskStatus
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from podium.verification.errors import ConfigError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PATH",
    "DEFAULT_PORT",
    "TOKEN_ENV",
    "BearerTokenMiddleware",
    "HttpSettings",
    "build_http_app",
    "is_loopback",
    "resolve_token",
    "run_http",
    "serve_http",
    "transport_security",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_PATH = "/mcp"
TOKEN_ENV = "PODIUM_MCP_TOKEN"
SHUTDOWN_TIMEOUT = 5.0
"""Seconds open connections get to finish when the server is stopped."""

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})

_TOKEN_HINT = f"send 'Authorization: Bearer <token>': the server's {TOKEN_ENV}, or the token it printed"


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Where and how the HTTP transport listens.

    Attributes:
        host: address to bind; ``0.0.0.0`` or ``::`` for every interface.
        port: TCP port; 0 picks a free one (the announced URL names it).
        path: URL path of the MCP endpoint.
        allowed_hosts: extra ``Host`` header values to accept, ``name:port`` or ``name:*`` (any port), for
            names of this machine the defaults miss (a LAN address, a DNS alias).
        allowed_origins: extra ``Origin`` values to accept, e.g. ``https://dashboard.example:*``.
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    path: str = DEFAULT_PATH
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token(host: str, environ: Mapping[str, str] | None = None) -> tuple[str | None, bool]:
    """The bearer token the server will require, and whether it was generated here.

    ``PODIUM_MCP_TOKEN`` wins; otherwise a non-loopback bind gets a random token and loopback gets none.
    """
    configured = (os.environ if environ is None else environ).get(TOKEN_ENV, "").strip()
    if configured:
        return configured, False
    if is_loopback(host):
        return None, False
    return secrets.token_urlsafe(32), True


def transport_security(settings: HttpSettings) -> TransportSecuritySettings:
    """DNS-rebinding protection for ``settings``: the ``Host`` and ``Origin`` values this server accepts."""
    names: list[str] = list(_LOOPBACK_NAMES)
    if not is_loopback(settings.host):
        if settings.host in _WILDCARD_HOSTS:
            names += [name for name in {socket.gethostname(), socket.getfqdn()} if name]
        else:
            names.append(f"[{settings.host}]" if ":" in settings.host else settings.host)
    hosts = [f"{name}:*" for name in names] + list(settings.allowed_hosts)
    origins = [f"{scheme}://{name}:*" for name in names for scheme in ("http", "https")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=origins + list(settings.allowed_origins),
    )


class BearerTokenMiddleware:
    """Refuses HTTP requests whose ``Authorization`` header does not carry the shared token (401)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorized(Headers(scope=scope).get("authorization", "")):
            response = JSONResponse(
                {
                    "error": "invalid_token",
                    "error_description": f"send 'Authorization: Bearer <{TOKEN_ENV}>'",
                },
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="podium", error="invalid_token"'},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorized(self, header: str) -> bool:
        scheme, _, credential = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(credential.strip().encode(), self._token)


def build_http_app(server: MCPServer, settings: HttpSettings, token: str | None) -> ASGIApp:
    """The ASGI app serving ``server`` at ``settings.path``, guarded as the module docstring says."""
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=settings.path,
        transport_security=transport_security(settings),
        host=settings.host,
    )
    return app if token is None else BearerTokenMiddleware(app, token)


def _announce_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def serve_http(
    server: MCPServer,
    settings: HttpSettings | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    announce: Callable[[str], None] = _announce_on_stderr,
    task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``server`` over streamable HTTP until cancelled or signalled (SIGINT/SIGTERM).

    Once it accepts connections it announces ``podium: MCP at <url>`` (and a generated token) through
    ``announce`` and reports the URL to ``task_status``, so ``await tg.start(serve_http, …)`` returns it.
    Runs on the asyncio backend (uvicorn).
    """
    settings = settings or HttpSettings()
    token, generated = resolve_token(settings.host, environ)
    app = build_http_app(server, settings, token)
    listener = _bind(settings.host, settings.port)
    port = listener.getsockname()[1]
    bare_host = settings.host.strip("[]")
    display_host = f"[{bare_host}]" if ":" in bare_host else bare_host
    url = f"http://{display_host}:{port}{settings.path}"

    def started() -> None:
        announce(f"podium: MCP at {url}")
        if generated:
            announce(f"podium: bearer token (set {TOKEN_ENV} to choose one): {token}")
        task_status.started(url)

    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=int(SHUTDOWN_TIMEOUT)
    )
    uv = _UvicornServer(config, on_started=started)
    try:
        await uv.serve(sockets=[listener])
    except anyio.get_cancelled_exc_class():
        uv.should_exit = True
        with anyio.CancelScope(shield=True), anyio.move_on_after(SHUTDOWN_TIMEOUT):
            await uv.shutdown(sockets=[listener])
        raise
    finally:
        listener.close()


def run_http(server: MCPServer, settings: HttpSettings | None = None) -> None:
    """Blocking form of `serve_http`, for the command line."""
    anyio.run(lambda: serve_http(server, settings))


def _bind(host: str, port: int) -> socket.socket:
    # Bound here rather than by uvicorn so that port 0 works and the announced URL names the real port.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host.strip("[]"), port))
        listener.listen(128)
    except OSError as exc:
        listener.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    listener.setblocking(False)
    return listener


class _UvicornServer(uvicorn.Server):
    """uvicorn, telling us when it has started instead of being polled."""

    def __init__(self, config: uvicorn.Config, *, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            self._on_started()
