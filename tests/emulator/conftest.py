"""Fixtures for the emulator's own tests: a requests client and a nearly frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from v3_client import V3Client

from airflow_provider_devin.emulator.pytest_plugin import DevinEmulator

FROZEN_SPEED = 1e-6  # real time barely moves the clock; tests drive it with control.advance()


class DevinClient:
    """A thin requests wrapper: base URL + Bearer key, nothing else (the hook is tested elsewhere)."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {api_key}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.http.request(method, f"{self.base_url}{path}", **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def create(self, prompt: str = "Fix the flaky test", **fields: Any) -> dict[str, Any]:
        response = self.post("/v1/sessions", json={"prompt": prompt, **fields})
        assert response.status_code == 200, response.text
        return response.json()

    def session(self, session_id: str) -> dict[str, Any]:
        response = self.get(f"/v1/sessions/{session_id}")
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def emulator(devin_emulator: DevinEmulator) -> DevinEmulator:
    """The plugin's fixture with the clock nearly frozen, so only ``advance`` moves time."""
    devin_emulator.control.set_speed(FROZEN_SPEED)
    return devin_emulator


@pytest.fixture
def client(emulator: DevinEmulator) -> Iterator[DevinClient]:
    client = DevinClient(emulator.base_url, emulator.api_key)
    yield client
    client.http.close()


@pytest.fixture
def v3(emulator: DevinEmulator) -> Iterator[V3Client]:
    """A v3 client with the default ``cog_`` key, on the (nearly frozen) emulator."""
    client = V3Client(emulator.base_url, emulator.v3_api_key)
    yield client
    client.http.close()


SPEED_TEST = "def test_speed(devin_emulator):\n    print(f\"speed={devin_emulator.control.clock()['speed']}\")\n"


@pytest.fixture
def pytester_like_run(tmp_path):
    """Run a tiny user test suite in a fresh pytest process (the plugin loads via its entry point)."""
    import subprocess
    import sys

    def run(*args: str, ini: str = "[pytest]\n", tests: str = SPEED_TEST) -> subprocess.CompletedProcess[str]:
        """Run ``tests`` (the source of ``test_user.py``) with ``args``; default target: the whole directory."""
        (tmp_path / "pytest.ini").write_text(ini)
        (tmp_path / "test_user.py").write_text(tests)
        targets = [arg for arg in args if arg.startswith("test_user.py")] or [str(tmp_path)]
        options = [arg for arg in args if not arg.startswith("test_user.py")]
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *options, *targets],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )

    return run
