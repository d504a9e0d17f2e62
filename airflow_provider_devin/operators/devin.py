"""Operators that start work in Devin: create a session, send a message, and wait for the result.

Retry safety
------------
Each task instance (dag_id, task_id, run_id, map_index; **not** the try number) gets an
idempotency key, overridable with the templated ``idempotency_key``. It is hashed into a short
tag::

    airflow-ti:<first 16 hex digits of sha256(key)>

where the default key is ``"<dag_id>/<task_id>/<run_id>/<map_index>"``.
:class:`DevinCreateSessionOperator` puts that tag on the session it creates and, before creating,
looks for a session of its task instance - first in the task state store (Airflow 3.3+), then in
Devin by tag - and reattaches to it. An expired (or terminated) one is replaced by a session that
also carries ``airflow-ti-generation:<n>`` (n = 2, 3, ...), so the replacement create is a
different request from the one Devin's ``idempotent`` matching would answer with the dead session.
:class:`DevinSendMessageOperator` ends its message with the trailer line ``[airflow-ti:<hash>]``
(after a blank line) and does not send again when the session already holds a message ending
with that trailer.

Heavy imports (the hook, requests, jsonschema, the trigger) happen inside methods: DAG files import
this module on every parse.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_devin._compat import AirflowException, BaseOperator, conf, mask_secret
from airflow_provider_devin.links.devin import SESSION_ID_XCOM_KEY, SESSION_URL_XCOM_KEY, DevinSessionLink
from airflow_provider_devin.status import (
    DEFAULT_SUSPEND_STALL_TIMEOUT,
    OnBlocked,
    SessionStatus,
    SessionWatch,
    StatusPolicy,
    WaitOutcome,
    is_transient_poll_error,
    make_event,
    session_summary,
    validate_event,
)

if TYPE_CHECKING:
    import jinja2

    from airflow_provider_devin._compat import Context
    from airflow_provider_devin.hooks.devin import DevinHook

__all__ = [
    "TASK_STATE_KEY",
    "DevinCreateSessionOperator",
    "DevinSendMessageOperator",
    "idempotency_tag",
    "message_trailer",
    "task_instance_key",
]

#: Key under which the create operator records its session in the task state store (Airflow 3.3+).
TASK_STATE_KEY = "devin_session"

#: Prefix of the tag (and message trailer) that ties a session or message to a task instance.
TAG_PREFIX = "airflow-ti:"

#: Tag added to a session that replaces expired/terminated ones of the same task instance.
GENERATION_TAG_PREFIX = "airflow-ti-generation:"

#: Extra seconds ``defer(timeout=...)`` allows beyond the trigger's own deadline. It is only a
#: backstop: the trigger's ``timeout`` event arrives first and lets the task clean up.
_DEFER_BACKSTOP = 600.0

_DEFAULT_MAX_POLL_ERRORS = 5

#: Upper bound on sessions read while looking for this task instance's session by tag.
_MAX_SESSIONS_SCANNED = 1000


def task_instance_key(context: Context) -> str:
    """The default idempotency key of the running task instance: ``dag_id/task_id/run_id/map_index``.

    The try number is deliberately absent: every try of a task instance shares one key, which is
    what makes a retry find the session an earlier try created.

    :param context: the task's Airflow context.
    """
    ti = context["ti"]
    map_index = getattr(ti, "map_index", -1)
    return f"{ti.dag_id}/{ti.task_id}/{ti.run_id}/{-1 if map_index is None else map_index}"


def idempotency_tag(key: str) -> str:
    """The session tag for an idempotency key: ``airflow-ti:`` + the first 16 hex digits of its sha256.

    :param key: the idempotency key.
    """
    return TAG_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:16]


def message_trailer(key: str) -> str:
    """The last line :class:`DevinSendMessageOperator` adds to a message: ``[airflow-ti:<hash>]``.

    :param key: the idempotency key.
    """
    return f"[{idempotency_tag(key)}]"


def _seconds(value: timedelta | float | int | None, field: str) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise ValueError(f"{field} must be a positive number of seconds or a timedelta, got {value!r}")
    return float(seconds)


def _render_plain(value: Any, context: Context, env: jinja2.Environment) -> Any:
    """Render Jinja inside strings without ever treating a string as a template *file* name.

    Used for fields whose strings are data (attachment paths such as ``notes.md``, secret values):
    Airflow's own rendering would try to load any string ending in a ``template_ext`` as a template.
    """
    if isinstance(value, str):
        if "{{" in value or "{%" in value:
            return env.from_string(value).render(**context)
        return value
    if isinstance(value, (list, tuple)):
        return [_render_plain(item, context, env) for item in value]
    if isinstance(value, Mapping):
        return {key: _render_plain(item, context, env) for key, item in value.items()}
    return value


class _DevinSessionWaitOperator(BaseOperator):
    """Shared waiting machinery: sync polling, deferral, event handling, timeout cleanup.

    :param devin_conn_id: The Airflow connection to Devin.
    :param wait_for_completion: Wait for the session to reach an end state per the status policy.
    :param deferrable: Wait on the triggerer instead of a worker slot (default:
        ``[operators] default_deferrable``).
    :param poll_interval: Seconds between status polls.
    :param timeout: How long to wait (seconds or timedelta) before giving up; ``None`` waits without
        limit.
    :param on_blocked: ``"succeed"``, ``"fail"`` or ``"wait"``: what a ``blocked`` session means.
    :param suspend_stall_timeout: Seconds a session may stay suspended before the wait fails.
    :param terminate_on_timeout: Terminate the session when ``timeout`` passes.
    :param idempotency_key: Overrides the task instance key (templated).
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
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.devin_conn_id = devin_conn_id
        self.wait_for_completion = wait_for_completion
        if deferrable is None:
            deferrable = conf.getboolean("operators", "default_deferrable", fallback=False)
        self.deferrable = deferrable
        self.poll_interval = _seconds(poll_interval, "poll_interval")
        self.timeout = _seconds(timeout, "timeout")
        self.on_blocked = OnBlocked.coerce(on_blocked).value
        self.suspend_stall_timeout = _seconds(suspend_stall_timeout, "suspend_stall_timeout")
        self.terminate_on_timeout = terminate_on_timeout
        self.idempotency_key = idempotency_key
        self._hook: DevinHook | None = None

    # --- helpers ----------------------------------------------------------------------------

    @property
    def hook(self) -> DevinHook:
        """The :class:`~airflow_provider_devin.hooks.devin.DevinHook` for ``devin_conn_id``."""
        if self._hook is None:
            from airflow_provider_devin.hooks.devin import DevinHook

            self._hook = DevinHook(devin_conn_id=self.devin_conn_id)
        return self._hook

    def _policy(self, max_acu_limit: int | None = None) -> StatusPolicy:
        return StatusPolicy(
            on_blocked=OnBlocked(self.on_blocked),
            suspend_stall_timeout=self.suspend_stall_timeout or DEFAULT_SUSPEND_STALL_TIMEOUT,
            max_acu_limit=max_acu_limit,
        )

    def _max_acu_limit(self) -> int | None:
        return None

    def _key(self, context: Context) -> str:
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
            detail = self.hook.terminate_session(session_id)
        except DevinAPIError as err:
            # Most often: the session had already ended. Termination is best effort.
            self.log.warning("Could not terminate Devin session %s (%s): %s", session_id, why, err)
            return f"terminating it failed: {err}"
        self.log.info("Terminated Devin session %s (%s): %s", session_id, why, detail)
        return "it was terminated"

    # --- waiting ------------------------------------------------------------------------------

    def _wait(
        self,
        context: Context,
        *,
        details: Mapping[str, Any],
        url: str | None,
        is_new_session: bool | None,
        reply_after_index: int | None = None,
    ) -> dict[str, Any]:
        """Wait (sync or deferred) on a session whose details were just fetched; return the result."""
        session_id = str(details["session_id"])
        deadline = time.time() + self.timeout if self.timeout is not None else None
        policy = self._policy(self._max_acu_limit())
        watch = SessionWatch(policy, session_id, self.log, reply_after_index=reply_after_index)
        verdict = watch.observe(details)
        if verdict.outcome.is_terminal or not self.wait_for_completion:
            event = make_event(
                verdict.outcome if verdict.outcome.is_terminal else WaitOutcome.SUCCESS,
                session_id,
                verdict.message or "Not waiting for completion (wait_for_completion=False).",
                session_summary(details),
            )
            return self._conclude(context, event, url=url, is_new_session=is_new_session)
        if self.deferrable:
            self._defer(session_id, deadline, url, is_new_session, reply_after_index)
        event = self._poll_until_done(watch, session_id, deadline)
        return self._conclude(context, event, url=url, is_new_session=is_new_session)

    def _defer(
        self,
        session_id: str,
        deadline: float | None,
        url: str | None,
        is_new_session: bool | None,
        reply_after_index: int | None,
    ) -> None:
        from airflow_provider_devin.triggers.devin import DevinSessionTrigger

        policy = self._policy(self._max_acu_limit())
        trigger = DevinSessionTrigger(
            devin_conn_id=self.devin_conn_id,
            session_id=session_id,
            poll_interval=self.poll_interval or 30.0,
            deadline=deadline,
            on_blocked=policy.on_blocked.value,
            suspend_stall_timeout=policy.suspend_stall_timeout,
            max_acu_limit=policy.max_acu_limit,
            terminate_on_kill=self._terminate_on_kill(),
            max_poll_errors=_DEFAULT_MAX_POLL_ERRORS,
            reply_after_index=reply_after_index,
        )
        backstop = None if deadline is None else timedelta(seconds=self.timeout + _DEFER_BACKSTOP)  # type: ignore[operator]
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            # execute_complete runs in a fresh process: everything it needs travels here.
            kwargs={"session_id": session_id, "url": url, "is_new_session": is_new_session},
            timeout=backstop,
        )

    def _terminate_on_kill(self) -> bool:
        return False

    def _poll_until_done(self, watch: SessionWatch, session_id: str, deadline: float | None) -> dict[str, Any]:
        failures = 0
        while True:
            now = time.time()
            if deadline is not None and now >= deadline:
                return make_event(
                    WaitOutcome.TIMEOUT,
                    session_id,
                    f"Devin session {session_id} did not finish within timeout={self.timeout:.0f}s; "
                    f"last status: {watch.last_status}.",
                    {"session_id": session_id, "status_enum": watch.last_status},
                )
            pause = self.poll_interval or 30.0
            time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - now)))
            try:
                details = self.hook.get_session(session_id)
            except Exception as err:
                if not is_transient_poll_error(err):
                    raise
                failures += 1
                if failures > _DEFAULT_MAX_POLL_ERRORS:
                    raise AirflowException(
                        f"Polling Devin session {session_id} failed {failures} times in a row "
                        f"(last status: {watch.last_status}); the session was left running and a retry "
                        f"reattaches to it. Last error: {err}"
                    ) from err
                self.log.warning(
                    "Polling Devin session %s failed (%d/%d in a row), will retry: %s",
                    session_id,
                    failures,
                    _DEFAULT_MAX_POLL_ERRORS,
                    err,
                )
                continue
            failures = 0
            verdict = watch.observe(details)
            if verdict.outcome.is_terminal:
                return make_event(verdict.outcome, session_id, verdict.message, session_summary(details))

    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        session_id: str | None = None,
        url: str | None = None,
        is_new_session: bool | None = None,
    ) -> dict[str, Any]:
        """Resume after the trigger fired: validate its event and finish (or fail) the task.

        :param context: The task's Airflow context.
        :param event: The trigger's event payload.
        :param session_id: The session this task deferred on (from ``defer(kwargs=...)``).
        :param url: The session's web URL.
        :param is_new_session: Whether this task instance created the session.
        """
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

    def _recover_deferral_state(self, context: Context) -> tuple[str | None, str | None, bool | None]:
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        pull: dict[str, Any] = {"task_ids": self.task_id}
        if map_index is not None and map_index >= 0:
            pull["map_indexes"] = map_index
        session_id = ti.xcom_pull(key=SESSION_ID_XCOM_KEY, **pull)
        url = ti.xcom_pull(key=SESSION_URL_XCOM_KEY, **pull)
        store = context.get("task_state_store")
        record = store.get(TASK_STATE_KEY) if store is not None else None
        is_new = record.get("is_new_session") if isinstance(record, Mapping) else None
        return session_id, url, is_new if isinstance(is_new, bool) else None

    def _conclude(
        self, context: Context, event: Mapping[str, Any], *, url: str | None, is_new_session: bool | None
    ) -> dict[str, Any]:
        status = event["status"]
        session_id = event["session_id"]
        message = event.get("message") or ""
        if status == WaitOutcome.TIMEOUT.value:
            if self.terminate_on_timeout:
                message = f"{message} {self._terminate(session_id, 'timeout')} (terminate_on_timeout=True)."
            else:
                message = f"{message} It was left running (terminate_on_timeout=False)."
            raise AirflowException(message)
        if status in (WaitOutcome.FAILED.value, WaitOutcome.ERROR.value):
            raise AirflowException(message)
        if status == WaitOutcome.BLOCKED.value and not self._policy().blocked_is_success():
            raise AirflowException(
                f"{message} Answer it in the Devin UI ({url or session_id}) or set on_blocked='succeed' or 'wait'."
            )
        summary = dict(event["summary"])
        summary["session_id"] = session_id
        summary["url"] = url
        summary["is_new_session"] = is_new_session
        self.log.info("Devin session %s ended the wait with status %s: %s", session_id, summary.get("status_enum"), url)
        return self._finish(summary)

    def _finish(self, result: dict[str, Any]) -> dict[str, Any]:
        return result


