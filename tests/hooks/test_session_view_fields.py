"""Every documented v3 ``SessionResponse`` field (devin-api-v3.md §4.2) reaches the normalised view."""

from __future__ import annotations

import pytest

from airflow_provider_devin.hooks.devin import DevinHook
from airflow_provider_devin.session import SessionView

#: SessionResponse field -> the SessionView attribute that carries it.
V3_FIELDS = {
    "session_id": "session_id",
    "url": "url",
    "status": "status",
    "status_detail": "status_detail",
    "tags": "tags",
    "org_id": "org_id",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "acus_consumed": "acus_consumed",
    "pull_requests": "pull_request_urls",
    "structured_output": "structured_output",
    "title": "title",
    "user_id": "user_id",
    "service_user_id": "service_user_id",
    "playbook_id": "playbook_id",
    "parent_session_id": "parent_session_id",
    "child_session_ids": "child_session_ids",
    "is_archived": "is_archived",
    "origin": "origin",
    "category": "category",
    "subcategory": "subcategory",
    "devin_mode": "devin_mode",
    "automation_id": "automation_id",
}


def test_the_table_covers_every_field_of_the_view_that_comes_from_a_response():
    derived = {"status_class", "status_enum", "pull_request_states", "messages"}
    assert set(V3_FIELDS.values()) | derived == set(SessionView.__dataclass_fields__)


@pytest.mark.parametrize("devin_api_version", ["v3"])
def test_every_documented_v3_session_field_reaches_the_view(devin_emulator, devin_api_version):
    hook = DevinHook()
    session_id = hook.create_session("Open a PR [emulator:scenario=pull_request]", tags=["team-data"])["session_id"]
    devin_emulator.control.advance(120)
    raw = hook.get_session(session_id)
    view = hook.read_session(session_id).view
    assert set(V3_FIELDS) <= set(raw), f"the emulator's SessionResponse lacks {set(V3_FIELDS) - set(raw)}"
    for field, attribute in V3_FIELDS.items():
        value = getattr(view, attribute)
        if field == "pull_requests":
            assert list(value) == [pr["pr_url"] for pr in raw["pull_requests"]]
            assert list(view.pull_request_states) == [pr["pr_state"] for pr in raw["pull_requests"]]
        elif field in ("tags", "child_session_ids"):
            assert list(value) == list(raw[field] or []), field
        elif field == "is_archived":
            assert value is bool(raw[field]), field
        else:
            assert value == raw[field], field
    assert view.pull_request_urls and view.acus_consumed and view.org_id == "org-emulator"
