"""v3 credentials: which key may call which version, the key's organization, /v3/self, the journal."""

from __future__ import annotations

import json

import pytest
import requests
from v3_client import V3Client, assert_problem

from airflow_provider_devin.emulator import DEFAULT_API_KEY, DEFAULT_V3_API_KEY, EmulatorServer

ORG = "/v3/organizations/org-emulator"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_default_v3_key_is_exported_and_bound_to_org_emulator(emulator):
    assert DEFAULT_V3_API_KEY == "cog_emulator_test_key"
    assert emulator.v3_api_key == DEFAULT_V3_API_KEY
    me = requests.get(f"{emulator.base_url}/v3/self", headers=bearer(DEFAULT_V3_API_KEY), timeout=30)
    assert me.status_code == 200
    body = me.json()
    assert set(body) == {"principal_type", "service_user_id", "service_user_name", "org_id"}
    assert body["principal_type"] == "service_user"
    assert body["org_id"] == "org-emulator"
    assert isinstance(body["service_user_id"], str) and isinstance(body["service_user_name"], str)


@pytest.mark.parametrize(
    ("path", "key", "status"),
    [
        (f"{ORG}/sessions", DEFAULT_V3_API_KEY, 200),
        (f"{ORG}/sessions", DEFAULT_API_KEY, 403),
        (f"{ORG}/sessions", "apk_user_never_issued", 403),
        (f"{ORG}/sessions", "cog_never_issued", 401),
        ("/v3/self", DEFAULT_API_KEY, 403),
        ("/v3/self", "cog_never_issued", 401),
    ],
)
def test_v3_auth_matrix_answers_problem_details(emulator, path, key, status):
    response = requests.get(f"{emulator.base_url}{path}", headers=bearer(key), timeout=30)
    if status == 200:
        assert response.status_code == 200
        return
    body = assert_problem(response, status)
    assert key not in json.dumps(body)
    if status == 403:
        assert "apk_" in body["detail"] and "cog_" in body["detail"]


def test_missing_authorization_on_v3_is_a_401_problem(emulator):
    response = requests.get(f"{emulator.base_url}{ORG}/sessions", timeout=30)
    assert_problem(response, 401, "Authorization")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("key", [DEFAULT_V3_API_KEY, "cog_never_issued"])
def test_cog_keys_on_v1_are_401_fastapi_style(emulator, key):
    response = requests.get(f"{emulator.base_url}/v1/sessions", headers=bearer(key), timeout=30)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"detail": "Invalid API key."}


def test_the_v1_key_still_works_on_v1(emulator):
    response = requests.get(f"{emulator.base_url}/v1/sessions", headers=bearer(DEFAULT_API_KEY), timeout=30)
    assert response.status_code == 200


def test_another_orgs_path_is_not_found(v3):
    created = v3.create()
    other = V3Client(v3.base_url, DEFAULT_V3_API_KEY, org_id="org-someone-else")
    assert_problem(other.get(f"{other.org}/sessions"), 404, "org-someone-else")
    assert_problem(other.get(f"{other.org}/sessions/{created['session_id']}"), 404, "org-someone-else")
    assert_problem(other.post(f"{other.org}/sessions", json={"prompt": "x"}), 404)


def test_extra_v3_keys_carry_their_org_and_self_principal(emulator):
    principal = {
        "principal_type": "service_user",
        "service_user_id": "service-user-ci",
        "service_user_name": "ci",
        "org_id": None,
    }
    settings = emulator.control.add_api_key("cog_no_org_in_self", principal=principal)
    assert "cog_no_org_in_self" not in json.dumps(settings)
    me = requests.get(f"{emulator.base_url}/v3/self", headers=bearer("cog_no_org_in_self"), timeout=30)
    assert me.json() == principal
    # The key still belongs to org-emulator: a client that is told the org id can work.
    client = V3Client(emulator.base_url, "cog_no_org_in_self")
    assert client.create()["service_user_id"] == "service-user-ci"


def test_an_extra_key_of_another_org_sees_only_that_org(emulator, v3):
    v3.create()
    emulator.control.add_api_key("cog_team_b", org_id="org-team-b")
    team_b = V3Client(emulator.base_url, "cog_team_b", org_id="org-team-b")
    assert team_b.list()["items"] == []
    mine = team_b.create()
    assert mine["org_id"] == "org-team-b"
    assert [s["session_id"] for s in team_b.list()["items"]] == [mine["session_id"]]
    assert_problem(v3.get(f"{v3.org}/sessions/{mine['session_id']}"), 404)
    me = requests.get(f"{emulator.base_url}/v3/self", headers=bearer("cog_team_b"), timeout=30).json()
    assert me["org_id"] == "org-team-b"


def test_added_keys_are_forgotten_on_reset(emulator):
    emulator.control.add_api_key("cog_temporary")
    emulator.control.reset()
    response = requests.get(f"{emulator.base_url}/v3/self", headers=bearer("cog_temporary"), timeout=30)
    assert_problem(response, 401)


def test_a_pat_user_principal_is_the_sessions_user(emulator):
    principal = {
        "principal_type": "pat_user",
        "user_id": "user-alice",
        "user_name": "alice",
        "api_key_id": "key-1",
        "api_key_name": "laptop",
        "org_id": "org-emulator",
    }
    emulator.control.add_api_key("cog_alice_pat", principal=principal, email="alice@example.com")
    created = V3Client(emulator.base_url, "cog_alice_pat").create()
    assert (created["user_id"], created["service_user_id"]) == ("user-alice", None)


def test_org_scoped_paths_without_the_org_id_resolve_from_the_key(v3):
    created = v3.create()
    response = v3.get("/v3/organizations/sessions")
    assert response.status_code == 200
    assert [s["session_id"] for s in response.json()["items"]] == [created["session_id"]]


def test_keys_configured_on_a_server_with_settings():
    keys = {
        "apk_user_one": "one@example.com",
        "cog_two": {"org_id": "org-two", "email": "two@example.com"},
    }
    with EmulatorServer(api_keys=keys) as server:
        assert server.api_key == "apk_user_one"
        assert server.v3_api_key == "cog_two"
        me = requests.get(f"{server.base_url}/v3/self", headers=bearer("cog_two"), timeout=30).json()
        assert me["org_id"] == "org-two"
        default = requests.get(f"{server.base_url}/v3/self", headers=bearer(DEFAULT_V3_API_KEY), timeout=30)
        assert default.status_code == 401, "only the configured keys are accepted"


def test_the_journal_never_holds_the_v3_key(emulator, v3):
    key = emulator.v3_api_key
    created = v3.create("Use the key " + key, session_secrets=[{"key": "TOKEN", "value": "s3cr3t-value"}])
    v3.get(f"{v3.org}/sessions", params={"api_key": key})
    v3.send(created["session_id"], f"again {key}")
    v3.post(f"{v3.org}/secrets", json={"key": "K", "type": "key-value", "value": "hunter2-secret"})
    requests.get(f"{emulator.base_url}/v3/self", headers={"Authorization": f"Bearer {key}", "User-Agent": key})
    journal = emulator.control.journal()
    dump = json.dumps(journal)
    assert key not in dump
    assert "s3cr3t-value" not in dump
    assert "hunter2-secret" not in dump
    assert len(journal) == 5
    assert journal[0]["path"] == f"{v3.org}/sessions"
    assert journal[0]["method"] == "POST" and journal[0]["status"] == 200
    assert journal[0]["body"]["session_secrets"][0]["value"] == "***"
    assert journal[1]["query"] == {"api_key": ["***"]}
    assert all(entry["had_authorization"] for entry in journal)
