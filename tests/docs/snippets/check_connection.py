"""Shown in docs/connection.md; run by tests/docs/test_connection_docs.py against the emulator."""

# --8<-- [start:check]
from airflow_provider_devin.hooks.devin import DevinHook

ok, message = DevinHook(devin_conn_id="devin_default").test_connection()
print("connection works" if ok else "connection failed", "-", message)
# --8<-- [end:check]
