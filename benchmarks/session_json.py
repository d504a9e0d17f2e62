"""A realistic ``GET /v1/sessions/{session_id}`` body (Devin v1, contract section 5.3).

Twenty messages of the lengths a real session carries (a long initial prompt, Devin's progress
notes, a couple of user replies), tags, a pull request and a small structured output: about 6 KB
of JSON, which is what every poll of a waiting trigger downloads and parses.
"""

from __future__ import annotations

import json
import time
from typing import Any

_DEVIN_NOTES = [
    "I'll start by cloning the repository and reading the contributing guide and the CI setup.",
    "The repository uses poetry; installing dependencies and running the existing test suite first "
    "so I know the baseline before touching anything.",
    "Baseline: 412 tests pass, 3 are skipped (they need a GPU). Now looking at the failing import in "
    "`pipeline/loaders/s3.py` that the ticket mentions.",
    "Found it: `boto3` is imported at module level but only installed with the `aws` extra. I'll move "
    "the import into the function that needs it and add a clear error message when it is missing.",
    "Made the change and added a regression test that imports the module without boto3 installed.",
    "The new test passes locally. Running the full suite again to make sure nothing else depended on "
    "the module-level import.",
    "All 413 tests pass. Running the linters (ruff, mypy) the CI runs.",
    "mypy complained about an Optional return type in the loader; fixed the annotation.",
    "Pushing a branch `devin/1733-lazy-boto3-import` and opening a pull request.",
    "Pull request opened. CI is running; I'll wait for it and report back.",
    "CI is green on all three Python versions. Summary of the change: lazy import of boto3 in the S3 "
    "loader, a helpful ImportError message naming the `aws` extra, one regression test, and a mypy "
    "fix. No behaviour change for users who have boto3 installed.",
    "Updated the changelog entry under 'Unreleased' as the contributing guide asks.",
    "Re-ran CI after the changelog commit; still green.",
    "Let me know if you want the same treatment for the GCS and Azure loaders; they have the same pattern.",
    "I checked the GCS loader as well: it imports google-cloud-storage lazily already, nothing to do.",
    "Azure loader imports azure-storage-blob at module level; I can fix it in a follow-up PR.",
]


def _message(index: int, kind: str, text: str) -> dict[str, Any]:
    minute, second = divmod(30 + index * 47, 60)
    item: dict[str, Any] = {
        "type": kind,
        "event_id": f"event-{index:04d}-7f3c9b2e-4a1d-4c55-9e0b-{index:012x}",
        "message": text,
        "timestamp": f"2026-11-29T09:{minute % 60:02d}:{second:02d}.{index * 7919 % 1000000:06d}+00:00",
    }
    if kind != "devin_message":
        item["username"] = "data-platform@example.com"
        item["origin"] = "api" if kind == "initial_user_message" else "web"
        item["user_id"] = "user-3c1b7a52-0f4e-4b8a-a0d4-5d2a9e6c1f07"
    return item


def build_messages(count: int = 20) -> list[dict[str, Any]]:
    """``count`` messages, oldest first: the initial prompt, then mostly Devin, two user replies."""
    prompt = (
        "Fix the ImportError in pipeline/loaders/s3.py when boto3 is not installed (ticket DATA-1733). "
        "Keep the public API unchanged, add a regression test, make sure ruff and mypy pass, and open "
        "a pull request against main. Follow CONTRIBUTING.md for the changelog. "
        "[airflow: dag=nightly_maintenance task=fix_s3_loader run=scheduled__2026-11-29T09:00:00+00:00]"
    )
    messages = [_message(0, "initial_user_message", prompt)]
    user_replies = {7: "Sounds good, go ahead.", 15: "Yes please, but in a separate PR."}
    note = 0
    for index in range(1, count):
        if index in user_replies:
            messages.append(_message(index, "user_message", user_replies[index]))
        else:
            messages.append(_message(index, "devin_message", _DEVIN_NOTES[note % len(_DEVIN_NOTES)]))
            note += 1
    return messages


def session_body(session_id: str, status_enum: str = "working", messages: int = 20) -> bytes:
    """The JSON body Devin returns for ``session_id`` in ``status_enum``, as bytes."""
    body: dict[str, Any] = {
        "session_id": session_id,
        "status": "running" if status_enum == "working" else status_enum,
        "status_enum": status_enum,
        "title": "Lazy-import boto3 in the S3 loader (DATA-1733)",
        "created_at": "2026-11-29T09:00:30.123456+00:00",
        "updated_at": "2026-11-29T09:14:05.654321+00:00",
        "snapshot_id": None,
        "playbook_id": "playbook-5d0c1e9a7b3f4e21",
        "tags": ["airflow", "airflow-ti:9f2c4e1a7b3d", "team:data-platform"],
        "pull_request": {"url": "https://github.com/example/pipeline/pull/1733"},
        "structured_output": {"pr_url": "https://github.com/example/pipeline/pull/1733", "tests": 413},
        "messages": build_messages(messages),
    }
    return json.dumps(body, separators=(",", ":")).encode()


#: The org of the fake endpoint's v3 routes.
V3_ORG = "org-benchmark"

#: ``updated_at`` of every v3 session the fake endpoint keeps working (long past).
V3_WORKING_UPDATED_AT = 1764407645


def read_handover() -> list[Any]:
    """What a worker hands a v3 trigger after reading a working session just now (item 5)."""
    return [V3_WORKING_UPDATED_AT, "running", "working", time.time()]


def v3_session(session_id: str, finished: bool, updated_at: int) -> dict[str, Any]:
    """A v3 ``SessionResponse`` (contract 4.2) for ``session_id``: running, working or finished."""
    return {
        "session_id": session_id,
        "url": f"https://app.devin.ai/sessions/{session_id.removeprefix('devin-')}",
        "status": "running",
        "status_detail": "finished" if finished else "working",
        "tags": ["airflow", "airflow-ti:9f2c4e1a7b3d", "team:data-platform"],
        "org_id": V3_ORG,
        "created_at": 1764406830,
        "updated_at": updated_at,
        "acus_consumed": 3.25,
        "pull_requests": [{"pr_url": "https://github.com/example/pipeline/pull/1733", "pr_state": "open"}],
        "structured_output": {"pr_url": "https://github.com/example/pipeline/pull/1733", "tests": 413},
        "title": "Lazy-import boto3 in the S3 loader (DATA-1733)",
        "user_id": None,
        "service_user_id": "service-user-0b1c",
        "playbook_id": "playbook-5d0c1e9a7b3f4e21",
        "parent_session_id": None,
        "child_session_ids": None,
        "is_archived": False,
        "origin": "api",
    }


def v3_messages_page(messages: int = 20) -> bytes:
    """The whole conversation as one v3 messages page (``end_cursor: null`` on the last page)."""
    items = [
        {
            "event_id": m["event_id"],
            "source": "devin" if m["type"] == "devin_message" else "user",
            "message": m["message"],
            "created_at": 1764406830 + index * 47,
        }
        for index, m in enumerate(build_messages(messages))
    ]
    return json.dumps({"items": items, "has_next_page": False, "end_cursor": None}).encode()


def read_position(api_version: str, messages: int = 20) -> str:
    """The position a worker hands a trigger after logging the whole conversation (item 5)."""
    last = build_messages(messages)[-1]["event_id"]
    return f"{messages}|{last}" if api_version == "v1" else f"|{last}"
