"""``on_blocked="human"``: Devin's question goes to a person in Airflow, the answer goes back to Devin.

When a wait ends ``blocked`` (v1 ``blocked``; v3 ``waiting_for_user`` / ``waiting_for_approval``), the
operator writes an Airflow human-in-the-loop request (subject: the session title; body: Devin's
latest question(s) and the session link; options :data:`REPLY` with a ``reply`` text field,
:data:`ACCEPT`, :data:`FAIL`) and parks the task:

* Airflow 3.3+: ``raise TaskAwaitingInput(...)``: no worker slot and no trigger while a person
  thinks; the Core API's response handler (or the scheduler's timeout sweep) resumes the task.
* Airflow 3.1 / 3.2: it defers to the standard provider's ``HITLTrigger``.

The task resumes in :func:`resume`: a reply is sent to the session as a message ending in a
``[airflow-ti:<hash> answer <round>]`` line, which is looked for before sending, so each round's
answer reaches Devin once even when the task is retried; then the wait on the session resumes (and
may ask again: any number of rounds). "Accept as done" ends the task with the session's current
result; "Fail" fails it without retries.

The round number is read from the session itself (1 + the highest round already answered there),
so it is the same on a retry and on every Airflow version. The rounds answered so far (question,
choice, answer, who, when) are kept in the task state store (Airflow 3.3+) or else in XCom, logged
as they happen, and returned as ``result["human_rounds"]``.

Airflow keeps one human-in-the-loop request per task instance and does not rewrite its subject,
body or options on a later round (``upsert`` only clears the previous response), so from the second
round on the form shows the first round's text; each new question is in the task log and the
session. Heavy imports happen inside functions: DAG files import the operators on every parse.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_provider_devin._compat import AirflowException, AirflowFailException

if TYPE_CHECKING:
    from airflow_provider_devin._compat import Context
    from airflow_provider_devin.operators._waiting import DevinSessionWaitOperator
    from airflow_provider_devin.session import SessionMessage

__all__ = [
    "ACCEPT",
    "FAIL",
    "OPTIONS",
    "REPLY",
    "ROUNDS_KEY",
    "HumanSettings",
    "answer_trailer",
    "ask",
    "hitl_mode",
    "load_rounds",
    "resume",
]

REPLY = "Reply"
ACCEPT = "Accept as done"
FAIL = "Fail"
OPTIONS = [REPLY, ACCEPT, FAIL]
#: The form field a reply is typed into.
REPLY_PARAM = "reply"

#: Where the rounds answered so far are kept (task state store key on 3.3+, else an XCom key).
ROUNDS_KEY = "devin_human_rounds"
#: Where the question being asked waits for its answer (``dag.test()`` on 3.1/3.2 resumes a deferred
#: task with the event only, without the ``defer(kwargs=...)``).
PENDING_KEY = "devin_human_pending"

#: Seconds between two looks of the standard provider's ``HITLTrigger`` (Airflow 3.1/3.2 only).
HITL_POKE_INTERVAL = 5.0

#: Longest question text written to the Airflow request and to a log line.
QUESTION_LIMIT = 4000

_ANSWER_LINE = re.compile(r"\[(airflow-ti:[0-9a-f]+) answer (\d+)\]\s*$")

#: Where Airflow's human-in-the-loop comes from: ``"park"`` (3.3+), ``"trigger"`` (3.1/3.2) or ``None``.
_MODE: list[str | None] = []


def hitl_mode() -> str | None:
    """How this Airflow asks a person: ``"park"`` (3.3+: ``TaskAwaitingInput``), ``"trigger"`` (3.1 and
    3.2: the standard provider's ``HITLTrigger``) or ``None`` (no human-in-the-loop, e.g. Airflow 2.11)."""
    if not _MODE:
        mode: str | None = None
        try:
            from airflow.sdk.exceptions import TaskAwaitingInput  # noqa: F401

            mode = "park"
        except ImportError:
            found = _has_module("airflow.sdk.execution_time.hitl")
            if found and _has_module("airflow.providers.standard.triggers.hitl"):
                mode = "trigger"
        _MODE.append(mode)
    return _MODE[0]


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class HumanSettings:
    """The ``hitl_*`` arguments, checked at DAG parse time.

    :param on_blocked: the operator's ``on_blocked`` value (already validated).
    :param assignees: who may answer: Airflow user ids, or ``{"id", "name"}`` dicts, one or a list.
    :param timeout: seconds (or a timedelta) a question waits for an answer; ``None`` = no limit.
    :param timeout_default: the option taken when ``timeout`` passes: ``"Accept as done"`` or
        ``"Fail"``; ``None`` fails the task when no one answers in time.
    :param terminate_on_fail: whether "Fail" terminates the session.
    :raises ValueError: naming the parameter, for a bad value or an Airflow without human-in-the-loop.
    """

    def __init__(
        self,
        on_blocked: str,
        assignees: Any,
        timeout: timedelta | float | None,
        timeout_default: str | None,
        terminate_on_fail: bool,
    ) -> None:
        from airflow_provider_devin.operators._waiting import seconds

        self.enabled = on_blocked == "human"
        given = [
            name
            for name, value in (
                ("hitl_assignees", assignees),
                ("hitl_timeout", timeout),
                ("hitl_timeout_default", timeout_default),
            )
            if value is not None
        ]
        if given and not self.enabled:
            raise ValueError(
                f"{', '.join(given)} only apply with on_blocked='human' (on_blocked is {on_blocked!r}); "
                "remove them or set on_blocked='human'."
            )
        if self.enabled and hitl_mode() is None:
            import airflow

            raise ValueError(
                "on_blocked='human' needs Airflow 3.1 or later (Airflow's human-in-the-loop; the task parks "
                f"without a worker or trigger on 3.3+); this is Airflow {airflow.__version__}. Use on_blocked="
                "'wait' and answer in the Devin UI, or upgrade Airflow."
            )
        self.assignees = _assignees(assignees)
        self.timeout = seconds(timeout, "hitl_timeout")
        if timeout_default is not None and timeout_default not in (ACCEPT, FAIL):
            raise ValueError(f"hitl_timeout_default must be {ACCEPT!r}, {FAIL!r} or None, got {timeout_default!r}")
        if timeout_default is not None and self.timeout is None:
            raise ValueError(f"hitl_timeout_default={timeout_default!r} needs hitl_timeout (how long to wait).")
        self.timeout_default = timeout_default
        self.terminate_on_fail = bool(terminate_on_fail)


def _assignees(value: Any) -> list[dict[str, str]] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, (str, Mapping)) else value
    if not isinstance(items, Sequence) or not items:
        raise ValueError(
            f"hitl_assignees must be a user id, an {{'id', 'name'}} dict or a non-empty list, got {value!r}"
        )
    users = []
    for item in items:
        if isinstance(item, str) and item.strip():
            users.append({"id": item.strip(), "name": item.strip()})
        elif isinstance(item, Mapping) and all(
            isinstance(item.get(k), str) and item[k].strip() for k in ("id", "name")
        ):
            users.append({"id": item["id"].strip(), "name": item["name"].strip()})
        else:
            raise ValueError(
                f"hitl_assignees entries must be Airflow user ids or {{'id': ..., 'name': ...}} dicts, got {item!r}"
            )
    return users


