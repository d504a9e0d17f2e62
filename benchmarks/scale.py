"""The scale benchmark (issue 11 item 3): thousands of waiting triggers in one triggerer-like loop.

Each configuration runs ``benchmarks.scale_driver`` in a fresh process against the shared fake
endpoint (its answer delay set first): our trigger on v1 (one GET per session per interval) and on
v3 (coalesced: one list request per 200 sessions per interval) at N = 1,000 and 5,000, with 0 ms and
500 ms latency; plus, at N = 1,000 and 0 ms, the raw-streams floor (one bare keep-alive request per
session, no parsing beyond ``json.loads``) and ``HttpSensorTrigger``. :func:`summary_rows` prints
every target of the issue as a ratio; :func:`chart_svg` draws requests and CPU per waiting session
against N.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.fake_server import REPO_ROOT, FakeDevinServer, set_latency
from benchmarks.stats import fmt, table

FULL = {"ns": (1000, 5000), "latencies": (0.0, 0.5), "interval": 5.0, "warmup": 11.0, "window": 15.0, "flips": 50}
SMOKE = {"ns": (20,), "latencies": (0.0, 0.2), "interval": 0.5, "warmup": 1.2, "window": 1.5, "flips": 4}


def configurations(settings: dict[str, Any]) -> list[tuple[str, int, float]]:
    """``(impl, n, latency)`` for every run, references first (smoke: one run per version)."""
    first = settings["ns"][0]
    if settings is SMOKE:
        return [("ours-v3", first, 0.0), ("ours-v1", first, settings["latencies"][1])]
    runs = [("raw-asyncio", first, 0.0), ("baseline", first, 0.0)]
    for impl in ("ours-v3", "ours-v1"):
        runs += [(impl, n, latency) for latency in settings["latencies"] for n in settings["ns"]]
    return runs


def run(server: FakeDevinServer, workdir: Path, env: dict[str, str], smoke: bool, log: Any) -> dict[str, Any]:
    """Every configuration once; returns ``{"settings", "samples": [driver result, ...]}``."""
    endpoint = server.endpoint
    assert endpoint is not None
    settings = SMOKE if smoke else FULL
    samples = []
    data_skipped: list[str] = []
    for impl, n, latency in configurations(settings):
        set_latency(endpoint.control_port, latency)
        name = f"scale-{impl}-{n}-{int(latency * 1000)}ms"
        out, log_file = workdir / f"{name}.json", workdir / f"{name}.log"
        command = [
            sys.executable,
            "-m",
            "benchmarks.scale_driver",
            f"--impl={impl}",
            f"--n={n}",
            f"--interval={settings['interval']}",
            f"--latency={latency}",
            f"--warmup={settings['warmup']}",
            f"--window={settings['window']}",
            f"--flips={settings['flips'] if impl.startswith('ours') else 0}",
            f"--https-port={endpoint.https_port}",
            f"--control-port={endpoint.control_port}",
            f"--ca-file={endpoint.ca_file}",
            f"--out={out}",
            f"--log-file={log_file}",
        ]
        log(f"[scale] {impl}, N={n}, {latency * 1000:g} ms")
        limit = 120 + 4 * (settings["warmup"] + settings["window"] + 5 * settings["interval"])
        try:
            completed = subprocess.run(command, cwd=REPO_ROOT, env=env, timeout=limit, check=False)
            failure = None if completed.returncode == 0 and out.exists() else f"exit code {completed.returncode}"
        except subprocess.TimeoutExpired:
            failure = f"did not finish within {limit:g} s"
        if failure is not None:  # reported as not measured; the other configurations still run
            tail = log_file.read_text(errors="replace")[-600:] if log_file.exists() else ""
            log(f"[scale] {name} failed ({failure}):\n{tail}")
            data_skipped.append(f"{impl} N={n} {latency * 1000:g} ms: {failure}")
            continue
        samples.append(json.loads(out.read_text()))
    set_latency(endpoint.control_port, 0.0)
    return {"settings": settings, "samples": samples, "skipped": data_skipped}


def report(data: dict[str, Any]) -> list[str]:
    """The table of every run."""
    settings = data["settings"]
    title = (
        f"## Scale: N waiting triggers in one event loop, TLS loopback, {settings['interval']:g} s interval, "
        f"{settings['window']:g} s window"
    )
    rows = [
        [
            s["impl"],
            str(s["n"]),
            f"{s['latency'] * 1000:g}",
            fmt(s["requests_per_session_interval"], 4),
            fmt(s["cpu_per_session_interval_ms"], 4),
            fmt(s["cpu_per_request_ms"], 3),
            fmt(s["rss_per_trigger_kib"], 1),
            str(s["failed_polls"]),
            fmt(s["event_latency_p99_s"], 2) if s["flips"] else "-",
            f"{s['flips_fired']}/{s['flips']}",
            str(s["fd_leak"]),
            str(s["error_count"]),
            fmt(s["startup_requests_per_session"], 3),
            fmt(s["steady_after_s"], 1),
        ]
        for s in data["samples"]
    ]
    header = [
        "trigger",
        "N",
        "latency ms",
        "requests/session/interval",
        "CPU ms/session/interval",
        "CPU ms/request",
        "RSS KiB/trigger",
        "failed polls",
        "change->event p99 s",
        "events",
        "fd leak",
        "errors",
        "start-up requests/session",
        "steady after s",
    ]
    errors = [
        f"- {s['impl']} N={s['n']} {s['latency'] * 1000:g} ms: {error}"
        for s in data["samples"]
        for error in s["errors"][:2]
    ]
    skipped = [f"- not measured: {why}" for why in data.get("skipped", [])]
    return [title, table(header, rows), *errors, *skipped]


def _pick(samples: list[dict[str, Any]], impl: str, n: int, latency: float = 0.0) -> dict[str, Any] | None:
    for s in samples:
        if s["impl"] == impl and s["n"] == n and s["latency"] == latency:
            return s
    return None


def summary_rows(data: dict[str, Any], verdict: Any) -> list[list[str]]:
    """One row per target of issue 11 item 3: figure, target, measured, verdict."""
    samples = data["samples"]
    n = data["settings"]["ns"][0]
    interval = data["settings"]["interval"]
    v3, v1 = _pick(samples, "ours-v3", n), _pick(samples, "ours-v1", n)
    raw, http = _pick(samples, "raw-asyncio", n), _pick(samples, "baseline", n)
    rows = []
    if v3:
        value = v3["requests_per_session_interval"]
        rows.append([f"11.3a v3 requests/session/interval, N={n}", "<= 0.01", fmt(value, 4), verdict(value <= 0.01)])
        rss = v3["rss_per_trigger_kib"]
        rows.append([f"11.3d RSS per waiting trigger (v3), N={n}", "<= 16 KiB", f"{rss:.1f} KiB", verdict(rss <= 16)])
    comparisons = [
        ("11.3b v3 CPU/session/interval vs raw-streams floor", v3, raw, "cpu_per_session_interval_ms", 0.5),
        ("11.3g v1 per-session CPU per poll vs HttpSensorTrigger", v1, http, "cpu_per_request_ms", 0.2),
    ]
    for label, ours_run, reference, key, bound in comparisons:
        if ours_run and reference and ours_run[key] and reference[key]:
            ratio = ours_run[key] / reference[key]
            rows.append([f"{label}, N={n}", f"<= {bound:g}x", f"{ratio:.3f}x", verdict(ratio <= bound)])
    ours = [s for s in samples if s["impl"].startswith("ours")]
    p99s = [s["event_latency_p99_s"] for s in ours if s["event_latency_p99_s"] is not None]
    missing = sum(s["flips"] - s["flips_fired"] for s in ours)
    if p99s:
        worst = max(p99s)
        rows.append(
            [
                "11.3c status change -> event p99 (worst run)",
                f"<= {interval + 1:g} s",
                f"{worst:.2f} s ({missing} not fired)",
                verdict(worst <= interval + 1 and missing == 0),
            ]
        )
    slow = [s for s in ours if s["latency"] > 0]
    if slow:
        failed = {f"{s['impl']} N={s['n']}": s["failed_polls"] for s in slow if s["failed_polls"]}
        rows.append(
            [
                "11.3e failed polls at the slow endpoint",
                "0",
                str(sum(failed.values())) + (f" ({', '.join(failed)})" if failed else ""),
                verdict(not failed),
            ]
        )
    leaks = [s["fd_leak"] for s in samples]
    rows.append(
        ["11.3f fd count after churn - before (all runs)", "0", str(max(leaks, key=abs)), verdict(not any(leaks))]
    )
    return rows


def chart_svg(data: dict[str, Any]) -> str:
    """Two panels (requests and CPU per waiting session per interval, log scale) against N, 0 ms."""
    import math

    samples = [s for s in data["samples"] if s["latency"] == 0 and s["impl"] in ("ours-v1", "ours-v3")]
    ns = sorted({s["n"] for s in samples})
    series = {"ours-v1": ("per-session (v1)", "#d9534f"), "ours-v3": ("coalesced (v3)", "#0275d8")}
    panels = [
        ("requests_per_session_interval", "requests / session / interval"),
        ("cpu_per_session_interval_ms", "CPU ms / session / interval"),
    ]
    width, height, pad = 360, 240, 52
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * width}" height="{height + 30}" '
        'font-family="sans-serif" font-size="11">'
    ]
    for index, (key, title) in enumerate(panels):
        x0 = index * width
        values = [s[key] for s in samples if s[key]]
        if not values or not ns:
            continue
        low, high = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
        high = max(high, low + 1)

        def y(value: float, low: int = low, high: int = high) -> float:
            return height - pad + (pad + 10 - height) * (math.log10(value) - low) / (high - low)

        def x(n: int, x0: int = x0) -> float:
            return x0 + pad + (width - 2 * pad) * (ns.index(n) / max(1, len(ns) - 1) if len(ns) > 1 else 0.5)

        parts.append(f'<text x="{x0 + width / 2}" y="14" text-anchor="middle" font-weight="bold">{title}</text>')
        parts.append(
            f'<line x1="{x0 + pad}" y1="{height - pad}" x2="{x0 + width - pad}" y2="{height - pad}" stroke="#333"/>'
        )
        parts.append(f'<line x1="{x0 + pad}" y1="{height - pad}" x2="{x0 + pad}" y2="20" stroke="#333"/>')
        for power in range(low, high + 1):
            parts.append(f'<text x="{x0 + pad - 4}" y="{y(10.0**power) + 4:.1f}" text-anchor="end">1e{power}</text>')
            parts.append(
                f'<line x1="{x0 + pad}" y1="{y(10.0**power):.1f}" x2="{x0 + width - pad}" '
                f'y2="{y(10.0**power):.1f}" stroke="#ddd"/>'
            )
        for n in ns:
            parts.append(f'<text x="{x(n):.1f}" y="{height - pad + 16}" text-anchor="middle">N={n}</text>')
        for impl, (_label, colour) in series.items():
            points = [
                (x(s["n"]), y(s[key])) for s in sorted(samples, key=lambda s: s["n"]) if s["impl"] == impl and s[key]
            ]
            if points:
                path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
                parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
                parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>' for px, py in points]
    for offset, (label, colour) in enumerate(series.values()):
        parts.append(f'<rect x="{pad + offset * 160}" y="{height + 10}" width="12" height="4" fill="{colour}"/>')
        parts.append(f'<text x="{pad + offset * 160 + 16}" y="{height + 16}">{label}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
