"""Sensor tests run DAGs with the ``run_dag`` fixture from tests/conftest.py."""

# Every test here runs once per Devin API version (v1, v3), unless it pins one itself.
from devin_versions import api, devin_api_version  # noqa: F401
