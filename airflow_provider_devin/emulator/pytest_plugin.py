"""pytest plugin (``pytest11`` entry point): the ``devin_emulator`` and ``devin_api_version`` fixtures.

Loaded by every pytest run wherever the provider is installed, so this module imports only the
standard library and pytest; the server (FastAPI, uvicorn) loads the first time a test asks for
the fixture. One server per pytest session serves every test; its state is reset before each
test, so tests never see each other's sessions, faults or journal.

::

    def test_my_dag_against_devin(devin_emulator):
        # AIRFLOW_CONN_DEVIN_DEFAULT already points at the emulator for this test.
        devin_emulator.control.set_default_scenario("pull_request")
        ...

The connection uses the v1 key unless the test's ``devin_api_version`` fixture says ``"v3"``::

    @pytest.mark.parametrize("devin_api_version", ["v1", "v3"])
    def test_on_both_versions(devin_emulator): ...
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import pytest

if TYPE_CHECKING:
    from airflow_provider_devin.emulator.control import EmulatorControl
    from airflow_provider_devin.emulator.server import EmulatorServer

API_VERSIONS = ("v1", "v3")
# The keys and organization of a default emulator (the same values as the emulator package's
# DEFAULT_API_KEY, DEFAULT_V3_API_KEY and DEFAULT_ORG_ID; repeated so this module imports nothing heavy).
V1_KEY = "apk_user_emulator_test_key"
V3_KEY = "cog_emulator_test_key"
ORG_ID = "org-emulator"
SPEED_OPTION = "--devin-emulator-speed"
SPEED_INI = "devin_emulator_speed"
CONN_ENV = "AIRFLOW_CONN_DEVIN_DEFAULT"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("devin-emulator", "Devin API emulator (airflow-provider-devin)")
    group.addoption(
        SPEED_OPTION,
        type=float,
        default=None,
        help="emulated seconds per real second for the devin_emulator fixture (default 60)",
    )
    parser.addini(SPEED_INI, "emulated seconds per real second for the devin_emulator fixture", default="60")


@dataclass(frozen=True)
class DevinEmulator:
    """What the ``devin_emulator`` fixture gives a test.

    :param base_url: the emulator's base URL, e.g. ``http://127.0.0.1:54321``.
    :param api_key: the key of ``api_version`` (``apk_user_emulator_test_key`` or ``cog_emulator_test_key``).
    :param control: the control client (faults, journal, scenarios, clock).
    :param conn_uri: an Airflow connection URI for a ``devin`` connection to it.
    :param conn_json: the same connection in Airflow's JSON form (what ``AIRFLOW_CONN_DEVIN_DEFAULT`` holds).
        For v3 it carries no ``org_id``, so a client has to discover it with ``GET /v3/self``.
    :param server: the running :class:`~airflow_provider_devin.emulator.server.EmulatorServer`.
    :param api_version: ``"v1"`` or ``"v3"`` (the ``devin_api_version`` fixture).
    :param org_id: the organization of the v3 key (``org-emulator``).
    :param v1_api_key: the v1 key, whatever ``api_version`` is.
    :param v3_api_key: the v3 key, whatever ``api_version`` is.
    """

    base_url: str
    api_key: str
    control: EmulatorControl
    conn_uri: str
    conn_json: str
    server: EmulatorServer
    api_version: str = "v1"
    org_id: str = ORG_ID
    v1_api_key: str = V1_KEY
    v3_api_key: str = V3_KEY

    @property
    def api_prefix(self) -> str:
        """Where this version's session API lives: ``/v1`` or ``/v3/organizations/org-emulator``."""
        return "/v1" if self.api_version == "v1" else f"/v3/organizations/{self.org_id}"

    def connection_env(self, conn_id: str = "devin_default") -> tuple[str, str]:
        """``(name, value)`` of the environment variable defining ``conn_id`` as this emulator."""
        return f"AIRFLOW_CONN_{conn_id.upper()}", self.conn_json

    def connection(self, api_version: str | None = None, *, with_org_id: bool = False) -> str:
        """A connection (Airflow JSON) to this emulator for either version.

        :param api_version: ``"v1"`` or ``"v3"``; default: this test's.
        :param with_org_id: v3 only: put ``extra: {"org_id": ...}`` in it (no ``/v3/self`` lookup needed).
        """
        version = api_version or self.api_version
        key = self.v3_api_key if version == "v3" else self.v1_api_key
        extra = {"org_id": self.org_id} if with_org_id and version == "v3" else None
        return connection_json(self.base_url, key, extra)


def connection_uri(base_url: str, api_key: str, extra: dict[str, str] | None = None) -> str:
    """An Airflow URI whose host is the whole base URL (scheme included, percent-encoded)."""
    query = "?" + urlencode(extra) if extra else ""
    return f"devin://:{quote(api_key, safe='')}@{quote(base_url, safe='')}{query}"


def connection_json(base_url: str, api_key: str, extra: dict[str, Any] | None = None) -> str:
    conn: dict[str, Any] = {"conn_type": "devin", "host": base_url, "password": api_key}
    if extra:
        conn["extra"] = extra
    return json.dumps(conn)


def _speed(config: pytest.Config) -> float:
    option = config.getoption(SPEED_OPTION, default=None)
    if option is not None:
        return float(option)
    return float(config.getini(SPEED_INI) or 60)


@pytest.fixture(scope="session")
def devin_emulator_server(pytestconfig: pytest.Config) -> Iterator[EmulatorServer]:
    """One running emulator for the whole pytest session (use ``devin_emulator`` in tests)."""
    from airflow_provider_devin.emulator.server import EmulatorServer

    server = EmulatorServer(speed=_speed(pytestconfig))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def devin_api_version() -> str:
    """The Devin API version ``devin_emulator`` connects with: ``"v1"`` unless a test overrides it
    (``@pytest.mark.parametrize("devin_api_version", ["v1", "v3"])`` or a fixture of that name)."""
    return "v1"


@pytest.fixture
def devin_emulator(
    devin_emulator_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch, devin_api_version: str
) -> DevinEmulator:
    """A clean Devin API emulator for this test, with ``AIRFLOW_CONN_DEVIN_DEFAULT`` pointing at it
    with the key of ``devin_api_version``."""
    if devin_api_version not in API_VERSIONS:
        raise pytest.UsageError(f"devin_api_version must be one of {API_VERSIONS}, got {devin_api_version!r}")
    server = devin_emulator_server
    server.control.reset()
    v1_key = server.api_key if not server.api_key.startswith("cog_") else V1_KEY
    v3_key = server.v3_api_key or V3_KEY
    key = v3_key if devin_api_version == "v3" else v1_key
    emulator = DevinEmulator(
        base_url=server.base_url,
        api_key=key,
        control=server.control,
        conn_uri=connection_uri(server.base_url, key),
        conn_json=connection_json(server.base_url, key),
        server=server,
        api_version=devin_api_version,
        v1_api_key=v1_key,
        v3_api_key=v3_key,
    )
    monkeypatch.setenv(CONN_ENV, emulator.conn_json)
    return emulator


__all__: list[Any] = ["DevinEmulator", "connection_json", "connection_uri", "devin_api_version", "devin_emulator"]
