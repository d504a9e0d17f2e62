"""Worker and triggerer trust the same CAs and take the same proxies (issue 11 item 1).

Every case runs both paths against the same loopback servers: the sync path (``DevinHook``,
requests) and the async path (``DevinHook.async_api``, aiohttp). The servers (a TLS server whose
certificate is signed by a CA made at run time, and a tiny HTTP CONNECT proxy) run on their own
event loop in a thread, so the blocking sync calls cannot stall them.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_devin.exceptions import DevinConnectionError
from airflow_provider_devin.hooks import _async
from airflow_provider_devin.hooks._settings import CA_BUNDLE_VARIABLES, default_ca_bundle, route_for
from airflow_provider_devin.hooks.devin import DevinHook
from benchmarks.tls import TLSFiles, make_loopback_tls

CONN_ID = "devin_tls_test"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
BODY = json.dumps({"session_id": "devin-1", "status_enum": "working"}).encode()
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No proxy or CA variable from the machine running the tests leaks into a case."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    for name in CA_BUNDLE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@dataclass
class Servers:
    """The loopback servers of one test, and what they saw."""

    tls: TLSFiles
    https_port: int
    proxy_port: int
    requests_served: list[str] = field(default_factory=list)
    tunnels: list[str] = field(default_factory=list)

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"


async def _serve_https(servers: Servers, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            servers.requests_served.append(head.split(b"\r\n", 1)[0].decode())
            writer.write(ANSWER)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        pass  # the client left, or refused the certificate
    finally:
        writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _serve_proxy(servers: Servers, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An HTTP CONNECT proxy: record the tunnel's target, then copy bytes both ways."""
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
        return
    method, target, _ = head.split("\r\n", 1)[0].split(" ", 2)
    if method != "CONNECT":
        writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        writer.close()
        return
    servers.tunnels.append(target)
    host, _, port = target.rpartition(":")
    upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await writer.drain()
    await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    import ssl

    tls = make_loopback_tls(tmp_path / "tls")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.server_cert, tls.server_key)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="tls-and-proxy-servers", daemon=True)
    thread.start()

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(10)

    holder: dict[str, Servers] = {}
    https = run(asyncio.start_server(lambda r, w: _serve_https(holder["s"], r, w), "127.0.0.1", 0, ssl=context))
    proxy = run(asyncio.start_server(lambda r, w: _serve_proxy(holder["s"], r, w), "127.0.0.1", 0))
    holder["s"] = Servers(tls, https.sockets[0].getsockname()[1], proxy.sockets[0].getsockname()[1])
    try:
        yield holder["s"]
    finally:

        async def stop() -> None:
            for server in (https, proxy):
                server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        run(stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def define(monkeypatch: pytest.MonkeyPatch, url: str, **extra: Any) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps({"conn_type": "devin", "host": url, "password": "apk_user_tls_test_key", "extra": extra}),
    )


def sync_get() -> Any:
    with DevinHook(CONN_ID, max_retries=0, timeout=5) as hook:
        return hook.get_session("devin-1")


async def async_get() -> Any:
    async with DevinHook(CONN_ID, max_retries=0, timeout=5).async_api() as api:
        return await api.get_session("devin-1")


async def both_paths() -> list[Any]:
    """What each path got: the session body, or the DevinConnectionError it raised."""
    results: list[Any] = []
    for call in (lambda: asyncio.to_thread(sync_get), async_get):
        try:
            results.append((await call())["session_id"])
        except DevinConnectionError as err:
            results.append(err)
    assert _async.open_client_count() == 0
    return results


def refused_by_tls(result: Any) -> bool:
    return isinstance(result, DevinConnectionError) and result.is_tls and result.request_sent is False


# --- trust ---------------------------------------------------------------------------------------


async def test_a_ca_bundle_in_the_verify_extra_is_trusted_by_both_paths(servers, monkeypatch):
    define(monkeypatch, servers.https_url, verify=str(servers.tls.ca_cert))
    assert await both_paths() == ["devin-1", "devin-1"]
    assert len(servers.requests_served) == 2


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
async def test_a_ca_bundle_from_the_environment_is_trusted_by_both_paths(servers, monkeypatch, variable):
    define(monkeypatch, servers.https_url)
    monkeypatch.setenv(variable, str(servers.tls.ca_cert))
    assert await both_paths() == ["devin-1", "devin-1"]


async def test_without_the_ca_both_paths_refuse_the_certificate_before_sending(servers, monkeypatch):
    define(monkeypatch, servers.https_url)
    sync_result, async_result = await both_paths()
    assert refused_by_tls(sync_result), sync_result
    assert refused_by_tls(async_result), async_result
    assert "certificate verify failed" in sync_result.reason
    assert "certificate verify failed" in async_result.reason
    assert servers.requests_served == []


async def test_the_verify_extra_wins_over_the_environment(servers, monkeypatch, tmp_path):
    other_ca = make_loopback_tls(tmp_path / "other").ca_cert
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(servers.tls.ca_cert))
    define(monkeypatch, servers.https_url, verify=str(other_ca))
    assert all(refused_by_tls(result) for result in await both_paths())
    define(monkeypatch, servers.https_url, verify=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_ca))
    assert await both_paths() == ["devin-1", "devin-1"]


def test_the_ca_bundle_order_is_verify_then_requests_then_openssl_then_certifi(monkeypatch, tmp_path):
    import certifi

    url = "https://api.devin.ai"
    assert route_for(True, url).verify == certifi.where() == default_ca_bundle()
    monkeypatch.setenv("SSL_CERT_FILE", "/ssl-cert-file.pem")
    assert route_for(True, url).verify == "/ssl-cert-file.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/requests.pem")
    assert route_for(True, url).verify == "/requests.pem"
    assert route_for("/extra.pem", url).verify == "/extra.pem"
    assert route_for(False, url).verify is False


# --- proxies -------------------------------------------------------------------------------------


async def test_https_proxy_carries_both_paths(servers, monkeypatch):
    define(monkeypatch, servers.https_url, verify=str(servers.tls.ca_cert))
    monkeypatch.setenv("HTTPS_PROXY", servers.proxy_url)
    assert await both_paths() == ["devin-1", "devin-1"]
    assert servers.tunnels == [f"127.0.0.1:{servers.https_port}"] * 2, "each path opened its tunnel"
    assert len(servers.requests_served) == 2


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "*"])
async def test_no_proxy_bypasses_the_proxy_on_both_paths(servers, monkeypatch, no_proxy):
    define(monkeypatch, servers.https_url, verify=str(servers.tls.ca_cert))
    monkeypatch.setenv("HTTPS_PROXY", servers.proxy_url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    assert await both_paths() == ["devin-1", "devin-1"]
    assert servers.tunnels == []
    assert len(servers.requests_served) == 2


async def test_an_unreachable_proxy_fails_both_paths_as_never_sent(servers, monkeypatch):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    define(monkeypatch, servers.https_url, verify=str(servers.tls.ca_cert))
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{dead_port}")
    results = await both_paths()
    assert all(isinstance(result, DevinConnectionError) and result.request_sent is False for result in results)
    assert servers.requests_served == []


def test_the_proxy_choice_follows_requests_rules(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert route_for(True, "https://api.devin.ai").proxy == "http://proxy.internal:3128"
    assert route_for(True, "http://127.0.0.1:8080").proxy is None, "an https proxy does not carry plain http"
    monkeypatch.setenv("NO_PROXY", ".devin.ai,localhost")
    assert route_for(True, "https://api.devin.ai").proxy is None
    assert route_for(True, "https://devin.example.com").proxy == "http://proxy.internal:3128"