def _settings(op: DevinSessionWaitOperator) -> HumanSettings:
    if op.human is None:  # pragma: no cover - only an operator built with on_blocked="human" gets here
        raise AirflowException(f"Task {op.task_id} was not built with on_blocked='human'.")
    return op.human


def answer_trailer(tag: str, round_number: int) -> str:
    """The last line of the reply sent for a round: ``[airflow-ti:<hash> answer <round>]``.

    :param tag: the task instance's ``airflow-ti:<hash>`` tag.
    :param round_number: the round, from 1.
    """
    return f"[{tag} answer {round_number}]"


def _answered_rounds(messages: Sequence[SessionMessage], tag: str) -> dict[int, int]:
    """Round number -> index of the message that answered it, for this task instance's replies."""
    found: dict[int, int] = {}
    for index, message in enumerate(messages):
        match = None if message.from_devin else _ANSWER_LINE.search(message.text.rstrip())
        if match and match.group(1) == tag:
            found.setdefault(int(match.group(2)), index)
    return found


def _latest_question(messages: Sequence[SessionMessage]) -> str:
    """Devin's messages since the last message from a person (oldest first), joined."""
    texts: list[str] = []
    for message in reversed(messages):
        if not message.from_devin:
            break
        texts.append(message.text.strip())
    question = "\n\n".join(reversed([t for t in texts if t]))
    return question[-QUESTION_LIMIT:]  # the latest words matter most


# --- the record of the rounds ---------------------------------------------------------------


def _store(context: Context) -> Any:
    return context.get("task_state_store")


def _load(context: Context, key: str, task_id: str) -> Any:
    store = _store(context)
    if store is not None:
        return store.get(key)
    ti = context["ti"]
    pull: dict[str, Any] = {"task_ids": task_id, "key": key}
    map_index = getattr(ti, "map_index", -1)
    if map_index is not None and map_index >= 0:
        pull["map_indexes"] = map_index
    return ti.xcom_pull(**pull)


