"""Trigger tests poll the emulator over loopback HTTP, once per Devin API version."""

from devin_versions import api, devin_api_version  # noqa: F401
