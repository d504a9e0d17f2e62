from __future__ import annotations

import pytest
from devin_versions import ApiPaths

from airflow_provider_devin.hooks.devin import DevinHook


class FakeClock:
    """Records the waits the retry policy asks for instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hook(devin_emulator, clock):
    """A DevinHook on the default connection, which the emulator fixture points at itself."""
    hook = DevinHook()
    hook._sleep = clock.sleep
    hook._asleep = clock.asleep
    yield hook
    hook.close()


@pytest.fixture
def api(devin_api_version: str) -> ApiPaths:
    """The journal paths of the version under test (v1 unless the test is parametrised)."""
    return ApiPaths(devin_api_version)
