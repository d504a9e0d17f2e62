"""The retry policy as pure logic: which failures are repeated, and how long we wait."""

from __future__ import annotations

import email.utils
import time

import pytest

from airflow_provider_devin.hooks._http import connection_error, error_for_status, parse_retry_after
from airflow_provider_devin.hooks._retry import RetrySettings, backoff_seconds, should_retry
from airflow_provider_devin.hooks._v1 import V1Dialect

endpoints = V1Dialect()

GET = endpoints.get_session("devin-1")
POST_MESSAGE = endpoints.send_message("devin-1", "hello")
CREATE = endpoints.create_session("do it")
IDEMPOTENT_CREATE = endpoints.create_session("do it", idempotent=True)
PUT_TAGS = endpoints.update_session_tags("devin-1", ["a"])
DELETE = endpoints.terminate_session("devin-1")


def http_error(request, status, retry_after=None):
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return error_for_status(request, status, headers, b'{"detail": "nope"}')


@pytest.mark.parametrize("request_", [GET, POST_MESSAGE, CREATE, IDEMPOTENT_CREATE, PUT_TAGS, DELETE])
def test_a_request_that_never_left_is_retried_for_every_method(request_):
    assert should_retry(request_, connection_error(request_, "refused", request_sent=False))


@pytest.mark.parametrize("request_", [GET, POST_MESSAGE, CREATE, IDEMPOTENT_CREATE, DELETE])
def test_429_is_retried_for_every_method(request_):
    assert should_retry(request_, http_error(request_, 429))


@pytest.mark.parametrize("request_", [GET, IDEMPOTENT_CREATE, PUT_TAGS, DELETE])
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_only_when_replay_safe(request_, status):
    assert should_retry(request_, http_error(request_, status))


@pytest.mark.parametrize("request_", [POST_MESSAGE, CREATE])
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_on_plain_posts_are_not_retried(request_, status):
    assert not should_retry(request_, http_error(request_, status))


@pytest.mark.parametrize("request_", [POST_MESSAGE, CREATE])
def test_an_ambiguous_failure_of_a_plain_post_is_not_retried(request_):
    assert not should_retry(request_, connection_error(request_, "read timeout", request_sent=True))


@pytest.mark.parametrize("request_", [GET, IDEMPOTENT_CREATE, DELETE])
def test_an_ambiguous_failure_of_a_replay_safe_call_is_retried(request_):
    assert should_retry(request_, connection_error(request_, "read timeout", request_sent=True))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
@pytest.mark.parametrize("request_", [GET, IDEMPOTENT_CREATE, POST_MESSAGE])
def test_client_errors_are_never_retried(request_, status):
    assert not should_retry(request_, http_error(request_, status))


def test_only_idempotent_creates_are_replay_safe():
    assert IDEMPOTENT_CREATE.replay_safe
    assert not CREATE.replay_safe
    assert not POST_MESSAGE.replay_safe


def test_retry_after_seconds_is_used_and_capped():
    settings = RetrySettings(max_wait=10)
    assert backoff_seconds(http_error(GET, 429, "7"), 1, settings) == 7
    assert backoff_seconds(http_error(GET, 429, "120"), 1, settings) == 10


def test_retry_after_http_date_is_understood():
    now = time.time()
    header = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0


@pytest.mark.parametrize("value", [None, "", "soon", "Mon, 99 Foo 2026"])
def test_an_unusable_retry_after_is_ignored(value):
    assert parse_retry_after(value) is None


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    settings = RetrySettings(initial_wait=1, max_wait=5)
    error = http_error(GET, 503)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 5), (9, 5)]:
        waits = [backoff_seconds(error, attempt, settings) for _ in range(200)]
        assert all(ceiling * 0.5 <= wait <= ceiling for wait in waits)
        assert len(set(waits)) > 1, "jitter spreads the waits"
