"""Structured output agrees with the scenario (issue 12.9): given by the test, or derived from names.

Derived values must say what the session did (a pull request flag is true iff it opened one, a URL
field carries that pull request's URL, a summary is Devin's closing message) and still validate.
"""

from __future__ import annotations

import jsonschema
import pytest
from test_schema_instance import SCHEMAS

from airflow_provider_devin.emulator.control import EmulatorControlError
from airflow_provider_devin.emulator.schema_instance import generate_instance
from airflow_provider_devin.emulator.structured_output import SessionHints, snake

# The nightly-maintenance example DAG's schema: the one the demo printed nonsense for.
MAINTENANCE = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "pull_request_opened": {"type": "boolean"},
        "pull_request_url": {"type": ["string", "null"]},
        "dependencies_updated": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["summary", "pull_request_opened"],
    "additionalProperties": False,
}
PR_HINTS = SessionHints("https://github.com/emulator/example/pull/1", "Done: see the pull request.", "Fix it")
NO_PR_HINTS = SessionHints(None, "Done: nothing needed changing.", "Fix it")


def finished_output(v3, emulator, prompt: str, schema, seconds: float = 60):
    """Create on v3, advance, and return (v1 details, v3 details) of the same session."""
    session_id = v3.create(prompt, structured_output_schema=schema)["session_id"]
    emulator.control.advance(seconds)
    v1_details = emulator.control.session(session_id)
    return session_id, v1_details, v3.session(session_id)


def test_a_pull_request_session_says_it_opened_one_on_both_views(v3, emulator):
    _, v1_view, v3_view = finished_output(v3, emulator, "Update deps [emulator:scenario=pull_request]", MAINTENANCE)
    pr_url = v1_view["pull_request"]["url"]
    assert v3_view["pull_requests"] == [{"pr_url": pr_url, "pr_state": "open"}]
    for output in (v1_view["structured_output"], v3_view["structured_output"]):
        jsonschema.validate(output, MAINTENANCE)
        assert output["pull_request_opened"] is True
        assert output["pull_request_url"] == pr_url
        closing = [m for m in v1_view["messages"] if m["type"] == "devin_message"][-1]["message"]
        assert output["summary"] == closing
        assert pr_url in output["summary"]


def test_a_session_without_a_pull_request_says_so_and_carries_no_url(client, emulator):
    session_id = client.create("Update deps", structured_output_schema=MAINTENANCE)["session_id"]
    emulator.control.advance(60)
    details = client.session(session_id)
    output = details["structured_output"]
    jsonschema.validate(output, MAINTENANCE)
    assert details["pull_request"] is None
    assert output["pull_request_opened"] is False
    assert output.get("pull_request_url") is None
    assert "github.com" not in str(output)
    assert output["summary"] == details["messages"][-1]["message"]


def test_a_parked_session_summarises_with_its_closing_message(client, emulator):
    schema = {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}
    session_id = client.create("x [emulator:scenario=park_blocked]", structured_output_schema=schema)["session_id"]
    emulator.control.advance(60)
    details = client.session(session_id)
    assert details["status_enum"] == "blocked"
    assert details["structured_output"] == {"message": details["messages"][-1]["message"]}


@pytest.mark.parametrize("created_on", ["v1", "v3"])
def test_a_given_output_replaces_the_derived_one_when_the_work_is_done(emulator, v3, client, created_on):
    control = emulator.control
    session_id = (client if created_on == "v1" else v3).create("x", structured_output_schema=MAINTENANCE)["session_id"]
    given = {"summary": "Bumped two pins.", "pull_request_opened": False, "dependencies_updated": ["ruff"]}
    view = control.set_structured_output(session_id, given)
    assert view["structured_output"] is None, "still working: nothing to report yet"
    assert view["structured_output_given"] is True
    control.advance(60)
    assert client.session(session_id)["structured_output"] == given
    assert v3.session(session_id)["structured_output"] == given


def test_a_given_output_after_the_work_shows_at_once_as_is(client, v3, emulator):
    session_id = client.create("x", structured_output_schema=MAINTENANCE)["session_id"]
    emulator.control.advance(60)
    before = client.session(session_id)
    not_valid = {"summary": 42}  # unchecked on purpose: a test can feed its pipeline a bad answer
    emulator.control.advance(10)
    emulator.control.set_structured_output(session_id, not_valid)
    after = client.session(session_id)
    assert after["structured_output"] == not_valid
    assert v3.session(session_id)["structured_output"] == not_valid
    assert after["updated_at"] > before["updated_at"]
    emulator.control.set_structured_output(session_id, None)
    assert client.session(session_id)["structured_output"] is None, "null is a value too"


def test_a_given_output_without_a_schema_is_reported(client, emulator):
    session_id = client.create("x")["session_id"]
    emulator.control.set_structured_output(session_id, ["any", "json"])
    emulator.control.advance(60)
    assert client.session(session_id)["structured_output"] == ["any", "json"]


