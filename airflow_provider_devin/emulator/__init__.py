"""A local, in-memory Devin API (v1 and the v3 organization API) for tests and offline DAG development.

Importing this package is cheap (it is imported by the pytest plugin in every pytest run of
every user who installs the provider): FastAPI, uvicorn and the server load only when one of
the names below is first used.

Quick start::

    from airflow_provider_devin.emulator import EmulatorServer

    with EmulatorServer(speed=60.0) as server:
        print(server.base_url)          # http://127.0.0.1:<free port>
        server.control.advance(60)      # move the emulated clock on by one minute
        # v1: Bearer DEFAULT_API_KEY on /v1/...; v3: Bearer DEFAULT_V3_API_KEY on
        # /v3/organizations/org-emulator/... (the same sessions either way)

See ``docs/emulator.md`` and :mod:`airflow_provider_devin.emulator.scenarios` for the
session scenarios and their timings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

#: The v1 API key every emulator accepts unless it is started with other keys.
DEFAULT_API_KEY = "apk_user_emulator_test_key"

#: The v3 (``cog_``) key every emulator accepts unless it is started with other keys; its
#: organization is ``org-emulator``.
DEFAULT_V3_API_KEY = "cog_emulator_test_key"

#: The organization of the default keys.
DEFAULT_ORG_ID = "org-emulator"

#: Emulated seconds per real second unless told otherwise: a documented minute passes in a second.
DEFAULT_SPEED = 60.0

if TYPE_CHECKING:
    from airflow_provider_devin.emulator.app import create_app
    from airflow_provider_devin.emulator.control import EmulatorControl, EmulatorControlError
    from airflow_provider_devin.emulator.scenarios import SCENARIOS
    from airflow_provider_devin.emulator.server import EmulatorServer

_LAZY = {
    "EmulatorServer": "airflow_provider_devin.emulator.server",
    "EmulatorControl": "airflow_provider_devin.emulator.control",
    "EmulatorControlError": "airflow_provider_devin.emulator.control",
    "create_app": "airflow_provider_devin.emulator.app",
    "SCENARIOS": "airflow_provider_devin.emulator.scenarios",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)


__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_ORG_ID",
    "DEFAULT_SPEED",
    "DEFAULT_V3_API_KEY",
    "SCENARIOS",
    "EmulatorControl",
    "EmulatorControlError",
    "EmulatorServer",
    "create_app",
]
