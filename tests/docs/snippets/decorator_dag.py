"""The ``@task.devin`` DAG shown in docs/guides/decorator.md; run by tests/docs/test_decorator_snippets.py."""

# --8<-- [start:dag]
from datetime import datetime
from typing import Any

from airflow.sdk import dag, task


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["devin"])
def devin_decorator_example() -> None:
    @task
    def untyped_modules() -> list[str]:
        return ["api/orders.py", "api/refunds.py"]

    # --8<-- [start:basic]
    @task.devin(title="Type hints ({{ ds }})", max_acu_limit=5, deferrable=True, retries=2)
    def add_type_hints(repo: str, modules: list[str]) -> str:
        listing = "\n".join(f"- {module}" for module in modules)
        # Rendered as a template: {{ repo }} is the call's argument, {{ run_id }} comes from the context.
        return (
            "In the repository {{ repo }}, add type hints to these modules, run mypy, and open a pull request:\n"
            f"{listing}\n"
            "Mention the Airflow run {{ run_id }} in the pull request description."
        )

    typed = add_type_hints("acme/api", untyped_modules())
    # --8<-- [end:basic]

    # --8<-- [start:mapped]
    @task.devin(tags=["upgrades"], deferrable=True)
    def upgrade(repo: str, package: str) -> str:
        return "In {{ repo }}, upgrade {{ package }} to its latest release, fix what breaks, and open a pull request."

    upgrade.partial(package="pydantic").expand(repo=["acme/api", "acme/web", "acme/etl"])
    # --8<-- [end:mapped]

    @task
    def report(result: dict[str, Any]) -> None:
        print("Devin session:", result["url"], "status:", result["status_enum"])
        print("Pull request:", result["pull_request_url"])

    report(typed)


devin_decorator_example()
# --8<-- [end:dag]
