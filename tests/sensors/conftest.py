"""Sensor tests run DAGs with the ``run_dag`` fixture from tests/conftest.py."""
