"""EmulatorServer: in-process start/stop, free ports, context manager."""

from __future__ import annotations

import socket

import pytest
import requests

from airflow_provider_devin.emulator import DEFAULT_API_KEY, EmulatorServer


def test_context_manager_serves_then_frees_the_port():
    with EmulatorServer() as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert server.api_key == DEFAULT_API_KEY
        assert server.control.health()
        auth = {"Authorization": f"Bearer {server.api_key}"}
        assert requests.get(f"{server.base_url}/v1/sessions", headers=auth, timeout=30).ok
        port = server.port
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=5)
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))


def test_two_servers_are_independent():
    with EmulatorServer() as first, EmulatorServer() as second:
        assert first.port != second.port
        auth = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
        requests.post(f"{first.base_url}/v1/sessions", json={"prompt": "x"}, headers=auth, timeout=30)
        assert len(first.control.sessions()) == 1
        assert second.control.sessions() == []


def test_stop_is_idempotent_and_base_url_needs_a_running_server():
    server = EmulatorServer()
    with pytest.raises(RuntimeError):
        _ = server.base_url
    server.start()
    server.stop()
    server.stop()
    assert "stopped" in repr(server)


def test_stop_closes_even_with_a_keep_alive_client_connected():
    import time

    server = EmulatorServer().start()
    http = requests.Session()
    assert http.get(f"{server.base_url}/_emulator/health", timeout=30).ok
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5
    http.close()


def test_invalid_speed_is_refused():
    with pytest.raises(ValueError):
        EmulatorServer(speed=0).start()