def _save(context: Context, key: str, value: Any) -> None:
    store = _store(context)
    if store is not None:
        store.set(key, value)
    else:
        context["ti"].xcom_push(key=key, value=value)


def load_rounds(context: Context, task_id: str, session_id: str) -> list[dict[str, Any]]:
    """The rounds this task instance's people answered about ``session_id`` (oldest first).

    The task state store outlives a clear; rounds about an earlier session are not this run's.

    :param context: the task's Airflow context.
    :param task_id: the task's id (XCom is read by task id on Airflow 3.1/3.2).
    :param session_id: the session the rounds are about.
    """
    value = _load(context, ROUNDS_KEY, task_id)
    if not isinstance(value, list):
        return []
    return [dict(r) for r in value if isinstance(r, Mapping) and r.get("session_id") == session_id]


def _record_round(context: Context, task_id: str, entry: dict[str, Any]) -> list[dict[str, Any]]:
    rounds = [r for r in load_rounds(context, task_id, entry["session_id"]) if r.get("round") != entry["round"]]
    rounds.append(entry)
    rounds.sort(key=lambda r: r.get("round") or 0)
    _save(context, ROUNDS_KEY, rounds)
    return rounds


# --- asking -----------------------------------------------------------------------------------


def ask(
    op: DevinSessionWaitOperator,
    context: Context,
    event: Mapping[str, Any],
    *,
    url: str | None,
    is_new_session: bool | None,
) -> NoReturn:
    """Write the human-in-the-loop request for the session an ended wait found blocked, and park.

    :param op: the operator (its hook, key and ``hitl_*`` settings).
    :param context: the task's Airflow context.
    :param event: the wait's ``blocked`` event.
    :param url: the session's web page.
    :param is_new_session: whether this task instance created the session.
    :raises TaskAwaitingInput: on Airflow 3.3+ (the task waits for the answer without a worker).
    :raises TaskDeferred: on Airflow 3.1/3.2 (the standard provider's ``HITLTrigger`` waits).
    """
    from airflow_provider_devin.idempotency import idempotency_tag

    session_id = event["session_id"]
    snapshot = op.hook.read_session(session_id)
    messages = snapshot.new_messages
    tag = idempotency_tag(op._key(context))
    answered = _answered_rounds(messages, tag)
    round_number = max(answered, default=0) + 1
    question = _latest_question(messages) or (event.get("summary") or {}).get("last_devin_message") or ""
    url = url or snapshot.view.url or op.hook.session_url(session_id)
    title = snapshot.view.title or f"Devin session {session_id}"
    settings = _settings(op)
    shown = " ".join(question.split())
    op.log.info(
        "Devin session %s waits for a person (%s); asking in Airflow (round %d): %s",
        session_id,
        snapshot.view.status_label,
        round_number,
        shown[:300] or "(Devin wrote no question)",
    )
    body = _body(question, url, round_number, settings)
    pending = {"session_id": session_id, "url": url, "is_new_session": is_new_session, "round": round_number}
    _save(context, PENDING_KEY, {**pending, "question": question})
    kwargs = {**pending, "question": question}
    _park(op, context, title, body, kwargs)


def _body(question: str, url: str, round_number: int, settings: HumanSettings) -> str:
    quoted = "\n".join(f"> {line}" if line else ">" for line in question.splitlines()) or "> (Devin wrote no question)"
    lines = [
        f"**Devin asks** (round {round_number}):",
        "",
        quoted,
        "",
        f"Session: {url}",
        "",
        f"- **{REPLY}**: type the answer in *{REPLY_PARAM}*; it is sent to Devin and the task waits on.",
        f"- **{ACCEPT}**: end the task now with the session's current result.",
        f"- **{FAIL}**: fail the task"
        + (" and terminate the session." if settings.terminate_on_fail else " (the session is left running)."),
    ]
    if settings.timeout is not None:
        then = f"{settings.timeout_default!r} is chosen" if settings.timeout_default else "the task fails"
        lines.append(f"\nWithout an answer within {settings.timeout:.0f}s, {then}.")
    return "\n".join(lines)


