"""pytest plugin (``pytest11`` entry point): the ``devin_emulator`` fixture.

Loaded by every pytest run wherever the provider is installed, so this module imports only the
standard library and pytest; the server (FastAPI, uvicorn) loads the first time a test asks for
the fixture. One server per pytest session serves every test; its state is reset before each
test, so tests never see each other's sessions, faults or journal.

::

    def test_my_dag_against_devin(devin_emulator):
        # AIRFLOW_CONN_DEVIN_DEFAULT already points at the emulator for this test.
        devin_emulator.control.set_default_scenario("pull_request")
        ...
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

if TYPE_CHECKING:
    from airflow_provider_devin.emulator.control import EmulatorControl
    from airflow_provider_devin.emulator.server import EmulatorServer

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
    :param api_key: an API key it accepts.
    :param control: the control client (faults, journal, scenarios, clock).
    :param conn_uri: an Airflow connection URI for a ``devin`` connection to it.
    :param conn_json: the same connection in Airflow's JSON form (what ``AIRFLOW_CONN_DEVIN_DEFAULT`` holds).
    :param server: the running :class:`~airflow_provider_devin.emulator.server.EmulatorServer`.
    """

    base_url: str
    api_key: str
    control: EmulatorControl
    conn_uri: str
    conn_json: str
    server: EmulatorServer

    def connection_env(self, conn_id: str = "devin_default") -> tuple[str, str]:
        """``(name, value)`` of the environment variable defining ``conn_id`` as this emulator."""
        return f"AIRFLOW_CONN_{conn_id.upper()}", self.conn_json


def connection_uri(base_url: str, api_key: str) -> str:
    """An Airflow URI whose host is the whole base URL (scheme included, percent-encoded)."""
    return f"devin://:{quote(api_key, safe='')}@{quote(base_url, safe='')}"


def connection_json(base_url: str, api_key: str) -> str:
    return json.dumps({"conn_type": "devin", "host": base_url, "password": api_key})


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
def devin_emulator(devin_emulator_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> DevinEmulator:
    """A clean Devin API emulator for this test, with ``AIRFLOW_CONN_DEVIN_DEFAULT`` pointing at it."""
    server = devin_emulator_server
    server.control.reset()
    emulator = DevinEmulator(
        base_url=server.base_url,
        api_key=server.api_key,
        control=server.control,
        conn_uri=connection_uri(server.base_url, server.api_key),
        conn_json=connection_json(server.base_url, server.api_key),
        server=server,
    )
    monkeypatch.setenv(CONN_ENV, emulator.conn_json)
    return emulator


__all__: list[Any] = ["DevinEmulator", "connection_json", "connection_uri", "devin_emulator"]
