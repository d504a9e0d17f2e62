"""Start, query and stop the fake Devin endpoint (``benchmarks.fake_devin``) from another process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Endpoint:
    """Where a running fake endpoint listens; picklable/JSON-able so drivers can receive it."""

    https_port: int
    http_port: int
    control_port: int
    ca_file: str

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> Endpoint:
        return cls(**json.loads(text))


def read_stats(control_port: int, timeout: float = 10.0) -> dict[str, Any]:
    """The server's counters, read over the (uncounted) control port."""
    return dict(json.loads(_command(control_port, b"stats", timeout)))


def set_latency(control_port: int, seconds: float) -> None:
    """Delay every answer of the server by ``seconds`` from now on."""
    _command(control_port, f"latency {seconds:g}".encode())


def _command(control_port: int, line: bytes, timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", control_port), timeout=timeout) as sock:
        sock.sendall(line + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


class FakeDevinServer:
    """The fake endpoint in a child process (so its CPU never counts against a driver)."""

    def __init__(self, tls_dir: Path, max_seconds: float = 3600.0) -> None:
        self._tls_dir = tls_dir
        self._max_seconds = max_seconds
        self._process: subprocess.Popen[str] | None = None
        self.endpoint: Endpoint | None = None

    def start(self) -> Endpoint:
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.fake_devin",
                "--tls-dir",
                str(self._tls_dir),
                "--max-seconds",
                str(self._max_seconds),
            ],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            self._process.wait(timeout=10)
            raise RuntimeError(f"fake Devin server exited with {self._process.returncode} before starting")
        self.endpoint = Endpoint(**json.loads(line))
        return self.endpoint

    def stats(self) -> dict[str, Any]:
        assert self.endpoint is not None
        return read_stats(self.endpoint.control_port)

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def stop(self) -> None:
        if self._process is None:
            return
        try:
            if self.endpoint is not None and self._process.poll() is None:
                with socket.create_connection(("127.0.0.1", self.endpoint.control_port), timeout=5) as s:
                    s.sendall(b"quit\n")
            self._process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait(timeout=10)
        finally:
            if self._process.stdin is not None:
                self._process.stdin.close()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None

    def __enter__(self) -> FakeDevinServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
