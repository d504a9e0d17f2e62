"""The provider as Airflow discovers it: entry point, schema-valid provider info, version guard."""

from __future__ import annotations

import json
import os
import re
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


def documented_extras() -> list[str]:
    """The extras of the table in docs/connection.md (the first column's names)."""
    text = (PACKAGE_ROOT.parent / "docs" / "connection.md").read_text(encoding="utf-8")
    table = text.split("| Extra | Meaning | Default |", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE)


def ui_widget(schema: dict) -> str:
    """Which input Airflow 3.3's form draws for a field schema (FieldSelector in airflow/ui, as read).

    More than one non-null type without an enum: a free JSON text box. Otherwise the first
    non-null type decides: an enum is a dropdown, number/integer a number input, string a text box.
    """
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    non_null = [t for t in types if t != "null"]
    if len(non_null) > 1 and "enum" not in schema and "examples" not in schema:
        return "multi-type text box"
    kind = non_null[0] if non_null else "string"
    if kind in ("null", "string", "number", "integer") and isinstance(schema.get("enum"), list):
        return "dropdown"
    if kind in ("number", "integer"):
        return "number input"
    return "text box" if kind == "string" else kind


def test_connection_form_labels_the_key_and_base_url():
    (conn_type,) = get_provider_info()["connection-types"]
    behaviour = conn_type["ui-field-behaviour"]
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "API key"}
    assert behaviour["placeholders"]["host"] == "https://api.devin.ai"
    assert "cog_" in behaviour["placeholders"]["password"] and "apk_" in behaviour["placeholders"]["password"]


def test_every_documented_extra_is_a_form_field():
    documented = documented_extras()
    assert len(documented) >= 9, documented  # the table was found and read
    (conn_type,) = get_provider_info()["connection-types"]
    assert sorted(conn_type["conn-fields"]) == sorted(documented)
    assert set(documented) >= {"timeout", "connect_timeout", "max_retries", "max_retry_wait", "web_url", "verify"}


def test_numeric_extras_render_as_number_inputs_and_none_is_required():
    (conn_type,) = get_provider_info()["connection-types"]
    widgets = {name: ui_widget(field["schema"]) for name, field in conn_type["conn-fields"].items()}
    assert widgets == {
        "api_version": "dropdown",
        "org_id": "text box",
        "timeout": "number input",
        "connect_timeout": "number input",
        "max_retries": "number input",
        "initial_retry_wait": "number input",
        "max_retry_wait": "number input",
        "web_url": "text box",
        "async_pool_size": "number input",
        "verify": "multi-type text box",  # true, false or a CA bundle path
    }
    assert conn_type["conn-fields"]["max_retries"]["schema"]["type"] == ["integer", "null"]
    for name, field in conn_type["conn-fields"].items():
        assert "null" in field["schema"]["type"], f"{name} would be required"
        jsonschema.Draft7Validator.check_schema(field["schema"])


def test_defaults_are_shown_never_saved():
    (conn_type,) = get_provider_info()["connection-types"]
    placeholders = conn_type["ui-field-behaviour"]["placeholders"]
    for name, field in conn_type["conn-fields"].items():
        # Airflow turns schema["default"] into the field's initial value, which Save writes out.
        assert "default" not in field["schema"], name
        assert "Empty: " in field["description"], name
        assert placeholders[name], name
    assert placeholders["timeout"] == "30" and placeholders["max_retries"] == "5"
    assert "Empty: 30." in conn_type["conn-fields"]["timeout"]["description"]


def test_connection_form_offers_the_api_version_and_the_org_id():
    (conn_type,) = get_provider_info()["connection-types"]
    fields = conn_type["conn-fields"]
    assert fields["api_version"]["label"] == "API version"
    assert fields["api_version"]["schema"]["enum"] == ["auto", "v1", "v3"]
    assert "Empty: auto." in fields["api_version"]["description"]
    assert fields["org_id"]["label"] == "Organization ID"
    assert "Settings → Devin API" in fields["org_id"]["description"]
    assert "only for v3 (cog_) keys. empty: read from /v3/self" in fields["org_id"]["description"].lower()


def test_the_hook_form_behaviour_matches_the_provider_info():
    from airflow_provider_devin.hooks.devin import DevinHook

    (conn_type,) = get_provider_info()["connection-types"]
    behaviour = DevinHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == conn_type["ui-field-behaviour"]["hidden-fields"]
    assert behaviour["placeholders"]["password"] == conn_type["ui-field-behaviour"]["placeholders"]["password"]
    assert set(conn_type["conn-fields"]) <= set(behaviour["placeholders"])
    assert "api_version" in behaviour["placeholders"]["extra"]


def test_the_hook_form_widgets_on_webservers_that_have_wtforms():
    pytest.importorskip("wtforms")
    pytest.importorskip("flask_appbuilder")
    from flask import Flask

    from airflow_provider_devin.hooks.devin import DevinHook

    with Flask(__name__).app_context():
        widgets = DevinHook.get_connection_form_widgets()
    assert sorted(widgets) == sorted(documented_extras())
    assert all(widget.kwargs.get("default") is None for widget in widgets.values()), "a default would be saved"
    assert "auto, v1 or v3" in widgets["api_version"].kwargs["description"]
    assert str(widgets["org_id"].args[0]) == "Organization ID"


def test_the_airflow_2_form_validates_numbers_and_choices():
    pytest.importorskip("wtforms")
    pytest.importorskip("flask_appbuilder")
    from flask import Flask
    from werkzeug.datastructures import MultiDict
    from wtforms import Form

    from airflow_provider_devin.hooks.devin import DevinHook

    app = Flask(__name__)
    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        form_class = type("DevinForm", (Form,), DevinHook.get_connection_form_widgets())

        def errors(**data: str) -> set[str]:
            form = form_class(formdata=MultiDict(data))
            form.validate()
            return set(form.errors)

        assert errors(timeout="2.5", max_retries="3", api_version="v3", web_url="https://x.example") == set()
        assert errors() == set()  # every field may stay empty
        assert errors(timeout="soon", max_retries="2.5", api_version="v2", web_url="x") == {
            "timeout",
            "max_retries",
            "api_version",
            "web_url",
        }


def test_airflow_reads_the_form_with_nothing_to_save_by_default():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    widgets = {
        name: info for name, info in manager.connection_form_widgets.items() if name.startswith("extra__devin__")
    }
    assert sorted(name.removeprefix("extra__devin__") for name in widgets) == sorted(documented_extras())
    for name, info in widgets.items():
        field = info.field
        if isinstance(field, dict):  # Airflow 3.2+: conn-fields, ready for the UI
            assert field["value"] is None, f"{name} would be saved as {field['value']!r}"
        else:  # Airflow 2.x-3.1: the hook's wtforms fields
            assert field.kwargs.get("default") is None, name
    assert manager.field_behaviours["devin"]["relabeling"] == {"host": "Base URL", "password": "API key"}
    assert manager.field_behaviours["devin"]["placeholders"]["extra__devin__timeout"] == "30"


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


def test_the_provider_description_is_plain_text_as_the_providers_page_shows_it():
    from airflow_provider_devin import get_provider_info

    description = get_provider_info()["description"]
    assert "`" not in description and "<http" not in description and "__" not in description
    assert "Devin (https://devin.ai)" in description
