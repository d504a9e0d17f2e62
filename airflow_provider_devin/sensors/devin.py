"""DevinSessionSensor: wait for an existing Devin session (poke, reschedule or deferrable)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Unpack

from airflow_provider_devin._compat import (
    AirflowException,
    AirflowSensorTimeout,
    BaseSensorOperator,
    PokeReturnValue,
)
from airflow_provider_devin.links.devin import SESSION_ID_XCOM_KEY, SESSION_URL_XCOM_KEY, DevinSessionLink
from airflow_provider_devin.operators._waiting import (
    DevinHookMixin,
    ResumeKwargs,
    acu_budget_value,
    default_deferrable,
    describe_limit,
    raise_for_event,
    seconds,
    wait_deadline,
    window_seconds,
)
from airflow_provider_devin.status import (
    DEFAULT_POLL_ERROR_WINDOW,
    DEFAULT_SUSPEND_STALL_TIMEOUT,
    REASON_ACU_BUDGET,
    OnBlocked,
    SessionWatch,
    StatusPolicy,
    WaitOutcome,
    is_transient_poll_error,
    validate_event,
    verdict_event,
)

if TYPE_CHECKING:
    from airflow_provider_devin._compat import Context
    from airflow_provider_devin.session import SessionSnapshot

__all__ = ["DevinSessionSensor"]

#: Task state store key a ``reschedule`` sensor uses to remember when the session was first seen
#: suspended, so the stall window spans pokes (each poke is a new process).
_SUSPENDED_SINCE_KEY = "devin_suspended_since"


class DevinSessionSensor(DevinHookMixin, BaseSensorOperator):
    """Wait until a Devin session ends per the status policy, and return its summary.

    A finished turn succeeds; a session that cannot continue fails; a session waiting for a person
    follows ``on_blocked``; a session suspended longer than ``suspend_stall_timeout`` fails;
    out-of-budget and cancelled sessions fail without retries; everything else (including unknown
    values) keeps waiting. The sensor only reads, except that past ``acu_budget`` it terminates the
    session it watches (the budget exists to stop the spend). The return value (XCom
    ``return_value``) is the session summary: ``session_id``, ``url``, ``status_enum``, ``status``,
    ``status_detail``, ``title``, ``structured_output``, ``pull_request_url``, ``pull_request_urls``,
    ``acus_consumed`` and ``last_devin_message``.

    :param session_id: The session to wait on, e.g.
        ``"{{ ti.xcom_pull(task_ids='create', key='session_id') }}"`` (templated).
    :param devin_conn_id: The Airflow connection to Devin.
    :param on_blocked: ``"succeed"`` (default), ``"fail"`` or ``"wait"`` (``"human"`` is refused: a
        sensor has no answer to send; use it on the operators).
    :param suspend_stall_timeout: Seconds (or timedelta) a session may stay suspended before the
        sensor fails; default 30 minutes.
    :param acu_budget: Client-side ACU budget (v3 reports ``acus_consumed``): past it the session is
        terminated and the sensor fails without retries.
    :param deferrable: Wait on the triggerer (default: ``[operators] default_deferrable``); the
        sensor's ``timeout`` is passed to ``defer`` and ``poke_interval`` is the poll interval.
    :param poll_error_window: Deferred only: seconds (or timedelta) the trigger's polls may keep
        failing transiently (429, 5xx, no answer) before the sensor fails; default 15 minutes. A
        poking sensor retries at its next poke and its ``timeout`` bounds a longer outage.
    :param kwargs: Passed to ``BaseSensorOperator`` (``poke_interval``, ``timeout``, ``mode``,
        ``soft_fail``, ...).
    """

    template_fields: Sequence[str] = ("session_id",)
    operator_extra_links = (DevinSessionLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        session_id: str,
        devin_conn_id: str = "devin_default",
        on_blocked: str = "succeed",
        suspend_stall_timeout: timedelta | float = DEFAULT_SUSPEND_STALL_TIMEOUT,
        acu_budget: float | None = None,
        deferrable: bool | None = None,
        poll_error_window: timedelta | float = DEFAULT_POLL_ERROR_WINDOW,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.deferrable = default_deferrable(deferrable)
        self.session_id = session_id
        self.devin_conn_id = devin_conn_id
        self.on_blocked = OnBlocked.coerce(on_blocked).value
        if self.on_blocked == OnBlocked.HUMAN.value:
            # A sensor only watches: it has nothing to send Devin, and parking it would hold the
            # question away from the task that can answer (docs/guides/human-in-the-loop.md).
            raise ValueError(
                "DevinSessionSensor does not support on_blocked='human': a sensor cannot send Devin the answer. "
                "Use on_blocked='wait' (answer in the Devin UI) or on_blocked='human' on the operator that "
                "created or messages the session."
            )
        self.acu_budget = acu_budget_value(acu_budget)
        # Validates (ValueError naming the field) at DAG parse time.
        self._policy = StatusPolicy(
            on_blocked=OnBlocked(self.on_blocked),
            suspend_stall_timeout=seconds(suspend_stall_timeout, "suspend_stall_timeout")
            or DEFAULT_SUSPEND_STALL_TIMEOUT,
            acu_budget=self.acu_budget,
        )
        self.suspend_stall_timeout = self._policy.suspend_stall_timeout
        self.poll_error_window = window_seconds(poll_error_window)
        self._watch: SessionWatch | None = None
        self._handover: list[Any] | None = None  # the last poke's observation, for the trigger
        self._url: str | None = None

    def _session_id(self) -> str:
        from airflow_provider_devin.validation import require_id

        return require_id("session_id", self.session_id)

    def execute(self, context: Context) -> Any:
        """Poke once; when not done, defer (deferrable) or keep poking as ``BaseSensorOperator`` does.

        :param context: The task's Airflow context.
        """
        if not self.deferrable:
            return super().execute(context)
        done = self.poke(context)
        if done:
            self.log.info("Success criteria met. Exiting.")
            return done.xcom_value if isinstance(done, PokeReturnValue) else None
        from airflow_provider_devin.triggers.devin import DevinSessionTrigger

        session_id = self._session_id()
        watch = self._watch
        url = self._url or self.hook.session_url(session_id)
        # The earlier of the sensor's timeout and the task's execution_timeout (see wait_deadline).
        deadline, limit = wait_deadline(context, self.timeout, self.execution_timeout)
        self.defer(
            trigger=DevinSessionTrigger(
                devin_conn_id=self.devin_conn_id,
                session_id=session_id,
                poll_interval=self.poke_interval,
                deadline=deadline,
                on_blocked=self.on_blocked,
                suspend_stall_timeout=self.suspend_stall_timeout,
                acu_budget=self.acu_budget,
                terminate_on_kill=False,
                poll_error_window=self.poll_error_window,
                position=watch.position.encode() if watch is not None else None,
                handover=self._handover,
                previous_class=watch.previous_class.value if watch and watch.previous_class else None,
                last_status=watch.last_label if watch is not None else None,
                url=url,
                deadline_limit=limit,
            ),
            method_name="execute_complete",
            kwargs={"session_id": session_id, "url": url},
            timeout=timedelta(seconds=self.timeout),
        )

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """Check the session once.

        :param context: The task's Airflow context.
        """
        session_id = self._session_id()
        hook = self.hook
        watch = self._watch
        snapshot = self._read(session_id, watch)
        if snapshot is None:
            return False
        if self._url is None:
            self._url = snapshot.view.url or hook.session_url(session_id)
            ti = context["ti"]
            ti.xcom_push(key=SESSION_ID_XCOM_KEY, value=session_id)
            ti.xcom_push(key=SESSION_URL_XCOM_KEY, value=self._url)
        store = context.get("task_state_store") if self.reschedule else None
        if watch is None or watch.session_id != session_id:
            since = store.get(_SUSPENDED_SINCE_KEY) if store is not None else None
            watch = self._watch = SessionWatch(
                self._policy,
                session_id,
                self.log,
                suspended_since=float(since) if isinstance(since, (int, float)) else None,
            )
        before = watch.suspended_since
        verdict = watch.observe(snapshot)
        if store is not None and watch.suspended_since != before:
            if watch.suspended_since is None:
                store.delete(_SUSPENDED_SINCE_KEY)
            else:
                store.set(_SUSPENDED_SINCE_KEY, watch.suspended_since)
        # Reschedule mode without a task state store (Airflow before 3.3): nothing carries the stall
        # clock to the next reschedule (XComs are cleared at each one), so a session suspended for no
        # known reason would never reach suspend_stall_timeout. This poke keeps polling until the
        # session resumes or the window ends, holding the worker slot for at most that window.
        stall_clock_is_lost = self.reschedule and store is None
        while verdict.outcome is WaitOutcome.RUNNING and stall_clock_is_lost and watch.suspended_since is not None:
            time.sleep(self.poke_interval)
            snapshot = self._read(session_id, watch)
            if snapshot is None:
                return False
            verdict = watch.observe(snapshot)
        self._handover = snapshot.handover()
        if verdict.outcome is WaitOutcome.RUNNING:
            return False
        event = verdict_event(verdict, session_id, watch.summary(snapshot.view, self._url))
        return PokeReturnValue(is_done=True, xcom_value=self._conclude(event, self._url))

    def _read(self, session_id: str, watch: SessionWatch | None) -> SessionSnapshot | None:
        """Read the session (from the watch's position), or None after a transient failure."""
        try:
            return self.hook.read_session(session_id, watch.position if watch is not None else None)
        except Exception as err:
            if not is_transient_poll_error(err):
                raise
            # The hook already retried; the sensor's own timeout bounds a longer outage.
            self.log.warning("Polling Devin session %s failed, will poke again: %s", session_id, err)
            return None

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, **resume: Unpack[ResumeKwargs]
    ) -> dict[str, Any]:
        """Resume after the trigger fired: validate the event, return the summary or fail.

        :param context: The task's Airflow context.
        :param event: The trigger's event payload.
        :param resume: What the sensor deferred with: the ``session_id`` and its ``url``.
        """
        # The triggerer passes defer(kwargs=...) along with the event; `dag.test()` passes only the
        # event. session_id is a template field, re-rendered in this fresh process.
        session_id = resume.get("session_id") or self._session_id()
        url = resume.get("url") or self.hook.session_url(session_id)
        try:
            checked = validate_event(event, session_id)
        except ValueError as err:
            raise AirflowException(str(err)) from err
        if checked["status"] == WaitOutcome.TIMEOUT.value:
            why = describe_limit(checked.get("reason"), self.timeout, self.execution_timeout)
            raise AirflowSensorTimeout(f"{checked['message']} Gave up because {why}.")
        return self._conclude(checked, url)

    def _conclude(self, event: dict[str, Any], url: str | None) -> dict[str, Any]:
        if event.get("reason") == REASON_ACU_BUDGET:
            event = {**event, "message": f"{event['message']} {self._terminate(event['session_id'])}"}
        raise_for_event(event, self._policy, url)
        summary = dict(event["summary"])
        summary["url"] = url or summary.get("url")
        return summary

    def _terminate(self, session_id: str) -> str:
        from airflow_provider_devin.exceptions import DevinAPIError

        try:
            self.hook.terminate_session(session_id)
        except DevinAPIError as err:
            self.log.warning("Could not terminate Devin session %s (ACU budget exceeded): %s", session_id, err)
            return f"Terminating it failed: {err}"
        self.log.info("Terminated Devin session %s (ACU budget exceeded).", session_id)
        return "It was terminated."
