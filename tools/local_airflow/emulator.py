"""The Devin API emulator as a process beside the deployment."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tools.local_airflow.processes import DeploymentError


def _drain(stream: Any) -> None:
    with contextlib.suppress(OSError, ValueError):
        while stream.read(65536):
            pass


class EmulatorProcess:
    """``devin-emulator`` in its own process group on a free loopback port.

    :param speed: emulated seconds per real second.
    :param log_path: where the emulator's stderr (its request log) goes.
    """

    def __init__(self, speed: float = 60.0, log_path: str | os.PathLike[str] | None = None) -> None:
        self.speed = speed
        self.log_path = Path(log_path) if log_path else None
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""

    def start(self, timeout: float = 30.0) -> EmulatorProcess:
        script = Path(sys.executable).with_name("devin-emulator")
        argv = [str(script)] if script.exists() else [sys.executable, "-m", "airflow_provider_devin.emulator"]
        stderr: Any = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            stderr = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*argv, "--host", "127.0.0.1", "--port", "0", "--speed", f"{self.speed:g}", "--log-level", "warning"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        if stderr is not subprocess.DEVNULL:
            stderr.close()
        atexit.register(self.stop)
        assert self.process.stdout is not None
        # The first stdout line is the base URL, printed as soon as the socket is bound.
        deadline = time.monotonic() + timeout
        line = b""
        while not line and time.monotonic() < deadline and self.process.poll() is None:
            line = self.process.stdout.readline()
        self.base_url = line.decode().strip()
        if not self.base_url.startswith("http"):
            self.stop()
            raise DeploymentError(f"devin-emulator did not report its URL (got {line!r})")
        # Keep draining stdout so the emulator can never block on a full pipe.
        threading.Thread(target=_drain, args=(self.process.stdout,), daemon=True).start()
        health_deadline = time.monotonic() + timeout
        while time.monotonic() < health_deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/_emulator/health", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        return self

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1]) if self.base_url else 0

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
