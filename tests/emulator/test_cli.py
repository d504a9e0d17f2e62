"""``devin-emulator`` and ``python -m airflow_provider_devin.emulator`` as real subprocesses."""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import sys
import time

import pytest
import requests

from airflow_provider_devin.emulator import DEFAULT_API_KEY

FIRST_LINE_DEADLINE = 2.0


def read_first_line(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    if not selector.select(timeout=deadline):
        raise AssertionError(f"no URL on stdout within {deadline} s")
    return process.stdout.readline().strip()


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


def console_script() -> list[str]:
    script = shutil.which("devin-emulator", path=os.path.dirname(sys.executable))
    assert script, "the devin-emulator console script is installed next to the interpreter"
    return [script]


@pytest.mark.parametrize(
    "command",
    [console_script, lambda: [sys.executable, "-m", "airflow_provider_devin.emulator"]],
    ids=["console-script", "python-m"],
)
def test_port_zero_prints_the_base_url_first_within_two_seconds(command):
    started = time.monotonic()
    process = subprocess.Popen(
        [*command(), "--port", "0", "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = read_first_line(process, FIRST_LINE_DEADLINE)
        assert time.monotonic() - started < FIRST_LINE_DEADLINE
        assert url.startswith("http://127.0.0.1:")
        response = requests.get(
            f"{url}/v1/sessions", headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"}, timeout=30
        )
        assert response.status_code == 200
        assert response.json() == {"sessions": []}
    finally:
        stop(process)
    assert process.returncode is not None


def test_cli_accepts_custom_keys_and_speed():
    process = subprocess.Popen(
        [*console_script(), "--port", "0", "--api-key", "apk_custom", "--speed", "1", "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = read_first_line(process, 10)
        assert requests.get(f"{url}/v1/sessions", headers={"Authorization": "Bearer apk_custom"}, timeout=30).ok
        default = requests.get(f"{url}/v1/sessions", headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"}, timeout=30)
        assert default.status_code == 401
        assert requests.get(f"{url}/_emulator/clock", timeout=30).json()["speed"] == 1
    finally:
        stop(process)


def test_busy_port_fails_with_a_clear_message():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([*console_script(), "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot bind 127.0.0.1:{port}" in result.stderr
