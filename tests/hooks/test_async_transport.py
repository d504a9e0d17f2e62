"""The triggerer's aiohttp transport: reuse, pool queueing, stale connections, faults, cancellation, TLS."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import os
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from airflow_provider_devin.exceptions import DevinConnectionError
from airflow_provider_devin.hooks import _async
from airflow_provider_devin.hooks._async import AsyncDevinAPI, lease_client
from airflow_provider_devin.hooks._async_transport import AsyncTransport
from airflow_provider_devin.hooks._http import ApiRequest
from airflow_provider_devin.hooks._retry import RetrySettings
from airflow_provider_devin.hooks._settings import ConnectionSettings
from airflow_provider_devin.hooks.devin import DevinHook

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def no_proxy_in_the_environment(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def fds_settle_to(limit: int) -> int:
    for _ in range(50):
        if open_fds() <= limit:
            break
        await asyncio.sleep(0.05)
    return open_fds()


def settings_for(
    base_url: str, *, timeout: float = 5.0, verify: bool | str = True, pool_size: int = 100
) -> ConnectionSettings:
    return ConnectionSettings(
        conn_id="devin_transport_test",
        base_url=base_url,
        api_key="apk_user_transport_test_key",
        timeout=timeout,
        connect_timeout=2.0,
        retry=RetrySettings(max_retries=0),
        verify=verify,
        async_pool_size=pool_size,
    )


class NoSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@asynccontextmanager
async def api_for(settings: ConnectionSettings, sleep: NoSleep | None = None) -> AsyncIterator[AsyncDevinAPI]:
    import logging

    async with lease_client(settings) as client:
        yield AsyncDevinAPI(settings, client, logging.getLogger("test"), sleep or NoSleep())


def create_session() -> str:
    with DevinHook() as hook:
        return hook.create_session("task")["session_id"]


def client_ports(devin_emulator, path: str) -> set[str]:
    return {entry["client"] for entry in devin_emulator.control.journal(method="GET", path=path)}


def transport_of(api: AsyncDevinAPI) -> AsyncTransport:
    transport = api._client
    assert isinstance(transport, AsyncTransport)
    return transport


def idle_connections(transport: AsyncTransport) -> int:
    """Kept-alive connections waiting in the pool (aiohttp's ``_conns``: per key, a list of them)."""
    return sum(len(entries) for entries in transport.connector._conns.values())  # type: ignore[attr-defined]


# --- against the emulator ---------------------------------------------------------------------


async def test_many_polls_reuse_a_few_kept_alive_connections(devin_emulator):
    session_id = create_session()
    path = f"/v1/sessions/{session_id}"
    async with DevinHook().async_api() as api:
        for _ in range(20):
            await api.get_session(session_id)
        sequential_ports = client_ports(devin_emulator, path)
        await asyncio.gather(*(api.get_session(session_id) for _ in range(40)))
    assert len(sequential_ports) == 1, "sequential polls reuse one kept-alive connection"
    assert len(client_ports(devin_emulator, path)) <= 41


async def test_repeated_query_parameters_are_sent_in_order(devin_emulator):
    async with DevinHook().async_api() as api:
        await api.list_sessions(tags=["nightly", "etl"], limit=5)
    (entry,) = devin_emulator.control.journal(method="GET", path="/v1/sessions")
    assert entry["query"]["tags"] == ["nightly", "etl"]
    assert entry["query"]["limit"] == ["5"]


async def test_a_dropped_get_on_a_reused_connection_is_repeated_once_on_a_new_one(hook, devin_emulator, clock):
    session_id = create_session()
    path = f"/v1/sessions/{session_id}"
    async with hook.async_api() as api:
        await api.get_session(session_id)  # leaves one idle connection
        devin_emulator.control.inject_fault("GET", path, drop_connection=True)
        details = await api.get_session(session_id)
    assert details["session_id"] == session_id
    assert len(client_ports(devin_emulator, path)) == 2
    assert clock.waits == [], "repeated by the transport at once, not by the backoff policy"
    assert [entry["status"] for entry in devin_emulator.control.journal(method="GET", path=path)] == [
        200,
        "dropped",
        200,
    ]


async def test_a_dropped_write_on_a_reused_connection_is_reported_as_possibly_sent(devin_emulator):
    session_id = create_session()
    settings = settings_for(devin_emulator.base_url)
    settings = ConnectionSettings(**{**settings.__dict__, "api_key": devin_emulator.api_key})
    message = ApiRequest.build(
        f"send message to {session_id}", "POST", f"/v1/sessions/{session_id}/message", json_body={"message": "hi"}
    )
    assert not message.replay_safe
    async with api_for(settings) as api:
        await api.get_session(session_id)  # the POST below reuses this connection
        devin_emulator.control.inject_fault("POST", f"/v1/sessions/{session_id}/message", drop_connection=True)
        with pytest.raises(DevinConnectionError, match="may have reached Devin") as caught:
            await api.call(message)
    assert caught.value.request_sent is True
    assert len(devin_emulator.control.journal(method="POST", path=f"/v1/sessions/{session_id}/message")) == 1


async def test_a_read_timeout_means_the_request_may_have_been_sent(devin_emulator):
    session_id = create_session()
    devin_emulator.control.inject_fault("GET", f"/v1/sessions/{session_id}", delay=1.5)
    async with DevinHook(timeout=0.3, max_retries=0).async_api() as api:
        with pytest.raises(DevinConnectionError, match="read timeout") as caught:
            await api.get_session(session_id)
        assert idle_connections(transport_of(api)) == 0, "a timed-out connection is never reused"
    assert caught.value.request_sent is True


async def test_a_refused_connection_never_reached_devin():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with api_for(settings_for(f"http://127.0.0.1:{port}")) as api:
        with pytest.raises(DevinConnectionError, match="never reached Devin") as caught:
            await api.get_session("devin-1")
    assert caught.value.request_sent is False


async def test_cancelling_a_wait_mid_request_closes_its_connection(devin_emulator):
    session_id = create_session()
    fds_before = open_fds()
    async with DevinHook().async_api() as api:  # the lease that outlives the cancelled wait
        transport = transport_of(api)
        devin_emulator.control.inject_fault("GET", f"/v1/sessions/{session_id}", delay=2)
        waiting = asyncio.create_task(api.get_session(session_id))
        await asyncio.sleep(0.3)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert idle_connections(transport) == 0, "a half-used connection never goes back to the pool"
        assert (await api.get_session(session_id))["session_id"] == session_id
    assert _async.open_client_count() == 0
    assert await fds_settle_to(fds_before) <= fds_before


async def test_churn_leaves_no_descriptor_behind(devin_emulator):
    session_id = create_session()
    fds_before = open_fds()

    async def poll(times: int) -> None:
        async with DevinHook().async_api() as api:
            for _ in range(times):
                await api.get_session(session_id)

    tasks = [asyncio.create_task(poll(1 + index % 5)) for index in range(60)]
    await asyncio.sleep(0.05)
    for task in tasks[::3]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert _async.open_client_count() == 0
    assert await fds_settle_to(fds_before) <= fds_before


# --- against tiny servers in the test -------------------------------------------------------------


@asynccontextmanager
async def tiny_server(
    answers: Callable[[int], bytes], *, close_after_each: bool = False, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[int, list[int]]]:
    """An HTTP/1.1 server on loopback that answers request number ``i`` with ``answers(i)``."""
    served: list[int] = []  # one entry per connection: how many requests it carried

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.append(0)
        connection = len(served) - 1
        try:
            while True:
                try:
                    await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                served[connection] += 1
                writer.write(answers(sum(served) - 1))
                await writer.drain()
                if close_after_each:
                    break
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ssl_context)
    try:
        yield server.sockets[0].getsockname()[1], served
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def api_on_tiny_server(
    answers: Callable[[int], bytes],
    *,
    close_after_each: bool = False,
    tls: tuple[Path, Path] | None = None,
    verify: bool | str = True,
    retry: RetrySettings | None = None,
    sleep: NoSleep | None = None,
) -> AsyncIterator[tuple[AsyncDevinAPI, list[int]]]:
    """An API client leased for a :func:`tiny_server`, and the server's per-connection request counts."""
    context = server_context(*tls) if tls else None
    async with tiny_server(answers, close_after_each=close_after_each, ssl_context=context) as (port, served):
        settings = settings_for(f"{'https' if tls else 'http'}://127.0.0.1:{port}", verify=verify)
        if retry is not None:
            settings = ConnectionSettings(**{**settings.__dict__, "retry": retry})
        async with api_for(settings, sleep) as api:
            yield api, served


