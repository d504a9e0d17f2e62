"""The deployment's shape: which components run, with which executor and databases."""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")

# Flags that keep a component from opening a log server on 0.0.0.0.
_COMPONENT_ARGS: dict[str, list[str]] = {
    "api-server": ["--workers", "1"],
    "scheduler": ["--skip-serve-logs"],
    "dag-processor": [],
    "triggerer": ["--skip-serve-logs"],
    "celery-worker": ["--skip-serve-logs", "--without-mingle", "--without-gossip"],
}


def component_kind(name: str) -> str:
    """``triggerer-2`` -> ``triggerer``, ``celery-worker-1`` -> ``celery-worker``."""
    head, _, tail = name.rpartition("-")
    return head if tail.isdigit() else name


@dataclass(frozen=True)
class Topology:
    """The deployment's shape: executor, databases, and how many triggerers and Celery workers.

    The default is the four-process LocalExecutor deployment on SQLite. Use :meth:`celery` for
    the production-like one.

    :param executor: ``LocalExecutor`` or ``CeleryExecutor``.
    :param database_url: SQLAlchemy URL of the metadata DB; None for SQLite in AIRFLOW_HOME.
    :param broker_url: Celery broker (``redis://127.0.0.1:<port>/0``); CeleryExecutor only.
    :param result_backend: Celery result backend (``db+postgresql://...``); CeleryExecutor only.
    :param triggerers: how many triggerer processes (named ``triggerer``, ``triggerer-2``, ...).
    :param celery_workers: how many ``airflow celery worker`` processes (``celery-worker-1``, ...).
    :param worker_concurrency: task slots per Celery worker.
    """

    executor: str = "LocalExecutor"
    database_url: str | None = None
    broker_url: str | None = None
    result_backend: str | None = None
    triggerers: int = 1
    celery_workers: int = 0
    worker_concurrency: int = 4

    def __post_init__(self) -> None:
        if self.executor not in ("LocalExecutor", "CeleryExecutor"):
            raise ValueError(f"Topology.executor must be LocalExecutor or CeleryExecutor, got {self.executor!r}")
        celery = self.executor == "CeleryExecutor"
        if celery and not (self.broker_url and self.result_backend and self.celery_workers >= 1):
            raise ValueError("a CeleryExecutor topology needs broker_url, result_backend and celery_workers >= 1")
        if not celery and self.celery_workers:
            raise ValueError(f"celery_workers={self.celery_workers} needs executor='CeleryExecutor'")
        if self.triggerers < 1:
            raise ValueError(f"Topology.triggerers must be at least 1, got {self.triggerers}")

    @classmethod
    def celery(
        cls, database_url: str, broker_url: str, *, triggerers: int = 2, celery_workers: int = 2, **kwargs: Any
    ) -> Topology:
        """CeleryExecutor on ``database_url`` (PostgreSQL) with ``broker_url`` (Redis).

        The Celery result backend is the same database, through the same driver (``db+<url>``).
        """
        backend = "db+" + database_url
        return cls(
            executor="CeleryExecutor",
            database_url=database_url,
            broker_url=broker_url,
            result_backend=backend,
            triggerers=triggerers,
            celery_workers=celery_workers,
            **kwargs,
        )

    def component_names(self) -> list[str]:
        """Start order: api-server, scheduler, dag-processor, the triggerers, the Celery workers."""
        names = ["api-server", "scheduler", "dag-processor"]
        names += ["triggerer" if i == 1 else f"triggerer-{i}" for i in range(1, self.triggerers + 1)]
        names += [f"celery-worker-{i}" for i in range(1, self.celery_workers + 1)]
        return names

    def command(self, name: str, pid_dir: Path) -> list[str]:
        """The command line that runs component ``name``, its pid file in ``pid_dir``."""
        kind = component_kind(name)
        pid_file = ["--pid", str(pid_dir / f"{name}.pid")]
        if kind == "celery-worker":
            # Distinct Celery node names and pid files, or the second worker refuses to start.
            return airflow_argv(
                "celery",
                "worker",
                *_COMPONENT_ARGS[kind],
                *pid_file,
                "--celery-hostname",
                f"{name}@{socket.gethostname()}",
            )
        extra = pid_file if kind == "triggerer" else []
        return airflow_argv(kind, *_COMPONENT_ARGS[kind], *extra)

    def environment(self) -> dict[str, str]:
        """The ``AIRFLOW__*`` settings this topology adds."""
        env = {"AIRFLOW__CORE__EXECUTOR": self.executor}
        if self.database_url:
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.database_url
        if self.executor == "CeleryExecutor":
            env.update(
                {
                    "AIRFLOW__CELERY__BROKER_URL": str(self.broker_url),
                    "AIRFLOW__CELERY__RESULT_BACKEND": str(self.result_backend),
                    "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
                }
            )
        return env


def airflow_argv(*args: str) -> list[str]:
    """``python -m airflow <args>`` with the interpreter running the harness."""
    return [sys.executable, "-m", "airflow", *args]
