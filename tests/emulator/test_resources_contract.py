"""Contract 7-10: attachments, secrets, knowledge (with folders) and playbooks."""

from __future__ import annotations

import re
import time

import requests

PLAYBOOK_FIELDS = {
    "playbook_id",
    "title",
    "body",
    "status",
    "access_type",
    "org_id",
    "created_at",
    "updated_at",
    "created_by_user_id",
    "created_by_user_name",
    "updated_by_user_id",
    "updated_by_user_name",
    "macro",
}


# -- attachments ------------------------------------------------------------------------------


def test_upload_answers_a_json_string_url_ending_in_uuid_and_name(client, emulator):
    response = client.post("/v1/attachments", files={"file": ("report.csv", b"a,b\n1,2\n", "text/csv")})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.text.startswith('"')
    url = response.json()
    assert re.fullmatch(rf"{re.escape(emulator.base_url)}/v1/attachments/[0-9a-f-]{{36}}/report\.csv", url)


def test_upload_without_a_file_part_is_422(client):
    response = client.post("/v1/attachments", files={"other": ("x.txt", b"x")})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "file"]


def test_download_redirects_307_to_a_presigned_url_on_another_host(client, emulator):
    url = client.post("/v1/attachments", files={"file": ("notes.txt", b"hello")}).json()
    path = url.removeprefix(emulator.base_url)
    redirect = client.get(path, allow_redirects=False)
    assert redirect.status_code == 307
    location = redirect.headers["location"]
    assert location.startswith(f"http://localhost:{emulator.server.port}/_emulator/blob/")
    assert "signature=" in location
    assert "expires=" in location


def test_requests_follows_the_redirect_without_the_key_and_gets_the_bytes(client):
    url = client.post("/v1/attachments", files={"file": ("notes.txt", b"hello world")}).json()
    response = client.http.get(url, timeout=30)
    assert response.status_code == 200
    assert response.content == b"hello world"
    assert [r.status_code for r in response.history] == [307]
    assert "Authorization" not in response.request.headers


def test_served_as_localhost_the_blob_host_is_the_loopback_address(emulator):
    base = emulator.base_url.replace("127.0.0.1", "localhost")
    auth = {"Authorization": f"Bearer {emulator.api_key}"}
    url = requests.post(f"{base}/v1/attachments", files={"file": ("a.bin", b"\x00\x01")}, headers=auth, timeout=30)
    redirect = requests.get(url.json(), headers=auth, allow_redirects=False, timeout=30)
    assert redirect.headers["location"].startswith(f"http://127.0.0.1:{emulator.server.port}/")


def test_filenames_with_spaces_round_trip(client):
    url = client.post("/v1/attachments", files={"file": ("my notes.txt", b"spaced")}).json()
    assert url.endswith("/my%20notes.txt")
    assert client.http.get(url, timeout=30).content == b"spaced"


def test_blob_url_needs_a_valid_unexpired_signature(client, emulator):
    url = client.post("/v1/attachments", files={"file": ("a.txt", b"x")}).json()
    location = client.get(url.removeprefix(emulator.base_url), allow_redirects=False).headers["location"]
    tampered = re.sub(r"signature=[0-9a-f]+", "signature=" + "0" * 64, location)
    assert requests.get(tampered, timeout=30).status_code == 403
    expired = re.sub(r"expires=\d+", f"expires={int(time.time()) - 1}", location)
    assert requests.get(expired, timeout=30).status_code == 403
    assert requests.get(location, timeout=30).status_code == 200


def test_unknown_attachment_is_404_and_download_needs_the_key(client, emulator):
    assert client.get(f"/v1/attachments/{'0' * 8}-0000-0000-0000-{'0' * 12}/x.txt").status_code == 404
    url = client.post("/v1/attachments", files={"file": ("a.txt", b"x")}).json()
    assert requests.get(url, timeout=30).status_code == 401


# -- secrets ----------------------------------------------------------------------------------


def test_secrets_list_is_a_bare_array_of_metadata(client):
    assert client.get("/v1/secrets").json() == []
    created = client.post(
        "/v1/secrets", json={"type": "key-value", "key": "GITHUB_TOKEN", "value": "ghp_x", "sensitive": True}
    )
    assert created.status_code == 200
    assert set(created.json()) == {"id"}
    [item] = client.get("/v1/secrets").json()
    assert set(item) == {"id", "type", "key", "created_at"}
    assert item == {
        "id": created.json()["id"],
        "type": "key-value",
        "key": "GITHUB_TOKEN",
        "created_at": item["created_at"],
    }
    assert "ghp_x" not in client.get("/v1/secrets").text