BODY = json.dumps({"session_id": "devin-1", "status_enum": "working"}).encode()


def content_length_answer(_: int) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)


def chunked_answer(_: int) -> bytes:
    chunks = [BODY[:7], BODY[7:20], BODY[20:]]
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + encoded
        + b"0\r\n\r\n"
    )


async def test_a_chunked_response_is_decoded_and_the_connection_kept():
    async with api_on_tiny_server(chunked_answer) as (api, served):
        for _ in range(3):
            assert await api.get_session("devin-1") == {"session_id": "devin-1", "status_enum": "working"}
    assert served == [3]


async def test_connection_close_from_the_server_is_respected():
    def closing_answer(index: int) -> bytes:
        return content_length_answer(index).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)

    async with api_on_tiny_server(closing_answer, close_after_each=True) as (api, served):
        for _ in range(3):
            await api.get_session("devin-1")
    assert served == [1, 1, 1]


async def test_an_idle_connection_the_server_closed_is_not_reused():
    # The server claims keep-alive but closes each connection after one answer: by the next poll
    # the client has seen the FIN and opens a new connection without a failed attempt.
    async with api_on_tiny_server(content_length_answer, close_after_each=True) as (api, served):
        await api.get_session("devin-1")
        await asyncio.sleep(0.1)
        assert (await api.get_session("devin-1"))["session_id"] == "devin-1", "no failed attempt surfaces"
    assert served[-1] == 1 and sum(served) == 2, "each answer came on its own connection, none was lost"


