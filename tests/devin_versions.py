"""What tests that run on both Devin API versions need to know about each (importable from any test).

The operator, sensor and trigger suites are parametrised over ``devin_api_version`` ("v1", "v3"):
the emulator fixture then points ``devin_default`` at the emulator with that version's key. Only
assertions on the emulator's journal (paths, request bodies) differ between the versions; this
module holds those differences in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

ORG_ID = "org-emulator"
VERSIONS = ("v1", "v3")


@dataclass(frozen=True)
class ApiPaths:
    """Journal paths of one API version, as the hook sends them."""

    version: str

    @property
    def sessions(self) -> str:
        return "/v1/sessions" if self.version == "v1" else f"/v3/organizations/{ORG_ID}/sessions"

    def session(self, session_id: str) -> str:
        return f"{self.sessions}/{session_id}"

    def status_poll(self, session_id: str) -> str:
        """What a waiting trigger GETs: v1 the session itself; v3 the session list (coalesced polls)."""
        return self.session(session_id) if self.version == "v1" else self.sessions

    def message(self, session_id: str) -> str:
        return f"{self.session(session_id)}/{'message' if self.version == 'v1' else 'messages'}"

    @property
    def attachments(self) -> str:
        return "/v1/attachments" if self.version == "v1" else f"/v3/organizations/{ORG_ID}/attachments"

    def creates(self, control: Any) -> list[dict[str, Any]]:
        """The create requests in the emulator's journal."""
        return control.journal(method="POST", path=self.sessions)

    def message_posts(self, control: Any) -> list[dict[str, Any]]:
        """The message sends in the journal (any session)."""
        suffix = "/message" if self.version == "v1" else "/messages"
        return [e for e in control.journal(method="POST") if e["path"].endswith(suffix)]

    def session_lists(self, control: Any) -> list[dict[str, Any]]:
        """The session list requests in the journal."""
        return control.journal(method="GET", path=self.sessions)

    def deletes(self, control: Any) -> list[str]:
        """Paths of the DELETE requests in the journal."""
        return [entry["path"] for entry in control.journal(method="DELETE")]

    @property
    def idempotent_create(self) -> bool:
        return self.version == "v1"

    def attachment_urls(self, body: dict[str, Any]) -> list[str]:
        """The attachment URLs a create body references (v1: prompt lines; v3: ``attachment_urls``)."""
        if self.version == "v3":
            return list(body.get("attachment_urls") or [])
        import re

        return re.findall(r'^ATTACHMENT:"([^"]+)"$', body["prompt"], flags=re.M)


# Fixtures for a conftest that runs its directory's tests on both versions:
#     from devin_versions import api, devin_api_version
@pytest.fixture(params=VERSIONS)
def devin_api_version(request: pytest.FixtureRequest) -> str:
    """Run the test once per Devin API version (overrides the emulator plugin's default, "v1")."""
    return str(request.param)


@pytest.fixture
def api(devin_api_version: str) -> ApiPaths:
    """The journal paths of the version under test."""
    return ApiPaths(devin_api_version)
