"""The shared backoff gate (hooks/_backoff.py): pure logic, on the real event loop with short pauses."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from airflow_provider_devin.exceptions import DevinNotFoundError, DevinRateLimitError, DevinServerError
from airflow_provider_devin.hooks._backoff import JITTER, BackoffGate, backoff_gate
from airflow_provider_devin.hooks._retry import RetrySettings

FAST = RetrySettings(max_retries=0, max_wait=0.4, initial_wait=0.05)


def rate_limited(retry_after: float | None = 0.2) -> DevinRateLimitError:
    return DevinRateLimitError(
        "rate limited", operation="get session", method="GET", path="/v1/sessions/x", status_code=429,
        retry_after=retry_after,
    )  # fmt: skip


def server_error(status: int) -> DevinServerError:
    return DevinServerError("down", operation="get session", method="GET", path="/v1/sessions/x", status_code=status)


async def send_through(gate: BackoffGate, error: BaseException | None = None, hold: float = 0.0) -> float:
    """Pass the gate, 'send' (sleep ``hold``), raise ``error`` if given; return when it was admitted."""
    async with gate.admit():
        admitted = time.monotonic()
        await asyncio.sleep(hold)
        if error is not None:
            raise error
    return admitted


async def test_an_open_gate_admits_at_once():
    gate = BackoffGate(FAST)
    started = time.monotonic()
    await send_through(gate)
    assert gate.is_open and gate.paused_for() == 0.0
    assert time.monotonic() - started < 0.05


async def test_a_429_holds_the_next_request_at_least_retry_after():
    gate = BackoffGate(FAST)
    with pytest.raises(DevinRateLimitError):
        await send_through(gate, rate_limited(0.3))
    failed_at = time.monotonic()
    assert not gate.is_open
    assert 0.25 < gate.paused_for() <= 0.3 * (1 + JITTER) + 0.01
    admitted = await send_through(gate)
    assert admitted - failed_at >= 0.3
    assert gate.is_open


async def test_only_one_probe_goes_out_when_the_pause_ends_and_its_success_opens_for_all():
    gate = BackoffGate(FAST)
    with pytest.raises(DevinRateLimitError):
        await send_through(gate, rate_limited(0.2))
    in_flight = 0
    most_in_flight = 0

    async def request() -> float:
        nonlocal in_flight, most_in_flight
        async with gate.admit():
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
            await asyncio.sleep(0.1)
            in_flight -= 1
            return time.monotonic()

    done = await asyncio.gather(*(request() for _ in range(10)))
    # The probe ran alone; after its success the other nine went together.
    assert most_in_flight == 9
    assert sorted(done)[1] - sorted(done)[0] >= 0.09


async def test_a_failed_probe_starts_a_longer_pause_and_nobody_else_is_sent_meanwhile():
    gate = BackoffGate(RetrySettings(max_retries=0, max_wait=10.0, initial_wait=0.1))
    sent: list[float] = []

    async def request(error: BaseException | None) -> None:
        async with gate.admit():
            sent.append(time.monotonic())
            if error is not None:
                raise error

    for _ in range(3):  # three failed rounds, no Retry-After: backoff 0.1, 0.2, 0.4
        with pytest.raises(DevinServerError):
            await request(server_error(503))
    assert gate.closures == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2
    assert gate.paused_for() > 0.3


async def test_failures_already_in_flight_escalate_the_pause_once():
    gate = BackoffGate(RetrySettings(max_retries=0, max_wait=10.0, initial_wait=0.1))

    async def request() -> None:
        await send_through(gate, server_error(502), hold=0.05)

    results = await asyncio.gather(*(request() for _ in range(20)), return_exceptions=True)
    assert all(isinstance(result, DevinServerError) for result in results)
    assert gate.closures == 1
    assert gate.paused_for() <= 0.1 * (1 + JITTER)


async def test_an_answer_that_is_not_throttling_reopens_the_gate():
    gate = BackoffGate(FAST)
    with pytest.raises(DevinRateLimitError):
        await send_through(gate, rate_limited(0.1))
    not_found = DevinNotFoundError("gone", operation="get", method="GET", path="/v1/sessions/x", status_code=404)
    with pytest.raises(DevinNotFoundError):
        await send_through(gate, not_found)
    assert gate.is_open


async def test_a_cancelled_probe_hands_the_turn_to_the_next_waiter():
    gate = BackoffGate(FAST)
    with pytest.raises(DevinRateLimitError):
        await send_through(gate, rate_limited(0.1))
    probe = asyncio.ensure_future(send_through(gate, hold=10.0))
    await asyncio.sleep(0.2)  # the probe is out (and hangs)
    waiter = asyncio.ensure_future(send_through(gate))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    probe.cancel()
    await asyncio.wait_for(waiter, 1.0)
    assert gate.is_open


async def test_a_501_is_an_answer_not_a_storm():
    gate = BackoffGate(FAST)
    with pytest.raises(DevinServerError):
        await send_through(gate, server_error(501))
    assert gate.is_open


class Settings:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url, self.api_key, self.retry = base_url, api_key, FAST


async def test_one_gate_per_credential_in_a_loop():
    first = backoff_gate(Settings("https://api.devin.ai", "key-a"))
    assert backoff_gate(Settings("https://api.devin.ai", "key-a")) is first
    assert backoff_gate(Settings("https://api.devin.ai", "key-b")) is not first
    assert backoff_gate(Settings("https://emulator.local", "key-a")) is not first


def test_each_event_loop_has_its_own_gate():
    settings = Settings("https://api.devin.ai", "key-a")

    async def get() -> BackoffGate:
        return backoff_gate(settings)

    assert asyncio.run(get()) is not asyncio.run(get())
