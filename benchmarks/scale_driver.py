"""One run of the scale benchmark, in a fresh process: N waiting triggers in ONE event loop.

Issue 11 item 3. The triggers start over one poll interval (as a triggerer picks them up), from the
position and observation a worker hands over after logging the conversation (so nothing is logged
or read again). After ``--warmup`` seconds -- and once every v3 trigger has joined its poller and no
start-up read is left, waiting at most two more intervals (the time taken is reported as
``steady_after_s``) -- the driver measures the steady state over ``--window`` seconds: requests the
fake endpoint answered, this process's CPU time, RSS, and failed polls (the trigger's "Polling
Devin failing" lines); the start-up's requests are reported apart (``startup_requests``).
``--flips`` of the N sessions turn finished at known moments just after the window; the
time from that moment to each trigger's event is the status-change latency. Then every waiting
trigger is cancelled at a random moment within one interval (churn) and the open descriptors must
be back where they were before the triggers started.

Run by ``benchmarks.scale``; the result goes to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import time
from pathlib import Path
from typing import Any

from benchmarks.trigger_driver import (
    _count_lines,
    _redirect_output,
    _run_one,
    add_driver_arguments,
    measure_window,
)

IMPLS = ("ours-v1", "ours-v3", "raw-asyncio", "baseline")
V3_CONN_ID = "bench_devin_v3"
V3_KEY = "cog_benchmark_key_0123456789"


def _factory(impl: str, https_port: int, ca_file: str) -> Any:
    from benchmarks import impls
    from benchmarks.session_json import V3_ORG, read_handover, read_position

    if impl not in ("ours-v1", "ours-v3"):
        return impls.factory(impl, https_port)
    os.environ[f"AIRFLOW_CONN_{V3_CONN_ID.upper()}"] = json.dumps(
        {
            "conn_type": "devin",
            "host": f"https://127.0.0.1:{https_port}",
            "password": V3_KEY,
            "extra": {"verify": ca_file, "org_id": V3_ORG},
        }
    )
    version = impl.removeprefix("ours-")
    conn_id = impls.DEVIN_CONN_ID if version == "v1" else V3_CONN_ID
    position = read_position(version)

    def make(session_id: str, interval: float) -> Any:
        from airflow_provider_devin.triggers.devin import DevinSessionTrigger

        return DevinSessionTrigger(
            session_id=session_id,
            devin_conn_id=conn_id,
            poll_interval=interval,
            position=position,
            handover=read_handover() if version == "v3" else None,
        )

    return make


async def _wait_one(trigger: Any, fired: dict[str, float], key: str, errors: list[str], delay: float) -> None:
    """Run one trigger as the triggerer does; note when its event came and whether it was an error."""
    events: list[Any] = []
    await _run_one(trigger, events, errors, delay)
    if events:
        fired[key] = time.time()
        payload = getattr(events[0], "payload", events[0])
        if isinstance(payload, dict) and payload.get("status") == "error":
            errors.append(str(payload.get("message"))[:300])


async def _steady(n: int, limit: float) -> float:
    """Wait until every v3 trigger is served by a poller with no read in flight (at most ``limit``
    seconds; at once where no poller runs: v1 and the references). Returns the seconds waited."""
    from airflow_provider_devin.triggers._poller import active_pollers

    began = time.monotonic()
    while time.monotonic() - began < limit:
        pollers = active_pollers()
        if not pollers or (sum(p.subscribers for p in pollers) >= n and not any(p.reads_in_flight for p in pollers)):
            break
        await asyncio.sleep(0.1)
    return time.monotonic() - began


def _failed_polls(log_file: Path, start: int, end: int) -> int:
    with log_file.open("rb") as f:
        f.seek(start)
        return f.read(end - start).count(b"Polling Devin failing")


async def _measure(args: argparse.Namespace, make: Any, log_file: Path) -> dict[str, Any]:
    import psutil

    from benchmarks.fake_server import read_stats

    process = psutil.Process()
    rng = random.Random(args.seed)
    errors: list[str] = []
    # Warm-up: one trigger for a few polls, so imports, SSL contexts and caches exist first.
    warm = asyncio.create_task(_wait_one(make("devin-warmup-0", args.interval), {}, "w", errors, 0.0))
    await asyncio.sleep(args.interval * 2.5)
    warm.cancel()
    await asyncio.gather(warm, return_exceptions=True)
    await asyncio.sleep(0.5)
    gc.collect()
    fds_before = process.num_fds()
    rss_before = process.memory_info().rss

    run_tag = f"{args.impl}-{os.getpid()}"
    started = time.time()
    window_end = started + args.warmup + 2 * args.interval + args.window  # the latest it can end
    flips = {
        f"devin-flip{int((window_end + 0.5 + rng.uniform(0, args.interval)) * 1000)}-{run_tag}-{i:05d}"
        for i in range(args.flips)
    }
    ids = [*sorted(flips), *(f"devin-wait-{run_tag}-{i:05d}" for i in range(args.n - len(flips)))]
    fired: dict[str, float] = {}
    tasks = {
        sid: asyncio.create_task(_wait_one(make(sid, args.interval), fired, sid, errors, rng.uniform(0, args.interval)))
        for sid in ids
    }
    before_start = read_stats(args.control_port)["requests"]["tls"]
    await asyncio.sleep(args.warmup)
    steady_after = await _steady(args.n, limit=2 * args.interval)
    first_done = read_stats(args.control_port)["distinct_sessions"]
    window = await measure_window(args.control_port, args.window)
    stats_start, stats_end, wall, cpu = window["stats_start"], window["stats_end"], window["wall"], window["cpu"]
    log_start, log_end = window["log_start"], window["log_end"]
    rss_waiting = process.memory_info().rss
    premature = [sid for sid in fired if sid not in flips]

    # Status changes: every flip session turns finished within one interval after the window.
    if flips:
        await asyncio.wait([tasks[sid] for sid in flips], timeout=window_end - time.time() + args.interval * 2 + 10)
    latencies = sorted(
        fired[sid] - int(sid[len("devin-flip") :].split("-", 1)[0]) / 1000 for sid in flips if sid in fired
    )

    # Churn: cancel every waiting trigger at a random moment within one interval.
    loop = asyncio.get_running_loop()
    for task in tasks.values():
        loop.call_later(rng.uniform(0, args.interval), task.cancel)
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    await asyncio.sleep(max(1.0, args.interval))
    gc.collect()
    await asyncio.sleep(0.3)
    fds_after = process.num_fds()

    requests = stats_end["requests"]["tls"] - stats_start["requests"]["tls"]
    by_route = {k: stats_end["by_route"][k] - stats_start["by_route"][k] for k in stats_end["by_route"]}
    session_intervals = args.n * wall / args.interval
    startup_requests = stats_start["requests"]["tls"] - before_start
    return {
        "impl": args.impl,
        "n": args.n,
        "interval": args.interval,
        "latency": args.latency,
        "window": wall,
        "first_polls_before_window": max(first_done.values()),
        "steady_after_s": steady_after,
        "startup_requests": startup_requests,
        "startup_requests_per_session": startup_requests / args.n,
        "requests": requests,
        "by_route": by_route,
        "cpu_seconds": cpu,
        "requests_per_session_interval": requests / session_intervals,
        "cpu_per_session_interval_ms": 1000 * cpu / session_intervals,
        "cpu_per_request_ms": 1000 * cpu / requests if requests else None,
        "rss_per_trigger_kib": (rss_waiting - rss_before) / args.n / 1024,
        "failed_polls": _failed_polls(log_file, log_start, log_end),
        "log_lines_in_window": _count_lines(log_file, log_start, log_end),
        "flips": len(flips),
        "flips_fired": len(latencies),
        "event_latency_p50_s": latencies[len(latencies) // 2] if latencies else None,
        "event_latency_p99_s": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else None,
        "event_latency_max_s": latencies[-1] if latencies else None,
        "premature_events": len(premature),
        "fds_before": fds_before,
        "fds_after": fds_after,
        "fd_leak": fds_after - fds_before,
        "errors": errors[:10],
        "error_count": len(errors),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_driver_arguments(parser, IMPLS, n=1000, interval=5.0, warmup=10.0, window=15.0)
    parser.add_argument("--latency", type=float, default=0.0, help="the endpoint's delay (recorded only)")
    parser.add_argument("--flips", type=int, default=50)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 20_000 or not 0 <= args.flips <= args.n:
        parser.error("n must be 1..20000 and flips 0..n")
    _redirect_output(args.log_file)
    os.environ["SSL_CERT_FILE"] = args.ca_file
    from benchmarks.impls import connection_env

    os.environ.update(connection_env(args.https_port, args.ca_file))
    make = _factory(args.impl, args.https_port, args.ca_file)
    make("devin-import-0", args.interval)  # import the trigger's modules before anything is measured
    result = asyncio.run(_measure(args, make, args.log_file))
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
