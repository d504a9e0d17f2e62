"""``DevinHook.test_connection``: one attempt, a short timeout, and a first word that says what failed.

Real sockets throughout: the emulator on loopback, a closed port, a name that does not resolve, a
server that accepts and never answers, and a TLS server with a self-signed certificate.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_async_transport import write_self_signed  # same directory (pytest's rootdir import mode)

from airflow_provider_devin.exceptions import (
    DevinAuthError,
    DevinNotFoundError,
    DevinServerError,
)
from airflow_provider_devin.hooks import _health
from airflow_provider_devin.hooks._health import describe_failure
from airflow_provider_devin.hooks._settings import ConnectionSettings
from airflow_provider_devin.hooks.devin import DevinHook

both_versions = pytest.mark.parametrize("devin_api_version", ["v1", "v3"])


def define(monkeypatch: pytest.MonkeyPatch, conn_id: str, host: str, key: str, **extra: Any) -> DevinHook:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps({"conn_type": "devin", "host": host, "password": key, "extra": extra}),
    )
    return DevinHook(conn_id)


@pytest.fixture
def silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP server on loopback that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], accepted
    stop.set()
    thread.join(timeout=2)
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.fixture
def tls_server(tmp_path) -> Iterator[int]:
    """A TLS server on loopback with a self-signed certificate (it completes handshakes it can)."""
    cert_file, key_file = write_self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                raw = listener.accept()[0]
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(raw, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass  # the client refused our certificate: that is the point

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    listener.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- one attempt --------------------------------------------------------------------------------


@both_versions
def test_a_failing_devin_is_asked_once_not_retried(hook, devin_emulator, clock, devin_api_version):
    pattern = "/v1/sessions" if devin_api_version == "v1" else "/v3/*"
    devin_emulator.control.inject_fault("GET", pattern, status=503, times=10)
    ok, message = hook.test_connection()
    assert not ok
    assert message.startswith("Devin: ") and "503" in message and "Try again later" in message
    assert len(devin_emulator.control.journal()) == 1
    assert clock.waits == []  # no backoff either


def test_a_silent_host_holds_the_test_for_the_short_probe_timeout_once(monkeypatch, silent_server):
    port, accepted = silent_server
    monkeypatch.setattr(_health, "PROBE_TIMEOUT", 0.5)
    # The connection asks for 30 s and 5 retries; the test must not take 6 x 30 s.
    hook = define(monkeypatch, "devin_silent", f"http://127.0.0.1:{port}", "apk_user_x", timeout=30, max_retries=5)
    started = time.monotonic()
    ok, message = hook.test_connection()
    elapsed = time.monotonic() - started
    assert not ok
    assert message.startswith("Host: no answer from http://127.0.0.1:")
    assert "read timeout" in message and "0.5 s for an answer" in message
    assert elapsed < 5, elapsed
    assert len(accepted) == 1


# --- what failed ----------------------------------------------------------------------------------


def test_a_closed_port_is_a_host_problem(monkeypatch):
    hook = define(monkeypatch, "devin_closed", f"http://127.0.0.1:{closed_port()}", "apk_user_x")
    ok, message = hook.test_connection()
    assert not ok
    assert message.startswith("Host: ") and "connection refused" in message


def test_a_name_that_does_not_resolve_is_a_host_problem(monkeypatch):
    hook = define(monkeypatch, "devin_dns", "https://devin-test-host.invalid", "apk_user_x")
    ok, message = hook.test_connection()
    assert not ok
    assert message.startswith("Host: ") and "DNS lookup failed" in message


def test_an_untrusted_certificate_is_a_tls_problem(monkeypatch, tls_server):
    hook = define(monkeypatch, "devin_tls", f"https://127.0.0.1:{tls_server}", "apk_user_x")
    ok, message = hook.test_connection()
    assert not ok
    assert message.startswith("TLS: ") and "certificate verify failed" in message
    assert "verify extra" in message


def test_the_certificate_problem_on_a_task_says_tls_and_was_never_sent(monkeypatch, tls_server):
    from airflow_provider_devin.exceptions import DevinConnectionError

    hook = define(monkeypatch, "devin_tls", f"https://127.0.0.1:{tls_server}", "apk_user_x", max_retries=0)
    with pytest.raises(DevinConnectionError, match="TLS: certificate verify failed") as caught:
        hook.create_session("task")
    assert caught.value.is_tls and caught.value.request_sent is False


@pytest.mark.parametrize(("devin_api_version", "wrong"), [("v1", "apk_user_wrong_key"), ("v3", "cog_wrong_key")])
def test_a_refused_key_is_an_authentication_problem(devin_emulator, monkeypatch, wrong):
    hook = define(monkeypatch, "devin_wrong", devin_emulator.base_url, wrong)
    ok, message = hook.test_connection()
    assert not ok
    assert message.startswith("Authentication: Devin refused the API key") and "HTTP 401" in message
    assert wrong not in message


@pytest.mark.parametrize("devin_api_version", ["v3"])
def test_another_organization_is_an_organization_problem(devin_emulator, monkeypatch):
    hook = define(monkeypatch, "devin_org", devin_emulator.base_url, devin_emulator.api_key, org_id="org-someone-else")
    ok, message = hook.test_connection()
    assert not ok
    assert message.startswith("Organization: Devin answered 404 for organization org-someone-else")
    assert "org_id extra" in message


@pytest.mark.parametrize(
    ("host", "key", "extra", "expected"),
    [
        ("http://devin.example.com", "apk_user_x", {}, "refusing plain http://"),
        ("https://api.devin.ai", "", {}, "has no API key"),
        ("https://api.devin.ai", "cog_x", {"api_version": "v1"}, "cog_ keys cannot call v1"),
        ("https://api.devin.ai", "apk_user_x", {"timeout": "soon"}, "extra 'timeout' must be a number"),
    ],
)
def test_a_configuration_problem_is_named_before_any_request(monkeypatch, host, key, extra, expected):
    hook = define(monkeypatch, "devin_cfg", host, key, **extra)
    ok, message = hook.test_connection()
    assert not ok
    assert message.startswith("Configuration: Devin connection 'devin_cfg'") and expected in message


def test_a_missing_connection_is_a_configuration_problem():
    ok, message = DevinHook("devin_no_such_connection").test_connection()
    assert not ok and message.startswith("Configuration: ") and "devin_no_such_connection" in message


@both_versions
def test_a_good_connection_still_says_where_it_connected(hook, devin_emulator, devin_api_version):
    ok, message = hook.test_connection()
    assert ok, message
    assert message.startswith(f"Connected to the Devin {devin_api_version} API at {devin_emulator.base_url}")


# --- the wording, for answers the emulator does not give ------------------------------------------


def settings(version: str = "v1", **changes: Any) -> ConnectionSettings:
    return ConnectionSettings(
        conn_id="c", base_url="https://devin.example.com", api_key="k", api_version=version, **changes
    )


def api_error(cls: type, status: int, path: str = "/v1/sessions") -> Any:
    return cls(
        f"Devin API: list sessions failed with HTTP {status}.",
        operation="list sessions",
        method="GET",
        path=path,
        status_code=status,
    )


def test_a_403_says_the_key_lacks_a_permission():
    message = describe_failure(api_error(DevinAuthError, 403), settings())
    assert message.startswith("Authentication: the key is valid but lacks a permission") and "HTTP 403" in message


def test_a_v1_404_is_a_wrong_base_url():
    message = describe_failure(api_error(DevinNotFoundError, 404), settings())
    assert message.startswith("Host: https://devin.example.com answered 404 for /v1/sessions")


def test_a_500_says_try_again_later():
    assert describe_failure(api_error(DevinServerError, 500), settings()).startswith("Devin: ")


def test_a_tls_hint_names_the_configured_ca_bundle():
    from airflow_provider_devin.exceptions import DevinConnectionError

    err = DevinConnectionError(
        "x",
        request_sent=False,
        reason="TLS: certificate verify failed",
        is_tls=True,
        operation="o",
        method="GET",
        path="/",
    )
    message = describe_failure(err, settings(verify="/etc/ssl/corp.pem"))
    assert message.startswith("TLS: ") and "/etc/ssl/corp.pem" in message