def test_the_default_output_applies_to_new_sessions_until_cleared_or_reset(client, emulator):
    control = emulator.control
    earlier = client.create("before", structured_output_schema=MAINTENANCE)["session_id"]
    control.set_default_structured_output({"summary": "canned", "pull_request_opened": True})
    first = client.create("first", structured_output_schema=MAINTENANCE)["session_id"]
    second = client.create("second")["session_id"]
    control.clear_default_structured_output()
    derived = client.create("after", structured_output_schema=MAINTENANCE)["session_id"]
    control.advance(60)
    assert client.session(first)["structured_output"] == {"summary": "canned", "pull_request_opened": True}
    assert client.session(second)["structured_output"] == {"summary": "canned", "pull_request_opened": True}
    assert client.session(earlier)["structured_output"]["summary"] != "canned"
    assert client.session(derived)["structured_output"]["summary"] != "canned"
    control.set_default_structured_output({"summary": "canned"})
    control.reset()
    control.set_speed(1e-6)
    fresh = client.create("fresh", structured_output_schema=MAINTENANCE)["session_id"]
    control.advance(60)
    assert client.session(fresh)["structured_output"]["summary"] != "canned"


def test_the_control_api_needs_a_value(emulator):
    import requests

    response = requests.post(f"{emulator.base_url}/_emulator/default-structured-output", json={}, timeout=30)
    assert response.status_code == 422
    with pytest.raises(EmulatorControlError) as err:
        emulator.control.set_structured_output("devin-" + "0" * 32, {"a": 1})
    assert err.value.status_code == 404


# -- derived values, pure --------------------------------------------------------------------


@pytest.mark.parametrize("hints", [PR_HINTS, NO_PR_HINTS], ids=["pull request", "none"])
@pytest.mark.parametrize("schema", list(SCHEMAS.values()), ids=list(SCHEMAS))
def test_derived_output_still_validates(schema, hints):
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    validator.validate(generate_instance(schema, hints))


NAMED = {
    "type": "object",
    "properties": {
        "prOpened": {"type": "boolean"},
        "has_pr": {"type": "boolean"},
        "pullRequest": {
            "type": "object",
            "properties": {"url": {"type": "string", "format": "uri"}, "opened": {"type": "boolean"}},
            "required": ["opened"],
        },
        "pull_requests": {"type": "array", "items": {"type": "string", "format": "uri"}},
        "files_changed": {"type": "integer"},
        "tests_failed": {"type": "integer", "minimum": 0},
        "pull_requests_opened": {"type": "integer"},
        "success": {"type": "boolean"},
        "has_errors": {"type": "boolean"},
        "outcome": {"enum": ["changed", "nothing_to_do"]},
        "title": {"type": "string"},
        "explanation": {"type": "string", "maxLength": 8},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": [
        "prOpened",
        "has_pr",
        "pullRequest",
        "files_changed",
        "tests_failed",
        "pull_requests_opened",
        "success",
        "has_errors",
        "outcome",
        "explanation",
        "confidence",
    ],
}


def test_values_follow_the_names_and_the_pull_request():
    with_pr = generate_instance(NAMED, PR_HINTS)
    url = PR_HINTS.pull_request_url
    assert with_pr["prOpened"] is with_pr["has_pr"] is with_pr["pullRequest"]["opened"] is True
    assert with_pr["pullRequest"]["url"] == url
    assert with_pr["pull_requests"] == [url]
    assert (with_pr["files_changed"], with_pr["tests_failed"], with_pr["pull_requests_opened"]) == (1, 0, 1)
    assert (with_pr["success"], with_pr["has_errors"]) == (True, False)
    assert with_pr["outcome"] == "changed", "enums pick the first value"
    assert with_pr["title"] == "Fix it"
    assert len(with_pr["explanation"]) <= 8, "a closing message too long for the schema falls back"
    assert 0 <= with_pr["confidence"] <= 1
    jsonschema.validate(with_pr, NAMED)

    without = generate_instance(NAMED, NO_PR_HINTS)
    assert without["prOpened"] is without["has_pr"] is without["pullRequest"]["opened"] is False
    assert "url" not in without["pullRequest"] and "pull_requests" not in without
    assert without["pull_requests_opened"] == 0
    jsonschema.validate(without, NAMED)


def test_a_required_url_without_a_pull_request_is_null_where_allowed():
    schema = {"type": "object", "properties": {"pr_url": {"type": ["string", "null"]}}, "required": ["pr_url"]}
    assert generate_instance(schema, NO_PR_HINTS) == {"pr_url": None}
    assert generate_instance(schema, PR_HINTS) == {"pr_url": PR_HINTS.pull_request_url}


def test_a_top_level_string_is_the_closing_message():
    assert generate_instance({"type": "string"}, PR_HINTS) == PR_HINTS.closing_message


def test_a_hinted_instance_that_fails_as_a_whole_falls_back_to_the_plain_one():
    # Valid field by field, but the whole forbids success=true: the plain instance is returned.
    schema = {
        "type": "object",
        "properties": {"success": {"type": "boolean"}},
        "required": ["success"],
        "not": {"properties": {"success": {"const": True}}},
    }
    assert generate_instance(schema, PR_HINTS) == {"success": False}


@pytest.mark.parametrize(
    ("name", "expected"),
    [("pullRequestOpened", "pull_request_opened"), ("pull-request", "pull_request"), ("PRUrl", "prurl")],
)
def test_names_are_compared_in_snake_case(name, expected):
    assert snake(name) == expected
