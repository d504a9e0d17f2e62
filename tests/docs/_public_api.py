"""The public modules of the provider and the reference page that documents each."""

# Every public module, and the reference page that documents it.
REFERENCE_PAGES = {
    "airflow_provider_devin.hooks.devin": "reference/hooks",
    "airflow_provider_devin.operators.devin": "reference/operators",
    "airflow_provider_devin.operators.knowledge": "reference/knowledge",
    "airflow_provider_devin.sensors.devin": "reference/sensors",
    "airflow_provider_devin.triggers.devin": "reference/triggers",
    "airflow_provider_devin.links.devin": "reference/links",
    "airflow_provider_devin.status": "reference/status",
    "airflow_provider_devin.session": "reference/session",
    "airflow_provider_devin.idempotency": "reference/idempotency",
    "airflow_provider_devin.exceptions": "reference/exceptions",
    "airflow_provider_devin.api_types": "reference/api_types",
    "airflow_provider_devin.emulator": "reference/emulator",
}
