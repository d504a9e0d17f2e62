"""The README's first command: a real local Airflow 3 run that delegates work to Devin.

Starts the Devin API emulator (unless a Devin key is configured, in which case the real API is
used), starts Airflow's api-server, scheduler, dag-processor and triggerer on loopback ports with
AIRFLOW_HOME in ``.airflow/demo``, triggers ``devin_nightly_maintenance``, prints task states, the
session URL and Devin's messages as they arrive, then the outcome, and stops every process it
started -- also on Ctrl-C or failure.

Run it through ``scripts/demo`` (which builds the environment first). Options: ``--help``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tools.local_airflow import (  # noqa: E402
    DeploymentError,
    EmulatorProcess,
    LocalAirflow,
    port_is_listening,
    signals_raise_keyboard_interrupt,
)

DAG_ID = "devin_nightly_maintenance"
TASK_ID = "ask_devin"
EMULATOR_KEY = "apk_user_emulator_test_key"


class Progress:
    """Prints what changed since the last poll: task states, the session URL, Devin's messages."""

    def __init__(self, airflow: LocalAirflow, run_id: str, started: float) -> None:
        self.airflow = airflow
        self.run_id = run_id
        self.started = started
        self.states: dict[str, str | None] = {}
        self.session_id: str | None = None
        self.session_url: str | None = None
        self.seen_events: set[str] = set()
        self.status_enum: str | None = None
        self._hook: Any = None

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {text}", flush=True)

    def __call__(self, run: dict[str, Any], task_instances: list[dict[str, Any]]) -> None:
        for ti in task_instances:
            name = ti["task_id"] if ti.get("map_index", -1) in (-1, None) else f"{ti['task_id']}[{ti['map_index']}]"
            state = ti.get("state")
            if self.states.get(name, "-") != state:
                self.states[name] = state
                hint = " (waiting on the triggerer, no worker slot held)" if state == "deferred" else ""
                self.say(f"task {name}: {state or 'waiting'}{hint}")
        if self.session_url is None:
            # The operator pushes session_id, then session_url, the moment the session exists.
            self.session_url = self.airflow.xcom(DAG_ID, self.run_id, TASK_ID, key="session_url")
            if self.session_url:
                self.session_id = self.airflow.xcom(DAG_ID, self.run_id, TASK_ID, key="session_id")
                self.say(f"Devin session {self.session_id}: {self.session_url}")
        if self.session_id:
            self.show_messages()

    def prepare(self) -> None:
        """Import the hook now (a few seconds of Airflow imports) so the first messages show promptly."""
        from airflow_provider_devin.hooks.devin import DevinHook

        self._hook = DevinHook()

    def show_messages(self) -> None:
        from airflow_provider_devin.exceptions import DevinAPIError

        if self._hook is None:
            self.prepare()
        try:
            details = self._hook.get_session(self.session_id)
        except DevinAPIError as err:  # progress display only: never fail the demo on a poll
            self.say(f"(could not read the session: {err})")
            return
        if details.get("status_enum") != self.status_enum:
            self.status_enum = details.get("status_enum")
            self.say(f"Devin status: {self.status_enum}")
        for message in details.get("messages") or []:
            event = message.get("event_id") or f"{message.get('timestamp')}:{message.get('message')}"
            if event in self.seen_events:
                continue
            self.seen_events.add(event)
            if message.get("type") == "devin_message":
                text = textwrap.shorten(str(message.get("message", "")), width=160, placeholder=" ...")
                self.say(f"Devin: {text}")


def devin_connection(args: argparse.Namespace, emulator_url: str | None) -> tuple[str, str]:
    """(AIRFLOW_CONN_DEVIN_DEFAULT value, a description of where it points)."""
    if emulator_url:
        conn = {"conn_type": "devin", "host": emulator_url, "password": EMULATOR_KEY}
        return json.dumps(conn), f"the local Devin API emulator at {emulator_url} (speed {args.speed:g}x)"
    if os.environ.get("AIRFLOW_CONN_DEVIN_DEFAULT"):
        return os.environ["AIRFLOW_CONN_DEVIN_DEFAULT"], "the Devin API from AIRFLOW_CONN_DEVIN_DEFAULT"
    conn = {"conn_type": "devin", "password": os.environ["DEVIN_API_KEY"]}
    return json.dumps(conn), "the real Devin API (https://api.devin.ai) with DEVIN_API_KEY"


def stop_real_session(progress: Progress) -> None:
    """On Ctrl-C against the real API, do not leave the session spending ACUs on its own."""
    from airflow_provider_devin.exceptions import DevinAPIError
    from airflow_provider_devin.hooks.devin import DevinHook

    try:
        DevinHook().terminate_session(str(progress.session_id))
        print(f"    terminated Devin session {progress.session_id}")
    except DevinAPIError as err:
        print(f"    could not terminate Devin session {progress.session_url}: {err}")


