"""Where a waiting trigger's observations come from: its own GET, or one batch poll shared by many.

On Devin API v3 the waiting triggers of one triggerer process that share a connection (its
settings, hence its org) and a poll interval are served by one :class:`SessionPoller`: one
``GET …/sessions?session_ids=…&first=200`` per interval for up to 200 sessions (more sessions, more
requests of 200; pages followed), and a messages read only for a session whose ``updated_at`` or
status moved. A session the list does not return is read on its own (``GET …/sessions/{id}``, so a
404 reaches the trigger's normal not-found handling). On v1 every trigger keeps its own GET: the
v1 list cannot filter by session id and carries no messages (docs/performance.md says more).

Each trigger keeps its own semantics: the poller only hands it observations (a
:class:`~airflow_provider_devin.session.SessionSnapshot`, or the exception the read raised, which
the trigger classifies as it classifies its own poll's errors). Its deadline, policy, error
accounting, single event and ``on_kill`` stay in the trigger. Pollers live in the process only:
nothing is serialized, so a triggerer restart rebuilds them from the triggers' unchanged kwargs.

Why not Airflow 3.3's shared-stream triggers (``BaseEventTrigger.shared_stream_key``): the stream's
producer is opened from *one* sibling's kwargs and is never told who joined or left, so it cannot
send ``session_ids=`` for the group; and 2.11/3.1/3.2 need this poller anyway.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from airflow_provider_devin.session import UPDATED_AT_RESOLUTION, Handover, MessagePosition, SessionSnapshot

__all__ = ["JOIN_DELAY", "SessionPoller", "open_poll_source", "poller_count"]

#: Seconds between two rounds of a poller that read newcomers, so triggers that start together
#: (a triggerer restart, a mapped task) share their first requests too.
JOIN_DELAY = 0.2

#: Reads of single sessions (messages, sessions missing from a batch) one poller runs at a time,
#: so a first round over thousands of sessions queues here instead of timing out in the pool.
MAX_CONCURRENT_READS = 32


class _OwnPoll:
    """One trigger's own ``read_session`` per interval (v1).

    :param api: The trigger's leased ``AsyncDevinAPI``.
    :param session_id: The session.
    :param position: Where its conversation reading stands.
    """

    def __init__(self, api: Any, session_id: str, position: MessagePosition) -> None:
        self._api = api
        self._session_id = session_id
        self.position = position
        #: The connection's backoff gate (how long it holds requests back, for the trigger's messages).
        self.gate = api.gate
        #: How long one :meth:`next` may take when all is well: one request's timeout.
        self.wait_bound: float = api.timeout

    async def next(self) -> SessionSnapshot:
        """Read the session now."""
        snapshot: SessionSnapshot = await self._api.read_session(self._session_id, self.position)
        self.position = snapshot.position
        return snapshot

    async def pause(self, seconds: float) -> None:
        """Wait until the next read is due (the trigger's interval, cut at its deadline)."""
        await asyncio.sleep(seconds)


class Subscription:
    """One trigger's place in a :class:`SessionPoller`: its session, position and observations.

    :param session_id: The session, as the trigger holds it.
    :param position: Where its conversation reading stands.
    :param gate: The connection's backoff gate.
    :param wait_bound: How long one :meth:`next` may take when all is well.
    :param handover: The observation the worker handed over with ``position``: the first round
        reads no messages when it shows the same state and the worker's read was settled (a
        triggerer restart or a mass deferral then costs no read per trigger).
    """

    __slots__ = (
        "_items",
        "_last_sent",
        "_seen",
        "_seen_since",
        "_waiter",
        "fresh",
        "gate",
        "key",
        "position",
        "session_id",
        "wait_bound",
    )

    def __init__(
        self,
        session_id: str,
        position: MessagePosition,
        gate: Any = None,
        wait_bound: float = 0.0,
        handover: Handover | None = None,
    ) -> None:
        self.session_id = session_id
        self.key = session_id if session_id.startswith("devin-") else f"devin-{session_id}"
        self.position = position
        #: The connection's backoff gate (the poller's requests pass it too).
        self.gate = gate
        #: How long one :meth:`next` may take when all is well: an interval plus a request's timeout.
        self.wait_bound = wait_bound
        self.fresh = True  # not observed yet: read at the next join round, not a full interval later
        # Undelivered observations and the trigger's pending wait (lighter than an asyncio.Queue:
        # a triggerer holds thousands of these).
        self._items: list[SessionSnapshot | BaseException] = []
        self._waiter: asyncio.Future[SessionSnapshot] | None = None
        self._seen: tuple[Any, ...] | None = None
        self._seen_since = 0.0
        self._last_sent = 0.0
        if handover is not None:
            # The worker saw this state (at or after its updated_at). Settled: as if observed a
            # full resolution after; otherwise known from now on, so reads sent within the next
            # second are repeated once, as after any change.
            self._seen = handover.seen
            if handover.settled:
                self._last_sent = UPDATED_AT_RESOLUTION
            else:
                self._seen_since = time.monotonic()

    def next(self) -> asyncio.Future[SessionSnapshot]:
        """The poller's next observation of the session (bound the wait with ``asyncio.wait_for``).

        A future rather than a coroutine, so ``asyncio.wait_for`` needs no task of its own for
        each of thousands of waiting triggers. It raises what reading the session raised (a
        failed batch request included).
        """
        waiter: asyncio.Future[SessionSnapshot] = asyncio.get_running_loop().create_future()
        if self._items:
            _settle(waiter, self._items.pop(0))
        else:
            self._waiter = waiter
        return waiter

    async def pause(self, seconds: float) -> None:
        """Nothing to wait for: the poller's rounds set the pace."""

    def deliver(self, item: SessionSnapshot | BaseException) -> None:
        """Hand the trigger an observation or a failure (kept for its next wait if none is pending)."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            _settle(waiter, item)
        else:
            self._items.append(item)

    def wants_messages(self, body: Mapping[str, Any]) -> tuple[bool, tuple[Any, ...]]:
        """Whether ``body`` calls for a messages read, and the state to :meth:`commit` after it.

        Messages are read when ``updated_at`` or the status moved since the last observation (or
        Devin sent no ``updated_at``: the contract does not promise it). ``updated_at`` counts whole
        seconds, so a message written later in the same second as the last observation shows the
        same value: the read is repeated while the previous observation was sent less than
        :data:`UPDATED_AT_RESOLUTION` after ``updated_at`` was first seen (with a long interval: one
        extra read after each change).
        """
        seen = (body.get("updated_at"), body.get("status"), body.get("status_detail"))
        moved = self._seen is None or seen[0] is None or seen != self._seen
        return moved or self._last_sent - self._seen_since < UPDATED_AT_RESOLUTION, seen

    def status_changed(self, body: Mapping[str, Any]) -> bool:
        """Whether ``body``'s status or detail differs from the last observation's (not the first)."""
        return self._seen is not None and (body.get("status"), body.get("status_detail")) != self._seen[1:]

    def commit(self, seen: tuple[Any, ...], snapshot: SessionSnapshot, sent: float, received: float) -> None:
        """Record a successful observation (its batch sent and answered at these monotonic times), hand it over."""
        if seen != self._seen:
            self._seen_since = received
        self._seen = seen
        self._last_sent = sent
        self.position = snapshot.position
        self.deliver(snapshot)


def _settle(waiter: asyncio.Future[SessionSnapshot], item: SessionSnapshot | BaseException) -> None:
    if isinstance(item, BaseException):
        waiter.set_exception(item)
    else:
        waiter.set_result(item)


class SessionPoller:
    """One batch poll per interval for the subscribed sessions of one connection (v3).

    :param hook: A ``DevinHook`` for the connection (the first subscriber's).
    :param interval: Seconds between two polls.
    :param on_empty: Called when the last subscriber left (the registry forgets the poller).
    """

    def __init__(self, hook: Any, interval: float, on_empty: Any) -> None:
        self._hook = hook
        self._interval = interval
        self._on_empty = on_empty
        self._subs: set[Subscription] = set()
        self._joined = asyncio.Event()
        self._reads = asyncio.Semaphore(MAX_CONCURRENT_READS)
        self._urgent_reads = asyncio.Semaphore(MAX_CONCURRENT_READS)
        self._task: asyncio.Task[None] | None = None
        self._reading: dict[Subscription, asyncio.Task[None]] = {}
        self._queued: set[Subscription] = set()  # reading, but still waiting for a slot
        #: Batch requests sent (for tests and benchmarks).
        self.batch_requests = 0

    @property
    def subscribers(self) -> int:
        """How many triggers it serves."""
        return len(self._subs)

    @property
    def reads_in_flight(self) -> int:
        """Single-session reads running or queued (for benchmarks)."""
        return len(self._reading)

    def add(self, sub: Subscription) -> None:
        """Serve ``sub`` from the next round (a join round, within :data:`JOIN_DELAY`)."""
        self._subs.add(sub)
        self._joined.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="devin-session-poller")

    async def remove(self, sub: Subscription) -> None:
        """Stop serving ``sub``; the last one to leave stops the poller and waits until its client is released."""
        self._subs.discard(sub)
        if not self._subs:
            self._on_empty(self)
            task, self._task = self._task, None
            if task is not None:
                task.cancel()
                await asyncio.wait({task})  # does not raise the poller's own cancellation

    async def _run(self) -> None:
        while self._subs:
            try:
                async with self._hook.async_api() as api:
                    await self._serve(api)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the connection lookup failed (or a bug): every waiter hears it
                for sub in list(self._subs):
                    sub.deliver(err)
                await asyncio.sleep(self._interval)

    async def _serve(self, api: Any) -> None:
        try:
            await self._rounds(api)
        finally:  # the reads use the client the caller is about to release
            reading = list(self._reading.values())
            for task in reading:
                task.cancel()
            if reading:
                await asyncio.wait(reading)

    async def _rounds(self, api: Any) -> None:
        # Rounds: a full one every interval (every subscriber), and between them join rounds for
        # newcomers, at most one per JOIN_DELAY; the first round runs at once, so a lone trigger
        # waits no longer for its first observation than it would polling on its own.
        next_full = time.monotonic()
        while self._subs:
            started = time.monotonic()
            if started >= next_full:
                batch = list(self._subs)
                next_full = started + self._interval
            else:
                batch = [sub for sub in self._subs if sub.fresh]
            self._joined.clear()
            if batch:
                await self._poll(api, batch)
            wait = next_full - time.monotonic()
            if wait > 0:
                try:
                    await asyncio.wait_for(self._joined.wait(), wait)
                except asyncio.TimeoutError:
                    continue
                await asyncio.sleep(max(0.0, started + JOIN_DELAY - time.monotonic()))

    async def _poll(self, api: Any, batch: list[Subscription]) -> None:
        from airflow_provider_devin.hooks._async import BATCH_SIZE

        by_key: dict[str, list[Subscription]] = {}
        for sub in batch:
            sub.fresh = False
            by_key.setdefault(sub.key, []).append(sub)
        keys = list(by_key)
        chunks = [keys[start : start + BATCH_SIZE] for start in range(0, len(keys), BATCH_SIZE)]
        await asyncio.gather(*(self._poll_chunk(api, chunk, by_key) for chunk in chunks))

    async def _poll_chunk(self, api: Any, keys: list[str], by_key: dict[str, list[Subscription]]) -> None:
        self.batch_requests += 1
        sent = time.monotonic()
        try:
            bodies = await api.list_sessions_by_id(keys)
        except Exception as err:  # each subscriber counts it as its own failed poll
            for key in keys:
                for sub in by_key[key]:
                    sub.deliver(err)
            return
        received = time.monotonic()
        loop = asyncio.get_running_loop()
        for key in keys:
            body = bodies.get(key)
            for sub in by_key[key]:
                running = self._reading.get(sub)
                if running is not None:
                    # Its previous read still runs: it takes the next round -- unless that read
                    # still waits for a slot and the status moved, which is read ahead of it.
                    if not (sub in self._queued and body is not None and sub.status_changed(body)):
                        continue
                    running.cancel()
                if body is not None and not (decision := sub.wants_messages(body))[0]:
                    try:  # nothing moved: an observation without a request
                        snapshot = await api.read_listed_session(
                            sub.session_id, body, sub.position, read_messages=False
                        )
                    except Exception as err:
                        sub.deliver(err)
                    else:
                        sub.commit(decision[1], snapshot, sent, received)
                    continue
                # Reads that need requests run beside the rounds, so a round (and the status
                # changes it brings) never waits behind thousands of messages reads.
                # A status change goes ahead of first-observation and same-second reads (its own
                # slots), so thousands of start-up reads cannot hold back a finished session.
                changed = body is not None and sub.status_changed(body)
                task = loop.create_task(self._read(api, sub, body, sent, received, changed))
                self._reading[sub] = task
                task.add_done_callback(functools.partial(self._read_done, sub))

    def _read_done(self, sub: Subscription, task: asyncio.Task[None]) -> None:
        if self._reading.get(sub) is task:
            del self._reading[sub]

    @asynccontextmanager
    async def _slot(self, sub: Subscription, urgent: bool) -> AsyncIterator[None]:
        """One of the poller's read slots (a status change has slots of its own)."""
        if urgent:
            async with self._urgent_reads:
                yield
            return
        self._queued.add(sub)
        try:
            await self._reads.acquire()
        finally:
            self._queued.discard(sub)
        try:
            yield
        finally:
            self._reads.release()

    async def _read(
        self,
        api: Any,
        sub: Subscription,
        body: dict[str, Any] | None,
        sent: float,
        received: float,
        urgent: bool = False,
    ) -> None:
        try:
            if body is None:  # not in the answer: its own GET decides (a 404 is the trigger's not-found)
                async with self._slot(sub, urgent):
                    snapshot = await api.read_session(sub.session_id, sub.position)
                seen: tuple[Any, ...] = (None, None, None)
            else:
                read, seen = sub.wants_messages(body)
                if read:
                    async with self._slot(sub, urgent):
                        snapshot = await api.read_listed_session(sub.session_id, body, sub.position)
                else:
                    snapshot = await api.read_listed_session(sub.session_id, body, sub.position, read_messages=False)
        except Exception as err:
            sub.deliver(err)
        else:
            sub.commit(seen, snapshot, sent, received)


async def next_observation(source: _OwnPoll | Subscription, limit: float) -> SessionSnapshot:
    """``source.next()`` within ``limit`` seconds (``asyncio.TimeoutError`` after that).

    On Python 3.11, ``asyncio.wait_for`` returns the result instead of raising when the task is
    cancelled in the same loop iteration as the awaited future completes -- likely when one poller
    round answers thousands of waiting triggers while the triggerer cancels some of them. A trigger
    that lost its cancellation would wait on forever, so the cancellation is raised again here.
    """
    try:
        return await asyncio.wait_for(source.next(), limit)
    finally:
        task = asyncio.current_task()
        if sys.version_info < (3, 12) and task is not None and task.cancelling():
            raise asyncio.CancelledError


_pollers: dict[tuple[Any, ...], SessionPoller] = {}


def poller_count() -> int:
    """How many pollers run in this process (for tests and benchmarks)."""
    return len(_pollers)


def active_pollers() -> list[SessionPoller]:
    """The running pollers (for tests and benchmarks)."""
    return list(_pollers.values())


@asynccontextmanager
async def open_poll_source(
    hook: Any, session_id: str, position: MessagePosition, interval: float, handover: Handover | None = None
) -> AsyncIterator[_OwnPoll | Subscription]:
    """Where one trigger's observations come from, for the whole wait.

    ``await source.next()`` is the next observation (bound it with ``asyncio.wait_for``), ``await
    source.pause(seconds)`` waits until the next one is due (a no-op where a poller sets the pace),
    ``source.gate`` is the connection's backoff gate and ``source.wait_bound`` how long a ``next``
    may take when all is well.

    v3: a subscription to the poller of this event loop, connection settings and interval (made
    by the first trigger to come, stopped when the last one leaves). v1: the trigger's own reads.

    :param hook: The trigger's ``DevinHook``.
    :param session_id: The session to watch.
    :param position: Where its conversation reading stands.
    :param interval: The trigger's poll interval in seconds.
    :param handover: The worker's last observation, if it handed one over (v3 only uses it).
    """
    settings = await hook.aget_settings()
    if settings.api_version != "v3":
        async with hook.async_api() as api:
            yield _OwnPoll(api, session_id, position)
        return
    key = (id(asyncio.get_running_loop()), settings, interval)
    poller = _pollers.get(key)
    if poller is None:

        def forget(done: SessionPoller) -> None:
            if _pollers.get(key) is done:
                del _pollers[key]

        poller = _pollers[key] = SessionPoller(hook, interval, forget)
    from airflow_provider_devin.hooks._backoff import backoff_gate

    sub = Subscription(session_id, position, backoff_gate(settings), interval + settings.timeout, handover)
    poller.add(sub)
    try:
        yield sub
    finally:
        await poller.remove(sub)
