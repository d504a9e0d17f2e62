"""The ``devin_emulator`` fixture and the plugin's import-time footprint."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def test_fixture_exposes_url_key_control_and_connection(devin_emulator):
    assert devin_emulator.base_url.startswith("http://127.0.0.1:")
    assert devin_emulator.api_key == "apk_user_emulator_test_key"
    assert devin_emulator.control.health()
    assert json.loads(devin_emulator.conn_json) == {
        "conn_type": "devin",
        "host": devin_emulator.base_url,
        "password": devin_emulator.api_key,
    }
    assert os.environ["AIRFLOW_CONN_DEVIN_DEFAULT"] == devin_emulator.conn_json


def test_connection_uri_parses_back_into_the_same_connection(devin_emulator):
    from airflow.models.connection import Connection

    from_uri = Connection(conn_id="devin_default", uri=devin_emulator.conn_uri)
    assert from_uri.conn_type == "devin"
    assert from_uri.host == devin_emulator.base_url
    assert from_uri.password == devin_emulator.api_key


def test_airflow_resolves_the_default_connection_to_the_emulator(devin_emulator):
    from airflow_provider_devin._compat import BaseHook

    conn = BaseHook.get_connection("devin_default")
    assert conn.host == devin_emulator.base_url
    assert conn.password == devin_emulator.api_key


# A user suite of two tests run in a fresh pytest process in a fixed order: the first leaves every
# kind of state behind, the second must see none of it. (Two tests of this suite relying on their
# own order would pass or fail depending on selection and ordering plugins.)
DIRTY_THEN_CLEAN = """
import requests

def auth(key):
    return {"Authorization": f"Bearer {key}"}

def test_dirty(devin_emulator):
    control, base = devin_emulator.control, devin_emulator.base_url
    created = requests.post(f"{base}/v1/sessions", json={"prompt": "leftover"}, headers=auth(devin_emulator.api_key))
    assert created.status_code == 200
    control.set_default_scenario("expire")
    control.set_default_structured_output({"canned": True})
    control.set_allowed_tags(["team:*"])
    control.add_api_key("cog_added_by_test_dirty")
    assert requests.get(f"{base}/v3/self", headers=auth("cog_added_by_test_dirty")).status_code == 200
    control.set_speed(5)
    control.advance(3600)
    control.inject_fault("*", "/v1/*", status=500, times=100)
    assert len(control.sessions()) == 1 and len(control.faults()) == 1 and len(control.journal()) == 2
    print("DIRTIED")

def test_clean(devin_emulator):
    control, base = devin_emulator.control, devin_emulator.base_url
    assert control.sessions() == []
    assert control.faults() == []
    assert control.journal() == []
    clock = control.clock()
    assert clock["speed"] == 60.0 and clock["emulated_seconds"] < 600
    assert requests.get(f"{base}/_emulator/allowed-tags").json() == {"patterns": None}
    assert requests.get(f"{base}/_emulator/default-structured-output").json() == {"given": False, "value": None}
    assert requests.get(f"{base}/v3/self", headers=auth("cog_added_by_test_dirty")).status_code == 401
    created = requests.post(f"{base}/v1/sessions", json={"prompt": "fresh"}, headers=auth(devin_emulator.api_key))
    assert created.status_code == 200, "no fault left over"
    [session] = control.sessions()
    assert session["scenario"] == "finish" and session["structured_output_given"] is False
    print("CLEAN")
"""


def test_each_test_starts_from_a_clean_emulator(pytester_like_run):
    result = pytester_like_run("test_user.py::test_dirty", "test_user.py::test_clean", tests=DIRTY_THEN_CLEAN)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "2 passed" in result.stdout, output
    assert result.stdout.index("DIRTIED") < result.stdout.index("CLEAN"), "the dirty test ran first"


def test_plugin_module_imports_only_stdlib_and_pytest():
    code = (
        "import sys; import airflow_provider_devin.emulator.pytest_plugin; "
        "heavy = [m for m in ('fastapi', 'uvicorn', 'starlette', 'pydantic', 'jsonschema', 'requests', 'httpx', "
        "'airflow') if m in sys.modules]; print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"


def test_speed_option_reaches_the_fixture(pytester_like_run):
    result = pytester_like_run("--devin-emulator-speed", "5")
    assert "speed=5.0" in result.stdout, result.stdout + result.stderr


def test_speed_ini_setting_reaches_the_fixture(pytester_like_run):
    result = pytester_like_run(ini="[pytest]\ndevin_emulator_speed = 7\n")
    assert "speed=7.0" in result.stdout, result.stdout + result.stderr


def test_the_default_api_version_is_v1(devin_emulator, devin_api_version):
    assert devin_api_version == "v1"
    assert devin_emulator.api_version == "v1"
    assert devin_emulator.api_prefix == "/v1"


@pytest.mark.parametrize("devin_api_version", ["v1", "v3"])
def test_the_version_picks_the_key_of_the_connection(devin_emulator, devin_api_version):
    expected_key = {"v1": "apk_user_emulator_test_key", "v3": "cog_emulator_test_key"}[devin_api_version]
    assert devin_emulator.api_version == devin_api_version
    assert devin_emulator.api_key == expected_key
    assert json.loads(devin_emulator.conn_json) == {
        "conn_type": "devin",
        "host": devin_emulator.base_url,
        "password": expected_key,
    }, "no org_id: a v3 client has to ask /v3/self"
    assert os.environ["AIRFLOW_CONN_DEVIN_DEFAULT"] == devin_emulator.conn_json
    assert (devin_emulator.v1_api_key, devin_emulator.v3_api_key, devin_emulator.org_id) == (
        "apk_user_emulator_test_key",
        "cog_emulator_test_key",
        "org-emulator",
    )
    import requests

    response = requests.get(
        f"{devin_emulator.base_url}{devin_emulator.api_prefix}/sessions",
        headers={"Authorization": f"Bearer {devin_emulator.api_key}"},
        timeout=30,
    )
    assert response.status_code == 200


def test_a_v3_connection_with_the_org_id_extra(devin_emulator):
    from airflow.models.connection import Connection

    conn_json = devin_emulator.connection("v3", with_org_id=True)
    assert json.loads(conn_json)["extra"] == {"org_id": "org-emulator"}
    conn = Connection.from_json(conn_json, conn_id="devin_v3")
    assert conn.password == "cog_emulator_test_key"
    assert conn.extra_dejson == {"org_id": "org-emulator"}
    assert "extra" not in json.loads(devin_emulator.connection("v1", with_org_id=True))


def test_an_unknown_api_version_is_a_usage_error(pytester_like_run, tmp_path):
    (tmp_path / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef devin_api_version():\n    return 'v2'\n"
    )
    result = pytester_like_run()
    assert "devin_api_version must be one of" in result.stdout + result.stderr
