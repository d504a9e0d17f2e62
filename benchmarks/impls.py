"""The triggers the benchmark compares, each behind one factory function.

- ``baseline``: ``HttpSensorTrigger`` from apache-airflow-providers-http, pointed at the fake
  endpoint's ``/404/...`` route (it fires on anything but a 404, so it keeps polling while
  downloading the same session body).
- ``ours``: :class:`airflow_provider_devin.triggers.devin.DevinSessionTrigger`.
- ``floor``: a reference, not a product: the least a Python trigger can do per poll (one shared
  ``httpx.AsyncClient`` per process, ``json.loads``, compare a status). It shows how far ``ours`` is
  from the floor when a target is missed.

A factory takes the session id and the poll interval and returns a ``BaseTrigger`` (or anything
with an async-generator ``run()`` and an async ``cleanup()``). Connections come from
``AIRFLOW_CONN_*`` variables set by :func:`connection_env`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

HTTP_CONN_ID = "bench_http"
DEVIN_CONN_ID = "bench_devin"
API_KEY = "apk_user_benchmark_key_0123456789"

TriggerFactory = Callable[[str, float], Any]


def connection_env(https_port: int, ca_file: str) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` variables (JSON form) for both triggers, pointing at the fake endpoint.

    The Devin connection names the run-time CA in its ``verify`` extra (a CA bundle path); the
    HTTP connection has no such extra for aiohttp, so the driver also sets ``SSL_CERT_FILE``.
    """
    http_conn = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "schema": "https",
        "port": https_port,
        # HttpAsyncHook turns the extras into request headers.
        "extra": {"Authorization": f"Bearer {API_KEY}"},
    }
    devin_conn = {
        "conn_type": "devin",
        "host": f"https://127.0.0.1:{https_port}",
        "password": API_KEY,
        "extra": {"verify": ca_file},
    }
    return {
        f"AIRFLOW_CONN_{HTTP_CONN_ID.upper()}": json.dumps(http_conn),
        f"AIRFLOW_CONN_{DEVIN_CONN_ID.upper()}": json.dumps(devin_conn),
    }


def baseline_trigger(session_id: str, poll_interval: float) -> Any:
    from airflow.providers.http.triggers.http import HttpSensorTrigger

    # A "finished" session answers 200 on the plain route, so the baseline fires like ours does.
    prefix = "" if "finished" in session_id else "/404"
    return HttpSensorTrigger(
        endpoint=f"{prefix}/v1/sessions/{session_id}",
        http_conn_id=HTTP_CONN_ID,
        method="GET",
        poke_interval=poll_interval,
    )


def ours_trigger(session_id: str, poll_interval: float) -> Any:
    """The one place that knows how to build a ``DevinSessionTrigger``."""
    from airflow_provider_devin.triggers.devin import DevinSessionTrigger

    return DevinSessionTrigger(
        session_id=session_id,
        devin_conn_id=DEVIN_CONN_ID,
        poll_interval=poll_interval,
    )


class _FloorTrigger:
    """The least work per poll: a process-wide client, parse, compare. Reference only."""

    _client: Any = None
    _users = 0

    def __init__(self, session_id: str, poll_interval: float, base_url: str) -> None:
        self.session_id = session_id
        self.poll_interval = poll_interval
        self.base_url = base_url

    async def run(self) -> AsyncIterator[dict[str, Any]]:
        import httpx

        cls = type(self)
        if cls._client is None:
            cls._client = httpx.AsyncClient(base_url=self.base_url, headers={"Authorization": f"Bearer {API_KEY}"})
        cls._users += 1
        try:
            while True:
                response = await cls._client.get(f"/v1/sessions/{self.session_id}")
                details = json.loads(response.content)
                if details.get("status_enum") in ("finished", "expired"):
                    yield {"status": details["status_enum"], "session_id": self.session_id}
                    return
                await asyncio.sleep(self.poll_interval)
        finally:
            cls._users -= 1
            if cls._users == 0 and cls._client is not None:
                client, cls._client = cls._client, None
                await client.aclose()

    async def cleanup(self) -> None:
        return None


def floor_factory(https_port: int) -> TriggerFactory:
    base_url = f"https://127.0.0.1:{https_port}"
    return lambda session_id, poll_interval: _FloorTrigger(session_id, poll_interval, base_url)


def factory(name: str, https_port: int) -> TriggerFactory:
    """The trigger factory called ``name`` (``baseline``, ``ours`` or ``floor``)."""
    if name == "baseline":
        return baseline_trigger
    if name == "ours":
        return ours_trigger
    if name == "floor":
        return floor_factory(https_port)
    raise ValueError(f"unknown trigger implementation {name!r}; expected baseline, ours or floor")


def available(name: str) -> str | None:
    """None if the implementation can be imported here, else why not (e.g. not merged yet)."""
    try:
        if name == "ours":
            import airflow_provider_devin.triggers.devin as module

            getattr(module, "DevinSessionTrigger")  # noqa: B009
        elif name == "baseline":
            import airflow.providers.http.triggers.http  # noqa: F401
    except (ImportError, AttributeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
