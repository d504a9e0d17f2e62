"""One Devin session per task instance: the task-instance key, its tags, and find-or-create.

Each task instance (dag_id, task_id, run_id, map_index; **not** the try number) gets an
idempotency key, overridable with the operators' templated ``idempotency_key``. It is hashed into
a short tag::

    airflow-ti:<first 16 hex digits of sha256(key)>

Before creating, :class:`SessionFinder` looks for the task instance's session - first in the task
state store (Airflow 3.3+), then in Devin by that tag - and reattaches to a live one. A dead one
(failed, cancelled, out of budget, exited) is replaced by a session that also carries
``airflow-ti-generation:<n>`` (n = 2, 3, ...). Sessions also carry ``airflow:<dag_id>.<task_id>``
so on-call can find them in Devin's UI.

Creating differs by what the API offers (the hook says which, the finder never asks for a version):

* **Server-side idempotency** (v1 ``idempotent: true``): the hook may repeat the create after an
  ambiguous failure, and Devin answers with the session the first attempt made.
* **None** (v3): the create POST is sent once. After an ambiguous failure (timeout, dropped
  connection, 5xx, a lost or broken response) the session may exist anyway, so the finder never
  re-POSTs blindly: it searches by tag a few times (a new session may take a moment to be listed)
  and adopts what it finds. Only when the bounded search finds nothing does it create again, once.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_devin._compat import AirflowFailException
from airflow_provider_devin.session import SessionSnapshot, StatusClass

if TYPE_CHECKING:
    from airflow_provider_devin._compat import Context
    from airflow_provider_devin.hooks.devin import DevinHook
    from airflow_provider_devin.session import SessionView

__all__ = [
    "GENERATION_TAG_PREFIX",
    "PROVIDER_TAG_COUNT",
    "READABLE_TAG_PREFIX",
    "TAG_PREFIX",
    "TASK_STATE_KEY",
    "Attached",
    "SessionFinder",
    "idempotency_tag",
    "message_trailer",
    "readable_tag",
    "record_success",
    "task_instance_key",
]

#: Key under which the create operator records its session in the task state store (Airflow 3.3+).
TASK_STATE_KEY = "devin_session"

#: Prefix of the tag (and message trailer) that ties a session or message to a task instance.
TAG_PREFIX = "airflow-ti:"

#: Tag added to a session that replaces dead ones of the same task instance.
GENERATION_TAG_PREFIX = "airflow-ti-generation:"

#: Prefix of the human-readable tag naming the DAG and task.
READABLE_TAG_PREFIX = "airflow:"

#: How many tags the provider may add to a session (task instance, readable name, generation).
PROVIDER_TAG_COUNT = 3

#: Sessions in these classes are never reattached to: a new session replaces them.
DEAD_CLASSES = frozenset({StatusClass.FAILED, StatusClass.CANCELLED, StatusClass.OUT_OF_BUDGET, StatusClass.EXITED})

#: Pauses (seconds) between the tag searches that follow an ambiguous create failure (~15 s in all).
AMBIGUOUS_CREATE_SEARCH_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)

#: Pauses before a reattach lookup (the recorded session, the tag search) is repeated after it failed
#: transiently (429, 5xx, no answer) *beyond* the hook's own retries: a rate-limit storm must not fail
#: the retry whose whole point is to reattach (nor may it create meanwhile). Each pause is at least
#: the server's ``Retry-After`` (at most :data:`REATTACH_MAX_PAUSE`); about 2 minutes in all, then the
#: error is raised and the task's next try looks again.
REATTACH_TRANSIENT_DELAYS = (5.0, 15.0, 30.0, 60.0)
REATTACH_MAX_PAUSE = 300.0

_T = TypeVar("_T")

_READABLE_MAX = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/]+")


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
    """The last line ``DevinSendMessageOperator`` adds to a message: ``[airflow-ti:<hash>]``.

    :param key: the idempotency key.
    """
    return f"[{idempotency_tag(key)}]"


def readable_tag(context: Context) -> str:
    """``airflow:<dag_id>.<task_id>`` (unsafe characters replaced, at most 120 characters).

    :param context: the task's Airflow context.
    """
    ti = context["ti"]
    name = _UNSAFE.sub("_", f"{ti.dag_id}.{ti.task_id}")
    return (READABLE_TAG_PREFIX + name)[:_READABLE_MAX]


@dataclass(frozen=True)
class Attached:
    """The session a task instance works with, and how it was found.

    :param snapshot: the session as read when it was found or created (messages from the start).
    :param url: its web page.
    :param is_new_session: whether this task instance created it (``False`` when it reattached).
    :param how: a few words for the log (``"created"``, ``"reattached (tag)"``, ...).
    """

    snapshot: SessionSnapshot
    url: str | None
    is_new_session: bool
    how: str

    @property
    def session_id(self) -> str:
        """The session id."""
        return self.snapshot.view.session_id


@dataclass(eq=False)
class SessionFinder:
    """Find this task instance's live session, or create it exactly once.

    :param hook: the Devin hook.
    :param log: the task's logger.
    :param tag: the task instance's ``airflow-ti:`` tag.
    :param store: the task state store (Airflow 3.3+), or ``None``.
    :param record: called with ``(session_id, url, is_new_session)`` the moment a session is known,
        before anything else can fail (the operator pushes XCom there).
    :param reuse_finished_session: after a clear of a task instance that succeeded, reattach to its
        finished session instead of starting a new generation.
    :param sleep: the pause function (tests pass a fast one).
    """

    hook: DevinHook = field(repr=False)
    log: Any = field(repr=False)
    _: KW_ONLY
    tag: str
    store: Any = field(default=None, repr=False)
    record: Callable[[str, str | None, bool], None] | None = field(default=None, repr=False)
    reuse_finished_session: bool = False
    sleep: Callable[[float], Any] = field(default=time.sleep, repr=False)
    #: Dead sessions of this task instance found on the way (replaced by a new one).
    replaced: list[str] = field(default_factory=list, init=False)
    #: Sessions of an earlier generation than this are never reattached to (see :meth:`find`).
    min_generation: int = field(default=1, init=False)
    _highest_generation: int = field(default=0, init=False, repr=False)
    _generation: int = field(default=1, init=False, repr=False)
    _store_checked: bool = field(default=False, init=False, repr=False)
    #: What :meth:`_record` last wrote to the task state store (``None`` before a session is known).
    stored_record: dict[str, Any] | None = field(default=None, init=False)

    # --- finding ------------------------------------------------------------------------------

    def find(self) -> Attached | None:
        """This task instance's live session, or ``None`` (dead ones are noted in :attr:`replaced`).

        A retry (after a failure, a crash, a lost worker) reattaches to the session an earlier try
        made. A *clear* of a task instance that succeeded means "do it again": the task state store
        remembers the success, so the finished session (and every older one) is left alone and a new
        generation starts, unless ``reuse_finished_session``. Without a store (Airflow < 3.3, or
        ``[state_store] clear_on_success``) a clear cannot be told from a retry, and it reattaches.
        """
        attached = self.find_recorded()
        if attached is not None:
            return attached
        # The store cannot know a session whose create response was lost, or whose worker died
        # between the POST and the store write (or an Airflow without a store): Devin knows the tag.
        views = self._patiently("Looking for this session by its tag", self.hook.find_sessions, self.tag)
        for view in views:
            generation = generation_of(view.tags)
            self._highest_generation = max(self._highest_generation, generation)
            if view.session_id in self.replaced or generation < self.min_generation:
                continue
            attached = self._attach(view.session_id, view.url, "found by its tag")
            if attached is not None:
                return attached
        if self.replaced:
            self.log.warning(
                "Earlier session(s) of this task instance ended without finishing: %s. Creating a new session "
                "to replace them.",
                ", ".join(self.replaced),
            )
        elif self.min_generation == 1:
            self.log.info("No earlier Devin session for this task instance (tag %s).", self.tag)
        return None

    def find_recorded(self, stored: Any = None) -> Attached | None:
        """The first half of :meth:`find`: the session the task state store names, if it is live and
        this task instance should reattach to it (else ``None``; a dead one is noted in
        :attr:`replaced`, a clear after success raises :attr:`min_generation`).

        Runs once per finder: :meth:`find` skips it when it was called already (Airflow 3.3's
        resume decision calls it first, then :meth:`find` for the tag search).

        :param stored: the store's value when the caller has read it already (else it is read here).
        """
        if self._store_checked:
            return None
        self._store_checked = True
        record = self._record_from_store(stored)
        if record is not None and record.get("succeeded"):
            generation = _int(record.get("generation"), 1)
            self._highest_generation = max(self._highest_generation, generation)
            if self.reuse_finished_session:
                self.log.info(
                    "This task instance already succeeded with Devin session %s and was cleared; "
                    "reuse_finished_session=True, so its result is used again.",
                    record["session_id"],
                )
            else:
                self.min_generation = generation + 1
                self.log.info(
                    "This task instance already succeeded with Devin session %s and was cleared: a clear means "
                    "redo, so a new session is started (reuse_finished_session=True would return the old result).",
                    record["session_id"],
                )
        if record is not None and self.min_generation == 1:
            return self._from_record(record)
        return None

    def _record_from_store(self, stored: Any = None) -> Mapping[str, Any] | None:
        record = stored if stored is not None or self.store is None else self.store.get(TASK_STATE_KEY)
        if isinstance(record, Mapping) and record.get("tag") == self.tag and record.get("session_id"):
            return record
        return None

    def _from_record(self, record: Mapping[str, Any]) -> Attached | None:
        from airflow_provider_devin.exceptions import DevinNotFoundError

        session_id = str(record["session_id"])
        try:
            return self._attach(session_id, record.get("url"), "recorded in the task state store")
        except DevinNotFoundError:
            self.log.warning("Session %s from the task state store no longer exists in Devin.", session_id)
            return None

    def _patiently(self, what: str, call: Callable[..., _T], *args: Any) -> _T:
        """``call(*args)``, repeated after transient failures (see :data:`REATTACH_TRANSIENT_DELAYS`)."""
        from airflow_provider_devin.exceptions import DevinAPIError

        for delay in (*REATTACH_TRANSIENT_DELAYS, None):
            try:
                return call(*args)
            except DevinAPIError as err:
                if not err.is_transient or delay is None:
                    raise
                pause = min(max(delay, err.retry_after or 0.0), REATTACH_MAX_PAUSE)
                self.log.warning(
                    "%s failed (%s); looking again in %.0f s before anything is created.", what, _first_line(err), pause
                )
                self.sleep(pause)
        raise AssertionError("unreachable: the last attempt raises")  # pragma: no cover

    def _attach(self, session_id: str, url: str | None, where: str) -> Attached | None:
        snapshot = self._patiently(f"Reading Devin session {session_id}", self.hook.read_session, session_id)
        view = snapshot.view
        if view.status_class in DEAD_CLASSES:
            self.replaced.append(session_id)
            return None
        url = view.url or url or self.hook.session_url(session_id)
        self.log.info(
            "Reattaching to Devin session %s (status %s), %s: an earlier try of this task instance created it; "
            "not creating a new session.",
            session_id,
            view.status_label,
            where,
        )
        self._generation = max(generation_of(view.tags), 1)
        self._record(session_id, url, False)
        return Attached(snapshot, url, False, f"reattached ({where})")

    # --- creating -----------------------------------------------------------------------------

    def create(self, prompt: str, request: dict[str, Any]) -> Attached:
        """Create the session (the provider's tags already in ``request["tags"]``).

        :param prompt: the prompt.
        :param request: the other ``DevinHook.create_session`` keyword arguments.
        """
        if self.replaced or self.min_generation > 1:
            # A replacement must differ from the request that made the earlier session, or v1's
            # idempotency would hand it back.
            self._generation = max(self.min_generation, self._highest_generation + 1, len(self.replaced) + 1, 2)
            request = {**request, "tags": [*request["tags"], f"{GENERATION_TAG_PREFIX}{self._generation}"]}
        self.log.info("Creating a Devin session for this task instance (tag %s).", self.tag)
        if self.hook.supports_idempotent_create:
            return self._create_idempotent(prompt, request)
        return self._create_once(prompt, request)

    def _create_idempotent(self, prompt: str, request: dict[str, Any]) -> Attached:
        # idempotent=True lets the hook repeat the POST after a lost response without duplicating.
        created = self._post(prompt, {**request, "idempotent": True})
        session_id = str(created["session_id"])
        is_new = created.get("is_new_session") is not False
        url = created.get("url")
        self._record(session_id, url, is_new)
        snapshot = self.hook.read_session(session_id)
        view = snapshot.view
        if not is_new and (self.tag not in view.tags or view.status_class in DEAD_CLASSES):
            # Devin's idempotency matched some other request (same payload, other task instance) or
            # handed back a dead session: never adopt it; create a fresh one without idempotency.
            self.log.warning(
                "Devin returned existing session %s (status %s) for an idempotent create, but it is not a live "
                "session tagged %s; creating a new session instead.",
                session_id,
                view.status_label,
                self.tag,
            )
            created = self._post(prompt, {**request, "idempotent": False})
            return self._created(created, "created")
        if is_new:
            return self._finish(snapshot, url, True, "created")
        # Nothing tagged for this task instance existed before this create (find() looked), so the
        # tagged session Devin handed back is this create's own: its first response was lost and
        # the hook's replay got "already exists".
        self._record(session_id, url, True)
        return self._finish(snapshot, url, True, "created (Devin answered a repeated create with it)")

    def _create_once(self, prompt: str, request: dict[str, Any]) -> Attached:
        from airflow_provider_devin.exceptions import DevinAPIError

        try:
            created = self._post(prompt, request)
        except DevinAPIError as err:
            if not _ambiguous(err):
                raise
            self.log.warning(
                "Creating the Devin session failed ambiguously (%s): the session may exist anyway. Looking for "
                "it by its tag %s instead of sending the create again.",
                _first_line(err),
                self.tag,
            )
            found = self._search_after_ambiguous_create()
            if found is not None:
                return found
            self.log.warning(
                "No session tagged %s appeared in %d searches over %.0f s: the failed create made none. Creating "
                "it again (once).",
                self.tag,
                len(AMBIGUOUS_CREATE_SEARCH_DELAYS),
                sum(AMBIGUOUS_CREATE_SEARCH_DELAYS),
            )
            created = self._post(prompt, request)
        return self._created(created, "created")

    def _search_after_ambiguous_create(self) -> Attached | None:
        from airflow_provider_devin.exceptions import DevinAPIError

        for delay in AMBIGUOUS_CREATE_SEARCH_DELAYS:
            self.sleep(delay)
            try:
                views = self.hook.find_sessions(self.tag)
            except DevinAPIError as err:
                if not err.is_transient:
                    raise
                self.log.warning("Looking for the session by tag failed, will look again: %s", _first_line(err))
                continue
            for view in views:
                if view.session_id in self.replaced or view.status_class in DEAD_CLASSES:
                    continue
                if generation_of(view.tags) < self._generation:
                    continue  # an earlier generation's session, not the one this create made
                self.log.info(
                    "Found session %s, made by the create whose response was lost; adopting it.", view.session_id
                )
                self._record(view.session_id, view.url, True)
                return self._finish(
                    self.hook.read_session(view.session_id), view.url, True, "adopted after an ambiguous create"
                )
        return None

    def _post(self, prompt: str, request: dict[str, Any]) -> Mapping[str, Any]:
        from airflow_provider_devin.exceptions import DevinValidationError

        try:
            return self.hook.create_session(prompt, **request)
        except DevinValidationError as err:
            rejected = _rejected_tags(err, request.get("tags") or [])
            if rejected:
                raise AirflowFailException(
                    f"Devin refused the session's tags {', '.join(rejected)}: {_first_line(err)} This organisation "
                    f"enforces an allowed-tag list. Allow the provider's tags ('{TAG_PREFIX}…' identifies the task "
                    f"instance, '{READABLE_TAG_PREFIX}<dag>.<task>' names it, '{GENERATION_TAG_PREFIX}<n>' marks a "
                    "replacement) in Devin's enterprise settings (session tags), then clear the task."
                ) from err
            raise

    def _created(self, created: Mapping[str, Any], how: str) -> Attached:
        session_id = str(created["session_id"])
        url = created.get("url")
        # Record the session before anything else can fail: a crash from here on is recovered from
        # the task state store (and, should this write never happen, from the tag in Devin).
        self._record(session_id, url, True)
        return self._finish(self.hook.read_session(session_id), url, True, how)

    def _finish(self, snapshot: SessionSnapshot, url: str | None, is_new: bool, how: str) -> Attached:
        view = snapshot.view
        url = url or view.url or self.hook.session_url(view.session_id)
        self.log.info("Devin session %s %s: %s", view.session_id, how, url)
        return Attached(snapshot, url, is_new, how)

    def _record(self, session_id: str, url: str | None, is_new_session: bool) -> None:
        self.stored_record = {
            "session_id": session_id,
            "url": url,
            "tag": self.tag,
            "is_new_session": is_new_session,
            "generation": self._generation,
        }
        if self.store is not None:  # Airflow 3.3+; survives retries, unlike XCom
            self.store.set(TASK_STATE_KEY, self.stored_record)
        if self.record is not None:
            self.record(session_id, url, is_new_session)


def record_success(store: Any, session_id: str) -> None:
    """Remember in the task state store that the task instance succeeded with ``session_id``, so a
    later clear starts over instead of returning the same result (see :meth:`SessionFinder.find`).

    :param store: the task state store (``None`` before Airflow 3.3: nothing is recorded).
    :param session_id: the session the task instance succeeded with.
    """
    record = store.get(TASK_STATE_KEY) if store is not None else None
    if isinstance(record, Mapping) and record.get("session_id") == session_id and not record.get("succeeded"):
        store.set(TASK_STATE_KEY, {**record, "succeeded": True})


def generation_of(tags: Iterable[str]) -> int:
    """A session's generation: ``n`` from its ``airflow-ti-generation:<n>`` tag, else 1."""
    for tag in tags:
        if tag.startswith(GENERATION_TAG_PREFIX):
            return _int(tag[len(GENERATION_TAG_PREFIX) :], 1)
    return 1


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _ambiguous(err: Exception) -> bool:
    """Whether a failed create may still have created the session."""
    from airflow_provider_devin.exceptions import (
        DevinConnectionError,
        DevinResponseError,
        DevinServerError,
    )

    if isinstance(err, DevinConnectionError):
        return err.request_sent
    return isinstance(err, (DevinServerError, DevinResponseError))


def _rejected_tags(err: Any, tags: list[str]) -> list[str]:
    """The request's tags that a 422 names (an org's allowed-tag list refused them)."""
    text = f"{err} {getattr(err, 'errors', '')} {getattr(err, 'detail', '')}"
    if "tag" not in text.lower():
        return []
    named = [tag for tag in tags if tag in text]
    return named or [tag for tag in tags if tag.startswith((TAG_PREFIX, READABLE_TAG_PREFIX, GENERATION_TAG_PREFIX))]


def _first_line(err: BaseException) -> str:
    return str(err).split("\n", 1)[0]


def is_dead(view: SessionView) -> bool:
    """True for a session that cannot continue (it is replaced rather than reattached to)."""
    return view.status_class in DEAD_CLASSES
