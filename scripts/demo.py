"""The README's first command: a real local Airflow 3 run that delegates work to Devin.

Starts the Devin API emulator (unless a Devin key is configured, in which case the real API is
used), starts Airflow's api-server, scheduler, dag-processor and triggerer on loopback ports with
AIRFLOW_HOME in ``.airflow/demo``, triggers ``devin_nightly_maintenance``, prints task states, the
session URL and Devin's messages as they arrive, then the outcome, and stops every process it
started -- also on Ctrl-C or failure. ``--keep`` leaves Airflow and the emulator running after the
run, printing the task instance's page in the Airflow UI (Details -> Extra Links -> **Devin Session**) and
the session URL, until Ctrl-C; then it stops everything the same way.

API version: the emulator runs Devin's v3 API by default (a ``cog_`` key bound to the organization
``org-emulator``, which is what a new Devin customer has); ``--api v1`` uses the legacy v1 API (an
``apk_user_`` key). With a real key the version follows the key (``cog_`` -> v3, ``apk_`` -> v1)
unless ``--api`` says otherwise; for v3, ``DEVIN_ORG_ID`` (optional: else ``GET /v3/self``) goes
into the connection's ``org_id`` extra. The demo says which version and organization it uses.

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
from urllib.parse import quote

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
# The emulator's default keys (airflow_provider_devin.emulator.DEFAULT_V3_API_KEY / DEFAULT_API_KEY),
# spelled out so that choosing one does not import the provider before AIRFLOW_HOME is set.
EMULATOR_KEYS = {"v3": "cog_emulator_test_key", "v1": "apk_user_emulator_test_key"}


class ConnectionProblem(Exception):
    """The Devin connection cannot be used (wrong key, key and --api disagree, no org id, ...)."""


class Progress:
    """Prints what changed since the last poll: task states, the session URL, Devin's messages."""

    def __init__(self, airflow: LocalAirflow, run_id: str, started: float) -> None:
        self.airflow = airflow
        self.run_id = run_id
        self.started = started
        self.states: dict[str, str | None] = {}
        self.session_id: str | None = None
        self.session_url: str | None = None
        self.status_label: str | None = None
        self.status_enum: str | None = None
        self.position: Any = None  # where reading Devin's messages stopped (a MessagePosition)
        self.hook: Any = None

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

    def show_messages(self) -> None:
        """Read the session and the messages new since the last read (the same call on v1 and v3)."""
        from airflow_provider_devin.exceptions import DevinAPIError

        try:
            snapshot = self.hook.read_session(str(self.session_id), self.position)
        except DevinAPIError as err:  # progress display only: never fail the demo on a poll
            self.say(f"(could not read the session: {err})")
            return
        self.position = snapshot.position
        view = snapshot.view
        if view.status_label != self.status_label:
            self.status_label, self.status_enum = view.status_label, view.status_enum
            self.say(f"Devin status: {view.status_label}")
        for message in snapshot.new_messages:
            if message.from_devin:
                self.say(f"Devin: {textwrap.shorten(message.text, width=160, placeholder=' ...')}")


def devin_connection(args: argparse.Namespace, emulator_url: str | None) -> tuple[str, str]:
    """(AIRFLOW_CONN_DEVIN_DEFAULT value, a description of where it points).

    The emulator connection holds only the key: the hook picks the version from its prefix and,
    on v3, asks ``GET /v3/self`` for the organization -- the setup of a customer who has just been
    given a ``cog_`` key. A real connection gets ``api_version`` from ``--api`` and ``org_id`` from
    ``DEVIN_ORG_ID`` when they are given; otherwise it is used as it is.
    """
    if emulator_url:
        key = EMULATOR_KEYS[args.api or "v3"]
        emulated = {"conn_type": "devin", "host": emulator_url, "password": key}
        return json.dumps(emulated), f"the local Devin API emulator at {emulator_url} (speed {args.speed:g}x)"
    extras: dict[str, Any] = {}
    if args.api:
        extras["api_version"] = args.api
    if os.environ.get("DEVIN_ORG_ID"):
        extras["org_id"] = os.environ["DEVIN_ORG_ID"].strip()
    if os.environ.get("AIRFLOW_CONN_DEVIN_DEFAULT"):
        value = os.environ["AIRFLOW_CONN_DEVIN_DEFAULT"]
        return (with_extras(value, extras) if extras else value), "the Devin API from AIRFLOW_CONN_DEVIN_DEFAULT"
    conn: dict[str, Any] = {"conn_type": "devin", "password": os.environ["DEVIN_API_KEY"].strip()}
    if extras:
        conn["extra"] = extras
    return json.dumps(conn), "the real Devin API (https://api.devin.ai) with DEVIN_API_KEY"


def with_extras(value: str, extras: dict[str, Any]) -> str:
    """A connection (Airflow's JSON or URI form) with ``extras`` merged in, as JSON."""
    from airflow.models.connection import Connection

    if value.lstrip().startswith("{"):
        conn = Connection.from_json(value, conn_id="devin_default")
    else:
        conn = Connection(conn_id="devin_default", uri=value)
    conn.set_extra(json.dumps({**conn.extra_dejson, **extras}))
    return str(conn.as_json())


