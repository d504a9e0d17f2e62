"""The connection forms shown in the docs define a working ``devin`` connection.

Every ``AIRFLOW_CONN_…='…'`` value and ``--conn-json '…'`` argument in the docs' bash blocks is
turned into a connection through Airflow's own lookup and read by ``DevinHook``; the secrets
backend example is loaded through the real local-filesystem backend; the ``test_connection``
snippet runs against the emulator.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_devin.hooks.devin import DevinHook

from .test_snippets import all_blocks

SNIPPETS = Path(__file__).resolve().parent / "snippets"
ENV_FILE = SNIPPETS / "connection_env.sh"
CONN_VALUE = re.compile(r"(?:AIRFLOW_CONN_\w+=|--conn-json\s+)'([^']*)'", re.S)


def _sections(path: Path) -> dict[str, str]:
    found = re.findall(r"# --8<-- \[start:(\w+)\]\n(.*?)# --8<-- \[end:\1\]", path.read_text(), re.S)
    return dict(found)


def _value_after_sourcing(section: str) -> str:
    # Let bash do the quoting, exactly as a user's shell would.
    script = f'{section}\nprintf %s "$AIRFLOW_CONN_DEVIN_DEFAULT"'
    return subprocess.run(["bash", "-c", script], check=True, capture_output=True, text=True).stdout


def _settings_for(value: str, monkeypatch: pytest.MonkeyPatch, conn_id: str = "docs_example"):
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)
    return DevinHook(devin_conn_id=conn_id).settings


V3_KEY, V1_KEY, ORG = "cog_REPLACE_WITH_YOUR_KEY", "apk_user_REPLACE_WITH_YOUR_KEY", "org-REPLACE_WITH_YOUR_ORG_ID"
ENTERPRISE = "https://api.your-company.devinenterprise.com"
# section -> (base_url, api key, api_version, org_id, timeout, max_retries)
EXPECTED = {
    "json": ("https://api.devin.ai", V3_KEY, "v3", ORG, 30.0, 5),
    "uri": ("https://api.devin.ai", V3_KEY, "v3", ORG, 30.0, 5),
    "json_v1": ("https://api.devin.ai", V1_KEY, "v1", None, 30.0, 5),
    "uri_v1": ("https://api.devin.ai", V1_KEY, "v1", None, 30.0, 5),
    "enterprise": (ENTERPRISE, V3_KEY, "v3", ORG, 30.0, 5),
    "local": ("http://127.0.0.1:8787", "cog_emulator_test_key", "v3", None, 30.0, 5),
    "local_v1": ("http://127.0.0.1:8787", "apk_user_emulator_test_key", "v1", None, 30.0, 5),
}


def test_every_documented_section_is_checked() -> None:
    assert set(_sections(ENV_FILE)) == set(EXPECTED)


@pytest.mark.parametrize("section", sorted(EXPECTED))
def test_documented_env_var_forms_give_the_documented_settings(section, monkeypatch) -> None:
    value = _value_after_sourcing(_sections(ENV_FILE)[section])
    settings = _settings_for(value, monkeypatch)
    assert (
        settings.base_url,
        settings.api_key,
        settings.api_version,
        settings.org_id,
        settings.timeout,
        settings.retry.max_retries,
    ) == EXPECTED[section]


def test_every_connection_value_in_the_docs_is_accepted_by_the_hook(monkeypatch) -> None:
    values = [
        match.group(1)
        for block in all_blocks("bash")
        for match in CONN_VALUE.finditer(block.code)
        if "--8<--" not in block.code
    ]
    assert len(values) >= 3, values  # quick start (2) and connection page (1) at least
    for index, value in enumerate(values):
        settings = _settings_for(value, monkeypatch, conn_id=f"docs_inline_{index}")
        # The version a documented connection speaks is the one its key can call.
        assert settings.api_version == ("v3" if settings.api_key.startswith("cog_") else "v1"), value
        assert settings.api_key.startswith(("cog_", "apk_")), value
        assert settings.base_url.startswith(("https://", "http://127.0.0.1"))


def test_plain_http_to_a_remote_host_is_refused_as_documented(monkeypatch) -> None:
    value = json.dumps({"conn_type": "devin", "host": "http://devin.example.com", "password": "apk_x"})
    with pytest.raises(Exception, match="refusing plain http://"):
        _settings_for(value, monkeypatch)


def test_secrets_backend_example_serves_the_connection(tmp_path: Path) -> None:
    config = (SNIPPETS / "secrets_backend.cfg").read_text()
    backend = re.search(r"^backend = (.+)$", config, re.M).group(1)
    kwargs = json.loads(re.search(r"^backend_kwargs = (.+)$", config, re.M).group(1))
    connections = tmp_path / "connections.json"
    connections.write_text((SNIPPETS / "connections.json").read_text())
    kwargs["connections_file_path"] = str(connections)
    env = {
        **os.environ,
        "AIRFLOW__SECRETS__BACKEND": backend,
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(kwargs),
    }
    env.pop("AIRFLOW_CONN_DEVIN_DEFAULT", None)
    probe = (
        "from airflow_provider_devin.hooks.devin import DevinHook\n"
        "s = DevinHook().settings\n"
        "print(s.base_url, s.api_key, s.api_version, s.org_id, s.timeout, s.retry.max_retries)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        result.stdout.strip().splitlines()[-1]
        == "https://api.devin.ai cog_REPLACE_WITH_YOUR_SERVICE_USER_KEY v3 org-REPLACE_WITH_YOUR_ORG_ID 30.0 5"
    )


@pytest.mark.parametrize("devin_api_version", ["v1", "v3"])
def test_check_connection_snippet_says_which_version_and_org_it_reached(devin_emulator, capsys) -> None:
    runpy.run_path(str(SNIPPETS / "check_connection.py"))
    out = capsys.readouterr().out
    if devin_emulator.api_key.startswith("cog_"):
        assert f"connection works - Connected to the Devin v3 API at {devin_emulator.base_url}" in out, out
        assert "(organization org-emulator)" in out, out
    else:
        assert f"connection works - Connected to the Devin v1 API at {devin_emulator.base_url}." in out, out


@pytest.mark.parametrize("wrong_key", ["apk_user_wrong", "cog_wrong"])
def test_check_connection_snippet_reports_a_wrong_key(devin_emulator, monkeypatch, capsys, wrong_key) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_DEVIN_DEFAULT",
        json.dumps({"conn_type": "devin", "host": devin_emulator.base_url, "password": wrong_key}),
    )
    runpy.run_path(str(SNIPPETS / "check_connection.py"))
    out = capsys.readouterr().out
    assert "connection failed" in out and "HTTP 401" in out, out
