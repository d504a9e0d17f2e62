"""DAG files import the operator modules on every parse: they must stay lean.

Airflow 3.3's dag-processor pre-imports only the ``airflow.*`` modules a DAG file names, so every
provider module a DAG file pulls in is imported again on each parse (benchmarks/dag_parse.py
``--steady``, docs/performance.md). The set is named here: a new module-level import in the parse
path fails this test instead of slowing every parse down unnoticed.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = [
    "airflow_provider_devin.hooks.devin",
    "airflow_provider_devin.triggers.devin",
    "airflow_provider_devin.emulator",
    "requests",
    "tenacity",
    "jsonschema",
    "httpx",
]

#: Every provider module a DAG file with the create and send-message operators may load, beyond
#: what building a plain DAG already loaded. The package itself (version and provider info) is one:
#: Airflow 3.3 reads the provider info when ``airflow.sdk`` is imported, 3.1 and 3.2 do not.
PARSE_MODULES = {
    "airflow_provider_devin",
    "airflow_provider_devin.__version__",
    "airflow_provider_devin._compat",
    "airflow_provider_devin.links",
    "airflow_provider_devin.links.devin",
    "airflow_provider_devin.operators",
    "airflow_provider_devin.operators._waiting",
    "airflow_provider_devin.operators.devin",
    "airflow_provider_devin.validation",
}

#: Loaded only when a wait or a retry actually runs, never at parse time.
NOT_AT_PARSE = {
    "airflow_provider_devin.status",
    "airflow_provider_devin.session",
    "airflow_provider_devin.idempotency",
    "airflow_provider_devin.operators._inputs",
    "airflow.sdk.bases.decorator",
    "airflow.sdk.bases.sensor",
}

# The baseline is taken after building a DAG with a plain operator: what Airflow itself loads to
# build a DAG (Airflow 3.1 imports jsonschema there, for example) is not the provider's cost.
PROBE = """
import datetime, json, sys
from airflow.sdk import DAG, BaseOperator
class Plain(BaseOperator):
    def execute(self, context):
        return None
with DAG("baseline_probe", schedule=None, start_date=datetime.datetime(2026, 1, 1)):
    Plain(task_id="plain")
baseline = set(sys.modules)
{imports}
with DAG("parse_probe", schedule=None, start_date=datetime.datetime(2026, 1, 1)):
    for i in range(20):
        airflow_provider_devin.operators.devin.DevinCreateSessionOperator(
            task_id=f"t{{i}}", prompt="p", tags=["nightly"], structured_output_schema={{"type": "object"}},
            poll_error_window=600, on_blocked="wait",
        )
    airflow_provider_devin.operators.devin.DevinSendMessageOperator(task_id="m", session_id="devin-1", message="hi")
print(json.dumps(sorted(set(sys.modules) - baseline)))
"""


def added_modules(imports: str) -> set[str]:
    code = PROBE.format(imports=imports)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_importing_and_building_operators_loads_no_http_client_hook_or_trigger():
    added = added_modules(
        "import airflow_provider_devin.operators.devin\n"
        "import airflow_provider_devin.sensors.devin\n"
        "import airflow_provider_devin.links.devin"
    )
    loaded_heavy = [name for name in HEAVY if name in added]
    assert loaded_heavy == []


def test_a_devin_dag_parse_loads_only_the_named_provider_modules():
    added = added_modules("import airflow_provider_devin.operators.devin")
    provider = {name for name in added if name.startswith("airflow_provider_devin")}
    assert provider <= PARSE_MODULES, f"new in the parse path: {sorted(provider - PARSE_MODULES)}"
    assert not added & NOT_AT_PARSE, sorted(added & NOT_AT_PARSE)
    assert {"airflow_provider_devin.operators.devin", "airflow_provider_devin.operators._waiting"} <= provider


def test_the_lazily_imported_names_still_resolve():
    from airflow_provider_devin import _compat
    from airflow_provider_devin.idempotency import idempotency_tag
    from airflow_provider_devin.operators import devin

    assert devin.idempotency_tag is idempotency_tag
    assert devin.TASK_STATE_KEY and callable(devin.task_instance_key) and callable(devin.message_trailer)
    assert _compat.BaseSensorOperator.__name__ == "BaseSensorOperator"
    assert callable(_compat.task_decorator_factory) and callable(_compat.determine_kwargs)
    with pytest.raises(AttributeError, match="not_a_name"):
        devin.not_a_name  # noqa: B018
    with pytest.raises(AttributeError, match="not_a_name"):
        _compat.not_a_name  # noqa: B018
