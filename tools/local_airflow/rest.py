"""Driving a running deployment through Airflow's public REST API (``/api/v2``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from tools.local_airflow.processes import DeploymentError

TERMINAL_RUN_STATES = frozenset({"success", "failed"})


class AirflowRestApi:
    """The REST helpers of :class:`~tools.local_airflow.LocalAirflow` (auth is off: all admins).

    Needs ``_client`` (an ``httpx.Client`` on the API, None while stopped), ``unpause``,
    ``logs_dir`` and ``check_alive()`` from the class it is mixed into.
    """

    _client: httpx.Client | None
    unpause: set[str] | None

    @property
    def logs_dir(self) -> Path:
        raise NotImplementedError

    def check_alive(self) -> None:
        raise NotImplementedError

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the public REST API (auth is off: simple auth manager, all admins)."""
        if self._client is None:
            raise DeploymentError("the deployment is not running")
        response = self._client.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 90.0) -> dict[str, Any]:
        """Wait until the dag-processor has parsed ``dag_id`` (unpausing it if listed in ``unpause``).

        Fails fast on an import error.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                dag = self.api("GET", f"/api/v2/dags/{dag_id}")
                if dag.get("is_paused") and self.unpause is not None and dag_id in self.unpause:
                    dag = self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
                return dag
            except httpx.HTTPStatusError as err:
                if err.response.status_code != 404:
                    raise
            errors = self.import_errors()
            if errors:
                raise DeploymentError(f"DAG files failed to import: {errors}")
            time.sleep(0.5)
        raise DeploymentError(f"DAG {dag_id!r} not parsed after {timeout:.0f}s")

    def import_errors(self) -> list[dict[str, Any]]:
        return list(self.api("GET", "/api/v2/importErrors").get("import_errors", []))

    def trigger_dag(self, dag_id: str, conf: Mapping[str, Any] | None = None, run_id: str | None = None) -> str:
        """Start a manual run (``logical_date`` None, as the UI does) and return its run_id."""
        run_id = run_id or f"manual__{uuid.uuid4().hex[:12]}"
        body = {"dag_run_id": run_id, "logical_date": None, "conf": dict(conf or {})}
        created = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        return str(created["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run (all pages: the API returns 50 per page by default)."""
        found: list[dict[str, Any]] = []
        while True:
            answer = self.api(
                "GET",
                f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                params={"limit": 100, "offset": len(found)},
            )
            page = list(answer.get("task_instances", []))
            found += page
            if not page or len(found) >= int(answer.get("total_entries", len(found))):
                return found

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        """The XCom value, or None when it does not exist (yet)."""
        try:
            entry = self.api(
                "GET",
                f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
                params={"map_index": map_index, "deserialize": True},
            )
        except httpx.HTTPStatusError as err:
            if err.response.status_code == 404:
                return None
            raise
        return entry.get("value")

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        timeout: float = 300.0,
        on_poll: Callable[[dict[str, Any], list[dict[str, Any]]], None] | None = None,
        interval: float = 1.0,
    ) -> str:
        """Poll until the run ends; ``on_poll(run, task_instances)`` sees every poll. Returns the state."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            run = self.dag_run(dag_id, run_id)
            tis = self.task_instances(dag_id, run_id)
            if on_poll is not None:
                on_poll(run, tis)
            if run.get("state") in TERMINAL_RUN_STATES:
                return str(run["state"])
            if time.monotonic() > deadline:
                raise DeploymentError(
                    f"run {run_id} of {dag_id} still {run.get('state')} after {timeout:.0f}s; "
                    f"tasks: {[(ti['task_id'], ti.get('map_index'), ti.get('state')) for ti in tis]}"
                )
            time.sleep(interval)

    def task_log_files(self, dag_id: str, run_id: str, task_id: str) -> list[Path]:
        """Log files of one task (all attempts, and trigger logs beside them)."""
        base = self.logs_dir / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []
