"""One round of the trigger benchmark, in a fresh process: N triggers in ONE event loop.

It runs the triggers the way the triggerer does (``async for event in trigger.run()`` per asyncio
task, ``cleanup()`` afterwards) against the fake endpoint, lets them reach steady state, then
measures over a fixed window:

- CPU per poll: this process's CPU time / polls the server answered in the window;
- new TCP connections per poll: connections the server accepted in the window / polls;
- share of the configured poll rate: polls / (N x window / interval);
- share of CPU in the cyclic GC: time inside ``gc`` collections (``gc.callbacks``) / CPU time;
- RSS per waiting trigger: (RSS with N triggers waiting - RSS after a one-trigger warm-up) / N;
- log lines per poll: lines written to stdout/stderr in the window / polls (both file
  descriptors are redirected to a file before anything is imported, so every handler is caught);
- open file descriptors before the triggers start and after they all finished or were cancelled.

After the window, a churn phase cancels the waiting triggers at random moments (some mid-request)
while new triggers start on sessions that finish at once; every one of those must fire exactly one
event. Then the descriptor count and the server's open connections must be back where they began.

Run by ``benchmarks.trigger_bench``; the result goes to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any


def _redirect_output(log_file: Path) -> int:
    """Point fds 1 and 2 at ``log_file`` so that every log line lands there; returns its fd."""
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    return fd


class GCTimer:
    """Accumulates the CPU time spent inside cyclic GC collections."""

    def __init__(self) -> None:
        self.total = 0.0
        self.collections = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.total += time.thread_time() - self._started
            self.collections += 1


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def _fd_targets() -> dict[int, str]:
    """What each open descriptor of this process points at (socket:[inode], pipe:[...], a path)."""
    targets = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            targets[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
    return targets


def _count_lines(log_file: Path, start: int, end: int) -> int:
    with log_file.open("rb") as f:
        f.seek(start)
        return f.read(end - start).count(b"\n")


def _log_size() -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    return os.fstat(1).st_size


async def _run_one(trigger: Any, events: list[Any], errors: list[str], start_delay: float = 0.0) -> None:
    """What the triggerer does for one trigger: iterate run(), take the event, clean up."""
    if start_delay:
        await asyncio.sleep(start_delay)
    generator = trigger.run()
    try:
        async for event in generator:
            events.append(event)
            break
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        await generator.aclose()
        cleanup = getattr(trigger, "cleanup", None)
        if cleanup is not None:
            await cleanup()


async def measure_window(control_port: int, seconds: float) -> dict[str, Any]:
    """Sleep ``seconds`` while the triggers run; the server's counters, this process's CPU seconds
    and the log file's size at both ends, and the wall time it took."""
    from benchmarks.fake_server import read_stats

    stats_start = read_stats(control_port)
    cpu_start = _cpu()
    log_start = _log_size()
    wall_start = time.monotonic()
    await asyncio.sleep(seconds)
    wall = time.monotonic() - wall_start
    log_end = _log_size()
    cpu = _cpu() - cpu_start
    return {
        "stats_start": stats_start,
        "stats_end": read_stats(control_port),
        "cpu": cpu,
        "wall": wall,
        "log_start": log_start,
        "log_end": log_end,
    }


async def _measure(args: argparse.Namespace, make_trigger: Any, log_file: Path) -> dict[str, Any]:
    import psutil

    from benchmarks.fake_server import read_stats

    process = psutil.Process()
    route = "session_404" if args.impl == "baseline" else "session"
    rng = random.Random(args.seed)
    errors: list[str] = []

    # Warm-up: one trigger, a few polls, so lazy imports, SSL contexts and caches exist before the
    # RSS baseline is taken (they are per-process costs, not per-trigger ones).
    warm_events: list[Any] = []
    warm = asyncio.create_task(_run_one(make_trigger("devin-warmup-0", args.interval), warm_events, errors))
    await asyncio.sleep(args.interval * 2.5)
    warm.cancel()
    await asyncio.gather(warm, return_exceptions=True)
    finished_warm: list[Any] = []
    await _run_one(make_trigger("devin-finished-warmup", args.interval), finished_warm, errors)
    await asyncio.sleep(0.2)
    gc.collect()
    fds_before = process.num_fds()
    fd_targets_before = _fd_targets()
    rss_before = process.memory_info().rss
    server_before = read_stats(args.control_port)

    # N waiting triggers, started over one poll interval as a triggerer picks them up over time.
    started_at = time.monotonic()
    # Session ids unique to this process, so the server's distinct-id count starts from zero.
    run_tag = f"{args.impl}-{os.getpid()}"
    events: list[Any] = []
    tasks = [
        asyncio.create_task(
            _run_one(
                make_trigger(f"devin-wait-{run_tag}-{index:05d}", args.interval),
                events,
                errors,
                start_delay=rng.uniform(0, args.interval),
            )
        )
        for index in range(args.n)
    ]
    # Steady state: at least --warmup seconds, and every trigger has finished its first poll (the
    # first poll logs the conversation so far; that is start-up, not steady state). Bounded.
    await asyncio.sleep(args.warmup)
    warmup_limit = time.monotonic() + args.max_warmup
    while time.monotonic() < warmup_limit:
        seen = read_stats(args.control_port)["distinct_sessions"][route]
        if seen - server_before["distinct_sessions"][route] >= args.n:
            break
        await asyncio.sleep(min(0.5, args.interval))
    first_polls_done = (
        read_stats(args.control_port)["distinct_sessions"][route] - server_before["distinct_sessions"][route]
    )
    # One more interval so that the last first-poll's log lines are behind us.
    await asyncio.sleep(args.interval)
    warmup_seconds = time.monotonic() - started_at

    profiler = None
    if args.profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    gc_timer = GCTimer()
    gc.callbacks.append(gc_timer)
    window = await measure_window(args.control_port, args.window)
    stats_start, stats_end, wall, cpu = window["stats_start"], window["stats_end"], window["wall"], window["cpu"]
    log_start, log_end = window["log_start"], window["log_end"]
    gc.callbacks.remove(gc_timer)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    rss_waiting = process.memory_info().rss
    fds_waiting = process.num_fds()
    server_open_waiting = stats_end["open"]["tls"]

    polls = stats_end["by_route"][route] - stats_start["by_route"][route]
    new_connections = stats_end["accepted"]["tls"] - stats_start["accepted"]["tls"]
    log_lines = _count_lines(log_file, log_start, log_end)
    expected_polls = args.n * wall / args.interval
    still_waiting = sum(1 for task in tasks if not task.done())

    # Churn: cancel every waiting trigger at a random moment within one interval (some of them
    # mid-request) while triggers on finished sessions start and must each fire one event.
    finished_events: list[Any] = []
    finished_tasks = [
        asyncio.create_task(
            _run_one(
                make_trigger(f"devin-finished-{run_tag}-{index:05d}", args.interval),
                finished_events,
                errors,
                start_delay=rng.uniform(0, args.interval),
            )
        )
        for index in range(args.churn)
    ]
    loop = asyncio.get_running_loop()
    for task in tasks:
        loop.call_later(rng.uniform(0, args.interval), task.cancel)
    deadline = args.interval * 2 + 30
    done, pending = await asyncio.wait([*tasks, *finished_tasks], timeout=deadline)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            errors.append(f"task raised {task.exception()!r}")
    # Let transports finish closing (TLS close_notify, aiohttp's deferred closes).
    await asyncio.sleep(max(0.5, args.interval))
    gc.collect()
    await asyncio.sleep(0.2)
    fds_after = process.num_fds()
    new_fds = {fd: target for fd, target in _fd_targets().items() if fd_targets_before.get(fd) != target}
    sockets_left = [f"{c.laddr}->{c.raddr} {c.status}" for c in process.net_connections(kind="inet") if c.raddr]
    server_after = read_stats(args.control_port)

    return {
        "impl": args.impl,
        "n": args.n,
        "interval": args.interval,
        "window": wall,
        "warmup_seconds": warmup_seconds,
        "first_polls_done_before_window": first_polls_done,
        "polls": polls,
        "cpu_seconds": cpu,
        "cpu_per_poll_ms": 1000 * cpu / polls if polls else None,
        "new_connections": new_connections,
        "new_connections_per_poll": new_connections / polls if polls else None,
        "poll_rate_share": polls / expected_polls if expected_polls else None,
        "gc_seconds": gc_timer.total,
        "gc_collections": gc_timer.collections,
        "gc_share": gc_timer.total / cpu if cpu else None,
        "rss_before": rss_before,
        "rss_waiting": rss_waiting,
        "rss_per_trigger_kib": (rss_waiting - rss_before) / args.n / 1024,
        "server_cpu_per_poll_ms": 1000 * (stats_end["cpu_seconds"] - stats_start["cpu_seconds"]) / polls
        if polls
        else None,
        "log_lines": log_lines,
        "log_lines_per_poll": log_lines / polls if polls else None,
        "fds_before": fds_before,
        "fds_waiting": fds_waiting,
        "fds_after": fds_after,
        "fd_leak": fds_after - fds_before,
        "new_fds_after": new_fds,
        "sockets_left": sockets_left[:20],
        "server_open_before": server_before["open"]["tls"],
        "server_open_waiting": server_open_waiting,
        "server_open_after": server_after["open"]["tls"],
        "still_waiting_at_window_end": still_waiting,
        "premature_events": len(events),
        "churn_triggers": args.churn,
        "churn_events": len(finished_events),
        "churn_event_sample": repr(finished_events[0])[:300] if finished_events else None,
        "errors": errors[:20],
        "error_count": len(errors),
    }


