"""DAG-parse cost: import an operators module and build a 20-task DAG, in a fresh process.

``python -m benchmarks.dag_parse --variant devin|http|empty`` prints one JSON line. The process
imports ``airflow.sdk`` and builds an empty DAG first (every DAG file pays those, ~1.3 s, whatever its
operators), then times
importing the variant's operator and building a chained 20-task DAG of it, and counts the modules
the operator import pulled in. What a DAG file pays on every parse for choosing this operator is
that time, so the figure excludes the interpreter start and ``airflow.sdk``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from typing import Any

VARIANTS = ("devin", "http", "empty")
TASKS = 20

_OPERATOR = {
    "devin": ("airflow_provider_devin.operators.devin", "DevinCreateSessionOperator"),
    "http": ("airflow.providers.http.operators.http", "HttpOperator"),
    "empty": ("airflow.providers.standard.operators.empty", "EmptyOperator"),
}


def _task_kwargs(variant: str, index: int) -> dict[str, Any]:
    if variant == "devin":
        return {
            "prompt": f"Fix the flaky test number {index} in the nightly suite and open a pull request.",
            "title": f"nightly fix {index}",
            "tags": ["nightly"],
        }
    if variant == "http":
        return {
            "http_conn_id": "devin_http",
            "endpoint": "/v1/sessions",
            "method": "POST",
            "data": json.dumps({"prompt": f"Fix the flaky test number {index} in the nightly suite."}),
            "headers": {"Content-Type": "application/json"},
        }
    return {}


def measure(variant: str) -> dict[str, Any]:
    """Time importing ``variant``'s operator and building the DAG, in this (fresh) process."""
    from airflow.sdk import DAG

    # The first DAG object of a process costs ~25 ms of lazy set-up whatever its operators; pay it
    # before the clock starts so the figure is what the operator choice costs.
    with DAG(dag_id="parse_bench_warmup", schedule=None, catchup=False):
        pass
    module_name, class_name = _OPERATOR[variant]
    modules_before = len(sys.modules)
    started = time.perf_counter()
    operator = getattr(importlib.import_module(module_name), class_name)
    imported = time.perf_counter()
    modules_after = len(sys.modules)
    with DAG(dag_id=f"parse_bench_{variant}", schedule=None, catchup=False) as dag:
        previous = None
        for index in range(TASKS):
            task = operator(task_id=f"task_{index:02d}", **_task_kwargs(variant, index))
            if previous is not None:
                previous >> task
            previous = task
    built = time.perf_counter()
    assert len(dag.task_dict) == TASKS
    return {
        "variant": variant,
        "import_ms": (imported - started) * 1000,
        "build_ms": (built - imported) * 1000,
        "total_ms": (built - started) * 1000,
        "modules_at_import": modules_after - modules_before,
        "heavy_modules_loaded": sorted(
            name for name in ("requests", "httpx", "aiohttp", "tenacity", "jsonschema") if name in sys.modules
        ),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", choices=VARIANTS, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.variant)), flush=True)


if __name__ == "__main__":
    main()
