"""Hook throughput: ``DevinHook.get_session`` vs a bare reused ``requests.Session`` per call.

``python -m benchmarks.hook_bench --http-port P --rounds R --calls K`` (one fresh process) alternates
blocks of K calls of each against the fake endpoint's plain-HTTP loopback listener, after a warm-up
of both, and prints one JSON line with per-call wall and CPU times for every round. The order
within a round alternates so neither side always runs first.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

SESSION_ID = "devin-hookbench0123456789abcdef"
CONN_ID = "bench_devin_plain"


def _time_block(call: Callable[[], Any], calls: int) -> tuple[float, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(calls):
        call()
    return (time.perf_counter() - wall0) / calls, (time.process_time() - cpu0) / calls


def run(http_port: int, rounds: int, calls: int) -> dict[str, Any]:
    import requests

    from airflow_provider_devin.hooks.devin import DevinHook
    from benchmarks.impls import API_KEY

    base = f"http://127.0.0.1:{http_port}"
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
        {"conn_type": "devin", "host": base, "password": API_KEY}
    )
    url = f"{base}/v1/sessions/{SESSION_ID}"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {API_KEY}"
    hook = DevinHook(CONN_ID)

    def bare() -> Any:
        return session.get(url).json()

    def ours() -> Any:
        return hook.get_session(SESSION_ID)

    assert bare()["session_id"] == SESSION_ID
    assert ours()["session_id"] == SESSION_ID
    _time_block(bare, max(10, calls // 5))
    _time_block(ours, max(10, calls // 5))

    samples: list[dict[str, float]] = []
    for index in range(rounds):
        order = [("bare", bare), ("ours", ours)]
        if index % 2:
            order.reverse()
        sample: dict[str, float] = {}
        for name, call in order:
            wall, cpu = _time_block(call, calls)
            sample[f"{name}_wall_ms"] = wall * 1000
            sample[f"{name}_cpu_ms"] = cpu * 1000
        samples.append(sample)
    hook.close()
    session.close()
    return {"calls_per_block": calls, "rounds": samples}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 1000 or not 1 <= args.calls <= 100_000:
        parser.error("rounds must be 1..1000 and calls 1..100000")
    print(json.dumps(run(args.http_port, args.rounds, args.calls)), flush=True)


if __name__ == "__main__":
    main()