def add_driver_arguments(
    parser: argparse.ArgumentParser, impls: tuple[str, ...], n: int, interval: float, warmup: float, window: float
) -> None:
    """What every driver takes: which trigger, how many, its interval, the warm-up and measured
    seconds, the fake endpoint's ports and CA, and where the result and the log go."""
    parser.add_argument("--impl", required=True, choices=impls)
    parser.add_argument("--n", type=int, default=n)
    parser.add_argument("--interval", type=float, default=interval)
    parser.add_argument("--warmup", type=float, default=warmup, help="seconds before the window starts")
    parser.add_argument("--window", type=float, default=window, help="measured seconds")
    parser.add_argument("--https-port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--log-file", type=Path, required=True)


def main(argv: list[str] | None = None) -> None:
    from benchmarks.impls import IMPLEMENTATIONS

    parser = argparse.ArgumentParser(description=__doc__)
    add_driver_arguments(parser, IMPLEMENTATIONS, n=500, interval=1.0, warmup=5.0, window=20.0)
    parser.add_argument(
        "--max-warmup", type=float, default=60.0, help="give up waiting for every trigger's first poll after this"
    )
    parser.add_argument("--churn", type=int, default=50, help="triggers on finished sessions")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", type=Path, help="cProfile the window into this file (inflates CPU)")
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 20_000 or not 0 < args.window <= 600 or not 0 < args.interval <= 60:
        parser.error("n must be 1..20000, window 0..600 s, interval 0..60 s")

    _redirect_output(args.log_file)
    # Trust the run-time CA: httpx (trust_env) and aiohttp/ssl read SSL_CERT_FILE.
    os.environ["SSL_CERT_FILE"] = args.ca_file
    from benchmarks.impls import connection_env, factory

    os.environ.update(connection_env(args.https_port, args.ca_file))

    make_trigger = factory(args.impl, args.https_port)
    # Import the trigger's modules before anything is measured.
    make_trigger("devin-import-0", args.interval)
    result = asyncio.run(_measure(args, make_trigger, args.log_file))
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
