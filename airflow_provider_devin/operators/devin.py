"""Operators that start work in Devin: create a session, send a message, and wait for the result.

They work the same on Devin's v1 and v3 APIs (the connection decides; see the hook). Retry safety
is in :mod:`airflow_provider_devin.idempotency`: one session per task instance, found again by the
task state store or by its ``airflow-ti:<hash>`` tag, and a message sent at most once per task
instance (a ``[airflow-ti:<hash>]`` trailer line is looked for before sending).

Heavy imports (the hook, requests, jsonschema, the trigger) happen inside methods: DAG files import
this module on every parse.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_devin._compat import AirflowException, ResumableJobMixin, mask_secret
from airflow_provider_devin.operators._waiting import DevinSessionWaitOperator

if TYPE_CHECKING:
    from airflow_provider_devin._compat import Context
    from airflow_provider_devin.idempotency import (
        TASK_STATE_KEY,
        Attached,
        SessionFinder,
        idempotency_tag,
        message_trailer,
        task_instance_key,
    )

__all__ = [
    "TASK_STATE_KEY",
    "DevinCreateSessionOperator",
    "DevinSendMessageOperator",
    "idempotency_tag",
    "message_trailer",
    "task_instance_key",
]

#: Re-exported from :mod:`airflow_provider_devin.idempotency`, imported on first use: a DAG file
#: imports this module on every parse and needs none of them (tests/operators/test_import_cost.py).
_FROM_IDEMPOTENCY = frozenset({"TASK_STATE_KEY", "idempotency_tag", "message_trailer", "task_instance_key"})


def __getattr__(name: str) -> Any:
    if name in _FROM_IDEMPOTENCY:
        from airflow_provider_devin import idempotency

        return getattr(idempotency, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: get_job_status's first word for a session not to reattach to (Airflow then submits anew).
_REPLACE = "replace"
#: ... and for a session whose turn is done (session.StatusClass.FINISHED, not imported at DAG parse).
_TURN_DONE = "finished"

#: Create fields passed to the hook only when set (each exists in one API version or both).
_OPTIONAL_CREATE_FIELDS = (
    "snapshot_id",
    "unlisted",
    "repos",
    "structured_output_required",
    "devin_mode",
    "create_as_user_id",
    "resumable",
    "platform",
)

#: A create argument that is a list of strings (tags, ids, repositories), or ``None``.
_Strings = Sequence[str] | None


class DevinCreateSessionOperator(ResumableJobMixin, DevinSessionWaitOperator):
    """Create a Devin session (exactly once per task instance) and wait for its result.

    Before creating, the operator looks for a session this task instance already created - in the
    task state store (Airflow 3.3+), then in Devin by the ``airflow-ti:<hash>`` tag - and reattaches
    to it; a dead one (failed, cancelled, out of budget) is replaced. On v1 the create is sent with
    ``idempotent: true``; v3 has no idempotency, so an ambiguous create failure is resolved by
    looking for the session by tag, never by sending the create again blindly. ``session_id`` and
    ``session_url`` are pushed to XCom as soon as the session exists.

    The return value (XCom ``return_value``) is a JSON-serialisable dict: ``session_id``, ``url``,
    ``status_enum`` (v1's vocabulary on both versions), ``status``, ``status_detail``, ``title``,
    ``structured_output``, ``pull_request_url``, ``pull_request_urls``, ``acus_consumed`` (v3),
    ``last_devin_message`` and ``is_new_session`` (``False`` when the task reattached).

    :param prompt: The task for Devin (templated). A single file name ending in ``.md`` or ``.txt``
        (no spaces), found in the DAG folder or ``template_searchpath``, is read as a template file;
        any other text is the prompt itself, even when it ends in ``.md``.
    :param devin_conn_id: The Airflow connection to Devin.
    :param title: Session title; Devin generates one when omitted (templated).
    :param tags: Extra session tags, at most 47 (the provider adds up to three) (templated).
    :param playbook_id: A playbook to follow (templated).
    :param snapshot_id: A machine snapshot to start from (v1 only) (templated).
    :param knowledge_ids: Knowledge notes to use; ``None`` = all, ``[]`` = none (templated).
    :param secret_ids: Org secrets to expose; ``None`` = all, ``[]`` = none (templated).
    :param structured_output_schema: JSON Schema (Draft 7) for ``structured_output``, as a dict or
        a path to a ``.json`` file (absolute, or relative to the DAG folder / template_searchpath).
    :param max_acu_limit: ACU ceiling Devin enforces for the session (> 0).
    :param unlisted: Hide the session from listings (v1 only).
    :param repos: Repositories the session works on, e.g. ``["owner/repo"]`` (v3 only) (templated).
    :param structured_output_required: Whether Devin must deliver the structured output before its
        turn ends (v3 only; Devin's default is ``True``).
    :param devin_mode: ``normal``, ``fast``, ``lite``, ``ultra`` or ``fusion`` (v3 only).
    :param create_as_user_id: Create the session on behalf of this org member (v3 only).
    :param resumable: Keep the session's VM state after it stops (v3 only; Devin's default is ``True``).
    :param platform: VM platform or outpost pool name (v3 only).
    :param session_secrets: Secrets that exist only in this session: a list of
        ``{"key", "value", "sensitive"}`` dicts or a ``{key: value}`` mapping. Jinja in the values
        is rendered; the values are masked in logs and never stored as rendered template fields
        (templated).
    :param attachments: Files to upload for Devin: local paths or Airflow ``ObjectStoragePath``
        objects (sent as ``attachment_urls`` on v3, as ``ATTACHMENT:"url"`` prompt lines on v1).
        Jinja in path strings is rendered, but a path is never read as a template (templated).
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
    :param acu_budget: Client-side ACU budget: past it the session is terminated and the task fails
        without retries (v3 reports ``acus_consumed``).
    :param poll_error_window: Seconds (or timedelta) the status polls may keep failing transiently
        (429, 5xx, no answer) before the wait fails; default 15 minutes.
    :param terminate_on_kill: Terminate the session when the task is killed (default ``True``).
    :param terminate_on_timeout: Terminate the session when ``timeout`` passes (default ``True``).
    :param require_structured_output: Fail when the session ends without a ``structured_output`` or
        with one that does not validate against ``structured_output_schema``.
    :param reuse_finished_session: When a task instance that succeeded is cleared, return its
        finished session's result again instead of starting a new session (default ``False``: a clear
        means redo; a retry after a failure always reattaches). Needs Airflow 3.3's task state store to
        tell a clear from a retry; without it a clear reattaches.
    :param idempotency_key: Overrides the task instance key the session is tagged with (templated).
    :param durable: Airflow 3.3+: let Airflow's durable-execution contract (``ResumableJobMixin``)
        make the resume decision from the task state store and emit its ``resumable_job.*`` metrics
        (default ``True``). ``False`` turns off only that: the provider's own lookup (task state
        store, then the ``airflow-ti:`` tag) still runs, so one session per task instance holds
        either way. Accepted and ignored before 3.3 (``durable`` is then ``False``).
    """

    #: Airflow 3.3's ``external_id_key``: the task state store key of this task instance's session,
    #: ``devin_session`` (the same key the provider used before it adopted the mixin). Never rename
    #: it: a retry in flight reads the old key.
    external_id_key = "devin_session"  # = idempotency.TASK_STATE_KEY (not imported at DAG parse)

    template_fields: Sequence[str] = (
        "prompt",
        "title",
        "tags",
        "playbook_id",
        "snapshot_id",
        "knowledge_ids",
        "secret_ids",
        "repos",
        "idempotency_key",
    )
    # Template files are resolved by _inputs.template_file_source, which never mistakes a sentence
    # ending in ".md" for a file name (Airflow's template_ext would).
    template_ext: Sequence[str] = ()
    template_fields_renderers = {"prompt": "md"}

    # The create arguments as attributes (set from __init__'s table; rendered in place when templated).
    prompt: str
    title: str | None
    tags: _Strings
    playbook_id: str | None
    snapshot_id: str | None
    knowledge_ids: _Strings
    secret_ids: _Strings
    structured_output_schema: Mapping[str, Any] | str | None
    max_acu_limit: int | None
    unlisted: bool | None
    repos: _Strings
    structured_output_required: bool | None
    devin_mode: str | None
    create_as_user_id: str | None
    resumable: bool | None
    platform: str | None

    # Set by execute() for the resume decision and the methods the mixin calls after it.
    _finder: SessionFinder | None = None
    _create_request: tuple[dict[str, Any], list[Any]] = ({}, [])
    _attached: Attached | None = None
    _result: dict[str, Any] | None = None

    def __init__(
        self,
        *,
        prompt: str,
        title: str | None = None,
        tags: Sequence[str] | None = None,
        playbook_id: str | None = None,
        snapshot_id: str | None = None,
        knowledge_ids: Sequence[str] | None = None,
        secret_ids: Sequence[str] | None = None,
        structured_output_schema: Mapping[str, Any] | str | None = None,
        max_acu_limit: int | None = None,
        unlisted: bool | None = None,
        repos: Sequence[str] | None = None,
        structured_output_required: bool | None = None,
        devin_mode: str | None = None,
        create_as_user_id: str | None = None,
        resumable: bool | None = None,
        platform: str | None = None,
        session_secrets: Sequence[Mapping[str, Any]] | Mapping[str, str] | None = None,
        attachments: Sequence[str | os.PathLike[str] | Any] | None = None,
        terminate_on_kill: bool = True,
        require_structured_output: bool = False,
        reuse_finished_session: bool = False,
        **kwargs: Any,
    ) -> None:
        # The wait parameters (devin_conn_id, deferrable, poll_interval, timeout, on_blocked, ...)
        # are DevinSessionWaitOperator's, documented above.
        super().__init__(**kwargs)
        from airflow_provider_devin.validation import (
            check_attachments_argument,
            check_schema_argument,
            validate_max_acu_limit,
        )

        check_schema_argument(structured_output_schema)
        # The create arguments, each kept under its own name (the template fields are rendered there).
        create_arguments = {
            "prompt": prompt,
            "title": title,
            "tags": tags,
            "playbook_id": playbook_id,
            "snapshot_id": snapshot_id,
            "knowledge_ids": knowledge_ids,
            "secret_ids": secret_ids,
            "structured_output_schema": structured_output_schema,
            "max_acu_limit": validate_max_acu_limit(max_acu_limit),
            "unlisted": unlisted,
            "repos": repos,
            "structured_output_required": structured_output_required,
            "devin_mode": devin_mode,
            "create_as_user_id": create_as_user_id,
            "resumable": resumable,
            "platform": platform,
        }
        for name, value in create_arguments.items():
            setattr(self, name, value)
        # Not template fields on purpose: rendered in execute() so that secret values never reach
        # the rendered-fields table, and attachment paths such as "notes.md" are never mistaken for
        # template files.
        self.session_secrets = session_secrets
        self.attachments = check_attachments_argument(attachments)
        self.terminate_on_kill = terminate_on_kill
        self.require_structured_output = require_structured_output
        self.reuse_finished_session = reuse_finished_session
        self._session_id: str | None = None

    def _render_inputs(self, context: Context) -> None:
        """Render what is not a template field: the prompt file, attachment paths and secret values."""
        from airflow_provider_devin.operators import _inputs

        env = self.get_template_env()
        source = _inputs.template_file_source(self.prompt, env, self.log, "prompt")
        if source is not None:
            self.prompt = self.render_template(source, context, env)
        if self.attachments is not None:
            self.attachments = _inputs.render_plain(self.attachments, context, env)
        if self.session_secrets is not None:
            self.session_secrets = _inputs.render_plain(self.session_secrets, context, env)
            for value in _inputs.secret_values(self.session_secrets):
                mask_secret(value)

    def _max_acu_limit(self) -> int | None:
        return self.max_acu_limit

    def _terminate_on_kill(self) -> bool:
        return self.terminate_on_kill

    def _resolve_schema(self) -> dict[str, Any] | None:
        from airflow_provider_devin.operators import _inputs

        return _inputs.resolve_schema(self.structured_output_schema, _inputs.dag_folders(self))

    def _validated_request(self) -> dict[str, Any]:
        """Check every input before anything remote happens; return the create-call kwargs."""
        from airflow_provider_devin import validation
        from airflow_provider_devin.idempotency import PROVIDER_TAG_COUNT

        prompt = validation.require_text("prompt", self.prompt)
        tags = validation.validate_tags(self.tags) or []
        if len(tags) > validation.MAX_TAGS - PROVIDER_TAG_COUNT:
            raise ValueError(
                f"tags has {len(tags)} items; at most {validation.MAX_TAGS - PROVIDER_TAG_COUNT} are allowed because "
                f"the provider adds up to {PROVIDER_TAG_COUNT} of its own (airflow-ti, airflow, airflow-ti-generation)."
            )
        if self.title is not None:
            validation.require_text("title", self.title)
        for field in ("playbook_id", "snapshot_id"):
            if getattr(self, field) is not None:
                validation.require_id(field, getattr(self, field))
        request: dict[str, Any] = {
            "prompt": prompt,
            "title": self.title,
            "tags": tags,
            "playbook_id": self.playbook_id,
            "knowledge_ids": validation.validate_id_list("knowledge_ids", self.knowledge_ids),
            "secret_ids": validation.validate_id_list("secret_ids", self.secret_ids),
            "session_secrets": validation.validate_session_secrets(self.session_secrets),
            "structured_output_schema": self._resolve_schema(),
            "max_acu_limit": self.max_acu_limit,
        }
        for field in _OPTIONAL_CREATE_FIELDS:
            if getattr(self, field) is not None:
                request[field] = getattr(self, field)
        return request

    def execute(self, context: Context) -> dict[str, Any]:
        """Create (or reattach to) this task instance's session, then wait per the policy.

        :param context: The task's Airflow context.
        """
        from airflow_provider_devin.idempotency import SessionFinder, idempotency_tag
        from airflow_provider_devin.operators import _inputs

        self._render_inputs(context)
        request = self._validated_request()
        files = _inputs.attachment_files(self.attachments)
        hook = self.hook
        tag = idempotency_tag(self._key(context))
        # Every argument checked against the connection's API version before anything remote.
        hook.check_create_session(request["prompt"], **{k: v for k, v in request.items() if k != "prompt"})

        def record(session_id: str, url: str | None, is_new: bool) -> None:
            self._session_id = session_id
            self._push_session(context, session_id, url)

        self._finder = SessionFinder(
            hook,
            self.log,
            tag=tag,
            store=context.get("task_state_store"),
            record=record,
            reuse_finished_session=self.reuse_finished_session,
        )
        self._create_request = (request, files)
        self._attached = None
        self._result = None
        return self.execute_resumable(context)

    # --- Airflow 3.3's durable-execution contract (ResumableJobMixin) ----------------------------
    #
    # The mixin reads the task state store (key ``devin_session``), asks get_job_status, then either
    # reconnects (poll_until_complete), returns the result of a finished session (get_job_result) or
    # submits (submit_job). It leaves one window open: a worker dying after the create and before
    # the store write. submit_job closes it: it looks for the task instance's session by its
    # ``airflow-ti:`` tag in Devin before creating anything. Before 3.3 a stand-in runs submit_job,
    # poll_until_complete and get_job_result in a row (submit_job then also reads the store).

    def get_job_status(self, external_id: Any, context: Context) -> str:
        """The state of the session the task state store names, as ``"<class> (<status>)"``.

        ``class`` is the provider's status class (``working``, ``finished``, ``needs_human``...);
        a session not to reattach to reads ``"replace (...)"`` (it ended without finishing, the
        task instance succeeded before a clear, or it is gone or another key's).

        :param external_id: The stored record (``session_id``, ``url``, ``tag``, ``generation``...).
        :param context: The task's Airflow context.
        """
        self._attached = self._session_finder.find_recorded(external_id)
        if self._attached is None:
            if self._session_finder.min_generation > 1:
                return f"{_REPLACE} (the task instance succeeded before it was cleared: a clear means redo)"
            if self._session_finder.replaced:
                return f"{_REPLACE} (the session ended without finishing)"
            return f"{_REPLACE} (no live session of this task instance recorded)"
        view = self._attached.snapshot.view
        return f"{view.status_class.value} ({view.status_label})"

    def is_job_active(self, status: str) -> bool:
        """Whether to reconnect: the session is live and its turn not done (working, paused,
        waiting for a person, idle, or a status this release does not know).

        :param status: What :meth:`get_job_status` returned.
        """
        # get_job_status writes either "replace (...)" or a status class; every class but
        # "finished" is one to wait on again.
        return status.split(" ", 1)[0] not in (_REPLACE, _TURN_DONE)

    def is_job_succeeded(self, status: str) -> bool:
        """Whether the session already finished its turn (its result is returned without waiting).

        :param status: What :meth:`get_job_status` returned.
        """
        return status.split(" ", 1)[0] == _TURN_DONE

    def submit_job(self, context: Context) -> dict[str, Any] | None:
        """Find this task instance's session by its tag (closing the mixin's crash window), else create
        it; return the record the task state store keeps.

        :param context: The task's Airflow context.
        """
        from airflow_provider_devin.idempotency import readable_tag

        attached = self._session_finder.find()
        if attached is None:
            request, files = self._create_request
            prompt = request.pop("prompt")
            urls = []
            for path in files:
                with path.open("rb") as handle:
                    urls.append(self.hook.upload_attachment(handle, filename=path.name))
                self.log.info("Uploaded attachment %s as %s", path, urls[-1])
            if urls:
                request["attachment_urls"] = urls
            request["tags"] = [*request["tags"], self._session_finder.tag, readable_tag(context)]
            attached = self._session_finder.create(prompt, request)
        self._attached = attached
        return self._session_finder.stored_record

    # The mixin declares "-> None", but on a reconnect execute_resumable returns what this returns
    # as the task's result (``return self.poll_until_complete(...)``, Airflow 3.3.2): so it returns it.
    def poll_until_complete(self, external_id: Any, context: Context) -> dict[str, Any]:  # type: ignore[override]
        """Wait on the session (polling, or deferred to the triggerer) and return the task's result.

        :param external_id: The stored record (the session itself was attached already).
        :param context: The task's Airflow context.
        """
        if self._attached is None:
            raise AirflowException(f"No Devin session was attached before waiting (record {external_id!r:.200}).")
        attached = self._attached
        self._result = self._wait(
            context, snapshot=attached.snapshot, url=attached.url, is_new_session=attached.is_new_session
        )
        return self._result

    def get_job_result(self, external_id: Any, context: Context) -> dict[str, Any]:
        """The task's result: what the wait returned, or, for a session that had already finished
        its turn, the same result read at once.

        :param external_id: The stored record.
        :param context: The task's Airflow context.
        """
        if self._result is None:
            return self.poll_until_complete(external_id, context)
        return self._result

    @property
    def _session_finder(self) -> SessionFinder:
        if self._finder is None:
            raise AirflowException("execute() builds the session finder before the resume decision.")
        return self._finder

    def _finish(self, result: dict[str, Any]) -> dict[str, Any]:
        if self.require_structured_output and self.wait_for_completion:
            from airflow_provider_devin.operators import _inputs

            _inputs.check_structured_output(
                result.get("structured_output"),
                self._resolve_schema(),
                result.get("session_id"),
                result.get("status_enum"),
            )
        return result

    def _on_success(self, context: Context, session_id: str) -> None:
        from airflow_provider_devin.idempotency import record_success

        record_success(context.get("task_state_store"), session_id)

    def on_kill(self) -> None:
        """Terminate the session this task created or reattached to, when ``terminate_on_kill``."""
        if self._session_id and self.terminate_on_kill:
            self._terminate(self._session_id, "task killed")


class DevinSendMessageOperator(DevinSessionWaitOperator):
    """Send a message to an existing Devin session, once per task instance, and optionally wait.

    The message gets a last line ``[airflow-ti:<hash>]``. Before sending, the operator looks for
    that trailer in the session's messages, so a retry never delivers twice.

    :param session_id: The session to message, e.g.
        ``"{{ ti.xcom_pull(task_ids='create', key='session_id') }}"`` (templated).
    :param message: The message (templated). A single file name ending in ``.md`` or ``.txt`` (no
        spaces), found in the DAG folder or ``template_searchpath``, is read as a template file; any
        other text is the message itself.
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
    :param acu_budget: Client-side ACU budget for the wait (v3): past it the session is terminated
        and the task fails without retries.
    :param poll_error_window: Seconds (or timedelta) the status polls may keep failing transiently
        (429, 5xx, no answer) before the wait fails; default 15 minutes.
    :param terminate_on_timeout: Terminate the session when ``timeout`` passes (default ``False``:
        this task did not create it).
    :param idempotency_key: Overrides the task instance key carried by the trailer (templated).
    """

    template_fields: Sequence[str] = ("session_id", "message", "idempotency_key")
    template_ext: Sequence[str] = ()  # see DevinCreateSessionOperator
    template_fields_renderers = {"message": "md"}

    def __init__(
        self,
        *,
        session_id: str,
        message: str,
        **kwargs: Any,
    ) -> None:
        # The wait parameters are DevinSessionWaitOperator's; this operator does not wait by default
        # and, since it did not create the session, leaves it running on timeout.
        kwargs.setdefault("wait_for_completion", False)
        kwargs.setdefault("terminate_on_timeout", False)
        super().__init__(**kwargs)
        self.session_id = session_id
        self.message = message

    def execute(self, context: Context) -> dict[str, Any]:
        """Send the message unless an earlier try already did, then optionally wait.

        :param context: The task's Airflow context.
        """
        from airflow_provider_devin import validation
        from airflow_provider_devin.idempotency import message_trailer
        from airflow_provider_devin.operators import _inputs

        session_id = validation.require_id("session_id", self.session_id)
        env = self.get_template_env()
        source = _inputs.template_file_source(self.message, env, self.log, "message")
        if source is not None:
            self.message = self.render_template(source, context, env)
        text = validation.require_text("message", self.message)
        trailer = message_trailer(self._key(context))
        hook = self.hook

        snapshot = hook.read_session(session_id)
        url = snapshot.view.url or hook.session_url(session_id)
        self._push_session(context, session_id, url)
        history = list(snapshot.new_messages)
        index = _trailer_index(history, trailer)
        if index is not None:
            self.log.info(
                "Session %s already holds this task instance's message (trailer %s), sent by an earlier try; "
                "not sending it again.",
                session_id,
                trailer,
            )
        else:
            detail = hook.send_message(session_id, f"{text.rstrip()}\n\n{trailer}")
            snapshot = hook.read_session(session_id, snapshot.position)
            history.extend(snapshot.new_messages)
            index = _trailer_index(history, trailer)
            if index is None:
                if detail:
                    raise AirflowException(
                        f"Devin did not deliver the message to session {session_id} "
                        f"(status {snapshot.view.status_label}): {detail}"
                    )
                index = len(history) - 1
            self.log.info("Sent message to Devin session %s (trailer %s).", session_id, trailer)
        after = tuple(history[index + 1 :])
        # Only what follows our message counts as Devin's answer.
        snapshot = dataclasses.replace(snapshot, new_messages=after)
        if not self.wait_for_completion:
            from airflow_provider_devin.status import session_summary

            last = next((m.text for m in reversed(history) if m.from_devin), None)
            result = session_summary(snapshot.view, url=url, last_devin_message=last)
            self._record_outlets(context, result)
            return result
        replied = any(m.from_devin for m in after)
        return self._wait(context, snapshot=snapshot, url=url, is_new_session=None, reply_pending=not replied)

    def _finish(self, result: dict[str, Any]) -> dict[str, Any]:
        result.pop("is_new_session", None)
        return result


def _trailer_index(messages: Sequence[Any], trailer: str) -> int | None:
    for index, message in enumerate(messages):
        if not message.from_devin and message.text.rstrip().endswith(trailer):
            return index
    return None
