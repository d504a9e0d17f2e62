"""Run the emulator in-process: uvicorn in a background thread, on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from airflow_provider_devin.emulator import DEFAULT_API_KEY, DEFAULT_SPEED, DEFAULT_V3_API_KEY
from airflow_provider_devin.emulator.control import EmulatorControl

STARTUP_TIMEOUT = 15.0


class EmulatorServer:
    """A running emulator for tests and benchmarks.

    :param host: interface to bind; loopback by default.
    :param port: TCP port; ``0`` picks a free one (read it back from :attr:`base_url`).
    :param speed: emulated seconds per real second (60: a documented minute passes in a second).
    :param api_keys: accepted keys, or a mapping key -> user email or settings (``email``,
        ``org_id``, ``principal``); default ``DEFAULT_API_KEY`` (v1) and ``DEFAULT_V3_API_KEY`` (v3).
    :param log_level: uvicorn's log level.

    ::

        with EmulatorServer() as server:
            requests.get(f"{server.base_url}/v1/sessions",
                         headers={"Authorization": f"Bearer {server.api_key}"})
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = DEFAULT_SPEED,
        api_keys: Iterable[str] | Mapping[str, Any] | None = None,
        log_level: str = "warning",
    ) -> None:
        self.host = host
        self.port = port
        self.speed = speed
        self.api_keys = list(api_keys) if api_keys is not None and not isinstance(api_keys, Mapping) else api_keys
        self.log_level = log_level
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._control: EmulatorControl | None = None
        self.app: Any = None

    @property
    def api_key(self) -> str:
        """The first accepted key (``DEFAULT_API_KEY`` unless keys were given)."""
        if not self.api_keys:
            return DEFAULT_API_KEY
        return next(iter(self.api_keys))

    @property
    def v3_api_key(self) -> str | None:
        """The first accepted ``cog_`` key (``DEFAULT_V3_API_KEY`` unless keys were given), or None."""
        if not self.api_keys:
            return DEFAULT_V3_API_KEY
        return next((key for key in self.api_keys if key.startswith("cog_")), None)

    @property
    def base_url(self) -> str:
        if self._socket is None:
            raise RuntimeError("the emulator is not running; call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def control(self) -> EmulatorControl:
        if self._control is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return self._control

    def start(self) -> EmulatorServer:
        """Start serving; returns once the server accepts connections."""
        if self._thread is not None:
            return self
        import uvicorn

        from airflow_provider_devin.emulator.app import create_app

        self.app = create_app(speed=self.speed, api_keys=self.api_keys)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(
            self.app,
            log_level=self.log_level,
            lifespan="off",
            proxy_headers=False,
            server_header=False,
            access_log=False,
            timeout_graceful_shutdown=2,
            backlog=512,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"devin-emulator-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the Devin emulator did not start; see the log above")
            time.sleep(0.005)
        self._control = EmulatorControl(self.base_url)
        return self

    def stop(self) -> None:
        """Shut down and free the port (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = self._control = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._socket is not None else "stopped"
        return f"EmulatorServer({where}, speed={self.speed})"
