"""The sync transport: one request sent with ``requests`` (keep-alive ``Session`` owned by the hook),
its failures turned into :class:`~airflow_provider_devin.exceptions.DevinConnectionError` that say
whether the request may have reached Devin."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_devin.hooks._http import NO_BODY, ApiRequest, connection_error, interpret_response, log_response
from airflow_provider_devin.hooks._settings import ConnectionSettings

if TYPE_CHECKING:
    import requests


def send_with_requests(
    session: requests.Session,
    settings: ConnectionSettings,
    request: ApiRequest,
    files: Mapping[str, Any] | None,
    logger: Any,
) -> Any:
    """Send ``request`` once and return the decoded body (or raise the mapped error)."""
    import requests

    started = time.monotonic()
    try:
        response = session.request(
            request.method,
            settings.base_url + request.path,
            params=list(request.params) or None,
            json=None if request.json_body is NO_BODY else request.json_body,
            files=files,
            timeout=(settings.connect_timeout, settings.timeout),
        )
    except requests.exceptions.ConnectTimeout:
        raise connection_error(request, "connect timeout", request_sent=False) from None
    except requests.exceptions.Timeout:
        raise connection_error(request, "read timeout", request_sent=True) from None
    except requests.exceptions.ConnectionError as err:
        never_sent = failed_before_sending(err)
        reason = "connection refused or unreachable" if never_sent else "connection dropped"
        raise connection_error(request, reason, request_sent=not never_sent) from None
    log_response(logger, request, response.status_code, started)
    return interpret_response(request, response.status_code, response.headers, response.content)


def failed_before_sending(err: Exception) -> bool:
    """Whether a requests ConnectionError happened while connecting (refused, DNS, connect timeout)."""
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    seen: set[int] = set()
    stack: list[Any] = [err]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (NewConnectionError, ConnectTimeoutError)):
            return True
        stack.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        stack.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
    return False