def test_secret_create_validates_the_type_and_refuses_duplicate_keys(client):
    bad = client.post("/v1/secrets", json={"type": "dictionary", "key": "K", "value": "v"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "type"]
    assert client.post("/v1/secrets", json={"type": "cookie", "key": "K", "value": "v"}).status_code == 200
    duplicate = client.post("/v1/secrets", json={"type": "totp", "key": "K", "value": "w"})
    assert duplicate.status_code == 409
    assert isinstance(duplicate.json()["detail"], str)


def test_delete_secret_answers_message_then_404(client):
    secret_id = client.post("/v1/secrets", json={"type": "cookie", "key": "K", "value": "v"}).json()["id"]
    deleted = client.delete(f"/v1/secrets/{secret_id}")
    assert deleted.status_code == 200
    assert set(deleted.json()) == {"message"}
    assert client.delete(f"/v1/secrets/{secret_id}").status_code == 404


# -- knowledge --------------------------------------------------------------------------------


def test_knowledge_listing_has_entries_and_folders(client, emulator):
    listing = client.get("/v1/knowledge").json()
    assert set(listing) == {"knowledge", "folders"}
    assert listing["knowledge"] == []
    [folder] = listing["folders"]
    assert set(folder) == {"id", "name", "description", "created_at"}
    extra = emulator.control.add_knowledge_folder("Runbooks", "How we operate")
    assert len(client.get("/v1/knowledge").json()["folders"]) == 2
    assert extra["name"] == "Runbooks"


def test_knowledge_create_update_delete(client):
    folder_id = client.get("/v1/knowledge").json()["folders"][0]["id"]
    body = {"name": "Style", "body": "Use ruff", "trigger_description": "When writing Python"}
    created = client.post("/v1/knowledge", json={**body, "parent_folder_id": folder_id, "macro": "!style"})
    assert created.status_code == 200
    note = created.json()
    assert set(note) >= {"id", "name", "body", "trigger_description", "created_at", "created_by"}
    assert note["parent_folder_id"] == folder_id
    assert note["pinned_repo"] is None
    assert set(note["created_by"]) == {"full_name", "id", "image_url"}
    replaced = client.put(f"/v1/knowledge/{note['id']}", json={**body, "body": "Use ruff and mypy"}).json()
    assert replaced["body"] == "Use ruff and mypy"
    assert replaced["macro"] is None, "PUT is a full replacement"
    assert replaced["created_at"] == note["created_at"]
    assert client.get("/v1/knowledge").json()["knowledge"] == [replaced]
    deleted = client.delete(f"/v1/knowledge/{note['id']}")
    assert deleted.status_code == 200
    assert deleted.json() is None
    assert client.delete(f"/v1/knowledge/{note['id']}").status_code == 404


def test_knowledge_requires_its_three_fields_and_a_known_folder(client):
    missing = client.post("/v1/knowledge", json={"name": "x", "body": "y"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "trigger_description"]
    body = {"name": "x", "body": "y", "trigger_description": "z", "parent_folder_id": "folder-nope"}
    assert client.post("/v1/knowledge", json=body).status_code == 404
    assert client.put("/v1/knowledge/note-nope", json={**body, "parent_folder_id": None}).status_code == 404


# -- playbooks --------------------------------------------------------------------------------


def test_playbook_lifecycle_matches_the_contract(client):
    created = client.post("/v1/playbooks", json={"title": "Release", "body": "1. Tag\n2. Push", "macro": "!release"})
    assert created.status_code == 200
    playbook = created.json()
    assert set(playbook) == PLAYBOOK_FIELDS
    assert re.fullmatch(r"playbook-[0-9a-f]{32}", playbook["playbook_id"])
    assert (playbook["status"], playbook["access_type"]) == ("published", "team")
    playbook_id = playbook["playbook_id"]
    assert client.get("/v1/playbooks").json() == [playbook]
    assert client.get(f"/v1/playbooks/{playbook_id}").json() == playbook
    updated = client.put(f"/v1/playbooks/{playbook_id}", json={"title": "Release v2", "body": "1. Tag"})
    assert updated.json() == {"status": "success"}
    assert client.get(f"/v1/playbooks/{playbook_id}").json()["title"] == "Release v2"
    assert client.delete(f"/v1/playbooks/{playbook_id}").json() == {"status": "success"}
    assert client.get("/v1/playbooks").json() == []
    assert client.get(f"/v1/playbooks/{playbook_id}").status_code == 404


def test_playbook_validation(client):
    assert client.post("/v1/playbooks", json={"title": "", "body": "b"}).status_code == 422
    assert client.post("/v1/playbooks", json={"title": "t", "body": ""}).status_code == 422
    bad_macro = client.post("/v1/playbooks", json={"title": "t", "body": "b", "macro": "release"})
    assert bad_macro.status_code == 422
    assert bad_macro.json()["detail"][0]["loc"] == ["body", "macro"]
    assert client.put("/v1/playbooks/playbook-nope", json={"title": "t", "body": "b"}).status_code == 404
    assert client.delete("/v1/playbooks/playbook-nope").status_code == 404
