"""DAG files import the operator modules on every parse: they must stay lean."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "airflow_provider_devin.hooks.devin",
    "airflow_provider_devin.triggers.devin",
    "airflow_provider_devin.emulator",
    "requests",
    "tenacity",
    "jsonschema",
    "httpx",
]

PROBE = """
import json, sys
import airflow.sdk
baseline = set(sys.modules)
import airflow_provider_devin.operators.devin
import airflow_provider_devin.sensors.devin
import airflow_provider_devin.links.devin
from airflow.sdk import DAG
import datetime
with DAG("parse_probe", schedule=None, start_date=datetime.datetime(2026, 1, 1)):
    for i in range(20):
        airflow_provider_devin.operators.devin.DevinCreateSessionOperator(task_id=f"t{i}", prompt="p")
print(json.dumps(sorted(set(sys.modules) - baseline)))
"""


def test_importing_and_building_operators_loads_no_http_client_hook_or_trigger():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120)
    added = set(json.loads(out.stdout.strip().splitlines()[-1]))
    loaded_heavy = [name for name in HEAVY if name in added]
    assert loaded_heavy == []
