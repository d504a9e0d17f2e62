"""Apache Airflow provider for Devin, Cognition's AI software engineer.

Importing this package is cheap on purpose: DAG files import it on every parse, so the
heavy parts (requests, tenacity, httpx) load only inside the hook.
"""

from __future__ import annotations

import copy
from typing import Any

from airflow_provider_devin.__version__ import __version__

__all__ = ["__version__", "get_provider_info"]

MIN_AIRFLOW_VERSION = "2.11.0"


def _check_airflow_version() -> None:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python < 3.8 is not supported anyway
        return
    try:
        installed = version("apache-airflow-core")
    except PackageNotFoundError:
        try:
            installed = version("apache-airflow")
        except PackageNotFoundError:
            return  # not installed as a distribution (e.g. a source checkout); let imports decide
    release = tuple(int(part) for part in _leading_numbers(installed))
    minimum = tuple(int(part) for part in MIN_AIRFLOW_VERSION.split("."))
    if release < minimum:
        raise RuntimeError(
            f"airflow-provider-devin {__version__} needs Apache Airflow >= {MIN_AIRFLOW_VERSION}, "
            f"but Airflow {installed} is installed. Upgrade Airflow or pin an older provider release."
        )


def _leading_numbers(release: str) -> list[str]:
    parts: list[str] = []
    for chunk in release.split(".")[:3]:
        digits = ""
        for char in chunk:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        parts.append(digits)
    return parts or ["0"]


_check_airflow_version()


def get_provider_info() -> dict[str, Any]:
    """Return the provider metadata Airflow reads through the ``apache_airflow_provider`` entry point."""
    from airflow_provider_devin.hooks._form import CONN_FIELDS, ui_field_behaviour  # standard library only

    return {
        "package-name": "airflow-provider-devin",
        "name": "Devin",
        # Plain text: the Providers page shows it as is (RST markup rendered as "https://devin.aifrom").
        "description": "Delegate software work to Devin (https://devin.ai), Cognition's AI software engineer, "
        "from Airflow DAGs: one retry-safe, deferrable session per task instance, on Devin's v1 or v3 API.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Devin",
                "external-doc-url": "https://docs.devin.ai/api-reference/overview",
                "tags": ["software"],
            }
        ],
        "hooks": [
            {"integration-name": "Devin", "python-modules": ["airflow_provider_devin.hooks.devin"]},
        ],
        "operators": [
            {
                "integration-name": "Devin",
                "python-modules": [
                    "airflow_provider_devin.operators.devin",
                    "airflow_provider_devin.operators.knowledge",
                ],
            },
        ],
        "sensors": [
            {"integration-name": "Devin", "python-modules": ["airflow_provider_devin.sensors.devin"]},
        ],
        "triggers": [
            {"integration-name": "Devin", "python-modules": ["airflow_provider_devin.triggers.devin"]},
        ],
        "extra-links": ["airflow_provider_devin.links.devin.DevinSessionLink"],
        "task-decorators": [
            {"name": "devin", "class-name": "airflow_provider_devin.decorators.devin.devin_task"},
        ],
        "connection-types": [
            {
                "connection-type": "devin",
                "hook-class-name": "airflow_provider_devin.hooks.devin.DevinHook",
                "hook-name": "Devin",
                "ui-field-behaviour": ui_field_behaviour(provider_info=True),
                "conn-fields": copy.deepcopy(CONN_FIELDS),
            }
        ],
    }
