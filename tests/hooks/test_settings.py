"""Reading the devin connection: base URL rules, extras, and the key kept out of reprs."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from airflow_provider_devin.exceptions import DevinConfigError
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
    with pytest.raises(DevinConfigError, match="refusing plain http://"):
        normalise_base_url(host, None, "devin_default")


def test_a_missing_key_is_a_clear_error():
    with pytest.raises(DevinConfigError, match="has no API key: put the key"):
        settings_from_connection(conn(password=""), "devin_default")


def test_extras_are_typed_and_checked():
    settings = settings_from_connection(
        conn(extra={"timeout": "12", "connect_timeout": 3, "max_retries": 2, "max_retry_wait": 9, "verify": "false"}),
        "c",
    )
    assert (settings.timeout, settings.connect_timeout) == (12.0, 3.0)
    assert (settings.retry.max_retries, settings.retry.max_wait) == (2, 9.0)
    assert settings.verify is False
    with pytest.raises(DevinConfigError, match="extra 'timeout' must be a number"):
        settings_from_connection(conn(extra={"timeout": "soon"}), "c")
    with pytest.raises(DevinConfigError, match="extra 'max_retries' must be >= 0"):
        settings_from_connection(conn(extra={"max_retries": -1}), "c")


def test_hook_arguments_win_over_extras():
    settings = settings_from_connection(conn(extra={"timeout": 30, "max_retries": 5}), "c", timeout=2, max_retries=0)
    assert (settings.timeout, settings.retry.max_retries) == (2.0, 0)


def test_the_key_is_not_in_the_settings_repr():
    settings = settings_from_connection(conn(), "c")
    assert KEY not in repr(settings)
    assert KEY not in str(settings)


@pytest.mark.parametrize(
    ("key", "extra", "expected"),
    [
        ("cog_fake-v3-test-key", None, "v3"),
        ("cog_fake-v3-test-key", "auto", "v3"),
        ("cog_fake-v3-test-key", "", "v3"),
        ("cog_fake-v3-test-key", "V3", "v3"),
        (KEY, None, "v1"),
        ("apk_service_key_0001", "auto", "v1"),
        ("some-other-key-shape", None, "v1"),
        ("some-other-key-shape", "v3", "v3"),
        (KEY, "v1", "v1"),
    ],
)
def test_api_version_comes_from_the_extra_or_the_key_prefix(key, extra, expected):
    extras = {} if extra is None else {"api_version": extra}
    assert settings_from_connection(conn(password=key, extra=extras), "c").api_version == expected


def test_a_bad_api_version_names_the_extra():
    with pytest.raises(DevinConfigError, match="extra 'api_version' must be one of auto, v1, v3, got 'v2'"):
        settings_from_connection(conn(extra={"api_version": "v2"}), "c")


def test_a_cog_key_cannot_be_forced_onto_v1_and_the_message_hides_the_key():
    with pytest.raises(DevinConfigError, match="cog_ keys cannot call v1; set api_version to v3 or auto") as caught:
        settings_from_connection(conn(password="cog_fake-v3-test-key", extra={"api_version": "v1"}), "c")
    assert "cog_fake-v3-test-key" not in str(caught.value)


@pytest.mark.parametrize("key", [KEY, "apk_service_key_0001"])
def test_an_apk_key_cannot_be_forced_onto_v3(key):
    with pytest.raises(DevinConfigError, match="apk_ \\(legacy\\) keys cannot call v3") as caught:
        settings_from_connection(conn(password=key, extra={"api_version": "v3"}), "c")
    assert key not in str(caught.value)


def test_a_cog_key_no_longer_warns(caplog):
    with caplog.at_level(logging.WARNING):
        settings_from_connection(conn(password="cog_fake-v3-test-key"), "c")
    assert caplog.text == ""


def test_org_id_extra_is_read_and_loosely_checked():
    assert settings_from_connection(conn(extra={"org_id": " org-abc123 "}), "c").org_id == "org-abc123"
    assert settings_from_connection(conn(extra={"org_id": ""}), "c").org_id is None
    assert settings_from_connection(conn(), "c").org_id is None
    with pytest.raises(DevinConfigError, match="extra 'org_id' must be an organization id"):
        settings_from_connection(conn(extra={"org_id": "org-a/sessions"}), "c")
    with pytest.raises(DevinConfigError, match="extra 'org_id' must be a string"):
        settings_from_connection(conn(extra={"org_id": 12}), "c")


def test_an_enterprise_host_is_kept_for_v3():
    settings = settings_from_connection(
        conn(host="https://api.acme.devinenterprise.com", password="cog_fake-v3-test-key"), "c"
    )
    assert (settings.base_url, settings.api_version) == ("https://api.acme.devinenterprise.com", "v3")


def test_extras_saved_by_an_old_form_with_the_prefix_are_read():
    extras = {"extra__devin__api_version": "v3", "extra__devin__org_id": "org-1", "api_version": ""}
    settings = settings_from_connection(conn(password="cog_fake-v3-test-key", extra=extras), "c")
    assert (settings.api_version, settings.org_id) == ("v3", "org-1")


@pytest.mark.parametrize(
    ("connection", "overrides", "names"),
    [
        (conn(password=""), {}, "has no API key"),
        (conn(host="http://devin.example.com"), {}, "refusing plain http://"),
        (conn(host="ftp://devin.example.com"), {}, "host must be a URL"),
        (conn(extra={"api_version": "v9"}), {}, "extra 'api_version'"),
        (conn(password="cog_fake-v3-test-key", extra={"api_version": "v1"}), {}, "extra 'api_version' is v1"),
        (conn(extra={"org_id": "org a"}), {}, "extra 'org_id'"),
        (conn(extra={"timeout": "soon"}), {}, "extra 'timeout' must be a number"),
        (conn(extra={"timeout": 0}), {}, "extra 'timeout' must be >= 0.001"),
        (conn(extra={"connect_timeout": "nan"}), {}, "extra 'connect_timeout' must be >="),
        (conn(extra={"max_retries": 2.5}), {}, "extra 'max_retries' must be a whole number"),
        (conn(extra={"max_retry_wait": -1}), {}, "extra 'max_retry_wait' must be >= 0"),
        (conn(extra={"initial_retry_wait": "x"}), {}, "extra 'initial_retry_wait' must be a number"),
        (conn(extra={"web_url": "app.devin.ai"}), {}, "extra 'web_url' must be a URL"),
        (conn(extra={"verify": "/no/such/ca-bundle.pem"}), {}, "extra 'verify' must be true, false or the path"),
        (conn(), {"timeout": -1}, "hook argument 'timeout' must be >= 0.001"),
        (conn(), {"max_retries": "many"}, "hook argument 'max_retries' must be a number"),
    ],
)
def test_every_configuration_error_is_one_exception_type_naming_the_field(connection, overrides, names):
    from airflow_provider_devin._compat import AirflowException
    from airflow_provider_devin.exceptions import DevinAPIError

    with pytest.raises(DevinConfigError, match=names) as caught:
        settings_from_connection(connection, "devin_cfg", **overrides)
    assert "'devin_cfg'" in str(caught.value)
    assert isinstance(caught.value, AirflowException) and not isinstance(caught.value, DevinAPIError)
    assert KEY not in str(caught.value)


def test_the_form_saves_extras_under_their_names_or_the_old_prefixed_names():
    extras = {"extra__devin__timeout": "7", "extra__devin__web_url": "https://devin.example.com/", "verify": ""}
    settings = settings_from_connection(conn(extra=extras), "c")
    assert (settings.timeout, settings.web_url, settings.verify) == (7.0, "https://devin.example.com", True)


def test_a_ca_bundle_that_exists_is_kept(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not parsed here")
    assert settings_from_connection(conn(extra={"verify": str(bundle)}), "c").verify == str(bundle)
