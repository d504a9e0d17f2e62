"""Fixtures for the emulator's own tests: a requests client and a nearly frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

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


class V3Client(DevinClient):
    """The same, for the v3 organization API: ``org`` is the path prefix of org-scoped calls."""

    ORG_ID = "org-emulator"

    def __init__(self, base_url: str, api_key: str, org_id: str = ORG_ID) -> None:
        super().__init__(base_url, api_key)
        self.org = f"/v3/organizations/{org_id}"

    def create(self, prompt: str = "Fix the flaky test", **fields: Any) -> dict[str, Any]:
        response = self.post(f"{self.org}/sessions", json={"prompt": prompt, **fields})
        assert response.status_code == 200, response.text
        return response.json()

    def session(self, session_id: str) -> dict[str, Any]:
        response = self.get(f"{self.org}/sessions/{session_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def messages(self, session_id: str, **params: Any) -> dict[str, Any]:
        response = self.get(f"{self.org}/sessions/{session_id}/messages", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def send(self, session_id: str, message: str = "Please continue") -> requests.Response:
        return self.post(f"{self.org}/sessions/{session_id}/messages", json={"message": message})

    def list(self, params: Any = None) -> dict[str, Any]:
        response = self.get(f"{self.org}/sessions", params=params)
        assert response.status_code == 200, response.text
        return response.json()


def assert_problem(response: requests.Response, status: int, *words: str) -> dict[str, Any]:
    """A v3 ``ProblemDetail`` answer with ``status`` whose ``detail`` mentions every word."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "instance", "errors"}
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str) and body["title"]
    assert body["instance"] == response.request.path_url.split("?")[0]
    assert (body["errors"] is not None) == (status == 422)
    for word in words:
        assert word in str(body["detail"]), (word, body["detail"])
    return body


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


@pytest.fixture
def pytester_like_run(tmp_path):
    """Run a tiny user test suite in a fresh pytest process (the plugin loads via its entry point)."""
    import subprocess
    import sys

    def run(*args: str, ini: str = "[pytest]\n") -> subprocess.CompletedProcess[str]:
        (tmp_path / "pytest.ini").write_text(ini)
        (tmp_path / "test_user.py").write_text(
            "def test_speed(devin_emulator):\n    print(f\"speed={devin_emulator.control.clock()['speed']}\")\n"
        )
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", str(tmp_path), *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )

    return run
