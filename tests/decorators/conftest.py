"""``@task.devin`` under ``dag.test()`` against the emulator, on Airflow 3 and (the 2.11 lane) Airflow 2.11."""

from __future__ import annotations

import pytest


class Failures:
    """Collects task failure messages through ``on_failure_callback`` (``dag.test()`` swallows them)."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, context) -> None:
        self.messages.append(str(context.get("exception")))


@pytest.fixture
def failures() -> Failures:
    return Failures()


# Every test here runs once per Devin API version (v1, v3), unless it pins one itself.
from devin_versions import api, devin_api_version  # noqa: E402, F401
