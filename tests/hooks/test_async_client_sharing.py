"""The triggerer's shared async client: one per event loop and connection, closed with its last user."""

from __future__ import annotations

import asyncio
import os

import pytest

from airflow_provider_devin.hooks import _async
from airflow_provider_devin.hooks.devin import DevinHook

both_versions = pytest.mark.parametrize("devin_api_version", ["v1", "v3"])


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def create_session() -> str:
    with DevinHook() as hook:
        return hook.create_session("task")["session_id"]


async def fds_settle_to(limit: int) -> int:
    """Open descriptors once the in-process emulator has closed its side of finished connections."""
    for _ in range(50):
        if open_fds() <= limit:
            break
        await asyncio.sleep(0.05)
    return open_fds()


@both_versions
async def test_concurrent_waits_share_one_client_and_close_it_when_the_last_leaves(devin_emulator):
    session_id = create_session()
    fds_before = open_fds()
    clients = set()
    release = asyncio.Event()

    async def wait_on_session() -> None:
        async with DevinHook().async_api() as api:
            clients.add(id(api._client))
            await api.get_session(session_id)
            await release.wait()
            await api.get_session(session_id)

    tasks = [asyncio.create_task(wait_on_session()) for _ in range(20)]
    await asyncio.sleep(0.5)
    assert len(clients) == 1
    assert _async.open_client_count() == 1
    release.set()
    await asyncio.gather(*tasks)
    assert _async.open_client_count() == 0
    assert await fds_settle_to(fds_before) <= fds_before


@both_versions
async def test_cancelled_waits_release_the_client(devin_emulator):
    session_id = create_session()
    fds_before = open_fds()

    async def poll_forever() -> None:
        async with DevinHook().async_api() as api:
            while True:
                await api.get_session(session_id)
                await asyncio.sleep(0.01)

    tasks = [asyncio.create_task(poll_forever()) for _ in range(10)]
    await asyncio.sleep(0.3)
    for task in tasks[:5]:
        task.cancel()
    await asyncio.sleep(0.1)
    assert _async.open_client_count() == 1, "the remaining waits keep the client"
    for task in tasks[5:]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert _async.open_client_count() == 0
    assert await fds_settle_to(fds_before) <= fds_before
