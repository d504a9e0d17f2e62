"""The wait machinery the operators share: sync polling, deferral, and turning the one event into a result
or an exception (:func:`raise_for_event`, also used by the sensor).

A wait starts from a :class:`~airflow_provider_devin.session.SessionSnapshot` just read by the
operator; from then on the sync loop and the trigger read the same way (``read_session`` from the
last message position) and decide with the same :class:`~airflow_provider_devin.status.SessionWatch`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from airflow_provider_devin._compat import AirflowException, AirflowFailException, BaseOperator, conf
from airflow_provider_devin.links.devin import SESSION_ID_XCOM_KEY, SESSION_URL_XCOM_KEY, DevinSessionLink
from airflow_provider_devin.validation import (
    DEFAULT_POLL_ERROR_WINDOW,
    DEFAULT_SUSPEND_STALL_TIMEOUT,
    validate_on_blocked,
    validate_poll_error_window,
)

if TYPE_CHECKING:
    from airflow_provider_devin._compat import Context
    from airflow_provider_devin.hooks.devin import DevinHook
    from airflow_provider_devin.operators._human import HumanSettings
    from airflow_provider_devin.session import SessionSnapshot
    from airflow_provider_devin.status import SessionWatch, StatusPolicy

# The status policy and the idempotency helpers are imported where they are used: a DAG file builds
# these operators on every parse and needs neither (tests/operators/test_import_cost.py).

#: Extra seconds ``defer(timeout=...)`` allows beyond the trigger's own deadline. It is only a
#: backstop: the trigger's ``timeout`` event arrives first and lets the task clean up.
DEFER_BACKSTOP = 600.0

#: XCom recording, before a deferral on an Airflow without the task state store (before 3.3),
#: whether this task instance created the session; ``execute_complete`` reads it back when it is
#: called with the event alone (``dag.test()`` before 3.3 does that).
IS_NEW_SESSION_XCOM_KEY = "is_new_session"


class ResumeKwargs(TypedDict, total=False):
    """What a deferred wait hands its ``execute_complete`` beside the event (``defer(kwargs=...)``):
    the session, its web URL and (operators) whether this task instance created it."""

    session_id: str | None
    url: str | None
    is_new_session: bool | None


def default_deferrable(deferrable: bool | None) -> bool:
    """``deferrable`` as given, else ``[operators] default_deferrable`` (as Airflow's own operators do)."""
    if deferrable is None:
        return conf.getboolean("operators", "default_deferrable", fallback=False)
    return deferrable


def seconds(value: timedelta | float | int | None, field: str) -> float | None:
    """A positive number of seconds from seconds or a timedelta (``None`` stays ``None``)."""
    if value is None:
        return None
    number = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(number, bool) or not isinstance(number, (int, float)) or number <= 0:
        raise ValueError(f"{field} must be a positive number of seconds or a timedelta, got {value!r}")
    return float(number)


def window_seconds(value: timedelta | float) -> float:
    """Validate ``poll_error_window``: seconds >= 0 or a timedelta."""
    return validate_poll_error_window(value.total_seconds() if isinstance(value, timedelta) else value)


def acu_budget_value(value: object) -> float | None:
    """Validate ``acu_budget``: a positive number of ACUs or ``None``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"acu_budget must be a positive number of ACUs, got {value!r}")
    return float(value)


def wait_deadline(
    context: Context, timeout: float | None, execution_timeout: timedelta | None
) -> tuple[float | None, str | None]:
    """The wait's absolute deadline (epoch seconds) and which limit sets it: the earlier of ``timeout``
    from now and the task's ``execution_timeout`` from the start of this try.

    Airflow does not enforce ``execution_timeout`` on a deferred wait the way the provider needs (3.x
    runs past it; 2.11 fails the task with ``TaskDeferralTimeout`` without calling
    ``execute_complete``, so the session would keep running). The wait therefore ends a little
    before ``execution_timeout`` (a margin of 10 %, between 1 and 30 s) and cleans up itself.

    :param context: the task's Airflow context.
    :param timeout: the operator's own ``timeout`` in seconds, or ``None``.
    :param execution_timeout: the task's ``execution_timeout``, or ``None``.
    """
    now = time.time()
    candidates: list[tuple[float, str]] = []
    if timeout is not None:
        candidates.append((now + timeout, "timeout"))
    if execution_timeout is not None:
        limit = execution_timeout.total_seconds()
        start = getattr(context.get("ti"), "start_date", None)
        started = start.timestamp() if start is not None else now
        margin = min(30.0, max(1.0, limit * 0.1))
        candidates.append((started + limit - margin, "execution_timeout"))
    if not candidates:
        return None, None
    deadline, limit_name = min(candidates)
    return deadline, limit_name


def describe_limit(limit: str | None, timeout: float | None, execution_timeout: timedelta | None) -> str:
    """Which limit a timed-out wait hit, in words, for the failure message."""
    if limit == "execution_timeout" and execution_timeout is not None:
        return f"the task's execution_timeout ({execution_timeout.total_seconds():.0f}s) was about to pass"
    return f"timeout={timeout:.0f}s passed" if timeout is not None else "the wait's deadline passed"


def raise_for_event(event: Mapping[str, Any], policy: StatusPolicy, url: str | None) -> None:
    """Raise the exception a wait's final event calls for; return when it is a success.

    The one mapping from an outcome to an Airflow exception: ``failed`` / ``error`` fail the task
    (without retries when the event says ``retryable: false``), ``blocked`` fails unless
    ``on_blocked="succeed"``, ``timeout`` raises the (already worded) timeout failure.

    :param event: a validated event.
    :param policy: the wait's policy.
    :param url: the session's web page, for the blocked message.
    """
    from airflow_provider_devin.status import WaitOutcome

    status = event["status"]
    message = event.get("message") or ""
    if status in (WaitOutcome.FAILED.value, WaitOutcome.ERROR.value, WaitOutcome.TIMEOUT.value):
        raise (AirflowException if event.get("retryable", True) else AirflowFailException)(message)
    if status == WaitOutcome.BLOCKED.value and not policy.blocked_is_success():
        raise AirflowException(
            f"{message} Answer it in the Devin UI ({url or event['session_id']}) or set on_blocked='succeed' or 'wait'."
        )


class DevinHookMixin:
    """The ``hook`` property of the Devin operators and the sensor: one hook per task, built on first use."""

    devin_conn_id: str
    _hook: DevinHook | None = None

    @property
    def hook(self) -> DevinHook:
        """The :class:`~airflow_provider_devin.hooks.devin.DevinHook` for ``devin_conn_id``."""
        if self._hook is None:
            from airflow_provider_devin.hooks.devin import DevinHook

            self._hook = DevinHook(devin_conn_id=self.devin_conn_id)
        return self._hook


class DevinSessionWaitOperator(DevinHookMixin, BaseOperator):
    """Base of the Devin operators: waiting (sync or deferred), events, timeout and budget cleanup.

    :param devin_conn_id: The Airflow connection to Devin.
    :param wait_for_completion: Wait for the session to reach an end state per the status policy.
    :param deferrable: Wait on the triggerer instead of a worker slot (default:
        ``[operators] default_deferrable``).
    :param poll_interval: Seconds between status polls.
    :param timeout: How long to wait (seconds or timedelta) before giving up; ``None`` waits without
        limit.
    :param on_blocked: ``"succeed"``, ``"fail"``, ``"wait"`` or ``"human"``: what a session waiting for a
        person means (``"human"``: ask in Airflow's human-in-the-loop, Airflow 3.1+; see
        :mod:`airflow_provider_devin.operators._human`).
    :param suspend_stall_timeout: Seconds a session may stay suspended before the wait fails.
    :param terminate_on_timeout: Terminate the session when ``timeout`` passes.
    :param acu_budget: Client-side ACU budget: once the session's ``acus_consumed`` passes it, the
        session is terminated and the task fails without retries (the v3 API reports ACUs).
    :param poll_error_window: Seconds (or timedelta) the status polls may keep failing transiently
        (429, 5xx, no answer) before the wait fails; default 15 minutes (see docs/guides/production.md).
    :param idempotency_key: Overrides the task instance key (templated).
    :param hitl_assignees: With ``on_blocked="human"``: who may answer (Airflow user ids or
        ``{"id", "name"}`` dicts); default: anyone allowed to act on the DAG.
    :param hitl_timeout: With ``on_blocked="human"``: how long (seconds or timedelta) a question waits
        for an answer; default ``None``: no limit.
    :param hitl_timeout_default: With ``hitl_timeout``: ``"Accept as done"`` or ``"Fail"``, taken when
        no one answers in time; default ``None``: the task fails then.
    :param terminate_on_fail: When a person chooses "Fail": terminate the session (default: the same
        as ``terminate_on_timeout``).
    """

    operator_extra_links = (DevinSessionLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        devin_conn_id: str = "devin_default",
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        poll_interval: timedelta | float = 30.0,
        timeout: timedelta | float | None = timedelta(hours=24),
        on_blocked: str = "succeed",
        suspend_stall_timeout: timedelta | float = DEFAULT_SUSPEND_STALL_TIMEOUT,
        terminate_on_timeout: bool = True,
        acu_budget: float | None = None,
        poll_error_window: timedelta | float = DEFAULT_POLL_ERROR_WINDOW,
        idempotency_key: str | None = None,
        hitl_assignees: Any = None,
        hitl_timeout: timedelta | float | None = None,
        hitl_timeout_default: str | None = None,
        terminate_on_fail: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.devin_conn_id = devin_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable(deferrable)
        self.poll_interval = seconds(poll_interval, "poll_interval")
        self.timeout = seconds(timeout, "timeout")
        self.on_blocked = validate_on_blocked(on_blocked)
        self.suspend_stall_timeout = seconds(suspend_stall_timeout, "suspend_stall_timeout")
        self.terminate_on_timeout = terminate_on_timeout
        self.acu_budget = acu_budget_value(acu_budget)
        self.poll_error_window = window_seconds(poll_error_window)
        self.idempotency_key = idempotency_key
        # Checked here so a bad hitl_* value (or on_blocked="human" on Airflow 2.11) fails at parse;
        # the module is loaded only for a task that uses it (tests/operators/test_import_cost.py).
        self.human: HumanSettings | None = None
        hitl = (hitl_assignees, hitl_timeout, hitl_timeout_default)
        if self.on_blocked == "human" or any(value is not None for value in hitl):
            from airflow_provider_devin.operators._human import HumanSettings

            self.human = HumanSettings(
                self.on_blocked,
                *hitl,
                terminate_on_timeout if terminate_on_fail is None else terminate_on_fail,
            )

    # --- helpers ----------------------------------------------------------------------------

    def _policy(self) -> StatusPolicy:
        from airflow_provider_devin.status import OnBlocked, StatusPolicy

        return StatusPolicy(
            on_blocked=OnBlocked(self.on_blocked),
            suspend_stall_timeout=self.suspend_stall_timeout or DEFAULT_SUSPEND_STALL_TIMEOUT,
            max_acu_limit=self._max_acu_limit(),
            acu_budget=self.acu_budget,
        )

    def _max_acu_limit(self) -> int | None:
        return None

    def _terminate_on_kill(self) -> bool:
        return False

    def _key(self, context: Context) -> str:
        from airflow_provider_devin.idempotency import task_instance_key

        if self.idempotency_key is None:
            return task_instance_key(context)
        key = self.idempotency_key
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"idempotency_key must be a non-empty string, got {key!r}")
        return key.strip()

    @staticmethod
    def _push_session(context: Context, session_id: str, url: str | None) -> None:
        # Pushed the moment the session exists, so the "Devin Session" link works while the task
        # is still running or deferred, and downstream tasks can find the session even if this
        # one fails later.
        ti = context["ti"]
        ti.xcom_push(key=SESSION_ID_XCOM_KEY, value=session_id)
        if url:
            ti.xcom_push(key=SESSION_URL_XCOM_KEY, value=url)

    def _terminate(self, session_id: str, why: str) -> str:
        from airflow_provider_devin.exceptions import DevinAPIError

        try:
            self.hook.terminate_session(session_id)
        except DevinAPIError as err:
            # Most often: the session had already ended. Termination is best effort.
            self.log.warning("Could not terminate Devin session %s (%s): %s", session_id, why, err)
            return f"Terminating it failed: {err}"
        self.log.info("Terminated Devin session %s (%s).", session_id, why)
        return "It was terminated"

    # --- waiting ------------------------------------------------------------------------------

    def _wait(
        self,
        context: Context,
        *,
        snapshot: SessionSnapshot,
        url: str | None,
        is_new_session: bool | None,
        reply_pending: bool = False,
    ) -> dict[str, Any]:
        """Wait (sync or deferred) on a session just read; return the result."""
        from airflow_provider_devin.status import SessionWatch, Verdict, WaitOutcome, verdict_event

        session_id = snapshot.view.session_id
        deadline, limit = wait_deadline(context, self.timeout, self.execution_timeout)
        watch = SessionWatch(self._policy(), session_id, self.log, reply_pending=reply_pending)
        verdict = watch.observe(snapshot)
        if not verdict.outcome.is_terminal and not self.wait_for_completion:
            verdict = Verdict(WaitOutcome.SUCCESS, verdict.status_class, "Not waiting for completion.")
        if verdict.outcome.is_terminal:
            event = verdict_event(verdict, session_id, watch.summary(snapshot.view, url))
            return self._conclude(context, event, url=url, is_new_session=is_new_session)
        if self.deferrable:
            if isinstance(is_new_session, bool) and context.get("task_state_store") is None:
                context["ti"].xcom_push(key=IS_NEW_SESSION_XCOM_KEY, value=is_new_session)
            self._defer(watch, deadline, limit, url, is_new_session, snapshot.handover())
        event = self._poll_until_done(watch, deadline, url, limit)
        return self._conclude(context, event, url=url, is_new_session=is_new_session)

    def _defer(
        self,
        watch: SessionWatch,
        deadline: float | None,
        limit: str | None,
        url: str | None,
        is_new_session: bool | None,
        handover: list[Any] | None = None,
    ) -> None:
        from airflow_provider_devin.triggers.devin import DevinSessionTrigger

        policy = watch.policy
        trigger = DevinSessionTrigger(
            devin_conn_id=self.devin_conn_id,
            session_id=watch.session_id,
            poll_interval=self.poll_interval or 30.0,
            deadline=deadline,
            on_blocked=policy.on_blocked.value,
            suspend_stall_timeout=policy.suspend_stall_timeout,
            max_acu_limit=policy.max_acu_limit,
            acu_budget=policy.acu_budget,
            terminate_on_kill=self._terminate_on_kill(),
            poll_error_window=self.poll_error_window,
            reply_pending=watch.reply_pending,
            position=watch.position.encode(),
            handover=handover,
            previous_class=watch.previous_class.value if watch.previous_class is not None else None,
            last_status=watch.last_label,
            url=url,
            deadline_limit=limit,
        )
        backstop = None if deadline is None else timedelta(seconds=max(0.0, deadline - time.time()) + DEFER_BACKSTOP)
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            # execute_complete runs in a fresh process: everything it needs travels here.
            kwargs={"session_id": watch.session_id, "url": url, "is_new_session": is_new_session},
            timeout=backstop,
        )

    def _poll_until_done(
        self, watch: SessionWatch, deadline: float | None, url: str | None, limit: str | None
    ) -> dict[str, Any]:
        from airflow_provider_devin.status import (
            OutageWindow,
            WaitOutcome,
            is_transient_poll_error,
            make_event,
            verdict_event,
        )

        session_id = watch.session_id
        outage = OutageWindow(self.poll_error_window)
        while True:
            now = time.time()
            if deadline is not None and now >= deadline:
                return make_event(
                    WaitOutcome.TIMEOUT,
                    session_id,
                    f"Devin session {session_id} did not finish in time; last status: {watch.last_status}.",
                    {"session_id": session_id, "status_enum": None},
                    reason=limit,
                )
            pause = self.poll_interval or 30.0
            time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - now)))
            started = outage.started()
            try:
                snapshot = self.hook.read_session(session_id, watch.position)
            except Exception as err:
                if not is_transient_poll_error(err):
                    raise
                if outage.failed(started):
                    raise AirflowException(
                        f"Polling Devin session {session_id} kept failing for {outage.down_for():.0f} s "
                        f"(poll_error_window={self.poll_error_window:g} s; last status: {watch.last_status}); "
                        f"the session was left running and a retry reattaches to it. Last error: {err}"
                    ) from err
                self.log.warning(
                    "Polling Devin failing for %.0f s of the %g s outage window, will retry: %s",
                    outage.down_for(),
                    self.poll_error_window,
                    err,
                )
                continue
            outage.succeeded()
            verdict = watch.observe(snapshot)
            if verdict.outcome.is_terminal:
                return verdict_event(verdict, session_id, watch.summary(snapshot.view, url))

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, **resume: Unpack[ResumeKwargs]
    ) -> dict[str, Any]:
        """Resume after the trigger fired: validate its event and finish (or fail) the task.

        :param context: The task's Airflow context.
        :param event: The trigger's event payload.
        :param resume: What the task deferred with (``ResumeKwargs``): ``session_id``, the
            session's ``url`` and ``is_new_session``, whether this task instance created it.
        """
        from airflow_provider_devin.status import validate_event

        session_id, url, is_new_session = resume.get("session_id"), resume.get("url"), resume.get("is_new_session")
        if not session_id:
            # The triggerer merges defer(kwargs=...) with the event; `dag.test()` passes only the
            # event. Fall back to what this try pushed and recorded before deferring.
            session_id, url, is_new_session = self._recover_deferral_state(context)
        if not session_id:
            raise AirflowException(f"execute_complete was called without the session id; event: {event!r:.300}")
        try:
            checked = validate_event(event, session_id)
        except ValueError as err:
            raise AirflowException(str(err)) from err
        return self._conclude(context, checked, url=url, is_new_session=is_new_session)

    def resume_after_human(self, context: Context, event: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Resume after a person answered Devin's question in Airflow (``on_blocked="human"``).

        :param context: The task's Airflow context.
        :param event: Airflow's human-in-the-loop response (chosen option, the reply, who, when).
        :param kwargs: The question this task parked on (session id, round, question text).
        """
        from airflow_provider_devin.operators import _human

        return _human.resume(self, context, event, kwargs)

    def _recover_deferral_state(self, context: Context) -> tuple[str | None, str | None, bool | None]:
        from airflow_provider_devin.idempotency import TASK_STATE_KEY

        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        pull: dict[str, Any] = {"task_ids": self.task_id}
        if map_index is not None and map_index >= 0:
            pull["map_indexes"] = map_index
        session_id = ti.xcom_pull(key=SESSION_ID_XCOM_KEY, **pull)
        url = ti.xcom_pull(key=SESSION_URL_XCOM_KEY, **pull)
        store = context.get("task_state_store")
        if store is not None:  # Airflow 3.3+: the record the create operator wrote
            record = store.get(TASK_STATE_KEY)
            is_new = record.get("is_new_session") if isinstance(record, Mapping) else None
        else:  # before 3.3: what _wait pushed before deferring
            is_new = ti.xcom_pull(key=IS_NEW_SESSION_XCOM_KEY, **pull)
        return session_id, url, is_new if isinstance(is_new, bool) else None

    def _conclude(
        self,
        context: Context,
        event: Mapping[str, Any],
        *,
        url: str | None,
        is_new_session: bool | None,
    ) -> dict[str, Any]:
        from airflow_provider_devin.status import REASON_ACU_BUDGET, WaitOutcome

        status = event["status"]
        session_id = event["session_id"]
        event = dict(event)
        if status == WaitOutcome.TIMEOUT.value:
            event["message"] = (
                f"{event['message']} Gave up because "
                f"{describe_limit(event.get('reason'), self.timeout, self.execution_timeout)}."
            )
            if self.terminate_on_timeout:
                event["message"] = (
                    f"{event['message']} {self._terminate(session_id, 'timeout')} (terminate_on_timeout=True)."
                )
            else:
                event["message"] = f"{event['message']} It was left running (terminate_on_timeout=False)."
        elif event.get("reason") == REASON_ACU_BUDGET:
            # The trigger only reads; stopping the spend is the worker's job.
            event["message"] = f"{event['message']} {self._terminate(session_id, 'ACU budget exceeded')}."
        if status == WaitOutcome.BLOCKED.value and self.human is not None:
            from airflow_provider_devin.operators import _human

            _human.ask(self, context, event, url=url, is_new_session=is_new_session)
        raise_for_event(event, self._policy(), url)
        summary = dict(event["summary"])
        summary["session_id"] = session_id
        summary["url"] = url or summary.get("url")
        summary["is_new_session"] = is_new_session
        if self.human is not None:
            from airflow_provider_devin.operators._human import load_rounds

            summary["human_rounds"] = load_rounds(context, self.task_id, session_id)
        self.log.info("The wait ended with Devin status %s.", summary.get("status_enum"))
        result = self._finish(summary)
        self._on_success(context, session_id)
        self._record_outlets(context, result)
        return result

    def _record_outlets(self, context: Context, result: Mapping[str, Any]) -> None:
        if self.outlets:  # downstream DAGs scheduled on these assets see the session and its PRs
            from airflow_provider_devin.assets import record_asset_events

            record_asset_events(context, self.outlets, result)

    def _finish(self, result: dict[str, Any]) -> dict[str, Any]:
        return result

    def _on_success(self, context: Context, session_id: str) -> None:
        """Called once the task instance has its result (the create operator records it)."""
