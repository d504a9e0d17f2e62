"""The DevinHook examples shown in docs/guides/hook.md; run by tests/docs/test_guide_snippets.py."""

# --8<-- [start:sessions]
from airflow.sdk import task

from airflow_provider_devin.hooks.devin import DevinHook
from airflow_provider_devin.session import StatusClass


@task
def stale_sessions_report() -> list[dict]:
    """List this DAG's sessions that are still waiting for a person, newest first."""
    with DevinHook() as hook:  # closes its pooled HTTP connections at the end
        # find_sessions() lists by tag (every page), re-checks the tag, and returns normalised
        # views: the same fields on v1 and v3.
        return [
            {"session_id": view.session_id, "title": view.title, "status": view.status_label, "url": view.url}
            for view in hook.find_sessions("nightly-maintenance")
            if view.status_class is StatusClass.NEEDS_HUMAN
        ]


# --8<-- [end:sessions]


# --8<-- [start:secrets]
@task
def rotate_staging_token(new_token: str) -> str:
    """Replace an org secret; sessions created from now on see the new value."""
    hook = DevinHook()
    for secret in hook.list_secrets():
        if secret.get("key") == "STAGING_API_TOKEN":
            hook.delete_secret(secret["id"])
    return hook.create_secret("key-value", "STAGING_API_TOKEN", new_token, note="rotated by Airflow")


# --8<-- [end:secrets]


# --8<-- [start:messages]
@task
def devin_said(session_id: str) -> list[str]:
    """Everything Devin wrote in a session, oldest first, on either API version."""
    with DevinHook() as hook:
        snapshot = hook.read_session(session_id)  # v3: follows the messages cursor to the end
        return [message.text for message in snapshot.new_messages if message.from_devin]


# --8<-- [end:messages]
