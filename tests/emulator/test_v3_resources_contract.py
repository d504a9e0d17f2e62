"""v3 attachments, knowledge notes, playbooks and secrets (contract v3 §5-§8), shared with v1."""

from __future__ import annotations

import json
import re

import pytest
from v3_client import assert_problem

NOTE_FIELDS = {
    "note_id",
    "name",
    "body",
    "trigger",
    "access_type",
    "created_at",
    "updated_at",
    "folder_id",
    "folder_path",
    "is_enabled",
    "macro",
    "org_id",
    "pinned_repo",
}
PLAYBOOK_FIELDS = {
    "playbook_id",
    "title",
    "body",
    "access_type",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "macro",
    "org_id",
}
SECRET_FIELDS = {
    "secret_id",
    "secret_type",
    "key",
    "note",
    "is_sensitive",
    "access_type",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
}
PAGE_FIELDS = {"items", "has_next_page", "end_cursor", "total"}


# -- attachments --------------------------------------------------------------------------------


def test_upload_answers_an_object_and_the_url_redirects_to_the_bytes(v3, emulator):
    response = v3.post(f"{v3.org}/attachments", files={"file": ("report.csv", b"a,b\n1,2\n", "text/csv")})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"attachment_id", "name", "url"}
    assert body["name"] == "report.csv"
    assert re.fullmatch(
        rf"{re.escape(emulator.base_url)}{v3.org}/attachments/{body['attachment_id']}/report\.csv", body["url"]
    )
    redirect = v3.get(body["url"].removeprefix(emulator.base_url), allow_redirects=False)
    assert redirect.status_code == 307
    assert "/_emulator/blob/" in redirect.headers["location"]
    followed = v3.http.get(body["url"], timeout=30)
    assert followed.content == b"a,b\n1,2\n"
    assert "Authorization" not in followed.request.headers


def test_attachment_download_needs_a_v3_key_and_a_known_file(v3, emulator):
    url = v3.post(f"{v3.org}/attachments", files={"file": ("a.txt", b"x")}).json()["url"]
    path = url.removeprefix(emulator.base_url)
    assert_problem(v3.get(f"{v3.org}/attachments/00000000-0000-0000-0000-000000000000/a.txt"), 404)
    import requests

    assert requests.get(url, allow_redirects=False, timeout=30).status_code == 401
    assert path.startswith(v3.org)


def test_upload_without_a_file_part_is_a_422_problem(v3):
    body = assert_problem(v3.post(f"{v3.org}/attachments", files={"other": ("x.txt", b"x")}), 422, "file")
    assert body["errors"][0]["loc"] == ["body", "file"]


def test_v1_uploads_are_downloadable_through_v3_and_back(v3, client, emulator):
    v1_url = client.post("/v1/attachments", files={"file": ("one.txt", b"one")}).json()
    attachment_id, name = v1_url.rsplit("/", 2)[-2:]
    assert v3.get(f"{v3.org}/attachments/{attachment_id}/{name}", allow_redirects=False).status_code == 307


# -- knowledge notes ----------------------------------------------------------------------------


def test_note_crud_with_v3_fields(v3, emulator):
    created = v3.post(
        f"{v3.org}/knowledge/notes",
        json={"name": "Style", "body": "Use ruff", "trigger": "when writing Python", "pinned_repo": "o/r"},
    )
    assert created.status_code == 200, created.text
    note = created.json()
    assert set(note) == NOTE_FIELDS
    assert (note["trigger"], note["access_type"], note["is_enabled"], note["org_id"]) == (
        "when writing Python",
        "org",
        True,
        "org-emulator",
    )
    assert isinstance(note["created_at"], int) and note["macro"] is None
    note_id = note["note_id"]
    assert v3.get(f"{v3.org}/knowledge/notes/{note_id}").json() == note
    update = {"name": "Style v2", "body": "Use ruff format", "trigger": "always", "is_enabled": False}
    updated = v3.put(f"{v3.org}/knowledge/notes/{note_id}", json=update).json()
    assert (updated["name"], updated["trigger"], updated["is_enabled"], updated["pinned_repo"]) == (
        "Style v2",
        "always",
        False,
        None,
    )
    deleted = v3.delete(f"{v3.org}/knowledge/notes/{note_id}")
    assert deleted.status_code == 200 and deleted.json()["note_id"] == note_id
    assert_problem(v3.get(f"{v3.org}/knowledge/notes/{note_id}"), 404, note_id)