class DevinCreateSessionOperator(_DevinSessionWaitOperator):
    """Create a Devin session (exactly once per task instance) and wait for its result.

    Before creating, the operator looks for a session this task instance already created - in the
    task state store (Airflow 3.3+), then in Devin by the ``airflow-ti:<hash>`` tag - and reattaches
    to it; an expired or terminated one is replaced. Creates are sent with ``idempotent: true``.
    ``session_id`` and ``session_url`` are pushed to XCom as soon as the session exists.

    The return value (XCom ``return_value``) is a JSON-serialisable dict: ``session_id``, ``url``,
    ``status_enum``, ``title``, ``structured_output``, ``pull_request_url``, ``last_devin_message``
    and ``is_new_session`` (``False`` when the task reattached to an existing session).

    :param prompt: The task for Devin; a path ending in ``.md`` or ``.txt`` is read as a template
        file (templated).
    :param devin_conn_id: The Airflow connection to Devin.
    :param title: Session title; Devin generates one when omitted (templated).
    :param tags: Extra session tags, at most 49 (the provider adds one) (templated).
    :param playbook_id: A playbook to follow (templated).
    :param snapshot_id: A machine snapshot to start from (templated).
    :param knowledge_ids: Knowledge notes to use; ``None`` = all, ``[]`` = none (templated).
    :param secret_ids: Org secrets to expose; ``None`` = all, ``[]`` = none (templated).
    :param structured_output_schema: JSON Schema (Draft 7) for ``structured_output``, as a dict or
        a path to a ``.json`` file (absolute, or relative to the DAG folder / template_searchpath).
    :param max_acu_limit: ACU ceiling for the session (> 0).
    :param unlisted: Hide the session from listings.
    :param session_secrets: Secrets that exist only in this session: a list of
        ``{"key", "value", "sensitive"}`` dicts or a ``{key: value}`` mapping. Jinja in the values
        is rendered; the values are masked in logs and never stored as rendered template fields
        (templated).
    :param attachments: Files to upload and reference in the prompt with ``ATTACHMENT:"url"``
        lines: local paths or Airflow ``ObjectStoragePath`` objects. Jinja in path strings is
        rendered, but a path is never read as a template (templated).
    :param wait_for_completion: Wait for the session to end per the status policy; when ``False``
        return right after creating (or reattaching).
    :param deferrable: Wait on the triggerer instead of a worker slot (default:
        ``[operators] default_deferrable``).
    :param poll_interval: Seconds (or timedelta) between status polls; default 30.
    :param timeout: How long to wait before giving up (seconds or timedelta; default 24 hours;
        ``None`` = no limit).
    :param on_blocked: ``"succeed"`` (default), ``"fail"`` or ``"wait"``.
    :param suspend_stall_timeout: Seconds (or timedelta) a session may stay suspended before the
        task fails; default 30 minutes.
    :param terminate_on_kill: Terminate the session when the task is killed (default ``True``).
    :param terminate_on_timeout: Terminate the session when ``timeout`` passes (default ``True``).
    :param require_structured_output: Fail when the session ends without a ``structured_output`` or
        with one that does not validate against ``structured_output_schema``.
    :param idempotency_key: Overrides the task instance key the session is tagged with (templated).
    """

    template_fields: Sequence[str] = (
        "prompt",
        "title",
        "tags",
        "playbook_id",
        "snapshot_id",
        "knowledge_ids",
        "secret_ids",
        "idempotency_key",
    )
    template_ext: Sequence[str] = (".md", ".txt")
    template_fields_renderers = {"prompt": "md"}

    def __init__(
        self,
        *,
        prompt: str,
        devin_conn_id: str = "devin_default",
        title: str | None = None,
        tags: Sequence[str] | None = None,
        playbook_id: str | None = None,
        snapshot_id: str | None = None,
        knowledge_ids: Sequence[str] | None = None,
        secret_ids: Sequence[str] | None = None,
        structured_output_schema: Mapping[str, Any] | str | None = None,
        max_acu_limit: int | None = None,
        unlisted: bool | None = None,
        session_secrets: Sequence[Mapping[str, Any]] | Mapping[str, str] | None = None,
        attachments: Sequence[str | os.PathLike[str] | Any] | None = None,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        poll_interval: timedelta | float = 30.0,
        timeout: timedelta | float | None = timedelta(hours=24),
        on_blocked: str = "succeed",
        suspend_stall_timeout: timedelta | float = DEFAULT_SUSPEND_STALL_TIMEOUT,
        terminate_on_kill: bool = True,
        terminate_on_timeout: bool = True,
        require_structured_output: bool = False,
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            devin_conn_id=devin_conn_id,
            wait_for_completion=wait_for_completion,
            deferrable=deferrable,
            poll_interval=poll_interval,
            timeout=timeout,
            on_blocked=on_blocked,
            suspend_stall_timeout=suspend_stall_timeout,
            terminate_on_timeout=terminate_on_timeout,
            idempotency_key=idempotency_key,
            **kwargs,
        )
        from airflow_provider_devin.validation import validate_max_acu_limit

        self.prompt = prompt
        self.title = title
        self.tags = tags
        self.playbook_id = playbook_id
        self.snapshot_id = snapshot_id
        self.knowledge_ids = knowledge_ids
        self.secret_ids = secret_ids
        if structured_output_schema is not None and not isinstance(structured_output_schema, (Mapping, str)):
            raise ValueError(
                "structured_output_schema must be a JSON Schema dict or a path to a .json file, got "
                f"{type(structured_output_schema).__name__}"
            )
        if isinstance(structured_output_schema, str) and not structured_output_schema.endswith(".json"):
            raise ValueError(
                f"structured_output_schema must be a dict or a path ending in .json, got {structured_output_schema!r}"
            )
        self.structured_output_schema = structured_output_schema
        self.max_acu_limit = validate_max_acu_limit(max_acu_limit)
        self.unlisted = unlisted
        # Not template fields on purpose: rendered in render_template_fields() so that secret
        # values never reach the rendered-fields table, and attachment paths such as "notes.md"
        # are never mistaken for template files.
        self.session_secrets = session_secrets
        if attachments is not None and (isinstance(attachments, (str, bytes)) or not isinstance(attachments, Sequence)):
            raise ValueError("attachments must be a list of local paths or ObjectStoragePath objects")
        self.attachments = list(attachments) if attachments is not None else None
        self.terminate_on_kill = terminate_on_kill
        self.require_structured_output = require_structured_output
        self._session_id: str | None = None

    def _do_render_template_fields(
        self,
        parent: Any,
        template_fields: Iterable[str],
        context: Context,
        jinja_env: jinja2.Environment,
        seen_oids: set[int],
    ) -> None:
        # Overridden here rather than render_template_fields(): a mapped task (.partial().expand())
        # renders through the unmapped operator's _do_render_template_fields only.
        super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)
        if parent is not self:  # a nested object being rendered
            return
        if self.attachments is not None:
            self.attachments = _render_plain(self.attachments, context, jinja_env)
        if self.session_secrets is not None:
            self.session_secrets = _render_plain(self.session_secrets, context, jinja_env)
            self._mask_secrets()

    def _mask_secrets(self) -> None:
        secrets = self.session_secrets
        values = (
            secrets.values()
            if isinstance(secrets, Mapping)
            else [item.get("value") for item in (secrets or []) if isinstance(item, Mapping)]
        )
        for value in values:
            if isinstance(value, str) and value:
                mask_secret(value)

    def _max_acu_limit(self) -> int | None:
        return self.max_acu_limit

    def _terminate_on_kill(self) -> bool:
        return self.terminate_on_kill

    # --- input --------------------------------------------------------------------------------

    def _resolve_schema(self) -> dict[str, Any] | None:
        from airflow_provider_devin.validation import validate_structured_output_schema

        schema = self.structured_output_schema
        if schema is None:
            return None
        if isinstance(schema, str):
            path = self._find_file(schema)
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise ValueError(f"structured_output_schema: cannot read JSON from {path}: {err}") from err
            schema = loaded
        return validate_structured_output_schema(schema)

    def _find_file(self, name: str) -> Path:
        candidate = Path(name)
        if candidate.is_absolute():
            return candidate
        folders: list[str] = []
        dag = getattr(self, "dag", None) if self.has_dag() else None
        if dag is not None:
            folders.append(dag.folder)
            searchpath = dag.template_searchpath
            if isinstance(searchpath, str):
                folders.append(searchpath)
            elif searchpath:
                folders.extend(searchpath)
        for folder in folders:
            if (Path(folder) / candidate).is_file():
                return Path(folder) / candidate
        return candidate

    def _validated_request(self) -> dict[str, Any]:
        """Check every input before anything remote happens; return the create-call kwargs."""
        from airflow_provider_devin import validation

        prompt = validation.require_text("prompt", self.prompt)
        tags = validation.validate_tags(self.tags) or []
        if len(tags) > validation.MAX_TAGS - 2:
            raise ValueError(
                f"tags has {len(tags)} items; at most {validation.MAX_TAGS - 2} are allowed because the "
                "provider adds up to two of its own (airflow-ti, airflow-ti-generation)."
            )
        if self.title is not None:
            validation.require_text("title", self.title)
        for field in ("playbook_id", "snapshot_id"):
            if getattr(self, field) is not None:
                validation.require_id(field, getattr(self, field))
        return {
            "prompt": prompt,
            "title": self.title,
            "tags": tags,
            "playbook_id": self.playbook_id,
            "snapshot_id": self.snapshot_id,
            "knowledge_ids": validation.validate_id_list("knowledge_ids", self.knowledge_ids),
            "secret_ids": validation.validate_id_list("secret_ids", self.secret_ids),
            "session_secrets": validation.validate_session_secrets(self.session_secrets),
            "structured_output_schema": self._resolve_schema(),
            "max_acu_limit": self.max_acu_limit,
            "unlisted": self.unlisted,
        }

    def _attachment_files(self) -> list[Any]:
        files: list[Any] = []
        for index, item in enumerate(self.attachments or []):
            path = Path(item) if isinstance(item, (str, os.PathLike)) else item
            if not hasattr(path, "open") or not hasattr(path, "name"):
                raise ValueError(
                    f"attachments[{index}] must be a local path or an ObjectStoragePath, got {type(item).__name__}"
                )
            if isinstance(path, Path) and not path.is_file():
                raise ValueError(f"attachments[{index}]: {path} is not a readable file")
            files.append(path)
        return files

    # --- execution ------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        """Create (or reattach to) this task instance's session, then wait per the policy.

        :param context: The task's Airflow context.
        """
        request = self._validated_request()
        files = self._attachment_files()
        key = self._key(context)
        tag = idempotency_tag(key)
        hook = self.hook

        found, replaced = self._find_existing(context, tag)
        if found is not None:
            session_id, url, details = found
            self._session_id = session_id
            self._record(context, session_id, url, tag, False)
            return self._wait(context, details=details, url=url, is_new_session=False)

        prompt = request.pop("prompt")
        if files:
            lines = []
            for path in files:
                with path.open("rb") as handle:
                    attachment_url = hook.upload_attachment(handle, filename=path.name)
                self.log.info("Uploaded attachment %s as %s", path, attachment_url)
                lines.append(f'ATTACHMENT:"{attachment_url}"')
            prompt = prompt.rstrip("\n") + "\n\n" + "\n".join(lines)
        request["tags"] = [*request["tags"], tag]
        if replaced:
            # A replacement must not be the same request as the session it replaces, or Devin's
            # idempotency would hand the dead session back.
            request["tags"].append(f"{GENERATION_TAG_PREFIX}{len(replaced) + 1}")

        self.log.info("Creating a Devin session for this task instance (tag %s).", tag)
        # idempotent=True lets the hook retry the POST after a lost response without duplicating.
        created = hook.create_session(prompt, idempotent=True, **request)
        session_id = created["session_id"]
        url = created.get("url") or hook.session_url(session_id)
        is_new = created.get("is_new_session")
        # Record the session before anything else can fail: a crash from here on is recovered from
        # the task state store (and, should this write never happen, from the tag in Devin).
        self._session_id = session_id
        self._record(context, session_id, url, tag, is_new is not False)
        details = dict(hook.get_session(session_id))
        if is_new is False and (
            tag not in (details.get("tags") or [])
            or SessionStatus.parse(details.get("status_enum")) is SessionStatus.EXPIRED
        ):
            # Devin's idempotency matched some other request (same payload, other task instance) or
            # handed back a dead session: never adopt it; create a fresh one without idempotency.
            self.log.warning(
                "Devin returned existing session %s (status %s) for an idempotent create, but it is not "
                "a live session tagged %s; creating a new session instead.",
                session_id,
                details.get("status_enum"),
                tag,
            )
            created = hook.create_session(prompt, idempotent=False, **request)
            session_id, is_new = created["session_id"], True
            url = created.get("url") or hook.session_url(session_id)
            self._session_id = session_id
            self._record(context, session_id, url, tag, True)
            details = dict(hook.get_session(session_id))
        self.log.info(
            "Devin session %s %s: %s",
            session_id,
            "created" if is_new is not False else "returned by Devin for an identical earlier request",
            url,
        )
        return self._wait(context, details=details, url=url, is_new_session=is_new is not False)

    def _record(
        self, context: Context, session_id: str, url: str | None, tag: str, is_new_session: bool | None
    ) -> None:
        store = context.get("task_state_store")  # Airflow 3.3+; survives retries, unlike XCom
        if store is not None:
            store.set(
                TASK_STATE_KEY,
                {"session_id": session_id, "url": url, "tag": tag, "is_new_session": is_new_session},
            )
        self._push_session(context, session_id, url)

    def _find_existing(self, context: Context, tag: str) -> tuple[tuple[str, str, dict[str, Any]] | None, list[str]]:
        """Find this task instance's live session (or ``None``), and the dead ones being replaced."""
        from airflow_provider_devin.exceptions import DevinNotFoundError

        hook = self.hook
        replaced: list[str] = []
        store = context.get("task_state_store")
        record = store.get(TASK_STATE_KEY) if store is not None else None
        if isinstance(record, Mapping) and record.get("tag") == tag and record.get("session_id"):
            session_id = str(record["session_id"])
            try:
                details = dict(hook.get_session(session_id))
            except DevinNotFoundError:
                self.log.warning("Session %s from the task state store no longer exists in Devin.", session_id)
            else:
                if SessionStatus.parse(details.get("status_enum")) is not SessionStatus.EXPIRED:
                    url = record.get("url") or hook.session_url(session_id)
                    self.log.info(
                        "Reattaching to Devin session %s (status %s), recorded in the task state store by an "
                        "earlier try of this task instance; not creating a new session.",
                        session_id,
                        details.get("status_enum"),
                    )
                    return (session_id, str(url), details), []
                replaced.append(session_id)
        # The store cannot know a session whose create response was lost, or whose worker died
        # between the POST and the store write (or an Airflow without a store): Devin knows the tag.
        candidates = []
        for scanned, summary in enumerate(hook.iter_sessions(tags=[tag]), start=1):
            if tag in (summary.get("tags") or []):
                candidates.append(summary)
            if scanned >= _MAX_SESSIONS_SCANNED:
                # Devin filters by tag server-side; this only bounds the cost should it ever stop.
                self.log.warning("Stopped looking for sessions tagged %s after %d listed sessions.", tag, scanned)
                break
        candidates.sort(key=lambda s: str(s.get("created_at") or ""), reverse=True)
        for summary in candidates:
            session_id = str(summary["session_id"])
            if session_id in replaced:
                continue
            if SessionStatus.parse(summary.get("status_enum")) is SessionStatus.EXPIRED:
                replaced.append(session_id)
                continue
            details = dict(hook.get_session(session_id))
            if SessionStatus.parse(details.get("status_enum")) is SessionStatus.EXPIRED:
                replaced.append(session_id)
                continue
            self.log.info(
                "Reattaching to Devin session %s (status %s), found by its tag %s: an earlier try of this "
                "task instance created it; not creating a new session.",
                session_id,
                details.get("status_enum"),
                tag,
            )
            return (session_id, hook.session_url(session_id), details), replaced
        if replaced:
            self.log.warning(
                "Earlier session(s) of this task instance have expired or were terminated: %s. Creating a "
                "new session to replace them.",
                ", ".join(replaced),
            )
        else:
            self.log.info("No earlier Devin session for this task instance (tag %s).", tag)
        return None, replaced

    def _finish(self, result: dict[str, Any]) -> dict[str, Any]:
        ordered = {
            "session_id": result.get("session_id"),
            "url": result.get("url"),
            "status_enum": result.get("status_enum"),
            "title": result.get("title"),
            "structured_output": result.get("structured_output"),
            "pull_request_url": result.get("pull_request_url"),
            "last_devin_message": result.get("last_devin_message"),
            "is_new_session": result.get("is_new_session"),
        }
        if self.require_structured_output and self.wait_for_completion:
            self._check_structured_output(ordered)
        return ordered

    def _check_structured_output(self, result: Mapping[str, Any]) -> None:
        output = result.get("structured_output")
        session_id = result.get("session_id")
        if output is None:
            raise AirflowException(
                f"Devin session {session_id} ended (status {result.get('status_enum')}) without a "
                "structured_output, and require_structured_output=True."
            )
        schema = self._resolve_schema()
        if schema is None:
            return
        import jsonschema

        validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
        errors = sorted(validator_cls(schema).iter_errors(output), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.path) or "(root)"
            raise AirflowException(
                f"Devin session {session_id} returned a structured_output that does not match "
                f"structured_output_schema ({len(errors)} error(s); first at {where}: {first.message})."
            )

    def on_kill(self) -> None:
        """Terminate the session this task created or reattached to, when ``terminate_on_kill``."""
        if self._session_id and self.terminate_on_kill:
            self._terminate(self._session_id, "task killed")


