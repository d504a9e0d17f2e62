"""``DevinHook.test_connection``: one attempt with a short timeout, and a message that says what failed.

The UI's **Test** button waits for this call, so it never goes through the retry policy (a bad
host would hold the button for the whole backoff) and its timeouts are capped at
:data:`PROBE_CONNECT_TIMEOUT` / :data:`PROBE_TIMEOUT` seconds. The answer starts with what is
wrong, in the order someone fixing the connection checks it:

* ``Configuration:`` the connection itself (no key, a bad extra, ``http://`` to a remote host, a
  key of the other API version, a v3 key whose organization cannot be found);
* ``Host:`` the base URL (DNS, refused, timeout, an answer that is not the Devin API);
* ``TLS:`` the certificate (untrusted, expired, wrong name) or the handshake;
* ``Authentication:`` Devin refused the key (401) or its permissions (403);
* ``Organization:`` v3 answered 404 for the organization: not this key's, or mistyped;
* ``Devin:`` Devin itself failed (429, 5xx): try again later.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from airflow_provider_devin.exceptions import (
    DevinAPIError,
    DevinAuthError,
    DevinConfigError,
    DevinConnectionError,
    DevinNotFoundError,
    DevinRateLimitError,
    DevinResponseError,
    DevinServerError,
)
from airflow_provider_devin.hooks._http import ApiRequest
from airflow_provider_devin.hooks._settings import ConnectionSettings
from airflow_provider_devin.hooks._sync import send_with_requests

if TYPE_CHECKING:
    from airflow_provider_devin.hooks.devin import DevinHook

#: Seconds ``test_connection`` waits for Devin's answer (the connection's ``timeout`` if shorter).
PROBE_TIMEOUT = 10.0
#: Seconds ``test_connection`` waits to connect (the connection's ``connect_timeout`` if shorter).
PROBE_CONNECT_TIMEOUT = 5.0


def check_connection(hook: DevinHook) -> tuple[bool, str]:
    """``(ok, message)`` for ``hook``'s connection after one cheap authenticated request; never raises.

    v1 (and v3 with an ``org_id`` extra): one ``GET`` of a one-item session page. v3 without an
    ``org_id``: the ``GET /v3/self`` that finds the organization is the request.

    :param hook: The hook whose connection to test (its session and org cache are reused).
    """
    try:
        settings = hook.settings
    except DevinConfigError as err:
        return False, f"Configuration: {err}"
    except Exception as err:  # reading the connection itself failed (e.g. it does not exist)
        return False, f"Configuration: {type(err).__name__}: {err}"
    probe = replace(
        settings,
        timeout=min(settings.timeout, PROBE_TIMEOUT),
        connect_timeout=min(settings.connect_timeout, PROBE_CONNECT_TIMEOUT),
    )

    def once(request: ApiRequest) -> Any:
        return send_with_requests(hook.get_conn(), probe, request, None, hook.log)

    try:
        resolver = hook.resolver
        dialect = resolver.resolved
        if dialect is None:
            dialect = resolver.get(once)
        else:
            once(dialect.probe())
    except Exception as err:  # the UI wants a message, not a traceback
        return False, describe_failure(err, probe)
    org = getattr(dialect, "org_id", None)
    where = f" (organization {org})" if org else ""
    return True, f"Connected to the Devin {dialect.version} API at {settings.base_url}{where}."


def describe_failure(err: BaseException, settings: ConnectionSettings) -> str:
    """What a failed probe says, starting with the kind of problem (see the module docstring).

    :param err: What the probe raised.
    :param settings: The settings it ran with (for the base URL, version, org and timeouts).
    """
    if isinstance(err, DevinConfigError):
        return f"Configuration: {err}"
    if isinstance(err, DevinConnectionError):
        if err.is_tls:
            return f"TLS: the TLS connection to {settings.base_url} failed: {err.reason}. {_tls_hint(settings)}"
        waited = ""
        if "timeout" in err.reason:
            waited = f" (waited {settings.connect_timeout:g} s to connect, {settings.timeout:g} s for an answer)"
        return (
            f"Host: no answer from {settings.base_url}: {err.reason}{waited}. Check the connection's host "
            "(the Devin API base URL, e.g. https://api.devin.ai) and that this machine can reach it "
            "(DNS, firewall, proxy)."
        )
    if isinstance(err, DevinAuthError):
        meaning = (
            "the key is valid but lacks a permission this call needs"
            if err.status_code == 403
            else "Devin refused the API key (wrong, revoked, or of the other kind)"
        )
        return f"Authentication: {meaning} (HTTP {err.status_code}). {err}"
    if isinstance(err, DevinNotFoundError):
        if settings.api_version == "v3":
            org = settings.org_id or "the one GET /v3/self named"
            return (
                f"Organization: Devin answered 404 for organization {org}: it does not exist or this key "
                f"does not belong to it. Check the org_id extra (Settings → Devin API in the Devin web app "
                f"shows it), or clear it to use the key's own organization. {err}"
            )
        return (
            f"Host: {settings.base_url} answered 404 for {err.path}: it does not look like the Devin API. "
            f"Check the connection's host (no /v1 suffix). {err}"
        )
    if isinstance(err, DevinResponseError):
        return f"Host: {settings.base_url} answered, but not with the Devin API's JSON: {err}"
    if isinstance(err, (DevinRateLimitError, DevinServerError)):
        return f"Devin: the API is reachable and the request was understood, but it failed: {err} Try again later."
    if isinstance(err, DevinAPIError):
        return f"Devin: {err}"
    return f"Unexpected error while testing the connection: {type(err).__name__}: {err}"


def _tls_hint(settings: ConnectionSettings) -> str:
    if isinstance(settings.verify, str):
        return f"The connection's verify extra trusts only the CA bundle {settings.verify}: is it the right one?"
    return (
        "If the host uses a private CA or a TLS-inspecting proxy, set the connection's verify extra to "
        "the path of that CA bundle."
    )
