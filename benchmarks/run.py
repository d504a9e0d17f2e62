"""Run every benchmark, interleaving baseline and ours, and print the figures with their targets.

``python -m benchmarks`` (full, a few minutes) or ``python -m benchmarks --smoke`` (tiny N, short
windows: only proves that every benchmark still produces its figures). ``--json PATH`` also writes
every raw sample. Targets are reported, never asserted: a benchmark is not a timed test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import impls, scale
from benchmarks.fake_server import REPO_ROOT, FakeDevinServer
from benchmarks.stats import fmt, fmt_summary, median, paired_ratios, table

SECTIONS = ("trigger", "scale", "hook", "dag", "latency")

TRIGGER_METRICS = [
    # key, label, digits
    ("cpu_per_poll_ms", "CPU per poll (ms)", 3),
    ("new_connections_per_poll", "new TCP connections per poll", 3),
    ("poll_rate_share", "share of configured poll rate", 3),
    ("gc_share", "share of CPU in cyclic GC", 3),
    ("rss_per_trigger_kib", "RSS per waiting trigger (KiB)", 1),
    ("log_lines_per_poll", "log lines per poll", 3),
    ("server_open_waiting", "connections open while waiting", 0),
    ("fd_leak", "open fds after - before", 0),
    ("server_cpu_per_poll_ms", "fake server CPU per poll (ms)", 3),
    ("server_open_after", "server-side connections left open", 0),
]


def _child_env(airflow_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("AIRFLOW_HOME", str(airflow_home))
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    # The benchmark processes must never talk to a real proxy about loopback.
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- trigger ------------------------------------------------------------------------------------


def run_trigger_rounds(
    server: FakeDevinServer, workdir: Path, env: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    endpoint = server.endpoint
    assert endpoint is not None
    names = []
    skipped = {}
    for name in args.impls:
        why = impls.available(name)
        if why is None:
            names.append(name)
        else:
            skipped[name] = why
            _log(f"[trigger] skipping {name}: {why}")
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for round_index in range(args.rounds):
        order = names if round_index % 2 == 0 else list(reversed(names))
        for name in order:
            out = workdir / f"trigger-{name}-{round_index}.json"
            log_file = workdir / f"trigger-{name}-{round_index}.log"
            command = [
                sys.executable,
                "-m",
                "benchmarks.trigger_driver",
                f"--impl={name}",
                f"--n={args.n}",
                f"--interval={args.interval}",
                f"--warmup={args.warmup}",
                f"--window={args.window}",
                f"--churn={args.churn}",
                f"--seed={round_index + 1}",
                f"--https-port={endpoint.https_port}",
                f"--control-port={endpoint.control_port}",
                f"--ca-file={endpoint.ca_file}",
                f"--out={out}",
                f"--log-file={log_file}",
            ]
            if args.profile_dir is not None:
                args.profile_dir.mkdir(parents=True, exist_ok=True)
                command.append(f"--profile={args.profile_dir / f'trigger-{name}-{round_index}.prof'}")
            _log(f"[trigger] round {round_index + 1}/{args.rounds}: {name}, N={args.n}")
            limit = args.warmup + 60 + args.window + 6 * args.interval + 120
            completed = subprocess.run(command, cwd=REPO_ROOT, env=env, timeout=limit, check=False)
            if completed.returncode != 0 or not out.exists():
                tail = log_file.read_text(errors="replace")[-3000:] if log_file.exists() else ""
                message = f"trigger driver {name} failed ({completed.returncode}):\n{tail}"
                if name in ("baseline", "ours"):
                    raise RuntimeError(message)
                # A reference implementation may lag behind the hook's internals: report, go on.
                _log(f"[trigger] {message}")
                skipped[name] = f"driver failed with exit code {completed.returncode}"
                continue
            result = json.loads(out.read_text())
            result["round"] = round_index
            samples[name].append(result)
    return {"samples": samples, "skipped": skipped}


def report_trigger(data: dict[str, Any], args: argparse.Namespace) -> list[str]:
    samples = data["samples"]
    lines = [f"## Trigger: N={args.n} waits in one event loop, TLS loopback, {args.interval:g} s interval"]
    lines.append(f"{args.rounds} round(s) per implementation, {args.window:g} s window after {args.warmup:g} s")
    names = list(samples)
    header = ["metric", *[f"{n} median (min-max)" for n in names]]
    if "baseline" in samples:
        header += [f"{n}/baseline (paired median)" for n in names if n != "baseline"]
    rows = []
    for key, label, digits in TRIGGER_METRICS:
        row = [label, *[fmt_summary([s[key] for s in samples[n]], digits) for n in names]]
        if "baseline" in samples:
            base = [s[key] for s in samples["baseline"]]
            for name in names:
                if name == "baseline":
                    continue
                ratios = paired_ratios([s[key] for s in samples[name]], base)
                row.append(fmt_summary(ratios, 3) if ratios else "n/a")
        rows.append(row)
    lines.append(table(header, rows))
    for name in names:
        churn = [(s["churn_events"], s["churn_triggers"]) for s in samples[name]]
        errors = sum(s["error_count"] for s in samples[name])
        premature = sum(s["premature_events"] for s in samples[name])
        warm = [f"{s['warmup_seconds']:.1f} s/{s['first_polls_done_before_window']}" for s in samples[name]]
        lines.append(f"- {name}: warm-up per round (seconds / triggers that had polled): {', '.join(warm)}")
        lines.append(
            f"- {name}: finished-session triggers fired {churn} (events, started) per round; "
            f"{errors} error(s); {premature} event(s) from sessions that were still working"
        )
        for s in samples[name]:
            for error in s["errors"][:3]:
                lines.append(f"    error: {error}")
            if s["fd_leak"] or s.get("sockets_left"):
                lines.append(
                    f"    round {s['round'] + 1}: descriptors not back to the start: {s.get('new_fds_after')}; "
                    f"sockets still connected: {s.get('sockets_left')}"
                )
    for name, why in data["skipped"].items():
        lines.append(f"- {name}: not measured ({why})")
    return lines


# --- hook ---------------------------------------------------------------------------------------


def run_hook(server: FakeDevinServer, env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    endpoint = server.endpoint
    assert endpoint is not None
    command = [
        sys.executable,
        "-m",
        "benchmarks.hook_bench",
        f"--http-port={endpoint.http_port}",
        f"--rounds={args.hook_rounds}",
        f"--calls={args.hook_calls}",
    ]
    _log(f"[hook] {args.hook_rounds} rounds x {args.hook_calls} calls each")
    completed = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"hook benchmark failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def report_hook(data: dict[str, Any]) -> list[str]:
    rounds = data["rounds"]
    lines = [
        f"## Hook: get_session vs a reused requests.Session, plain HTTP loopback "
        f"({len(rounds)} rounds x {data['calls_per_block']} calls)"
    ]
    rows = []
    for kind in ("wall", "cpu"):
        bare = [r[f"bare_{kind}_ms"] for r in rounds]
        ours = [r[f"ours_{kind}_ms"] for r in rounds]
        rows.append(
            [
                f"{kind} per call (ms)",
                fmt_summary(bare, 3),
                fmt_summary(ours, 3),
                fmt_summary(paired_ratios(ours, bare), 3),
            ]
        )
    lines.append(table(["figure", "requests.Session", "DevinHook", "hook/requests (paired)"], rows))
    return lines


# --- DAG parse ----------------------------------------------------------------------------------


def run_dag(env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    variants = ["devin", "http"] if args.smoke else ["devin", "http", "empty"]
    skipped = None
    if impls.available("ours") is not None:
        try:
            import airflow_provider_devin.operators.devin as operators

            operators.DevinCreateSessionOperator  # noqa: B018
        except (ImportError, AttributeError) as exc:
            skipped = f"{type(exc).__name__}: {exc}"
    if skipped:
        variants.remove("devin")
        _log(f"[dag] skipping devin: {skipped}")
    samples: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for round_index in range(args.dag_rounds):
        shift = round_index % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            completed = subprocess.run(
                [sys.executable, "-m", "benchmarks.dag_parse", f"--variant={variant}"],
                cwd=REPO_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if completed.returncode != 0:
                raise RuntimeError(f"DAG-parse child {variant} failed:\n{completed.stderr[-3000:]}")
            samples[variant].append(json.loads(completed.stdout.strip().splitlines()[-1]))
        _log(f"[dag] round {round_index + 1}/{args.dag_rounds} done")
    return {"samples": samples, "skipped": skipped}


def report_dag(data: dict[str, Any]) -> list[str]:
    samples = data["samples"]
    lines = ["## DAG parse: import the operator + build a chained 20-task DAG (fresh process each)"]
    rows = []
    for variant, runs in samples.items():
        rows.append(
            [
                variant,
                fmt_summary([r["total_ms"] for r in runs], 1),
                fmt_summary([r["import_ms"] for r in runs], 1),
                fmt_summary([r["build_ms"] for r in runs], 1),
                fmt(median([r["modules_at_import"] for r in runs]), 0),
            ]
        )
    lines.append(table(["operator", "total ms", "import ms", "build ms", "modules at import"], rows))
    if "devin" in samples and "http" in samples:
        ratios = paired_ratios([r["total_ms"] for r in samples["devin"]], [r["total_ms"] for r in samples["http"]])
        lines.append(f"devin/http total (paired): {fmt_summary(ratios, 3)}")
    if data["skipped"]:
        lines.append(f"- devin: not measured ({data['skipped']})")
    return lines


# --- completion latency ---------------------------------------------------------------------------


def run_latency(env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import latency

    return latency.run(env=env, smoke=args.smoke, interval=args.latency_interval, runs=args.latency_runs)


def report_latency(data: dict[str, Any]) -> list[str]:
    lines = ["## Completion latency in a real local Airflow"]
    if data.get("skipped"):
        lines.append(f"- not measured: {data['skipped']}")
        return lines
    lines.append(
        f"poll interval {data['interval']:g} s; task success after session finished: "
        f"{fmt_summary(data['latencies_s'], 2)} s over {len(data['latencies_s'])} run(s)"
    )
    return lines


# --- summary --------------------------------------------------------------------------------------


def summary(results: dict[str, Any], args: argparse.Namespace) -> list[str]:
    rows: list[list[str]] = []

    def _verdict(ok: bool | None) -> str:
        if args.smoke:
            return "(smoke: not judged)"
        return "n/a" if ok is None else ("meets" if ok else "MISSES")

    trig = results.get("trigger", {}).get("samples", {})
    if "ours" in trig and "baseline" in trig:
        ours, base = trig["ours"], trig["baseline"]
        ratio = median(paired_ratios([s["cpu_per_poll_ms"] for s in ours], [s["cpu_per_poll_ms"] for s in base]))
        rows.append(
            [
                "1a trigger CPU per poll vs HttpSensorTrigger",
                "<= 0.33x",
                fmt(ratio, 3) + "x",
                _verdict(ratio is not None and ratio <= 0.33),
            ]
        )
    if "ours" in trig:
        ours = trig["ours"]
        conns = median([s["new_connections_per_poll"] for s in ours])
        rate = median([s["poll_rate_share"] for s in ours])
        rss = median([s["rss_per_trigger_kib"] for s in ours])
        logs = median([s["log_lines_per_poll"] for s in ours])
        leak = max((abs(s["fd_leak"]) for s in ours), default=None)
        fired = all(s["churn_events"] == s["churn_triggers"] and s["error_count"] == 0 for s in ours)
        rows += [
            [
                "1b new connections per poll (steady state)",
                "0",
                fmt(conns, 3),
                _verdict(conns is not None and conns < 0.005),
            ],
            ["1c share of configured poll rate", ">= 0.95", fmt(rate, 3), _verdict(rate is not None and rate >= 0.95)],
            ["1d RSS per waiting trigger", "<= 50 KiB", fmt(rss, 1) + " KiB", _verdict(rss is not None and rss <= 50)],
            [
                "1e log lines per poll, no change",
                "~0 (never 1/poll)",
                fmt(logs, 3),
                _verdict(logs is not None and logs < 0.05),
            ],
            [
                "1f fd leak after churn / all fired",
                "0 / yes",
                f"{fmt(leak, 0)} / {'yes' if fired else 'NO'}",
                _verdict(leak == 0 and fired),
            ],
        ]
    hook = results.get("hook")
    if hook:
        r = hook["rounds"]
        ratio = median(paired_ratios([x["ours_wall_ms"] for x in r], [x["bare_wall_ms"] for x in r]))
        rows.append(
            [
                "2 get_session vs reused requests.Session",
                "<= 1.10x",
                fmt(ratio, 3) + "x",
                _verdict(ratio is not None and ratio <= 1.10),
            ]
        )
    dag = results.get("dag", {}).get("samples", {})
    if "devin" in dag and "http" in dag:
        ratio = median(paired_ratios([x["total_ms"] for x in dag["devin"]], [x["total_ms"] for x in dag["http"]]))
        rows.append(
            [
                "3 20-task DAG parse vs HttpOperator",
                "<= 0.10x",
                fmt(ratio, 3) + "x",
                _verdict(ratio is not None and ratio <= 0.10),
            ]
        )
    lat = results.get("latency")
    if lat and not lat.get("skipped"):
        worst = max(lat["latencies_s"])
        bound = lat["interval"] + 3
        rows.append(["4 completion latency (worst run)", f"<= {bound:g} s", f"{worst:.2f} s", _verdict(worst <= bound)])
    elif lat:
        rows.append(["4 completion latency", "<= interval + 3 s", "not measured", "n/a"])
    if results.get("scale"):
        rows += scale.summary_rows(results["scale"], _verdict)
    lines = [
        "## Summary against the issue 7 and issue 11 targets",
        table(["figure", "target", "measured", "verdict"], rows),
    ]
    for name in trig:
        if name in ("baseline", "ours") or "baseline" not in trig:
            continue
        ref = trig[name]
        ratio = median(
            paired_ratios([s["cpu_per_poll_ms"] for s in ref], [s["cpu_per_poll_ms"] for s in trig["baseline"]])
        )
        lines.append(
            f"For comparison, {name} (not shipped): CPU per poll {fmt(ratio, 3)}x baseline, "
            f"{fmt(median([s['new_connections_per_poll'] for s in ref]), 3)} new connections per poll, "
            f"{fmt(median([s['poll_rate_share'] for s in ref]), 3)} of the poll rate, "
            f"{fmt(median([s['rss_per_trigger_kib'] for s in ref]), 1)} KiB per trigger, "
            f"{fmt(median([s['log_lines_per_poll'] for s in ref]), 3)} log lines per poll."
        )
    return lines


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU(s), {model}, Python {platform.python_version()}, {platform.system()}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny N and short windows (CI)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma list of {SECTIONS}")
    parser.add_argument("--impls", default="baseline,ours", help=f"triggers to compare, from {impls.IMPLEMENTATIONS}")
    parser.add_argument("--n", type=int, default=500, help="concurrent triggers")
    parser.add_argument("--interval", type=float, default=1.0, help="trigger poll interval (s)")
    parser.add_argument("--rounds", type=int, default=3, help="trigger rounds per implementation")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before the trigger window")
    parser.add_argument("--window", type=float, default=20.0, help="measured trigger window (s)")
    parser.add_argument("--churn", type=int, default=50, help="finished-session triggers per round")
    parser.add_argument("--hook-rounds", type=int, default=15)
    parser.add_argument("--hook-calls", type=int, default=400)
    parser.add_argument("--dag-rounds", type=int, default=9)
    parser.add_argument("--latency-interval", type=float, default=5.0, help="poll interval for the e2e run")
    parser.add_argument(
        "--profile-dir", type=Path, help="cProfile each trigger window into this folder (inflates CPU figures)"
    )
    parser.add_argument("--latency-runs", type=int, default=5, help="DAG runs in the e2e latency benchmark")
    parser.add_argument("--json", type=Path, help="write raw samples and the summary here")
    parser.add_argument("--chart", type=Path, help="write the scale chart (SVG) here, e.g. docs/performance-scale.svg")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.interval, args.rounds, args.warmup, args.window, args.churn = 20, 0.3, 1, 0.6, 1.0, 5
        args.hook_rounds, args.hook_calls, args.dag_rounds = 2, 40, 1
    args.only = [s for s in args.only.split(",") if s]
    args.impls = [s for s in args.impls.split(",") if s]
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    if not 1 <= args.n <= 20_000 or not 1 <= args.rounds <= 50:
        parser.error("--n must be 1..20000 and --rounds 1..50")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    header = [
        "# airflow-provider-devin benchmarks" + (" (smoke mode: figures are not meaningful)" if args.smoke else ""),
        f"date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"machine: {machine()}",
        f"command: python -m benchmarks {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip(),
    ]
    print("\n".join(header), flush=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="devin-bench-") as tmp:
        workdir = Path(tmp)
        env = _child_env(workdir / "airflow-home")
        server = FakeDevinServer(workdir / "tls", max_seconds=3 * 3600)
        server.start()
        # Smoke mode only proves that everything runs, so the DAG-parse children (which need no
        # server) overlap the rest to keep CI fast; a full run keeps every section on a quiet machine.
        background = ThreadPoolExecutor(max_workers=1)
        dag_future = background.submit(run_dag, env, args) if args.smoke and "dag" in args.only else None
        try:
            if "trigger" in args.only:
                results["trigger"] = run_trigger_rounds(server, workdir, env, args)
                print("\n" + "\n".join(report_trigger(results["trigger"], args)), flush=True)
            if "scale" in args.only:
                results["scale"] = scale.run(server, workdir, env, args.smoke, _log)
                print("\n" + "\n".join(scale.report(results["scale"])), flush=True)
                if args.chart is not None:
                    args.chart.write_text(scale.chart_svg(results["scale"]))
            if "hook" in args.only:
                results["hook"] = run_hook(server, env, args)
                print("\n" + "\n".join(report_hook(results["hook"])), flush=True)
        finally:
            server.stop()
            background.shutdown(wait=True)
        if "dag" in args.only:
            results["dag"] = dag_future.result() if dag_future is not None else run_dag(env, args)
            print("\n" + "\n".join(report_dag(results["dag"])), flush=True)
        if "latency" in args.only:
            results["latency"] = run_latency(env, args)
            print("\n" + "\n".join(report_latency(results["latency"])), flush=True)
    lines = summary(results, args)
    print("\n" + "\n".join(lines), flush=True)
    print(f"\n(total {time.monotonic() - started:.0f} s)", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"header": header, "results": results, "summary": lines}, indent=1))
    return 0