class DevinSendMessageOperator(_DevinSessionWaitOperator):
    """Send a message to an existing Devin session, once per task instance, and optionally wait.

    The message gets a last line ``[airflow-ti:<hash>]`` (see the module docs). Before sending, the
    operator looks for that trailer in the session's messages, so a retry never delivers twice.

    :param session_id: The session to message, e.g.
        ``"{{ ti.xcom_pull(task_ids='create', key='session_id') }}"`` (templated).
    :param message: The message; a path ending in ``.md`` or ``.txt`` is read as a template file
        (templated).
    :param devin_conn_id: The Airflow connection to Devin.
    :param wait_for_completion: Wait for Devin to answer and the session to end per the policy
        (default ``False``: return once the message is delivered).
    :param deferrable: Wait on the triggerer instead of a worker slot (default:
        ``[operators] default_deferrable``).
    :param poll_interval: Seconds (or timedelta) between status polls; default 30.
    :param timeout: How long to wait (seconds or timedelta; default 24 hours; ``None`` = no limit).
    :param on_blocked: ``"succeed"`` (default), ``"fail"`` or ``"wait"``.
    :param suspend_stall_timeout: Seconds (or timedelta) a session may stay suspended before the
        task fails; default 30 minutes.
    :param terminate_on_timeout: Terminate the session when ``timeout`` passes (default ``False``:
        this task did not create it).
    :param idempotency_key: Overrides the task instance key carried by the trailer (templated).
    """

    template_fields: Sequence[str] = ("session_id", "message", "idempotency_key")
    template_ext: Sequence[str] = (".md", ".txt")
    template_fields_renderers = {"message": "md"}

    def __init__(
        self,
        *,
        session_id: str,
        message: str,
        devin_conn_id: str = "devin_default",
        wait_for_completion: bool = False,
        deferrable: bool | None = None,
        poll_interval: timedelta | float = 30.0,
        timeout: timedelta | float | None = timedelta(hours=24),
        on_blocked: str = "succeed",
        suspend_stall_timeout: timedelta | float = DEFAULT_SUSPEND_STALL_TIMEOUT,
        terminate_on_timeout: bool = False,
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            devin_conn_id=devin_conn_id,
            wait_for_completion=wait_for_completion,
            deferrable=deferrable,
            poll_interval=poll_interval,
            timeout=timeout,
            on_blocked=on_blocked,
            suspend_stall_timeout=suspend_stall_timeout,
            terminate_on_timeout=terminate_on_timeout,
            idempotency_key=idempotency_key,
            **kwargs,
        )
        self.session_id = session_id
        self.message = message

    @staticmethod
    def _find_trailer(messages: object, trailer: str) -> int | None:
        if not isinstance(messages, list):
            return None
        for index, item in enumerate(messages):
            if (
                isinstance(item, Mapping)
                and item.get("type") != "devin_message"
                and isinstance(item.get("message"), str)
                and item["message"].rstrip().endswith(trailer)
            ):
                return index
        return None

    def execute(self, context: Context) -> dict[str, Any]:
        """Send the message unless an earlier try already did, then optionally wait.

        :param context: The task's Airflow context.
        """
        from airflow_provider_devin import validation

        session_id = validation.require_id("session_id", self.session_id)
        text = validation.require_text("message", self.message)
        trailer = message_trailer(self._key(context))
        hook = self.hook

        details = dict(hook.get_session(session_id))
        url = hook.session_url(session_id)
        self._push_session(context, session_id, url)
        index = self._find_trailer(details.get("messages"), trailer)
        already_sent = index is not None
        if already_sent:
            self.log.info(
                "Session %s already holds this task instance's message (trailer %s), sent by an earlier "
                "try; not sending it again.",
                session_id,
                trailer,
            )
        else:
            history = details.get("messages")
            before = len(history) if isinstance(history, list) else 0
            detail = hook.send_message(session_id, f"{text.rstrip()}\n\n{trailer}")
            details = dict(hook.get_session(session_id))
            index = self._find_trailer(details.get("messages"), trailer)
            if index is None:
                if detail:
                    raise AirflowException(
                        f"Devin did not deliver the message to session {session_id} "
                        f"(status {details.get('status_enum')}): {detail}"
                    )
                index = before
            self.log.info("Sent message to Devin session %s (trailer %s).", session_id, trailer)
        if not self.wait_for_completion:
            return session_summary(details, url=url)
        return self._wait(context, details=details, url=url, is_new_session=None, reply_after_index=index)

    def _finish(self, result: dict[str, Any]) -> dict[str, Any]:
        result.pop("is_new_session", None)
        return result
