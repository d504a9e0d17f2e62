"""The sync transport: one request sent with ``requests`` (keep-alive ``Session`` owned by the hook),
its failures turned into :class:`~airflow_provider_devin.exceptions.DevinConnectionError` that say
whether the request may have reached Devin."""

from __future__ import annotations

import socket
import ssl
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
    """Send ``request`` once and return the decoded body (or raise the mapped error).

    The CA bundle and the proxy come from :meth:`ConnectionSettings.route` (what the triggerer's
    aiohttp path uses too); requests' own reading of the environment is switched off
    (``trust_env``), so the two paths cannot disagree (and a ``.netrc`` never replaces the key).
    """
    import requests

    url = settings.base_url + request.path
    route = settings.route(url)
    session.trust_env = False
    started = time.monotonic()
    try:
        response = session.request(
            request.method,
            url,
            params=list(request.params) or None,
            json=None if request.json_body is NO_BODY else request.json_body,
            files=files,
            timeout=(settings.connect_timeout, settings.timeout),
            verify=route.verify,
            proxies=route.requests_proxies(),
        )
    except requests.exceptions.ConnectTimeout:
        raise connection_error(request, "connect timeout", request_sent=False) from None
    except requests.exceptions.Timeout:
        raise connection_error(request, "read timeout", request_sent=True) from None
    except requests.exceptions.SSLError as err:
        # A refused certificate ends the handshake before any HTTP byte is sent; other TLS
        # failures (an EOF mid-response) may come after the request went out.
        refused = find_in_chain(err, ssl.SSLCertVerificationError)
        detail = getattr(refused, "verify_message", None) or getattr(find_in_chain(err, ssl.SSLError), "reason", None)
        reason = f"TLS: {'certificate verify failed' if refused else 'TLS error'}{f' ({detail})' if detail else ''}"
        never_sent = refused is not None or failed_before_sending(err)
        raise connection_error(request, reason, request_sent=not never_sent, is_tls=True) from None
    except requests.exceptions.ConnectionError as err:
        reason, sent = _why_no_connection(err)
        raise connection_error(request, reason, request_sent=sent) from None
    log_response(logger, request, response.status_code, started)
    return interpret_response(request, response.status_code, response.headers, response.content)


def _why_no_connection(err: Exception) -> tuple[str, bool]:
    """``(reason, request_sent)`` for a requests ConnectionError that is not a timeout or TLS."""
    from urllib3.exceptions import NameResolutionError

    if find_in_chain(err, NameResolutionError) is not None or find_in_chain(err, socket.gaierror) is not None:
        return "DNS lookup failed: the host name does not resolve", False
    if find_in_chain(err, ConnectionRefusedError) is not None:
        return "connection refused: nothing listens on that host and port", False
    if failed_before_sending(err):
        return "connection refused or unreachable", False
    return "connection dropped", True


def failed_before_sending(err: Exception) -> bool:
    """Whether a requests ConnectionError happened while connecting (refused, DNS, connect timeout)."""
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    return find_in_chain(err, (NewConnectionError, ConnectTimeoutError)) is not None


def find_in_chain(err: BaseException, kinds: type[BaseException] | tuple[type[BaseException], ...]) -> Any:
    """The first exception of ``kinds`` in ``err``'s causes, contexts, ``reason`` s and args, or ``None``.

    :param err: Where to start (requests and urllib3 nest the socket error several levels down).
    :param kinds: The exception class(es) to look for.
    """
    seen: set[int] = set()
    stack: list[Any] = [err]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kinds):
            return current
        stack.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        stack.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
    return None