def _params() -> dict[str, Any]:
    from airflow.sdk import Param
    from airflow.sdk.definitions.param import ParamsDict

    params = ParamsDict(
        {
            REPLY_PARAM: Param(
                "",
                type="string",
                title="Reply to Devin",
                description=f"Your answer, sent to the session when you choose {REPLY!r}.",
            )
        }
    )
    try:
        from airflow.providers.standard.version_compat import AIRFLOW_V_3_1_3_PLUS
    except ImportError:
        AIRFLOW_V_3_1_3_PLUS = True
    if not AIRFLOW_V_3_1_3_PLUS:  # the request format of Airflow 3.1.0 - 3.1.2
        return params.dump()
    return {k: params.get_param(k).serialize() for k in params}


def _park(op: DevinSessionWaitOperator, context: Context, subject: str, body: str, kwargs: dict[str, Any]) -> NoReturn:
    from airflow.sdk.execution_time.hitl import upsert_hitl_detail

    settings = _settings(op)
    ti_id = context["task_instance"].id
    defaults = [settings.timeout_default] if settings.timeout_default else None
    params = _params()
    upsert_hitl_detail(
        ti_id=ti_id,
        options=list(OPTIONS),
        subject=subject[:200],
        body=body,
        defaults=defaults,
        multiple=False,
        params=params,
        assigned_users=settings.assignees,  # type: ignore[arg-type]
    )
    timeout = None if settings.timeout is None else timedelta(seconds=settings.timeout)
    if hitl_mode() == "park":
        from airflow.sdk.exceptions import TaskAwaitingInput

        raise TaskAwaitingInput(method_name="resume_after_human", kwargs=kwargs, timeout=timeout)
    from airflow.providers.standard.triggers.hitl import HITLTrigger

    op.defer(
        trigger=HITLTrigger(
            ti_id=ti_id,
            options=list(OPTIONS),
            defaults=defaults,
            params=params,
            multiple=False,
            timeout_datetime=None if timeout is None else datetime.now(timezone.utc) + timeout,
            poke_interval=HITL_POKE_INTERVAL,
        ),
        method_name="resume_after_human",
        kwargs=kwargs,
    )
    raise AssertionError("defer() returned")  # pragma: no cover - defer always raises


# --- the answer ---------------------------------------------------------------------------------