def describe_api(hook: Any) -> str:
    """Which API version and organization the hook's connection reaches, in words (may call /v3/self)."""
    if hook.api_version != "v3":
        return "Devin API v1 (legacy)"
    org = hook.org_id  # the org_id extra, or GET /v3/self (once, cached by the hook)
    source = "the connection's org_id extra" if hook.settings.org_id else "GET /v3/self"
    return f"Devin API v3, organization {org} (from {source})"


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
    status = result.get("status")
    if status is not None and result.get("status_detail"):
        status = f"{status}/{result['status_detail']}"
    status_enum = result.get("status_enum") or progress.status_enum or "-"
    raw = status or progress.status_label
    print(f"    Devin status: {status_enum}" + (f" ({raw})" if raw and raw != status_enum else ""))
    pull_requests = [
        f"{pr['url']} ({pr['state']})" if pr.get("state") else str(pr["url"])
        for pr in result.get("pull_requests") or []
        if isinstance(pr, dict) and pr.get("url")
    ] or ([result["pull_request_url"]] if result.get("pull_request_url") else [])
    print(f"    pull request: {', '.join(pull_requests) or '-'}")
    if result.get("acus_consumed") is not None:
        print(f"    ACUs consumed: {result['acus_consumed']:g}")
    if result.get("structured_output") is not None:
        rendered = json.dumps(result["structured_output"], indent=2)
        print("    structured output:\n" + textwrap.indent(rendered, "      "))
        if emulated:
            print("      (written by the emulator: it fits the schema and agrees with what the emulated session did)")
    print(f"    Airflow UI (while running): {airflow.api_url}/dags/{DAG_ID}/runs/{run_id}")


def task_instance_url(airflow: LocalAirflow, run_id: str) -> str:
    """The task instance's Details tab in the Airflow 3 UI (its Extra Links hold the Devin Session button)."""
    return f"{airflow.api_url}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/tasks/{TASK_ID}/details"


def keep_running(airflow: LocalAirflow, run_id: str, progress: Progress, emulator: EmulatorProcess | None) -> None:
    """``--keep``: leave everything up for a person to look at, until Ctrl-C (or a component dies)."""
    print("\n==> --keep: Airflow and the emulator stay up; Ctrl-C stops everything", flush=True)
    print(f"    task instance: {task_instance_url(airflow, run_id)}")
    print("      (its Details tab: Extra Links -> Devin Session opens the session page)")
    print(f"    Devin session: {progress.session_url or '-'}")
    if emulator is not None:
        print(f"    emulator:      {emulator.base_url} (its session pages are what the button opens)")
    print("    (no login: the demo's Airflow runs with authentication off, on loopback only)", flush=True)
    while True:
        time.sleep(2)
        airflow.check_alive()  # a component that died is reported, and everything is stopped
        if emulator is not None and emulator.process is not None and emulator.process.poll() is not None:
            raise DeploymentError(f"the emulator exited with code {emulator.process.returncode}")


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
    parser.add_argument(
        "--api",
        choices=("v3", "v1"),
        default=None,
        help="Devin API version: the emulator uses v3 unless told v1; a real key picks its own (cog_ -> v3, "
        "apk_ -> v1) unless this says otherwise",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="after the run, leave Airflow and the emulator running and print the task instance's UI URL "
        "(with its Devin Session button) until Ctrl-C",
    )
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
    kept = False  # True once --keep holds everything up after the run
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
            # The demo process reads Devin's messages itself, through the same connection; reading
            # it now also checks the key and the version before Airflow starts.
            os.environ["AIRFLOW_CONN_DEVIN_DEFAULT"] = conn
            from airflow_provider_devin._compat import AirflowException
            from airflow_provider_devin.hooks.devin import DevinHook

            hook = DevinHook()
            try:
                print(f"    API: {describe_api(hook)}", flush=True)
            except AirflowException as err:  # also DevinAPIError: 401, 403, unreachable host
                raise ConnectionProblem(str(err)) from err

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

            airflow.wait_for_dag(DAG_ID)
            run_conf: dict[str, Any] = {}
            if args.repo:
                run_conf["repo"] = args.repo
            run_id = f"demo__{time.strftime('%Y%m%dT%H%M%S')}"
            progress = Progress(airflow, run_id, time.monotonic())
            progress.hook = hook
            airflow.trigger_dag(DAG_ID, conf=run_conf, run_id=run_id)
            print(f"==> triggered {DAG_ID}, run {run_id}", flush=True)
            progress.started = time.monotonic()
            state = airflow.wait_for_run(DAG_ID, run_id, timeout=timeout, on_poll=progress)
            print_outcome(airflow, run_id, state, progress, emulated=not real)
            exit_code = 0 if state == "success" else 1
            if exit_code:
                print(f"    task logs: {airflow.logs_dir}/dag_id={DAG_ID}/run_id={run_id}/")
            if args.keep:
                kept = True
                keep_running(airflow, run_id, progress, emulator)
        except KeyboardInterrupt:
            print("\n==> interrupted: stopping everything", flush=True)
            if not kept:  # Ctrl-C ending --keep is the normal end: the run's outcome decides the exit code
                exit_code = 130
            if real and not kept and progress is not None and progress.session_id:
                stop_real_session(progress)
        except ConnectionProblem as err:
            print(
                f"\n==> the Devin connection does not work (Airflow was not started): {err}",
                file=sys.stderr,
                flush=True,
            )
            exit_code = 2
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