async def test_retry_after_is_read_whatever_the_header_case():
    def answer(index: int) -> bytes:
        if index == 0:
            return b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 2\r\nContent-Length: 0\r\n\r\n"
        return content_length_answer(index)

    sleep = NoSleep()
    async with api_on_tiny_server(answer, retry=RetrySettings(max_retries=2), sleep=sleep) as (api, _):
        assert (await api.get_session("devin-1"))["session_id"] == "devin-1"
    assert sleep.waits == [2]


def write_self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@pytest.fixture
def tls_files(tmp_path) -> tuple[Path, Path]:
    return write_self_signed(tmp_path)


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


async def test_tls_with_a_ca_bundle_keeps_one_connection(tls_files):
    async with api_on_tiny_server(content_length_answer, tls=tls_files, verify=str(tls_files[0])) as (api, served):
        for _ in range(3):
            assert (await api.get_session("devin-1"))["session_id"] == "devin-1"
    assert served == [3]


async def test_an_untrusted_certificate_never_reaches_devin(tls_files):
    async with api_on_tiny_server(content_length_answer, tls=tls_files, verify=True) as (api, served):
        with pytest.raises(DevinConnectionError, match="never reached Devin") as caught:
            await api.get_session("devin-1")
    assert caught.value.request_sent is False
    assert served in ([], [0])


async def test_verify_false_accepts_any_certificate(tls_files):
    async with api_on_tiny_server(content_length_answer, tls=tls_files, verify=False) as (api, _):
        assert (await api.get_session("devin-1"))["session_id"] == "devin-1"


# --- the pool ----------------------------------------------------------------------------------


async def test_requests_beyond_the_pool_size_wait_for_a_connection_instead_of_failing():
    # 40 polls against a server answering in 0.3 s through a pool of 2 connections: they queue
    # (within their own 5 s timeout) and all succeed; the pool never holds more than 2 sockets.
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await asyncio.sleep(0.05)
                writer.write(content_length_answer(0))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    connections: list[int] = []
    server = await asyncio.start_server(slow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with api_for(settings_for(f"http://127.0.0.1:{port}", pool_size=2)) as api:
            answers = await asyncio.gather(*(api.get_session("devin-1") for _ in range(40)))
    finally:
        server.close()
        await server.wait_closed()
    assert [answer["session_id"] for answer in answers] == ["devin-1"] * 40
    assert len(connections) == 2


async def test_a_request_that_cannot_get_a_connection_within_its_timeout_was_never_sent():
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes its side
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with api_for(settings_for(f"http://127.0.0.1:{port}", pool_size=1, timeout=0.5)) as api:
            results = await asyncio.gather(
                api.get_session("devin-1"), api.get_session("devin-2"), return_exceptions=True
            )
    finally:
        server.close()
        await server.wait_closed()
    assert all(isinstance(result, DevinConnectionError) for result in results)
    assert sorted(result.request_sent for result in results) == [False, True]  # type: ignore[union-attr]


def test_the_pool_size_is_a_connection_extra(monkeypatch):
    from airflow.models import Connection

    from airflow_provider_devin.exceptions import DevinConfigError
    from airflow_provider_devin.hooks._settings import settings_from_connection

    def conn(extra: dict) -> Connection:
        return Connection(conn_id="d", conn_type="devin", password="apk_user_k", extra=json.dumps(extra))

    assert settings_from_connection(conn({}), "d").async_pool_size == 100
    assert settings_from_connection(conn({"async_pool_size": "0"}), "d").async_pool_size == 0
    assert settings_from_connection(conn({"async_pool_size": 7}), "d").async_pool_size == 7
    with pytest.raises(DevinConfigError, match="async_pool_size"):
        settings_from_connection(conn({"async_pool_size": "2.5"}), "d")


async def test_pool_size_zero_means_no_limit():
    transport = AsyncTransport(settings_for("http://127.0.0.1:9", pool_size=0))
    try:
        assert transport.connector.limit == 0
    finally:
        await transport.aclose()
