"""Accepted API keys: which API version each speaks, its organization and its ``/v3/self`` answer.

Configuration (``EmulatorState(api_keys=...)``, ``EmulatorServer(api_keys=...)``,
``control.add_api_key(...)``) accepts, per key, either a user email (the v1 form) or a mapping
with any of ``email``, ``org_id`` and ``principal``:

* a key starting with ``cog_`` is a **v3** credential; every other key is a **v1** key;
* ``org_id`` (default ``org-emulator``) is the organization whose ``/v3/organizations/{org_id}/``
  paths the key may use;
* ``principal`` is the body of ``GET /v3/self``; default a ``service_user`` of that org. Give e.g.
  ``{"principal_type": "service_user", "service_user_id": "su-1", "service_user_name": "ci",
  "org_id": None}`` to test a client's "no org id" path.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_devin.emulator import DEFAULT_API_KEY, DEFAULT_ORG_ID, DEFAULT_V3_API_KEY

DEFAULT_USER_EMAIL = "emulator-user@example.com"
ORG_ID = DEFAULT_ORG_ID
V3_PREFIX = "cog_"
LEGACY_PREFIX = "apk_"

KeyConfig = Iterable[str] | Mapping[str, Any]


@dataclass
class ApiKey:
    """One accepted key (never printed: ``repr`` leaves the key out).

    :param key: the secret itself.
    :param email: the user behind it (v1 ``requesting_user_email``, message ``username``).
    :param org_id: the organization its v3 paths must name.
    :param principal: the ``GET /v3/self`` body.
    """

    key: str = field(repr=False)
    email: str = DEFAULT_USER_EMAIL
    org_id: str = ORG_ID
    principal: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return "v3" if self.key.startswith(V3_PREFIX) else "v1"

    @property
    def service_user_id(self) -> str | None:
        value = self.principal.get("service_user_id")
        return value if isinstance(value, str) else None

    @property
    def principal_user_id(self) -> str | None:
        """The person behind a personal access token (``pat_user``), else None."""
        value = self.principal.get("user_id")
        return value if isinstance(value, str) else None

    @property
    def user_id(self) -> str:
        value = self.principal.get("user_id")
        if isinstance(value, str):
            return value
        return f"user-{uuid.uuid5(uuid.NAMESPACE_URL, self.email)}"


def make_key(key: str, spec: Any = None) -> ApiKey:
    """An :class:`ApiKey` from a configuration value (None, an email, or a mapping)."""
    if not isinstance(key, str) or not key:
        raise ValueError("an API key must be a non-empty string")
    if spec is None or isinstance(spec, str):
        info = ApiKey(key=key, email=spec or DEFAULT_USER_EMAIL)
    elif isinstance(spec, Mapping):
        unknown = set(spec) - {"email", "org_id", "principal"}
        if unknown:
            raise ValueError(f"unknown API key settings {sorted(unknown)}; expected email, org_id, principal")
        info = ApiKey(
            key=key,
            email=spec.get("email") or DEFAULT_USER_EMAIL,
            org_id=spec.get("org_id") or ORG_ID,
            principal=dict(spec.get("principal") or {}),
        )
    else:
        raise ValueError(f"API key settings must be an email or a mapping, got {type(spec).__name__}")
    if not info.principal:
        info.principal = default_principal(info)
    return info


def default_principal(info: ApiKey) -> dict[str, Any]:
    """A ``service_user`` of the key's organization."""
    name = info.email.split("@")[0]
    return {
        "principal_type": "service_user",
        "service_user_id": f"service-user-{uuid.uuid5(uuid.NAMESPACE_URL, info.email).hex}",
        "service_user_name": name,
        "org_id": info.org_id,
    }


def parse_keys(config: KeyConfig | None) -> dict[str, ApiKey]:
    """Keys from the configuration; default: ``DEFAULT_API_KEY`` (v1) and ``DEFAULT_V3_API_KEY`` (v3)."""
    if config is None:
        config = [DEFAULT_API_KEY, DEFAULT_V3_API_KEY]
    if isinstance(config, Mapping):
        keys = {key: make_key(key, spec) for key, spec in config.items()}
    else:
        keys = {key: make_key(key) for key in config}
    if not keys:
        raise ValueError("the emulator needs at least one accepted API key")
    return keys
