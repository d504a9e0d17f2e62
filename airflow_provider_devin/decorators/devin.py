"""``@task.devin``: a TaskFlow task whose function returns the prompt for a new Devin session.

::

    from airflow.sdk import task

    @task.devin(title="Flaky tests ({{ ds }})", deferrable=True)
    def fix_flaky_tests(repo: str) -> str:
        return "In {{ repo }}, find the flaky tests of the last week and open a PR that fixes them."

    fix_flaky_tests.expand(repo=["acme/api", "acme/web"])

The decorator takes every :class:`~airflow_provider_devin.operators.devin.DevinCreateSessionOperator`
argument except ``prompt``, and behaves like that operator in every other way: one session per task
instance (found again on retry by the task state store or its ``airflow-ti:<hash>`` tag), the same
result dict as ``return_value``, the ``session_id`` / ``session_url`` XComs, deferrable waits, asset
events on ``outlets``.

The prompt is built on the worker, each try: the function runs with its arguments (and any context
keys it names, e.g. ``ti`` or ``params``), must return a non-empty string, and that string is rendered
as a Jinja template in which the call's arguments are available by name next to the task context.
Only the prompt sees the call's arguments: the other template fields (``title``, ``tags``, ...) are
rendered before the function runs, with the task context alone.
Nothing is sent to Devin before the prompt passes these checks. Literal ``{{`` in a prompt (code
samples) needs ``{% raw %}...{% endraw %}``. A returned one-word ``.md`` / ``.txt`` file name is read
as a template file, as with the operator's ``prompt``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_devin._compat import (
    SET_DURING_EXECUTION,
    DecoratedOperator,
    TaskDecorator,
    context_merge,
    determine_kwargs,
    task_decorator_factory,
)
from airflow_provider_devin.operators.devin import DevinCreateSessionOperator

if TYPE_CHECKING:
    from airflow_provider_devin._compat import Context

__all__ = ["devin_task"]


class _DevinDecoratedOperator(DecoratedOperator, DevinCreateSessionOperator):  # type: ignore[misc]
    """Runs the decorated function on the worker and starts a Devin session with the prompt it returns.

    :param python_callable: The decorated function; it returns the prompt.
    :param op_args: Positional arguments of the call (templated).
    :param op_kwargs: Keyword arguments of the call (templated).
    :param kwargs: Every :class:`DevinCreateSessionOperator` argument except ``prompt``.
    """

    template_fields: Sequence[str] = (
        *DecoratedOperator.template_fields,
        *DevinCreateSessionOperator.template_fields,
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        **DecoratedOperator.template_fields_renderers,
        **DevinCreateSessionOperator.template_fields_renderers,
    }

    custom_operator_name: str = "@task.devin"

    # Airflow 3: after execute(), the rendered-fields view shows the prompt the function returned. A
    # deferred task loses it again when it resumes (Airflow re-renders the fields, with the sentinel,
    # in the resuming process); the prompt is in the task log of the first try either way.
    overwrite_rtif_after_execution: bool = True

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if "prompt" in kwargs:
            raise TypeError(
                f"@task.devin({python_callable.__name__}): do not pass prompt=...; the decorated function "
                "returns the prompt."
            )
        super().__init__(
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            prompt=SET_DURING_EXECUTION,
            **kwargs,
        )

    def execute(self, context: Context) -> Any:
        """Build the prompt from the function, render it, then create (or reattach to) the session.

        :param context: The task's Airflow context.
        """
        context_merge(context, self.op_kwargs)
        kwargs = determine_kwargs(self.python_callable, self.op_args, context)
        returned = self.python_callable(*self.op_args, **kwargs)
        self._check_returned_prompt(returned, context)
        # Positional arguments are templates' names too, under their parameter names.
        context_merge(context, self._positional_arguments())
        # Only the prompt is rendered here: the other template fields were rendered before execute().
        self.prompt = self.render_template(returned, context)
        self.log.info("Prompt for Devin, from %s():\n%s", self.python_callable.__name__, self.prompt)
        return super().execute(context)

    def _check_returned_prompt(self, returned: object, context: Context) -> None:
        if isinstance(returned, str) and returned.strip():
            return
        ti = context.get("ti")
        map_index = getattr(ti, "map_index", -1)
        where = f"task {self.task_id!r}"
        if isinstance(map_index, int) and map_index >= 0:
            where += f" (map index {map_index})"
        what = "an empty string" if isinstance(returned, str) else f"{type(returned).__name__} {returned!r:.200}"
        raise TypeError(
            f"@task.devin {where}: the function {self.python_callable.__name__}() must return the prompt for "
            f"Devin as a non-empty string, but it returned {what}. No Devin session was created. To skip the "
            "task instead, raise AirflowSkipException in the function."
        )

    def _positional_arguments(self) -> dict[str, Any]:
        if not self.op_args:
            return {}
        try:
            bound = inspect.signature(self.python_callable).bind_partial(*self.op_args)
        except TypeError:
            return {}
        return {name: value for name, value in bound.arguments.items() if name not in self.op_kwargs}


def devin_task(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> TaskDecorator:
    """Turn a function that returns a prompt into a task that runs it as a Devin session (``@task.devin``).

    Registered with Airflow as the ``devin`` task decorator, so ``from airflow.sdk import task`` and
    ``@task.devin(...)`` work once the provider is installed; ``from
    airflow_provider_devin.decorators.devin import devin_task`` works too.

    :param python_callable: The function to decorate (given when used as a bare ``@task.devin``).
    :param kwargs: Arguments of :class:`~airflow_provider_devin.operators.devin.DevinCreateSessionOperator`
        (all but ``prompt``: ``devin_conn_id``, ``title``, ``tags``, ``structured_output_schema``,
        ``deferrable``, ``outlets``, ...) and of ``BaseOperator`` (``task_id``, ``retries``, ...).
    """
    return task_decorator_factory(
        python_callable=python_callable,
        decorated_operator_class=_DevinDecoratedOperator,
        **kwargs,
    )