def resume(
    op: DevinSessionWaitOperator,
    context: Context,
    event: Any,
    kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """Act on a person's answer: send the reply and wait on, accept the session's result, or fail.

    :param op: the operator.
    :param context: the task's Airflow context.
    :param event: Airflow's resume event (``chosen_options``, ``params_input``, ``responded_by_user``,
        ``responded_at``; or ``error`` / ``error_type`` when the wait for an answer ended without one).
    :param kwargs: what :func:`ask` parked with (``dag.test()`` on 3.1/3.2 drops them: then what
        :func:`ask` saved is used).
    """
    pending = dict(kwargs) if kwargs.get("session_id") else _load(context, PENDING_KEY, op.task_id)
    if not isinstance(pending, Mapping) or not pending.get("session_id"):
        raise AirflowException(f"resume_after_human was called without the question it answers; event: {event!r:.300}")
    session_id = str(pending["session_id"])
    round_number = int(pending.get("round") or 1)
    question = str(pending.get("question") or "")
    url, is_new = pending.get("url"), pending.get("is_new_session")
    if not isinstance(event, Mapping):
        raise AirflowException(
            f"Airflow resumed Devin session {session_id}'s question without an answer: {event!r:.300}"
        )
    if "error" in event:
        _no_answer(op, session_id, round_number, event)
    chosen = list(event.get("chosen_options") or [])
    choice = chosen[0] if len(chosen) == 1 else None
    if choice not in OPTIONS:
        raise AirflowException(
            f"The answer to Devin session {session_id} (round {round_number}) chose {chosen!r}; "
            f"expected one of {OPTIONS}."
        )
    params_input = event.get("params_input") or {}
    reply = params_input.get(REPLY_PARAM) if isinstance(params_input, Mapping) else None
    reply = reply.strip() if isinstance(reply, str) else ""
    who = _user(event.get("responded_by_user"))
    entry = {
        "session_id": session_id,
        "round": round_number,
        "question": question,
        "choice": choice,
        "answer": reply if choice == REPLY else None,
        "responded_by": who,
        "responded_at": _iso(event.get("responded_at")),
        "timed_out": bool(event.get("timedout")),
    }
    by = "the timeout default" if entry["timed_out"] else (who or {}).get("name") or "someone"
    if choice == REPLY and not reply:
        op.log.warning("Round %d: %s chose %r without typing a reply; asking again.", round_number, by, REPLY)
        blocked = {"session_id": session_id, "summary": {"last_devin_message": question}}
        ask(op, context, blocked, url=url, is_new_session=is_new)
    _record_round(context, op.task_id, entry)
    op.log.info("Round %d answered by %s: %s%s", round_number, by, choice, f": {reply[:300]}" if reply else "")
    if choice == FAIL:
        if entry["timed_out"]:
            detail = (
                f"No one answered Devin session {session_id}'s question (round {round_number}) within "
                f"hitl_timeout={_settings(op).timeout:.0f}s; hitl_timeout_default={FAIL!r} fails the task."
            )
        else:
            detail = f"{by} chose {FAIL!r} for Devin session {session_id} (round {round_number})."
        if _settings(op).terminate_on_fail:
            detail = f"{detail} {op._terminate(session_id, 'a person chose Fail')} (terminate_on_fail=True)."
        raise AirflowFailException(f"{detail} Not retried: clear the task to run it again.")
    if choice == ACCEPT:
        return _accept(op, context, session_id, url, is_new, by)
    return _send_reply(op, context, session_id, url, is_new, round_number, reply)


def _no_answer(op: DevinSessionWaitOperator, session_id: str, round_number: int, event: Mapping[str, Any]) -> NoReturn:
    limit = _settings(op).timeout
    if event.get("error_type") == "timeout":
        message = (
            f"No one answered Devin session {session_id}'s question (round {round_number}) within "
            f"hitl_timeout={limit:.0f}s and no hitl_timeout_default was set."
            if limit is not None
            else f"The wait for an answer to Devin session {session_id} (round {round_number}) timed out."
        )
        if op.terminate_on_timeout:
            message = f"{message} {op._terminate(session_id, 'no answer in time')} (terminate_on_timeout=True)."
        else:
            message = f"{message} It was left running (terminate_on_timeout=False)."
        raise AirflowException(message)
    raise AirflowException(
        f"Airflow could not take the answer for Devin session {session_id} (round {round_number}): "
        f"{event.get('error_type')}: {event.get('error')}"
    )


def _accept(
    op: DevinSessionWaitOperator, context: Context, session_id: str, url: Any, is_new: Any, by: str
) -> dict[str, Any]:
    from airflow_provider_devin.status import WaitOutcome, make_event, session_summary

    snapshot = op.hook.read_session(session_id)
    last = next((m.text for m in reversed(snapshot.new_messages) if m.from_devin), None)
    summary = session_summary(snapshot.view, url=url, last_devin_message=last)
    event = make_event(WaitOutcome.SUCCESS, session_id, f"{by} accepted Devin session {session_id} as done.", summary)
    op.log.info("%s accepted Devin session %s as done (status %s).", by, session_id, snapshot.view.status_label)
    return op._conclude(context, event, url=url, is_new_session=is_new)


def _send_reply(
    op: DevinSessionWaitOperator,
    context: Context,
    session_id: str,
    url: Any,
    is_new: Any,
    round_number: int,
    reply: str,
) -> dict[str, Any]:
    import dataclasses

    from airflow_provider_devin.idempotency import idempotency_tag

    tag = idempotency_tag(op._key(context))
    hook = op.hook
    snapshot = hook.read_session(session_id)
    history = list(snapshot.new_messages)
    index = _answered_rounds(history, tag).get(round_number)
    if index is not None:
        op.log.info(
            "Session %s already holds the answer to round %d (an earlier try sent it).", session_id, round_number
        )
    else:
        trailer = answer_trailer(tag, round_number)
        detail = hook.send_message(session_id, f"{reply}\n\n{trailer}")
        snapshot = hook.read_session(session_id, snapshot.position)
        history.extend(snapshot.new_messages)
        index = _answered_rounds(history, tag).get(round_number)
        if index is None:
            if detail:
                raise AirflowException(
                    f"Devin did not take the answer to round {round_number} on session {session_id} "
                    f"(status {snapshot.view.status_label}): {detail}"
                )
            index = len(history) - 1
        op.log.info("Sent the answer to round %d to Devin session %s (%s).", round_number, session_id, trailer)
    # Only what follows the answer counts as Devin's reaction to it.
    snapshot = dataclasses.replace(snapshot, new_messages=tuple(history[index + 1 :]))
    replied = any(m.from_devin for m in snapshot.new_messages)
    return op._wait(context, snapshot=snapshot, url=url, is_new_session=is_new, reply_pending=not replied)


def _user(value: Any) -> dict[str, str] | None:
    if isinstance(value, Mapping):
        return {"id": str(value.get("id")), "name": str(value.get("name"))}
    for attr in ("id", "name"):
        if not hasattr(value, attr):
            return None
    return {"id": str(value.id), "name": str(value.name)}


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if value is not None else None
