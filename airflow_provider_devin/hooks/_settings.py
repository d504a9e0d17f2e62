"""Reading the ``devin`` Airflow connection into typed settings (shared by sync and async paths).

Every problem found here is a :class:`~airflow_provider_devin.exceptions.DevinConfigError` naming
the connection, the field and what was expected; it is raised before any request.
"""

from __future__ import annotations

import ipaddress
import json
import os
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_devin.__version__ import __version__
from airflow_provider_devin.exceptions import DevinConfigError
from airflow_provider_devin.hooks._retry import RetrySettings

DEFAULT_BASE_URL = "https://api.devin.ai"
API_VERSIONS = ("auto", "v1", "v3")
DEFAULT_WEB_URL = "https://app.devin.ai"
USER_AGENT = f"airflow-provider-devin/{__version__}"
DEFAULT_ASYNC_POOL_SIZE = 100


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything the HTTP layer needs, read once from the connection.

    The key is excluded from ``repr`` so it never lands in a log line or a traceback.
    """

    conn_id: str
    base_url: str
    api_key: str = field(repr=False)
    timeout: float = 30.0
    connect_timeout: float = 10.0
    retry: RetrySettings = field(default_factory=RetrySettings)
    web_url: str = DEFAULT_WEB_URL
    verify: bool | str = True
    #: The API generation this connection speaks: ``"v1"`` or ``"v3"`` (``auto`` already resolved).
    api_version: str = "v1"
    #: The v3 organization (``org-…``) from the ``org_id`` extra; ``None`` = ask ``GET /v3/self``.
    org_id: str | None = None
    #: How many connections the triggerer's shared async client opens per event loop (extra
    #: ``async_pool_size``; ``0`` = no limit). A request waiting for a free one waits within its timeout.
    async_pool_size: int = DEFAULT_ASYNC_POOL_SIZE

    def headers(self, flavour: str) -> dict[str, str]:
        """Request headers for the ``sync`` or ``async`` client."""
        return {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": f"{USER_AGENT} ({flavour})",
        }

    def route(self, url: str | None = None) -> Route:
        """Which CAs a request to ``url`` (default: the base URL) trusts and which proxy carries it.

        :param url: The request URL; the proxy choice depends on its scheme and host.
        """
        return route_for(self.verify, url or self.base_url)


@dataclass(frozen=True)
class Route:
    """How one request travels, the same on the worker (requests) and the triggerer (aiohttp).

    :param verify: ``False`` (no certificate check) or the CA bundle file or directory to trust.
    :param proxy: The proxy URL, or ``None`` for a direct connection.
    """

    verify: str | bool
    proxy: str | None

    def requests_proxies(self) -> dict[str, str]:
        """``proxies=`` for requests (with ``trust_env`` off, so nothing else is consulted)."""
        return {"http": self.proxy, "https": self.proxy} if self.proxy else {}

    def ssl_context(self) -> ssl.SSLContext | bool:
        """``ssl=`` for aiohttp: ``False`` when verification is off, else a context trusting :attr:`verify`."""
        if self.verify is False:
            return False
        path = str(self.verify)
        if os.path.isdir(path):
            return ssl.create_default_context(capath=path)
        return ssl.create_default_context(cafile=path)


#: Where the CA bundle comes from when the connection's ``verify`` is true, first match wins:
#: requests' two variables, then OpenSSL's (which requests alone would ignore).
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


def default_ca_bundle() -> str:
    """The CA bundle a ``verify=true`` connection trusts: the first of :data:`CA_BUNDLE_VARIABLES`
    that is set, else certifi's bundle (what requests trusts by default)."""
    for name in CA_BUNDLE_VARIABLES:
        value = os.environ.get(name)
        if value:
            return value
    import certifi

    return str(certifi.where())


