"""PostgreSQL and Redis for the production-like lane: Debian's packages, started by the tests themselves.

Each server runs from its own temporary directory on a free loopback port, is started with
``subprocess.Popen`` so that its PID is the server's own PID (PostgreSQL's postmaster, not a
wrapper), and is stopped by that PID. When running as root, PostgreSQL runs as the ``postgres``
user (it refuses to run as root) and missing packages are installed with ``apt-get``; when not
root and a package is missing, :func:`ensure_debian_packages` raises :class:`ServiceUnavailable`
so that the caller can skip with the message.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tools.local_airflow import free_port

#: Debian package that provides each server binary.
PACKAGES = {"postgres": "postgresql", "redis-server": "redis-server"}
_POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
#: Field separator of :meth:`PostgresServer.psql` output (no JSON or log text contains it).
FIELD_SEP = "\x1f"


class ServiceUnavailable(RuntimeError):
    """A server binary is missing and cannot be installed here (not root)."""


def _postgres_bindir() -> Path | None:
    """Debian puts the server binaries in /usr/lib/postgresql/<major>/bin (the newest major wins)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("postgres")
    return Path(found).parent if found else None


def _missing_packages() -> list[str]:
    missing = []
    if _postgres_bindir() is None:
        missing.append(PACKAGES["postgres"])
    if shutil.which("redis-server") is None:
        missing.append(PACKAGES["redis-server"])
    return missing


def ensure_debian_packages(log_path: Path) -> None:
    """Install PostgreSQL and Redis from Debian's registry when missing (root only).

    A ``policy-rc.d`` that forbids service starts is put in place for the install (and removed
    again if this function created it), so that installing the packages never starts a system
    PostgreSQL or Redis on the default ports: the tests start their own.

    :param log_path: where apt-get's output goes.
    :raises ServiceUnavailable: a package is missing and this process is not root.
    """
    missing = _missing_packages()
    if not missing:
        return
    if os.geteuid() != 0:
        raise ServiceUnavailable(
            f"the production-like lane needs the Debian packages {' '.join(missing)}: run as root "
            f"(the tests then install them) or `sudo apt-get install -y {' '.join(missing)}`"
        )
    created_policy = not _POLICY_RC_D.exists()
    if created_policy:
        _POLICY_RC_D.write_text("#!/bin/sh\n# Written by the provider's e2e tests for one apt-get install.\nexit 101\n")
        _POLICY_RC_D.chmod(0o755)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        with log_path.open("ab") as out:
            for argv in (
                ["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            ):
                done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=900)
                if done.returncode != 0:
                    raise ServiceUnavailable(f"`{' '.join(argv)}` failed (exit {done.returncode}); see {log_path}")
    finally:
        if created_policy:
            _POLICY_RC_D.unlink(missing_ok=True)
    still = _missing_packages()
    if still:
        raise ServiceUnavailable(f"apt-get installed {' '.join(missing)} but {' '.join(still)} is still missing")


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path, timeout: float) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}; see {log}:\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f}s; see {log}:\n{_tail(log)}")


def _tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


class _Server:
    """A server process we started, stopped by its own PID."""

    name = "server"

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.workdir = Path()

    @property
    def pid(self) -> int:
        return self.process.pid if self.process else 0

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> bool:
        """Signal the server by PID, wait, SIGKILL if it lingers. True when it is gone."""
        if self.process is None or self.process.poll() is not None:
            return True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        return self.process.poll() is not None


class PostgresServer(_Server):
    """A throwaway PostgreSQL cluster: ``initdb`` into a temp dir, the postmaster on a loopback port.

    Trust authentication on 127.0.0.1 for the superuser ``airflow``; durability is switched off
    (``fsync``, ``synchronous_commit``, ``full_page_writes``) because the cluster lives for one test
    module. :attr:`url` is the SQLAlchemy URL of the ``airflow`` database.
    """

    name = "postgresql"
    user = "airflow"
    database = "airflow"

    def start(self, timeout: float = 60.0) -> PostgresServer:
        bindir = _postgres_bindir()
        if bindir is None:
            raise ServiceUnavailable("PostgreSQL server binaries not found (Debian package postgresql)")
        self.bindir = bindir
        self.workdir = Path(tempfile.mkdtemp(prefix="devin-e2e-pg-"))
        data, sockets, log = self.workdir / "data", self.workdir / "sock", self.workdir / "postgresql.log"
        sockets.mkdir()
        run_as: dict[str, Any] = {}
        if os.geteuid() == 0:  # the postmaster refuses to run as root
            shutil.chown(self.workdir, "postgres", "postgres")
            shutil.chown(sockets, "postgres", "postgres")
            run_as = {"user": "postgres", "group": "postgres", "extra_groups": []}
        with (self.workdir / "initdb.log").open("wb") as out:
            if run_as:
                shutil.chown(out.name, "postgres", "postgres")
            subprocess.run(
                [str(bindir / "initdb"), "-D", str(data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync"],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                cwd=self.workdir,
                timeout=timeout,
                **run_as,
            )
        self.port = free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(sockets),
            "max_connections": "300",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        argv = [str(bindir / "postgres"), "-D", str(data)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.workdir, **run_as
            )
        _wait_for_port(self.port, self.process, "postgres", log, timeout)
        self._psql_wait_ready(timeout)
        self.psql("postgres", f"CREATE DATABASE {self.database}")
        return self

    def _psql_wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            done = subprocess.run(
                [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user],
                capture_output=True,
            )
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL on port {self.port} not ready: {done.stdout!r}")
            time.sleep(0.2)

    def psql(self, database: str, sql: str) -> str:
        """Run one SQL statement with ``psql``: its rows, unaligned, fields separated by :data:`FIELD_SEP`."""
        done = subprocess.run(
            [
                str(self.bindir / "psql"),
                *self._conn_args(database),
                "-X",
                "-A",
                "-t",
                "-F",
                FIELD_SEP,
                "-v",
                "ON_ERROR_STOP=1",
            ],
            input=sql.encode(),
            capture_output=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed on {sql!r}: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode()

    def dump(self) -> str:
        """``pg_dump`` of the airflow database (schema and data, plain SQL)."""
        done = subprocess.run(
            [str(self.bindir / "pg_dump"), *self._conn_args(self.database), "--no-owner"],
            capture_output=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode(errors="replace")

    def _conn_args(self, database: str) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", database]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20.0) -> bool:
        """Fast shutdown (SIGINT: roll back open transactions, then exit) by the postmaster's PID."""
        return super().stop(sig, timeout)


class RedisServer(_Server):
    """``redis-server`` on a loopback port, no persistence, its working dir a temp dir."""

    name = "redis"

    def start(self, timeout: float = 30.0) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceUnavailable("redis-server not found (Debian package redis-server)")
        self.workdir = Path(tempfile.mkdtemp(prefix="devin-e2e-redis-"))
        self.port = free_port()
        log = self.workdir / "redis.log"
        argv = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            "--daemonize",
            "no",
            "--logfile",
            "",
        ]
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.workdir
            )
        _wait_for_port(self.port, self.process, "redis-server", log, timeout)
        return self

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"
