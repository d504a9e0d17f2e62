"""The API key never appears in logs (any level, retries included), errors, or reprs; Airflow masks it.
On both API versions (v1 ``apk_`` and v3 ``cog_`` keys)."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_devin.exceptions import DevinAPIError

both_versions = pytest.mark.parametrize("devin_api_version", ["v1", "v3"])


@both_versions
def test_key_is_absent_from_debug_and_retry_logs_and_errors(hook, devin_emulator, api, caplog, capfd):
    key = devin_emulator.api_key
    with caplog.at_level(logging.DEBUG):
        session_id = hook.create_session("task")["session_id"]
        devin_emulator.control.inject_fault("GET", api.session(session_id), status=503)
        hook.get_session(session_id)
        devin_emulator.control.inject_fault("POST", api.message(session_id), status=500)
        with pytest.raises(DevinAPIError) as caught:
            hook.send_message(session_id, "x")
    # Airflow 3 hooks log through structlog to the process streams; stdlib loggers go to caplog.
    streams = capfd.readouterr()
    logged = caplog.text + streams.out + streams.err
    assert "Retrying" in logged, "the retry was logged"
    assert f"GET {api.sessions}/" in logged, "DEBUG request lines were logged"
    assert key not in logged
    assert key not in str(caught.value)
    assert key not in repr(caught.value)
    assert key not in repr(caught.value.__dict__)


@both_versions
def test_key_is_absent_from_the_hook_repr(hook, devin_emulator):
    hook.list_sessions()
    assert devin_emulator.api_key not in repr(hook)
    assert devin_emulator.api_key not in repr(hook.settings)
    assert devin_emulator.api_key not in repr(hook.dialect)


@both_versions
def test_airflow_secrets_masker_masks_the_key_once_the_hook_read_it(hook, devin_emulator):
    try:
        from airflow.sdk._shared.secrets_masker import redact
    except ImportError:  # Airflow 2.11
        from airflow.utils.log.secrets_masker import redact

    hook.list_sessions()
    assert devin_emulator.api_key not in str(redact(f"Authorization: Bearer {devin_emulator.api_key}"))


@both_versions
def test_session_secret_values_are_masked(hook):
    try:
        from airflow.sdk._shared.secrets_masker import redact
    except ImportError:  # Airflow 2.11
        from airflow.utils.log.secrets_masker import redact

    hook.create_session("task", session_secrets={"WAREHOUSE_TOKEN": "per-session-s3cr3t-v4lue"})
    hook.create_secret("key-value", "ORG_TOKEN", "org-s3cr3t-v4lue-42")
    assert "per-session-s3cr3t-v4lue" not in str(redact("token=per-session-s3cr3t-v4lue"))
    assert "org-s3cr3t-v4lue-42" not in str(redact("token=org-s3cr3t-v4lue-42"))
