"""Helpers for the emulator's v3 tests: a requests client for the org API and a ProblemDetail check.

(A module of its own, not ``conftest``, so ``from ... import`` stays unambiguous when several test
directories with a ``conftest.py`` are collected together.)
"""

from __future__ import annotations

from typing import Any

import requests


class V3Client:
    """A thin requests wrapper: base URL + Bearer key; ``org`` is the prefix of org-scoped paths."""

    ORG_ID = "org-emulator"

    def __init__(self, base_url: str, api_key: str, org_id: str = ORG_ID) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {api_key}"
        self.org = f"/v3/organizations/{org_id}"

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
