"""Client-side validation: bad input fails before any request, naming the field."""

from __future__ import annotations

import pytest

from airflow_provider_devin.hooks._v1 import V1Dialect

endpoints = V1Dialect()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: endpoints.create_session(""), "prompt must not be empty"),
        (lambda: endpoints.create_session("   "), "prompt must not be empty"),
        (lambda: endpoints.create_session(None), "prompt must be a string"),  # type: ignore[arg-type]
        (lambda: endpoints.create_session("x", structured_output_schema=[1]), "structured_output_schema must be"),
        (
            lambda: endpoints.create_session("x", structured_output_schema={"d": "x" * 70_000}),
            "structured_output_schema is .* bytes serialised; Devin accepts at most 65536",
        ),
        (lambda: endpoints.create_session("x", tags=[f"t{i}" for i in range(51)]), "tags has 51 items"),
        (lambda: endpoints.create_session("x", tags="one"), "tags must be a list of strings"),
        (lambda: endpoints.create_session("x", max_acu_limit=0), "max_acu_limit must be greater than 0"),
        (lambda: endpoints.create_session("x", max_acu_limit=-3), "max_acu_limit must be greater than 0"),
        (lambda: endpoints.create_session("x", max_acu_limit=1.5), "max_acu_limit must be a positive integer"),
        (lambda: endpoints.create_session("x", knowledge_ids=[""]), r"knowledge_ids\[0\] must not be empty"),
        (lambda: endpoints.create_session("x", session_secrets=[{"key": "K"}]), r"session_secrets\[0\].value"),
        (lambda: endpoints.get_session(""), "session_id must not be empty"),
        (lambda: endpoints.get_session("a/b"), "session_id must be a Devin id"),
        (lambda: endpoints.send_message("devin-1", ""), "message must not be empty"),
        (lambda: endpoints.terminate_session(" "), "session_id must not be empty"),
        (lambda: endpoints.update_session_tags("devin-1", None), "tags must be a list"),  # type: ignore[arg-type]
        (lambda: endpoints.create_secret("password", "k", "v"), "type must be one of"),
        (lambda: endpoints.create_playbook("t", "b", macro="nope"), "macro must look like '!name'"),
        (lambda: endpoints.create_knowledge("n", "", "when"), "body must not be empty"),
        (lambda: endpoints.download_attachment("just-a-name"), "url_or_path must be an attachment URL"),
        (lambda: endpoints.list_sessions(page_size=0), "limit must be a positive integer"),
    ],
)
def test_bad_input_is_rejected_with_the_field_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_empty_lists_mean_none_and_are_sent_while_none_is_omitted():
    body = endpoints.create_session("x", knowledge_ids=[], secret_ids=None).json_body
    assert body["knowledge_ids"] == []
    assert "secret_ids" not in body


def test_session_secrets_accept_a_mapping_and_default_to_sensitive():
    body = endpoints.create_session("x", session_secrets={"TOKEN": "s3cr3t"}).json_body
    assert body["session_secrets"] == [{"key": "TOKEN", "value": "s3cr3t", "sensitive": True}]


def test_list_sessions_sends_repeated_tag_parameters():
    request = endpoints.list_sessions(tags=["a", "b"], page_size=5)
    assert request.params == (("limit", "5"), ("offset", "0"), ("tags", "a"), ("tags", "b"))


def test_old_and_new_secret_list_shapes_read_the_same():
    new = [{"id": "s1", "type": "key-value", "key": "K", "created_at": None}]
    old = {"secrets": [{"secret_id": "s1", "secret_type": "key-value", "secret_name": "K", "created_at": None}]}
    assert endpoints.read_secret_page(new).items == endpoints.read_secret_page(old).items == new


def test_playbooks_wrapped_in_items_are_unwrapped():
    playbook = {"playbook_id": "playbook-1", "title": "t", "body": "b"}
    assert (
        endpoints.read_playbook_page({"items": [playbook]}).items
        == endpoints.read_playbook_page([playbook]).items
        == [playbook]
    )


def test_an_upload_answered_as_plain_quoted_text_still_gives_the_url():
    assert endpoints.read_attachment_url(None, b'"https://x/y/z.txt"') == "https://x/y/z.txt"
    assert endpoints.read_attachment_url("https://x/y/z.txt", b"") == "https://x/y/z.txt"


def test_a_note_of_either_version_gets_the_other_versions_names():
    from airflow_provider_devin.hooks._resources import knowledge_note

    v1 = knowledge_note({"id": "note-1", "name": "n", "body": "b", "trigger_description": "t", "created_by": None})
    v3 = knowledge_note({"note_id": "note-1", "name": "n", "body": "b", "trigger": "t", "folder_id": "f-1"})
    assert (v1["note_id"], v1["trigger"], v1["folder_id"], v1["macro"]) == ("note-1", "t", None, None)
    assert (v3["id"], v3["trigger_description"], v3["parent_folder_id"]) == ("note-1", "t", "f-1")
    assert "created_by" in v1 and "created_by" not in v3  # version-only fields are not invented
    assert knowledge_note(None) == {}
