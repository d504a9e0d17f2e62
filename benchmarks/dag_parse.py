"""DAG-parse cost: import an operators module and build a 20-task DAG.

Cold (``python -m benchmarks.dag_parse --variant devin|http|empty``, one JSON line): a fresh process
imports ``airflow.sdk`` and builds an empty DAG first (every DAG file pays those, ~1.3 s, whatever its
operators), then times importing the variant's operator and building a chained 20-task DAG of it,
and counts the modules the operator import pulled in.

Steady state (``python -m benchmarks.dag_parse --steady [--rounds N]``): what Airflow 3.3's
dag-processor pays on *every* parse. Its manager process pre-imports the ``airflow.*`` modules a DAG
file names (``_pre_import_airflow_modules``, with Airflow's own ``iter_airflow_imports``) and forks
a child per parse, so an ``HttpOperator`` DAG finds its operator already imported while a Devin DAG
imports the provider again each time. Here a parent imports ``airflow.sdk`` and the dag-processor,
pre-imports both DAG files' ``airflow.*`` imports, and also every ``airflow.*`` module one
``HttpOperator`` parse loads (so only what the operator choice adds is cold: the conservative
reading); then each sample forks a child that either loads the DAG file as the DagBag does
(``exec``: import + build) or runs Airflow's own child-side ``_parse_file`` (``parse``: the
stability check, the DagBag, serialization). The provider's bytecode is compiled first, as an
installed package's is (``PYTHONDONTWRITEBYTECODE`` would otherwise charge compilation to every
parse). The two variants alternate; the figure is devin/http, median of each.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
from typing import Any, cast

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


def _dag_source(variant: str) -> str:
    module_name, class_name = _OPERATOR[variant]
    kwargs = [_task_kwargs(variant, index) for index in range(TASKS)]
    return (
        "from airflow.sdk import DAG\n"
        f"from {module_name} import {class_name}\n\n"
        f"KWARGS = {kwargs!r}\n\n"
        f"with DAG(dag_id='steady_parse_{variant}', schedule=None, catchup=False):\n"
        "    previous = None\n"
        "    for index, kwargs in enumerate(KWARGS):\n"
        f"        task = {class_name}(task_id=f'task_{{index:02d}}', **kwargs)\n"
        "        if previous is not None:\n"
        "            previous >> task\n"
        "        previous = task\n"
    )


def _in_child(work: Any) -> dict[str, Any]:
    """Run ``work()`` in a forked child (as the dag-processor does); its ms and the modules it loaded."""
    import os

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_end)
        try:
            before = set(sys.modules)
            started = time.perf_counter()
            work()
            elapsed = (time.perf_counter() - started) * 1000
            loaded = sorted(set(sys.modules) - before)
            os.write(write_end, json.dumps({"ms": elapsed, "modules": loaded}).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 1 << 16):
        data += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    if not data:
        raise RuntimeError("the DAG-parse child failed")
    return cast(dict[str, Any], json.loads(data))


def steady(rounds: int) -> dict[str, Any]:
    """The steady-state parse cost of a 20-task Devin DAG vs an HttpOperator DAG (see the module docstring)."""
    import compileall
    import importlib.util
    import tempfile
    from pathlib import Path

    import airflow_provider_devin

    compileall.compile_dir(str(Path(airflow_provider_devin.__file__).parent), quiet=1)
    import airflow.dag_processing.processor  # noqa: F401  - the manager's own imports
    from airflow.sdk import DAG
    from airflow.utils.file import iter_airflow_imports

    with DAG(dag_id="steady_warmup", schedule=None, catchup=False):
        pass
    try:
        from airflow.dag_processing.processor import DagFileParseRequest, _parse_file
    except ImportError:  # not Airflow 3.x's dag-processor: only the exec figure
        _parse_file = None
    folder = Path(tempfile.mkdtemp(prefix="dag_parse_"))
    files = {}
    for variant in ("devin", "http"):
        path = folder / f"steady_{variant}.py"
        path.write_text(_dag_source(variant))
        files[variant] = path
        for module in iter_airflow_imports(str(path)):
            importlib.import_module(module)

    def exec_file(path: Path) -> Any:
        def run() -> None:
            spec = importlib.util.spec_from_file_location(f"unusual_prefix_{path.stem}", path)
            assert spec is not None and spec.loader is not None
            spec.loader.exec_module(importlib.util.module_from_spec(spec))

        return run

    def parse_file(path: Path) -> Any:
        def run() -> None:
            import structlog

            request = DagFileParseRequest(file=str(path), bundle_path=folder, bundle_name="bench", callback_requests=[])
            result = _parse_file(request, structlog.get_logger())
            assert result is not None and result.serialized_dags and not result.import_errors, result

        return run

    modes = {"exec": exec_file} if _parse_file is None else {"exec": exec_file, "parse": parse_file}
    # The manager is taken to hold every Airflow module a plain HttpOperator parse needs.
    for mode in modes.values():
        for module in _in_child(mode(files["http"]))["modules"]:
            if module.startswith("airflow."):
                importlib.import_module(module)
    samples: dict[str, dict[str, list[float]]] = {mode: {"devin": [], "http": []} for mode in modes}
    loaded: dict[str, list[str]] = {}
    for round_index in range(rounds):
        for mode, make in modes.items():
            for variant in ("devin", "http") if round_index % 2 else ("http", "devin"):
                child = _in_child(make(files[variant]))
                samples[mode][variant].append(child["ms"])
                if mode == "exec":
                    loaded[variant] = [m for m in child["modules"] if not m.startswith("unusual_prefix_")]
    result: dict[str, Any] = {"rounds": rounds, "samples": samples, "modules_per_parse": loaded}
    for mode, by_variant in samples.items():
        devin_ms, http_ms = statistics.median(by_variant["devin"]), statistics.median(by_variant["http"])
        result[f"{mode}_devin_ms"], result[f"{mode}_http_ms"] = devin_ms, http_ms
        result[f"{mode}_ratio"] = devin_ms / http_ms
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--variant", choices=VARIANTS)
    group.add_argument("--steady", action="store_true", help="the dag-processor's steady state (forked parses)")
    parser.add_argument("--rounds", type=int, default=30, help="--steady: samples per variant and mode")
    args = parser.parse_args(argv)
    if not args.steady:
        print(json.dumps(measure(args.variant)), flush=True)
        return
    result = steady(args.rounds)
    for mode in ("exec", "parse"):
        if f"{mode}_ratio" in result:
            devin_ms, http_ms = result[f"{mode}_devin_ms"], result[f"{mode}_http_ms"]
            print(
                f"steady-state {mode}: devin {devin_ms:.2f} ms, http {http_ms:.2f} ms (medians of {args.rounds}): "
                f"ratio {result[f'{mode}_ratio']:.2f}x (target <= 1.5x)",
                file=sys.stderr,
            )
    print(f"modules a Devin DAG parse loads: {result['modules_per_parse'].get('devin')}", file=sys.stderr)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