def route_for(verify: bool | str, url: str) -> Route:
    """The one place both transports learn which CAs to trust and which proxy to use for ``url``.

    TLS: the connection's ``verify`` (``false``, or a CA bundle path) wins; ``true`` means
    :func:`default_ca_bundle`. Proxies: ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` and
    ``NO_PROXY`` (either case), read the way requests reads them (``requests.utils``).

    :param verify: The connection's ``verify`` setting.
    :param url: The request URL.
    """
    from requests.utils import get_environ_proxies, select_proxy

    ca: str | bool = default_ca_bundle() if verify is True else verify
    proxy = select_proxy(url, get_environ_proxies(url))
    return Route(verify=ca, proxy=proxy or None)


def is_loopback(hostname: str | None) -> bool:
    """Whether ``hostname`` names this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if not hostname:
        return False
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_base_url(host: str | None, port: int | None, conn_id: str) -> str:
    """The base URL from the connection's host (and port). Plain ``http://`` only for loopback."""
    raw = (host or "").strip()
    if not raw:
        return DEFAULT_BASE_URL
    if "://" not in raw:
        bare = urlsplit(f"//{raw}").hostname
        raw = f"{'http' if is_loopback(bare) else 'https'}://{raw}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DevinConfigError(
            f"Devin connection {conn_id!r}: host must be a URL such as {DEFAULT_BASE_URL}, got {host!r}."
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise DevinConfigError(
            f"Devin connection {conn_id!r}: refusing plain http:// for {parts.hostname!r}; the API key would "
            "travel unencrypted. Use https://, or a loopback host (127.0.0.1, localhost) for a local emulator."
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _number(
    extras: dict[str, Any], name: str, default: float, conn_id: str, minimum: float, *, override: Any = None
) -> float:
    """The number in extra ``name`` (or the hook argument ``override``), checked against ``minimum``."""
    value, what = (override, "hook argument") if override is not None else (_form_extra(extras, name), "extra")
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        value = str(value)  # True is not a timeout
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DevinConfigError(
            f"Devin connection {conn_id!r}: {what} {name!r} must be a number, got {value!r}."
        ) from None
    if not number >= minimum:  # also refuses NaN
        raise DevinConfigError(f"Devin connection {conn_id!r}: {what} {name!r} must be >= {minimum:g}, got {value!r}.")
    return number


def _count(extras: dict[str, Any], name: str, default: int, conn_id: str, *, override: Any = None) -> int:
    """A whole number >= 0 (``max_retries``): ``5`` and ``"5"`` and ``5.0`` are fine, ``2.5`` is not."""
    number = _number(extras, name, default, conn_id, 0, override=override)
    if number != int(number):
        what = "hook argument" if override is not None else "extra"
        raise DevinConfigError(f"Devin connection {conn_id!r}: {what} {name!r} must be a whole number, got {number:g}.")
    return int(number)


def _verify(value: Any, conn_id: str) -> bool | str:
    """``verify``: ``True`` (empty), ``False``, or a CA bundle path that exists."""
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    if not os.path.exists(text):
        raise DevinConfigError(
            f"Devin connection {conn_id!r}: extra 'verify' must be true, false or the path of a CA bundle "
            f"file; {text!r} does not exist on this machine (the worker's and the triggerer's)."
        )
    return text


def _web_url(value: Any, default: str, conn_id: str) -> str:
    """``web_url``: an ``http(s)://`` URL (where session pages live), else ``default``."""
    if value is None or value == "":
        return default.rstrip("/")
    parts = urlsplit(str(value).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DevinConfigError(
            f"Devin connection {conn_id!r}: extra 'web_url' must be a URL such as {DEFAULT_WEB_URL}, got {value!r}."
        )
    return str(value).strip().rstrip("/")


def settings_from_connection(
    conn: Any, conn_id: str, *, timeout: float | None = None, max_retries: int | None = None
) -> ConnectionSettings:
    """Build settings from an Airflow ``Connection`` (explicit hook arguments win over extras)."""
    api_key = (conn.password or "").strip()
    if not api_key:
        raise DevinConfigError(
            f"Devin connection {conn_id!r} has no API key: put the key (cog_… for v3, or a legacy "
            "apk_user_… / apk_… for v1) in its password field."
        )
    extras = _extras(conn)
    api_version = resolve_api_version(_form_extra(extras, "api_version"), api_key, conn_id)
    base_url = normalise_base_url(conn.host, conn.port, conn_id)
    on_devin_cloud = urlsplit(base_url).hostname == urlsplit(DEFAULT_BASE_URL).hostname
    default_web = DEFAULT_WEB_URL if on_devin_cloud else base_url
    retry = RetrySettings(
        max_retries=_count(extras, "max_retries", 5, conn_id, override=max_retries),
        max_wait=_number(extras, "max_retry_wait", 60.0, conn_id, 0),
        initial_wait=_number(extras, "initial_retry_wait", 1.0, conn_id, 0),
    )
    return ConnectionSettings(
        conn_id=conn_id,
        base_url=base_url,
        api_key=api_key,
        timeout=_number(extras, "timeout", 30.0, conn_id, 0.001, override=timeout),
        connect_timeout=_number(extras, "connect_timeout", 10.0, conn_id, 0.001),
        retry=retry,
        web_url=_web_url(_form_extra(extras, "web_url"), default_web, conn_id),
        verify=_verify(_form_extra(extras, "verify"), conn_id),
        api_version=api_version,
        org_id=_org_id(_form_extra(extras, "org_id"), conn_id),
        async_pool_size=_count(extras, "async_pool_size", DEFAULT_ASYNC_POOL_SIZE, conn_id),
    )


def _form_extra(extras: dict[str, Any], name: str) -> Any:
    """An extra as the connection form saved it: ``name``, or the older ``extra__devin__<name>``."""
    value = extras.get(name)
    return extras.get(f"extra__devin__{name}") if value in (None, "") else value


def resolve_api_version(value: Any, api_key: str, conn_id: str) -> str:
    """The API version for ``api_key`` and the ``api_version`` extra (``auto``, ``v1`` or ``v3``).

    ``auto`` (the default, also for an empty extra): a ``cog_`` key speaks v3; ``apk_`` /
    ``apk_user_`` keys and anything else speak v1 (the behaviour before v3 existed). An explicit
    version that the key cannot call is refused here, before any request, rather than as a 401
    later.
    """
    text = "auto" if value is None else str(value).strip().lower()
    if text == "":
        text = "auto"
    if text not in API_VERSIONS:
        raise DevinConfigError(
            f"Devin connection {conn_id!r}: extra 'api_version' must be one of auto, v1, v3, got {value!r}."
        )
    is_cog = api_key.startswith("cog_")
    is_apk = api_key.startswith("apk_")  # also apk_user_
    if text == "auto":
        return "v3" if is_cog else "v1"
    if text == "v1" and is_cog:
        raise DevinConfigError(
            f"Devin connection {conn_id!r}: extra 'api_version' is v1 but the key is a cog_ key; "
            "cog_ keys cannot call v1; set api_version to v3 or auto."
        )
    if text == "v3" and is_apk:
        raise DevinConfigError(
            f"Devin connection {conn_id!r}: extra 'api_version' is v3 but the key is an apk_ key; "
            "apk_ (legacy) keys cannot call v3; set api_version to v1 or auto, or use a cog_ key "
            "(a service user or personal access token)."
        )
    return text


def _org_id(value: Any, conn_id: str) -> str | None:
    """The ``org_id`` extra: ``None`` when empty; otherwise a non-empty id without ``/`` (loosely ``org-…``)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise DevinConfigError(
            f"Devin connection {conn_id!r}: extra 'org_id' must be a string such as 'org-abc123', got {value!r}."
        )
    text = value.strip()
    if not text:
        return None
    if "/" in text or any(char.isspace() for char in text):
        raise DevinConfigError(
            f"Devin connection {conn_id!r}: extra 'org_id' must be an organization id such as 'org-abc123' "
            f"(no '/' or spaces), got {value!r}. Settings → Devin API in the Devin web app shows it."
        )
    return text


def _extras(conn: Any) -> dict[str, Any]:
    extra = getattr(conn, "extra_dejson", None)
    if isinstance(extra, dict):
        return extra
    raw = getattr(conn, "extra", None)
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
