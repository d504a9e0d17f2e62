"""Reading the devin connection: base URL rules, extras, and the key kept out of reprs."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from airflow_provider_devin._compat import AirflowException
from airflow_provider_devin.hooks._settings import normalise_base_url, settings_from_connection

KEY = "apk_user_settings_test_key_0001"


def conn(host=None, password=KEY, port=None, extra=None):
    return SimpleNamespace(host=host, password=password, port=port, extra_dejson=extra or {})


def test_default_base_url_is_devin_cloud_and_web_url_is_the_app():
    settings = settings_from_connection(conn(), "devin_default")
    assert settings.base_url == "https://api.devin.ai"
    assert settings.web_url == "https://app.devin.ai"


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("api.devin.ai", None, "https://api.devin.ai"),
        ("https://api.devin.ai/", None, "https://api.devin.ai"),
        ("http://127.0.0.1:8787", None, "http://127.0.0.1:8787"),
        ("127.0.0.1", 8787, "http://127.0.0.1:8787"),
        ("http://localhost:9000/", None, "http://localhost:9000"),
        ("http://[::1]:9000", None, "http://[::1]:9000"),
        ("https://devin.example.com", 8443, "https://devin.example.com:8443"),
    ],
)
def test_base_url_is_normalised(host, port, expected):
    assert normalise_base_url(host, port, "c") == expected


@pytest.mark.parametrize("host", ["http://api.devin.ai", "http://10.0.0.5:8787", "http://example.com"])
def test_plain_http_is_refused_unless_loopback(host):
    with pytest.raises(AirflowException, match="refusing plain http://"):
        normalise_base_url(host, None, "devin_default")


def test_a_missing_key_is_a_clear_error():
    with pytest.raises(AirflowException, match="has no API key: put the key"):
        settings_from_connection(conn(password=""), "devin_default")


def test_extras_are_typed_and_checked():
    settings = settings_from_connection(
        conn(extra={"timeout": "12", "connect_timeout": 3, "max_retries": 2, "max_retry_wait": 9, "verify": "false"}),
        "c",
    )
    assert (settings.timeout, settings.connect_timeout) == (12.0, 3.0)
    assert (settings.retry.max_retries, settings.retry.max_wait) == (2, 9.0)
    assert settings.verify is False
    with pytest.raises(AirflowException, match="extra 'timeout' must be a number"):
        settings_from_connection(conn(extra={"timeout": "soon"}), "c")
    with pytest.raises(AirflowException, match="extra 'max_retries' must be >= 0"):
        settings_from_connection(conn(extra={"max_retries": -1}), "c")


def test_hook_arguments_win_over_extras():
    settings = settings_from_connection(conn(extra={"timeout": 30, "max_retries": 5}), "c", timeout=2, max_retries=0)
    assert (settings.timeout, settings.retry.max_retries) == (2.0, 0)


def test_the_key_is_not_in_the_settings_repr():
    settings = settings_from_connection(conn(), "c")
    assert KEY not in repr(settings)
    assert KEY not in str(settings)


def test_a_v3_key_gives_a_warning_without_the_key(caplog):
    with caplog.at_level(logging.WARNING):
        settings_from_connection(conn(password="cog_fake-v3-test-key"), "c")
    assert "cog_ key" in caplog.text
    assert "cog_fake-v3-test-key" not in caplog.text
