"""Twenty deferred waits ride out a two-minute 429 storm, sending fewer requests during it than before.

One slow test (~3.5 min): 20 ``DevinSessionTrigger`` s run in one event loop, as in a triggerer,
against the emulator over real loopback HTTP. The emulator answers every API request 429 with
``Retry-After`` for two and a half minutes (``start_rate_limit``); the shared backoff gate
(hooks/_backoff.py) holds the polls back, the outage window (``poll_error_window``, default 15
minutes) keeps the waits alive, and when the storm is over every wait ends with its own success.
The request rates come from the emulator's journal and are printed (``pytest -s``).

scripts/test runs it once, on Airflow 3.3, beside the compatibility lanes (they deselect it): the
trigger, the gate and the HTTP client do not differ between Airflow versions.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from airflow_provider_devin.hooks.devin import DevinHook
from airflow_provider_devin.triggers.devin import DevinSessionTrigger

WAITS = 20
POLL_INTERVAL = 2.0
NORMAL_SECONDS = 12.0
# Two and a half minutes of 429s: the outage window (15 minutes) must carry every wait through it.
STORM_SECONDS = 150.0
RETRY_AFTER = 5.0


@pytest.fixture
def devin_api_version() -> str:
    """v3 only (the version Devin issues keys for; a poll is two requests there: session and messages)."""
    return "v3"


@pytest.fixture
def storm_conn(devin_emulator, monkeypatch) -> str:
    conn = json.loads(devin_emulator.connection("v3", with_org_id=True))
    conn["extra"] = {**(conn.get("extra") or {}), "max_retries": 2, "initial_retry_wait": 1, "max_retry_wait": 20}
    monkeypatch.setenv("AIRFLOW_CONN_DEVIN_STORM", json.dumps(conn))
    return "devin_storm"


def requests_between(journal: list[dict], start: float, end: float) -> int:
    return sum(1 for entry in journal if start <= entry["monotonic"] < end)


async def run_to_event(trigger: DevinSessionTrigger) -> dict:
    events = [event.payload async for event in trigger.run()]
    assert len(events) == 1
    return events[0]


async def test_twenty_deferred_waits_ride_out_a_two_minute_rate_limit_storm(devin_emulator, storm_conn):
    control = devin_emulator.control
    hook = DevinHook(devin_conn_id=storm_conn)
    session_ids = [
        hook.create_session(f"Wait {n} [emulator:scenario=working_forever]")["session_id"] for n in range(WAITS)
    ]
    waits = [
        asyncio.ensure_future(
            run_to_event(
                DevinSessionTrigger(
                    devin_conn_id=storm_conn,
                    session_id=sid,
                    poll_interval=POLL_INTERVAL,
                    deadline=time.time() + 900,
                )
            )
        )
        for sid in session_ids
    ]
    started = time.monotonic()
    await asyncio.sleep(NORMAL_SECONDS)
    storm = await asyncio.to_thread(control.start_rate_limit, STORM_SECONDS, RETRY_AFTER)
    storm_started = time.monotonic()
    await asyncio.sleep(STORM_SECONDS - 5)
    for sid in session_ids:  # they finish during the storm; nobody can see it until it is over
        await asyncio.to_thread(control.set_status, sid, status="running", status_detail="finished")
    await asyncio.sleep(storm_started + STORM_SECONDS - time.monotonic())
    storm_ended = time.monotonic()
    done, pending = await asyncio.wait(waits, timeout=90)
    for task in pending:
        task.cancel()
    finished = time.monotonic()
    journal = await asyncio.to_thread(control.journal)
    answered_429 = (await asyncio.to_thread(control.rate_limit))["answered"]

    # The first interval is left out of the normal rate (every wait starts at once).
    normal_rate = requests_between(journal, started + POLL_INTERVAL, storm_started) / (
        storm_started - started - POLL_INTERVAL
    )
    storm_rate = requests_between(journal, storm_started, storm_ended) / (storm_ended - storm_started)
    in_storm = [entry for entry in journal if storm_started <= entry["monotonic"] < storm_ended]
    print(
        f"\n{WAITS} waits, poll_interval {POLL_INTERVAL:g} s, storm {storm_ended - storm_started:.0f} s "
        f"(Retry-After {RETRY_AFTER:g} s): normal {normal_rate:.2f} requests/s, during the storm "
        f"{storm_rate:.3f} requests/s ({len(in_storm)} requests, {answered_429} answered 429; "
        f"ratio {storm_rate / normal_rate:.3f}); all events {finished - storm_ended:.1f} s after the storm"
    )
    assert not pending, f"{len(pending)} waits had no event 90 s after the storm"
    payloads = [task.result() for task in done]
    assert [payload["status"] for payload in payloads] == ["success"] * WAITS, payloads
    assert sorted(payload["session_id"] for payload in payloads) == sorted(session_ids)
    assert storm["active"] and answered_429 >= 1
    assert all(entry["status"] == 429 for entry in in_storm)
    assert storm_rate < normal_rate
    # Shared backoff, not per wait: well under one request per wait per Retry-After.
    assert storm_rate < WAITS / RETRY_AFTER / 4
