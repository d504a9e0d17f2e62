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
    assert "cog_" in behaviour["placeholders"]["password"] and "apk_" in behaviour["placeholders"]["password"]


def test_connection_form_offers_the_api_version_and_the_org_id():
    (conn_type,) = get_provider_info()["connection-types"]
    fields = conn_type["conn-fields"]
    assert fields["api_version"]["label"] == "API version"
    assert fields["api_version"]["schema"]["enum"] == ["auto", "v1", "v3"]
    assert fields["api_version"]["schema"]["default"] == "auto"
    assert fields["org_id"]["label"] == "Organization ID"
    assert "Settings → Devin API" in fields["org_id"]["description"]
    assert "only for v3 (cog_) keys; read from /v3/self when empty" in fields["org_id"]["description"].lower()
    for field in fields.values():
        jsonschema.Draft7Validator.check_schema(field["schema"])


def test_the_hook_form_behaviour_matches_the_provider_info():
    from airflow_provider_devin.hooks.devin import DevinHook

    (conn_type,) = get_provider_info()["connection-types"]
    behaviour = DevinHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == conn_type["ui-field-behaviour"]["hidden-fields"]
    assert behaviour["placeholders"]["password"] == conn_type["ui-field-behaviour"]["placeholders"]["password"]
    assert "api_version" in behaviour["placeholders"]["extra"]


def test_the_hook_form_widgets_on_webservers_that_have_wtforms():
    pytest.importorskip("wtforms")
    pytest.importorskip("flask_appbuilder")
    from flask import Flask

    from airflow_provider_devin.hooks.devin import DevinHook

    with Flask(__name__).app_context():
        widgets = DevinHook.get_connection_form_widgets()
    assert set(widgets) == {"api_version", "org_id"}
    assert widgets["api_version"].kwargs["default"] == "auto"
    assert "auto, v1 or v3" in widgets["api_version"].kwargs["description"]
    assert str(widgets["org_id"].args[0]) == "Organization ID"


def test_airflow_accepts_the_hook_form_widgets():
    pytest.importorskip("wtforms")
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    widgets = manager.connection_form_widgets
    assert {"extra__devin__api_version", "extra__devin__org_id"} <= set(widgets)
    assert manager.field_behaviours["devin"]["relabeling"] == {"host": "Base URL", "password": "API key"}


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