def test_note_validation_and_folders(v3, client):
    assert_problem(v3.post(f"{v3.org}/knowledge/notes", json={"name": "n", "body": "b"}), 422, "trigger")
    bad_folder = {"name": "n", "body": "b", "trigger": "t", "folder_id": "folder-nope"}
    assert_problem(v3.post(f"{v3.org}/knowledge/notes", json=bad_folder), 404, "folder-nope")
    folder = client.get("/v1/knowledge").json()["folders"][0]
    ok = v3.post(f"{v3.org}/knowledge/notes", json={**bad_folder, "folder_id": folder["id"]}).json()
    assert (ok["folder_id"], ok["folder_path"]) == (folder["id"], "/General")


def test_notes_list_pages_and_filters(v3):
    for n in range(3):
        repo = "o/a" if n else "o/b"
        v3.post(
            f"{v3.org}/knowledge/notes",
            json={"name": f"note {n}", "body": f"body {n}", "trigger": "t", "pinned_repo": repo},
        )
    page1 = v3.get(f"{v3.org}/knowledge/notes", params={"first": 2}).json()
    assert set(page1) == PAGE_FIELDS and page1["total"] == 3 and page1["has_next_page"] is True
    page2 = v3.get(f"{v3.org}/knowledge/notes", params={"first": 2, "after": page1["end_cursor"]}).json()
    assert [n["name"] for n in page1["items"] + page2["items"]] == ["note 0", "note 1", "note 2"]
    assert page2["end_cursor"] is None
    assert [n["name"] for n in v3.get(f"{v3.org}/knowledge/notes", params={"pinned_repo": "o/b"}).json()["items"]] == [
        "note 0"
    ]
    assert v3.get(f"{v3.org}/knowledge/notes", params={"search": "BODY 2"}).json()["total"] == 1


def test_notes_are_shared_with_v1(v3, client):
    made_on_v1 = client.post(
        "/v1/knowledge", json={"name": "v1 note", "body": "b", "trigger_description": "when asked"}
    ).json()
    [seen] = v3.get(f"{v3.org}/knowledge/notes").json()["items"]
    assert (seen["note_id"], seen["trigger"]) == (made_on_v1["id"], "when asked")
    v3.post(f"{v3.org}/knowledge/notes", json={"name": "v3 note", "body": "b", "trigger": "t"})
    v1_names = [n["name"] for n in client.get("/v1/knowledge").json()["knowledge"]]
    assert v1_names == ["v1 note", "v3 note"]
    assert "is_enabled" not in client.get("/v1/knowledge").json()["knowledge"][1]


# -- playbooks ----------------------------------------------------------------------------------


