"""The provider as Airflow discovers it: entry point, schema-valid provider info, version guard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import jsonschema
import pytest

import airflow_provider_devin
from airflow_provider_devin import get_provider_info

PACKAGE_ROOT = Path(airflow_provider_devin.__file__).parent


def test_entry_point_returns_the_provider_info():
    (point,) = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.name == "provider_info" and ep.value.startswith("airflow_provider_devin")
    ]
    assert point.load()()["package-name"] == "airflow-provider-devin"


def test_provider_info_validates_against_the_installed_airflow_schema():
    import airflow

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_every_class_path_in_provider_info_imports():
    import importlib

    info = get_provider_info()
    paths = [conn["hook-class-name"] for conn in info["connection-types"]] + info["extra-links"]
    for path in paths:
        module, _, name = path.rpartition(".")
        assert getattr(importlib.import_module(module), name)
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info[section]:
            for module in entry["python-modules"]:
                importlib.import_module(module)


def test_connection_form_labels_the_key_and_base_url():
    (conn_type,) = get_provider_info()["connection-types"]
    behaviour = conn_type["ui-field-behaviour"]
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "API key"}
    assert behaviour["placeholders"]["host"] == "https://api.devin.ai"
    assert set(conn_type["conn-fields"]) >= {"timeout", "connect_timeout", "max_retries", "max_retry_wait"}


def test_airflow_lists_the_provider():
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "-o", "json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=180,
        check=True,
    )
    # The CLI may print warnings ahead of the JSON document: take the line that is the document.
    listing = next(json.loads(line) for line in result.stdout.splitlines() if line.startswith("[{"))
    assert {"package_name": "airflow-provider-devin"}.items() <= next(
        item for item in listing if item["package_name"] == "airflow-provider-devin"
    ).items()


def _all_modules() -> list[str]:
    modules = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        relative = path.relative_to(PACKAGE_ROOT.parent).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts[-1] == "__main__":
            continue
        modules.append(".".join(parts))
    return modules


def test_no_module_emits_a_deprecated_import_warning():
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error::FutureWarning",
            "-W",
            "error::DeprecationWarning:airflow_provider_devin",
            "-c",
            code,
            *_all_modules(),
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_an_unsupported_airflow_fails_fast_with_a_clear_message(monkeypatch):
    import importlib.metadata as metadata

    real_version = metadata.version
    monkeypatch.setattr(
        metadata, "version", lambda name: "2.10.5" if name.startswith("apache-airflow") else real_version(name)
    )
    with pytest.raises(RuntimeError, match=r"needs Apache Airflow >= 2\.11\.0, but Airflow 2\.10\.5 is installed"):
        airflow_provider_devin._check_airflow_version()
