"""A fast fake Devin endpoint on loopback, run in its own process.

It speaks just enough HTTP/1.1 (keep-alive, no bodies) to serve, on a TLS listener and on a plain one:

- ``GET /v1/sessions/{session_id}``: 200 and a realistic session body (``session_json``). Ids that
  contain ``finished`` report ``status_enum: finished``; every other id is ``working``.
- ``GET /404/v1/sessions/{session_id}``: the same body with status 404. ``HttpSensorTrigger`` (the
  baseline) fires on anything but a 404, so this keeps it polling while it downloads the same bytes.

- v3 (org ``org-benchmark``): ``GET /v3/organizations/{org}/sessions?session_ids=…`` (the batch
  read of coalesced polling: every listed id, no paging), ``GET …/sessions/{id}`` and
  ``GET …/sessions/{id}/messages`` (the twenty messages as one page).
- An id containing ``flip<epoch-ms>-`` reports working until that moment and finished after it (the
  status-change latency benchmark); its v3 ``updated_at`` moves then.

The control command ``latency <seconds>`` delays every answer from then on (without blocking the
server). Every accepted TCP connection is counted server-side. A third, plain listener (the control port)
answers one-line commands, so the benchmark drivers can read the counters without touching the
counted listeners: ``stats`` returns a JSON line, ``quit`` stops the server.

Usage: ``python -m benchmarks.fake_devin --tls-dir DIR`` prints one JSON line with the ports and
the CA file, then serves until ``quit``, end of stdin, or ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import ssl
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import cast
from urllib.parse import parse_qs

from benchmarks.session_json import V3_ORG, V3_WORKING_UPDATED_AT, session_body, v3_messages_page, v3_session
from benchmarks.tls import make_loopback_tls

_MAX_HEADER_BYTES = 16 * 1024
_CACHE_ENTRIES = 20_000


class Stats:
    """Counters shared by every connection of the server."""

    def __init__(self) -> None:
        self.accepted = {"tls": 0, "plain": 0}
        self.open = {"tls": 0, "plain": 0}
        self.requests = {"tls": 0, "plain": 0}
        self.by_route = {"session": 0, "session_404": 0, "list": 0, "messages": 0, "other": 0}
        self.latency = 0.0
        # Distinct session ids asked for, per route: lets a driver wait until every trigger polled once.
        self.seen: dict[str, set[str]] = {"session": set(), "session_404": set()}
        self.started = time.monotonic()

    def as_dict(self) -> dict[str, object]:
        return {
            "accepted": dict(self.accepted),
            "open": dict(self.open),
            "requests": dict(self.requests),
            "by_route": dict(self.by_route),
            "distinct_sessions": {route: len(ids) for route, ids in self.seen.items()},
            "uptime": time.monotonic() - self.started,
            "cpu_seconds": time.process_time(),
        }


class Responses:
    """Pre-rendered responses, cached per (route, session id)."""

    def __init__(self, stats: Stats, messages: int) -> None:
        self._stats = stats
        self._messages = messages
        self._cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        body = b'{"detail":"Not Found"}'
        self._not_found = self._render(404, body)
        self._v3_messages: bytes | None = None

    @staticmethod
    def _render(status: int, body: bytes) -> bytes:
        reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed"}[status]
        head = (
            f"HTTP/1.1 {status} {reason}\r\n"
            "server: fake-devin\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n"
            "\r\n"
        )
        return head.encode() + body

    def for_request(self, method: bytes, target: bytes) -> bytes:
        raw_path, _, query = target.partition(b"?")
        path = raw_path.decode("latin-1")
        if method == b"GET" and path.startswith(_V3_SESSIONS):
            return self._v3(path[len(_V3_SESSIONS) :], query.decode("latin-1"))
        if path.startswith("/404/"):
            route, status, path = "session_404", 404, path[4:]
        else:
            route, status = "session", 200
        if method != b"GET" or not path.startswith("/v1/sessions/") or path.count("/") != 3:
            self._stats.by_route["other"] += 1
            return self._not_found
        session_id = path.rsplit("/", 1)[1]
        self._stats.by_route[route] += 1
        self._stats.seen[route].add(session_id)
        finished = _finished(session_id)
        key = (route, session_id, finished)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._render(
                status, session_body(session_id, "finished" if finished else "working", self._messages)
            )
            self._cache[key] = cached
            if len(self._cache) > _CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return cached

    def _v3(self, rest: str, query: str) -> bytes:
        if rest == "":
            ids = parse_qs(query).get("session_ids", [])
            self._stats.by_route["list"] += 1
            self._stats.seen["session"].update(ids)
            items = [_v3_body(sid) for sid in ids]
            return self._render(200, json.dumps({"items": items, "has_next_page": False, "end_cursor": None}).encode())
        session_id, _, tail = rest.lstrip("/").partition("/")
        if tail == "messages":
            self._stats.by_route["messages"] += 1
            if self._v3_messages is None:
                self._v3_messages = self._render(200, v3_messages_page(self._messages))
            return self._v3_messages
        if tail == "":
            self._stats.by_route["session"] += 1
            self._stats.seen["session"].add(session_id)
            return self._render(200, json.dumps(_v3_body(session_id)).encode())
        self._stats.by_route["other"] += 1
        return self._not_found


_V3_SESSIONS = f"/v3/organizations/{V3_ORG}/sessions"


def _flip_at(session_id: str) -> float | None:
    """When an id ``…flip<epoch-ms>-…`` finishes (epoch seconds); ``None`` for other ids."""
    _, found, rest = session_id.partition("flip")
    digits = rest.split("-", 1)[0]
    return int(digits) / 1000 if found and digits.isdigit() else None


def _finished(session_id: str) -> bool:
    if "finished" in session_id:
        return True
    flip = _flip_at(session_id)
    return flip is not None and time.time() >= flip


def _v3_body(session_id: str) -> dict[str, object]:
    finished = _finished(session_id)
    flip = _flip_at(session_id)
    return v3_session(session_id, finished, int(flip) + 1 if finished and flip else V3_WORKING_UPDATED_AT)


class HTTPConnection(asyncio.Protocol):
    """One client connection: parse request heads, answer each, keep the connection alive."""

    def __init__(self, kind: str, stats: Stats, responses: Responses) -> None:
        self._kind = kind
        self._stats = stats
        self._responses = responses
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they have the same methods.
        self._transport = cast(asyncio.Transport, transport)
        self._stats.accepted[self._kind] += 1
        self._stats.open[self._kind] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._stats.open[self._kind] -= 1
        self._transport = None

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        if transport is None:
            return
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEADER_BYTES:
                    transport.close()
                return
            head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
            request_line, _, headers = head.partition(b"\r\n")
            parts = request_line.split(b" ")
            if len(parts) != 3:
                transport.close()
                return
            method, target, version = parts
            self._stats.requests[self._kind] += 1
            response = self._responses.for_request(method, target)
            close = version == b"HTTP/1.0" or b"connection: close" in headers.lower()
            if self._stats.latency > 0:  # answers leave in order: same delay, FIFO timers
                asyncio.get_running_loop().call_later(self._stats.latency, self._answer, response, close)
            else:
                self._answer(response, close)
            if close:
                return

    def _answer(self, response: bytes, close: bool) -> None:
        transport = self._transport
        if transport is None:
            return
        transport.write(response)
        if close:
            transport.close()


class ControlConnection(asyncio.Protocol):
    """``stats`` -> one JSON line; ``quit`` -> stop the server."""

    def __init__(self, stats: Stats, stop: asyncio.Event) -> None:
        self._stats = stats
        self._stop = stop
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they have the same methods.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while b"\n" in self._buffer and self._transport is not None:
            line, self._buffer = self._buffer.split(b"\n", 1)
            command = line.strip()
            if command == b"stats":
                self._transport.write(json.dumps(self._stats.as_dict()).encode() + b"\n")
            elif command.startswith(b"latency "):
                self._stats.latency = float(command.split()[1])
                self._transport.write(b'{"latency": "set"}\n')
            elif command == b"quit":
                self._transport.write(b"bye\n")
                self._stop.set()
            else:
                self._transport.write(b'{"error": "unknown command"}\n')


def server_ssl_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


async def serve(tls_dir: Path, messages: int, max_seconds: float) -> None:
    files = make_loopback_tls(tls_dir)
    loop = asyncio.get_running_loop()
    stats = Stats()
    responses = Responses(stats, messages)
    stop = asyncio.Event()
    tls_server = await loop.create_server(
        lambda: HTTPConnection("tls", stats, responses),
        "127.0.0.1",
        0,
        ssl=server_ssl_context(files.server_cert, files.server_key),
        backlog=4096,
    )
    plain_server = await loop.create_server(
        lambda: HTTPConnection("plain", stats, responses), "127.0.0.1", 0, backlog=4096
    )
    control_server = await loop.create_server(lambda: ControlConnection(stats, stop), "127.0.0.1", 0)

    def port(server: asyncio.Server) -> int:
        return int(server.sockets[0].getsockname()[1])

    print(
        json.dumps(
            {
                "https_port": port(tls_server),
                "http_port": port(plain_server),
                "control_port": port(control_server),
                "ca_file": str(files.ca_cert),
            }
        ),
        flush=True,
    )

    # End of stdin (the parent went away) also stops the server. A daemon thread, so that a
    # reader still blocked on stdin never delays the interpreter's exit.
    def watch_stdin() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, name="stdin-eof", daemon=True).start()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max_seconds)
    for server in (tls_server, plain_server, control_server):
        server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--tls-dir", type=Path, required=True, help="where the run-time certificates go")
    parser.add_argument("--messages", type=int, default=20, help="messages per session body")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="hard stop")
    parser.add_argument("--no-uvloop", action="store_true", help="use the stdlib event loop")
    args = parser.parse_args(argv)
    runner = asyncio.run
    if not args.no_uvloop:
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            pass
    runner(serve(args.tls_dir, args.messages, args.max_seconds))


if __name__ == "__main__":
    main()