def test_playbook_crud_and_delete_returns_the_playbook(v3, client):
    created = v3.post(f"{v3.org}/playbooks", json={"title": "Release", "body": "Steps", "macro": "!release"})
    assert created.status_code == 200, created.text
    playbook = created.json()
    assert set(playbook) == PLAYBOOK_FIELDS
    assert (playbook["access_type"], playbook["org_id"], playbook["macro"]) == ("org", "org-emulator", "!release")
    assert isinstance(playbook["created_by"], str) and isinstance(playbook["updated_at"], int)
    playbook_id = playbook["playbook_id"]
    assert v3.get(f"{v3.org}/playbooks/{playbook_id}").json() == playbook
    updated = v3.put(f"{v3.org}/playbooks/{playbook_id}", json={"title": "Release 2", "body": "More"}).json()
    assert (updated["title"], updated["macro"]) == ("Release 2", None)
    assert client.get(f"/v1/playbooks/{playbook_id}").json()["title"] == "Release 2"
    deleted = v3.delete(f"{v3.org}/playbooks/{playbook_id}")
    assert deleted.status_code == 200 and deleted.json()["title"] == "Release 2"
    assert_problem(v3.get(f"{v3.org}/playbooks/{playbook_id}"), 404)
    assert v3.get(f"{v3.org}/playbooks").json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "", "body": "b"}, "title"),
        ({"title": "t"}, "body"),
        ({"title": "t", "body": "b", "macro": "x"}, "macro"),
    ],
)
def test_playbook_validation(v3, body, field):
    assert_problem(v3.post(f"{v3.org}/playbooks", json=body), 422, field)


def test_playbooks_list_is_paginated(v3):
    for n in range(3):
        v3.post(f"{v3.org}/playbooks", json={"title": f"p{n}", "body": "b"})
    page = v3.get(f"{v3.org}/playbooks", params={"first": 2}).json()
    rest = v3.get(f"{v3.org}/playbooks", params={"after": page["end_cursor"]}).json()
    assert [p["title"] for p in page["items"] + rest["items"]] == ["p0", "p1", "p2"]
    assert (page["total"], rest["has_next_page"], rest["end_cursor"]) == (3, False, None)


# -- secrets ------------------------------------------------------------------------------------


def test_secret_create_list_delete_never_show_the_value(v3, client, emulator):
    created = v3.post(
        f"{v3.org}/secrets", json={"key": "GITHUB_TOKEN", "type": "key-value", "value": "ghp_value", "note": "CI"}
    )
    assert created.status_code == 200, created.text
    secret = created.json()
    assert set(secret) == SECRET_FIELDS
    assert (secret["secret_type"], secret["is_sensitive"], secret["access_type"], secret["note"]) == (
        "key-value",
        True,
        "org",
        "CI",
    )
    assert secret["updated_by"] is None and isinstance(secret["created_at"], int)
    page = v3.get(f"{v3.org}/secrets").json()
    assert set(page) == PAGE_FIELDS and page["items"] == [secret]
    assert [s["id"] for s in client.get("/v1/secrets").json()] == [secret["secret_id"]]
    deleted = v3.delete(f"{v3.org}/secrets/{secret['secret_id']}")
    assert deleted.json() == secret
    assert_problem(v3.delete(f"{v3.org}/secrets/{secret['secret_id']}"), 404)
    assert "ghp_value" not in json.dumps([page, deleted.json(), emulator.control.journal()])


def test_secret_validation_and_duplicates(v3):
    assert_problem(v3.post(f"{v3.org}/secrets", json={"key": "K", "type": "password", "value": "v"}), 422, "type")
    body = {"key": "K", "type": "totp", "value": "v", "is_sensitive": False}
    assert v3.post(f"{v3.org}/secrets", json=body).json()["is_sensitive"] is False
    assert_problem(v3.post(f"{v3.org}/secrets", json=body), 409, "K")


def test_secrets_list_pages(v3):
    for n in range(3):
        v3.post(f"{v3.org}/secrets", json={"key": f"K{n}", "type": "key-value", "value": "v"})
    page = v3.get(f"{v3.org}/secrets", params={"first": 1}).json()
    assert (len(page["items"]), page["has_next_page"], page["total"]) == (1, True, 3)
    rest = v3.get(f"{v3.org}/secrets", params={"first": 5, "after": page["end_cursor"]}).json()
    assert [s["key"] for s in page["items"] + rest["items"]] == ["K0", "K1", "K2"]


def test_resources_of_another_org_path_are_404(v3):
    for path in ("knowledge/notes", "playbooks", "secrets"):
        assert_problem(v3.get(f"/v3/organizations/org-x/{path}"), 404, "org-x")