def print_outcome(airflow: LocalAirflow, run_id: str, state: str, progress: Progress, *, emulated: bool) -> None:
    result = airflow.xcom(DAG_ID, run_id, TASK_ID) or {}
    tis = airflow.task_instances(DAG_ID, run_id)
    print("\n==> Outcome", flush=True)
    print(f"    run {run_id}: {state}")
    for ti in sorted(tis, key=lambda t: t["task_id"]):
        print(f"      {ti['task_id']:<22} {ti.get('state')}")
    print(f"    session: {result.get('url') or progress.session_url or '-'}")
    print(f"    Devin status: {result.get('status_enum') or progress.status_enum or '-'}")
    print(f"    pull request: {result.get('pull_request_url') or '-'}")
    if result.get("structured_output") is not None:
        rendered = json.dumps(result["structured_output"], indent=2)
        print("    structured output:\n" + textwrap.indent(rendered, "      "))
        if emulated:
            print("      (the emulator fills it with placeholder values generated from the schema)")
    print(f"    Airflow UI (while running): {airflow.api_url}/dags/{DAG_ID}/runs/{run_id}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", default=str(REPO_ROOT / ".airflow" / "demo"), help="AIRFLOW_HOME (wiped first)")
    parser.add_argument("--speed", type=float, default=6.0, help="emulator speed (emulated s per real s)")
    parser.add_argument(
        "--scenario", default="pull_request", help="emulator scenario for the session (e.g. finish, pull_request)"
    )
    parser.add_argument(
        "--repo", default=None, help="repository for the maintenance prompt (owner/name), for real-API runs"
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait for the run")
    args = parser.parse_args(argv)

    real = bool(os.environ.get("DEVIN_API_KEY") or os.environ.get("AIRFLOW_CONN_DEVIN_DEFAULT"))
    # Anything this process imports from Airflow (the hook that reads Devin's messages) must not
    # create or read ~/airflow: it shares the deployment's home.
    os.environ["AIRFLOW_HOME"] = str(Path(args.home).resolve())
    timeout = args.timeout or (3600.0 if real else 240.0)
    started = time.monotonic()
    emulator: EmulatorProcess | None = None
    airflow: LocalAirflow | None = None
    progress: Progress | None = None
    exit_code = 1
    with signals_raise_keyboard_interrupt():
        try:
            if real:
                print(
                    "==> Devin: REAL API mode (DEVIN_API_KEY or AIRFLOW_CONN_DEVIN_DEFAULT is set): this creates "
                    "one real Devin session, capped at 10 ACUs by the DAG; Ctrl-C terminates it."
                )
                if not args.repo:
                    print(
                        "    No --repo given: Devin is asked to maintain the example repository "
                        "acme/analytics-pipeline.\n    Pass --repo <owner/name> to point it at one your org can access."
                    )
            else:
                print("==> Devin: emulator mode (no DEVIN_API_KEY / AIRFLOW_CONN_DEVIN_DEFAULT set).")
                emulator = EmulatorProcess(speed=args.speed, log_path=Path(args.home).with_name("demo-emulator.log"))
                emulator.start()
                from airflow_provider_devin.emulator.control import EmulatorControl

                EmulatorControl(emulator.base_url).set_default_scenario(args.scenario)
            conn, where = devin_connection(args, emulator.base_url if emulator else None)
            print(f"    sessions go to {where}", flush=True)

            airflow = LocalAirflow(
                args.home,
                REPO_ROOT / "dags_examples",
                unpause=[DAG_ID],  # the other examples stay paused: no run, no session from them
                extra_env={
                    "AIRFLOW_CONN_DEVIN_DEFAULT": conn,
                    "DEVIN_EXAMPLE_POLL_INTERVAL": "15" if real else "1",
                },
            )
            print(
                f"==> Airflow 3: starting api-server, scheduler, dag-processor, triggerer (AIRFLOW_HOME={args.home})",
                flush=True,
            )
            airflow.start()
            print(f"    healthy after {time.monotonic() - started:.1f}s; UI at {airflow.api_url} (no login)")
            # The demo process reads Devin's messages itself, through the same connection.
            os.environ["AIRFLOW_CONN_DEVIN_DEFAULT"] = conn

            airflow.wait_for_dag(DAG_ID)
            run_conf: dict[str, Any] = {}
            if args.repo:
                run_conf["repo"] = args.repo
            run_id = f"demo__{time.strftime('%Y%m%dT%H%M%S')}"
            progress = Progress(airflow, run_id, time.monotonic())
            progress.prepare()
            airflow.trigger_dag(DAG_ID, conf=run_conf, run_id=run_id)
            print(f"==> triggered {DAG_ID}, run {run_id}", flush=True)
            progress.started = time.monotonic()
            state = airflow.wait_for_run(DAG_ID, run_id, timeout=timeout, on_poll=progress)
            print_outcome(airflow, run_id, state, progress, emulated=not real)
            exit_code = 0 if state == "success" else 1
            if exit_code:
                print(f"    task logs: {airflow.logs_dir}/dag_id={DAG_ID}/run_id={run_id}/")
        except KeyboardInterrupt:
            print("\n==> interrupted: stopping everything", flush=True)
            exit_code = 130
            if real and progress is not None and progress.session_id:
                stop_real_session(progress)
        except DeploymentError as err:
            print(f"\n==> failed: {err}", file=sys.stderr, flush=True)
            exit_code = 1
        finally:
            if airflow is not None:
                report = airflow.stop()
                where_logs = airflow.home / "components"
                if report.killed:
                    print(f"    (SIGKILLed after the grace period: {report.killed})")
                if report.clean:
                    print(f"==> stopped Airflow in {report.seconds:.1f}s: no process left, port {airflow.port} free")
                else:
                    print(
                        f"==> WARNING: still running after stop: pids {report.survivors}, "
                        f"ports {report.bound_ports} (component logs: {where_logs})",
                        file=sys.stderr,
                    )
                    exit_code = exit_code or 1
            if emulator is not None:
                emulator.stop()
                if emulator.port and port_is_listening(emulator.port):
                    print(f"==> WARNING: port {emulator.port} still bound after stopping the emulator")
                    exit_code = exit_code or 1
                else:
                    print(f"==> stopped the emulator: port {emulator.port} free")
    print(f"==> done in {time.monotonic() - started:.1f}s (exit {exit_code})", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
