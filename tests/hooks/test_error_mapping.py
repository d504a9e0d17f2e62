"""One error mapping for both versions: FastAPI ``{"detail": ...}`` and RFC 9457 ``ProblemDetail`` bodies."""

from __future__ import annotations

import json
import pickle

import pytest

from airflow_provider_devin.exceptions import (
    DevinAPIError,
    DevinAuthError,
    DevinNotFoundError,
    DevinRateLimitError,
    DevinServerError,
    DevinValidationError,
)
from airflow_provider_devin.hooks._http import error_for_status, retry_after_from
from airflow_provider_devin.hooks._v1 import V1Dialect
from airflow_provider_devin.hooks._v3 import V3Dialect

V1_GET = V1Dialect().get_session("devin-1")
V3_GET = V3Dialect("org-abc").get_session("devin-1")
V3_CREATE = V3Dialect("org-abc").create_session("x")


def problem(status, **fields):
    body = {"type": "about:blank", "title": fields.pop("title", "Problem"), "status": status, **fields}
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, DevinAPIError),
        (401, DevinAuthError),
        (403, DevinAuthError),
        (404, DevinNotFoundError),
        (409, DevinAPIError),
        (422, DevinValidationError),
        (429, DevinRateLimitError),
        (500, DevinServerError),
        (503, DevinServerError),
    ],
)
@pytest.mark.parametrize("request_", [V1_GET, V3_GET])
def test_both_body_shapes_map_to_the_same_types(status, kind, request_):
    fastapi = error_for_status(request_, status, {}, json.dumps({"detail": "nope"}).encode())
    rfc9457 = error_for_status(request_, status, {}, problem(status, detail="nope"))
    assert type(fastapi) is type(rfc9457) is kind
    assert "'nope'" in str(fastapi) and "'nope'" in str(rfc9457)
    assert fastapi.detail == rfc9457.detail == "nope"


def test_a_problem_detail_422_carries_its_field_errors():
    errors = [{"loc": ["body", "tags", 0], "msg": "tag not allowed", "type": "value_error"}]
    error = error_for_status(V3_CREATE, 422, {}, problem(422, detail="Validation failed", errors=errors))
    assert isinstance(error, DevinValidationError)
    assert error.errors == errors
    assert "Validation failed" in str(error) and "tags.0: tag not allowed" in str(error)


def test_a_list_detail_is_the_field_error_list_on_either_shape():
    items = [{"loc": ["body", "max_acu_limit"], "msg": "must be > 0", "type": "greater_than"}]
    for body in ({"detail": items}, {"title": "Unprocessable Content", "status": 422, "detail": items}):
        error = error_for_status(V3_CREATE, 422, {}, json.dumps(body).encode())
        assert error.errors == items
        assert "max_acu_limit: must be > 0" in str(error)


def test_a_problem_without_detail_quotes_its_title():
    error = error_for_status(V3_GET, 409, {}, problem(409, title="Conflict", detail=None))
    assert "'Conflict'" in str(error)
    assert error.status_code == 409


def test_a_non_json_error_body_is_quoted_shortly():
    error = error_for_status(V3_GET, 502, {}, b"<html>bad gateway</html>" * 50)
    assert isinstance(error, DevinServerError)
    assert "bad gateway" in str(error) and len(str(error)) < 600


def test_auth_hints_fit_the_version():
    v1 = str(error_for_status(V1_GET, 401, {}, b'{"detail": "bad key"}'))
    v3 = str(error_for_status(V3_GET, 401, {}, problem(401, detail="bad key")))
    v3_forbidden = str(error_for_status(V3_GET, 403, {}, problem(403, detail="no")))
    assert "apk_user_" in v1 and "v3" in v1
    assert "cog_" in v3 and "apk_" in v3
    assert "org_id" in v3_forbidden and "permission" in v3_forbidden


def test_retry_after_ms_wins_over_retry_after():
    assert retry_after_from({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    assert retry_after_from({"Retry-After": "9"}) == 9.0
    assert retry_after_from({"retry-after-ms": "soon", "retry-after": "4"}) == 4.0
    assert retry_after_from({}) is None
    error = error_for_status(V3_GET, 429, {"Retry-After-Ms": "250"}, problem(429, detail="slow down"))
    assert error.retry_after == 0.25


def test_a_validation_error_with_field_errors_survives_pickling():
    errors = [{"loc": ["body", "x"], "msg": "bad"}]
    error = error_for_status(V3_CREATE, 422, {}, problem(422, detail="bad", errors=errors))
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is DevinValidationError
    assert copy.errors == errors and str(copy) == str(error)
