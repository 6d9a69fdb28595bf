from __future__ import annotations

import functools
import socket

import anyio
import httpx2
import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from toy_registry import build_toy_registry

from podium.server.http import (
    TOKEN_ENV,
    BearerTokenMiddleware,
    HttpSettings,
    is_loopback,
    resolve_token,
    serve_http,
    transport_security,
)
from podium.server.mcp_adapter import build_mcp_server
from podium.verification.errors import ConfigError


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True),
    ("127.0.0.2", True),
    ("localhost", True),
    ("::1", True),
    ("[::1]", True),
    ("0.0.0.0", False),
    ("::", False),
    ("192.168.1.20", False),
    ("podium.example", False),
])  # fmt: skip
def test_is_loopback_tells_local_only_addresses_from_the_rest(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_loopback_needs_no_token_unless_one_is_configured() -> None:
    assert resolve_token("127.0.0.1", {}) == (None, False)
    assert resolve_token("127.0.0.1", {TOKEN_ENV: " s3cret "}) == ("s3cret", False)


def test_a_non_loopback_bind_uses_the_configured_token_or_generates_one() -> None:
    assert resolve_token("0.0.0.0", {TOKEN_ENV: "s3cret"}) == ("s3cret", False)
    first, generated = resolve_token("0.0.0.0", {TOKEN_ENV: ""})
    second, _ = resolve_token("0.0.0.0", {})
    assert generated
    assert first is not None and len(first) >= 32
    assert first != second


def test_transport_security_on_loopback_accepts_only_loopback_hosts_and_origins() -> None:
    security = transport_security(HttpSettings())

    assert security.enable_dns_rebinding_protection
    assert security.allowed_hosts == ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    assert "http://localhost:*" in security.allowed_origins
    assert not any("evil" in origin for origin in security.allowed_origins)


def test_transport_security_adds_the_bound_address_and_configured_extras() -> None:
    settings = HttpSettings(
        host="192.168.1.20", allowed_hosts=("podium.lan:*",), allowed_origins=("https://ui.lan:8443",)
    )

    security = transport_security(settings)

    assert "192.168.1.20:*" in security.allowed_hosts
    assert "podium.lan:*" in security.allowed_hosts
    assert "http://192.168.1.20:*" in security.allowed_origins
    assert "https://ui.lan:8443" in security.allowed_origins


def test_transport_security_on_every_interface_accepts_this_machines_name() -> None:
    security = transport_security(HttpSettings(host="0.0.0.0"))

    assert f"{socket.gethostname()}:*" in security.allowed_hosts
    assert "0.0.0.0:*" not in security.allowed_hosts


async def _hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def _guarded_client() -> httpx2.AsyncClient:
    app = BearerTokenMiddleware(Starlette(routes=[Route("/", _hello)]), "s3cret")
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic s3cret", "s3cret", "Bearer s3cret2"])
async def test_the_bearer_middleware_refuses_requests_without_the_token(authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with _guarded_client() as client:
        response = await client.get("/", headers=headers)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response.headers["www-authenticate"].startswith("Bearer ")


@pytest.mark.parametrize("authorization", ["Bearer s3cret", "bearer s3cret"])
async def test_the_bearer_middleware_passes_requests_with_the_token(authorization: str) -> None:
    async with _guarded_client() as client:
        response = await client.get("/", headers={"Authorization": authorization})

    assert response.status_code == 200
    assert response.text == "hello"


async def test_serve_http_announces_its_url_serves_mcp_and_stops_when_cancelled() -> None:
    lines: list[str] = []
    server = build_mcp_server(build_toy_registry())

    async with anyio.create_task_group() as tg:
        run = functools.partial(serve_http, server, HttpSettings(port=0), environ={}, announce=lines.append)
        url: str = await tg.start(run)
        async with Client(url) as client:
            result = await client.call_tool("echo", {"text": "over http"})
        assert result.structured_content == {"text": "over http"}
        assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")
        assert lines == [f"podium: MCP at {url}"]
        tg.cancel_scope.cancel()


async def test_serve_http_on_a_busy_port_is_a_config_error_naming_the_address() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            await serve_http(build_mcp_server(build_toy_registry()), HttpSettings(port=port), environ={})
