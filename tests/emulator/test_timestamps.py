"""Every timestamp either API version returns is real wall time, never in the future (issue 12.9).

These run at the fixture's default speed (60), not on the frozen clock: that is where an emulated
wall clock would run ahead of the real one.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
import requests

V1_KEY = "apk_user_emulator_test_key"
V3_KEY = "cog_emulator_test_key"
ORG = "/v3/organizations/org-emulator"


def v1(devin_emulator, method: str, path: str, **kwargs):
    headers = {"Authorization": f"Bearer {V1_KEY}"}
    response = requests.request(method, f"{devin_emulator.base_url}{path}", headers=headers, timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def v3(devin_emulator, method: str, path: str, **kwargs):
    headers = {"Authorization": f"Bearer {V3_KEY}"}
    response = requests.request(method, f"{devin_emulator.base_url}{path}", headers=headers, timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def parse(value: str) -> float:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed.timestamp()


def v1_stamps(devin_emulator, session_id: str) -> list[float]:
    details = v1(devin_emulator, "GET", f"/v1/sessions/{session_id}")
    listed = v1(devin_emulator, "GET", "/v1/sessions")["sessions"]
    return [
        parse(details["created_at"]),
        *(parse(m["timestamp"]) for m in details["messages"]),
        parse(details["updated_at"]),
        *(parse(item["created_at"]) for item in listed),
        *(parse(item["updated_at"]) for item in listed),
    ]


def v3_stamps(devin_emulator, session_id: str) -> list[int]:
    details = v3(devin_emulator, "GET", f"{ORG}/sessions/{session_id}")
    messages = v3(devin_emulator, "GET", f"{ORG}/sessions/{session_id}/messages")["items"]
    return [details["created_at"], *(m["created_at"] for m in messages), details["updated_at"]]


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_no_timestamp_is_in_the_future_at_speed_60_after_advance(devin_emulator, version):
    assert devin_emulator.control.clock()["speed"] == 60.0
    if version == "v1":
        session_id = v1(devin_emulator, "POST", "/v1/sessions", json={"prompt": "Refactor"})["session_id"]
    else:
        session_id = v3(devin_emulator, "POST", f"{ORG}/sessions", json={"prompt": "Refactor"})["session_id"]
    devin_emulator.control.advance(3600)  # an emulated hour: the session finished long ago
    v1(devin_emulator, "POST", f"/v1/sessions/{session_id}/message", json={"message": "One more thing"})
    devin_emulator.control.advance(600)

    stamps_v1 = v1_stamps(devin_emulator, session_id)
    stamps_v3 = v3_stamps(devin_emulator, session_id)
    now = time.time()
    assert max(stamps_v1) <= now, [now - stamp for stamp in stamps_v1]
    assert max(stamps_v3) <= now
    assert all(now - stamp < 60 for stamp in stamps_v1), "ages are real seconds, not emulated hours"


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_both_versions_read_the_same_instants_in_event_order(devin_emulator, version):
    prefix = "/v1/sessions" if version == "v1" else f"{ORG}/sessions"
    call = v1 if version == "v1" else v3
    session_id = call(devin_emulator, "POST", prefix, json={"prompt": "Refactor"})["session_id"]
    devin_emulator.control.advance(120)

    details = v1(devin_emulator, "GET", f"/v1/sessions/{session_id}")
    v1_messages = [parse(m["timestamp"]) for m in details["messages"]]
    assert v1_messages == sorted(v1_messages) and len(set(v1_messages)) == len(v1_messages)
    v3_messages = v3(devin_emulator, "GET", f"{ORG}/sessions/{session_id}/messages")["items"]
    assert [int(stamp) for stamp in v1_messages] == [m["created_at"] for m in v3_messages]
    v3_details = v3(devin_emulator, "GET", f"{ORG}/sessions/{session_id}")
    assert int(parse(details["created_at"])) == v3_details["created_at"]
    assert int(parse(details["updated_at"])) == v3_details["updated_at"]


def test_a_one_minute_session_spans_about_one_real_second_at_speed_60(devin_emulator):
    before = time.time()
    session_id = v1(devin_emulator, "POST", "/v1/sessions", json={"prompt": "Refactor"})["session_id"]
    deadline = time.monotonic() + 10
    details = v1(devin_emulator, "GET", f"/v1/sessions/{session_id}")
    while details["status_enum"] != "finished" and time.monotonic() < deadline:
        time.sleep(0.1)
        details = v1(devin_emulator, "GET", f"/v1/sessions/{session_id}")
    assert details["status_enum"] == "finished"
    created, updated = parse(details["created_at"]), parse(details["updated_at"])
    assert before - 0.01 <= created <= updated <= time.time()
    assert 0.9 <= updated - created <= 1.1, "60 emulated seconds scaled down to one real second"


def test_resource_timestamps_are_not_in_the_future(devin_emulator):
    devin_emulator.control.advance(86400)
    secret = {"type": "key-value", "key": "TOKEN", "value": "v", "sensitive": True}
    v1(devin_emulator, "POST", "/v1/secrets", json=secret)
    [listed] = v1(devin_emulator, "GET", "/v1/secrets")
    folders = v1(devin_emulator, "GET", "/v1/knowledge")["folders"]
    now = datetime.now(timezone.utc).timestamp()
    assert parse(listed["created_at"]) <= now
    assert all(parse(folder["created_at"]) <= now for folder in folders)
    assert devin_emulator.control.clock()["epoch"] <= time.time()
    assert parse(devin_emulator.control.clock()["now"]) <= time.time()
