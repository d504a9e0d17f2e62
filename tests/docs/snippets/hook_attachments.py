"""The hook attachment example shown in docs/guides/attachments.md; run by tests/docs."""

from __future__ import annotations


def send_log_to_session(session_id: str) -> bytes:
    # --8<-- [start:upload]
    from airflow_provider_devin.hooks.devin import DevinHook

    hook = DevinHook()  # the devin_default connection
    url = hook.upload_attachment(b"ERROR row 17: amount < 0\n", filename="validation.log")
    # v3 sends attachment_urls; v1 turns each URL into an ATTACHMENT:"<url>" line of the message.
    hook.send_message(session_id, "Here is the validation log from tonight's run.", attachment_urls=[url])
    assert hook.download_attachment(url) == b"ERROR row 17: amount < 0\n"
    # --8<-- [end:upload]
    return hook.download_attachment(url)
