"""The DevinHook examples shown in docs/guides/hook.md; run by tests/docs/test_guide_snippets.py."""

# --8<-- [start:sessions]
from airflow.sdk import task

from airflow_provider_devin.hooks.devin import DevinHook


@task
def stale_sessions_report() -> list[dict]:
    """List this DAG's sessions that are still blocked on a question, newest first."""
    with DevinHook() as hook:  # closes its pooled HTTP connections at the end
        return [
            {"session_id": s["session_id"], "title": s.get("title"), "updated_at": s["updated_at"]}
            for s in hook.iter_sessions(tags=["nightly-maintenance"])
            if s.get("status_enum") == "blocked"
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
