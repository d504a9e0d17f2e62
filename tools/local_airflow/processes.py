"""Processes: what a component is, what stopping found, the deployment marker, signals."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Environment variable carrying a deployment's id into every process it starts.
DEPLOYMENT_ENV = "LOCAL_AIRFLOW_DEPLOYMENT_ID"


class DeploymentError(RuntimeError):
    """The local deployment could not start, or a component died."""


@dataclass
class Component:
    """One running Airflow component."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    #: The component's row in the ``job`` table (triggerers: filled in by ``start()``).
    job_id: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class StopReport:
    """What ``stop()`` found: processes that survived SIGKILL and ports still bound (both empty when clean)."""

    survivors: list[int] = field(default_factory=list)
    bound_ports: list[int] = field(default_factory=list)
    #: "pid name" of processes that ignored SIGTERM for the whole grace period and were SIGKILLed.
    killed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.survivors and not self.bound_ports


@contextlib.contextmanager
def signals_raise_keyboard_interrupt() -> Iterator[None]:
    """Turn SIGINT/SIGTERM/SIGHUP into KeyboardInterrupt so ``finally`` blocks stop the deployment.

    SIGINT is included because a shell starts background jobs with SIGINT ignored.
    """

    def _raise(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, _raise) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
