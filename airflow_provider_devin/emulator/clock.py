"""The emulated clock: real elapsed time times a speed factor, plus manual jumps.

Every timeline in the emulator is expressed in emulated seconds since the clock started. Clients
see an emulated instant as the **real wall time at which the emulated clock reached it**: the
clock scales durations, it never runs the wall clock ahead. So at speed 60 a one-minute timeline
spans one real second, and no timestamp either API version returns is ever in the future
(a client computing ``now - created_at`` never gets a negative age).

* **v1** (:meth:`EmulatedClock.isoformat`): that instant as ISO-8601 with a ``+00:00`` offset and
  microseconds.
* **v3** (:meth:`EmulatedClock.epoch`): the same instant as integer epoch seconds.

A jump (:meth:`EmulatedClock.advance`) takes :data:`JUMP_REAL_SECONDS` of real time, over which
the instants it skips are spread evenly, so events a jump skips over keep distinct, ordered v1
timestamps (to the microsecond, for events more than ``seconds / 1000`` apart). Timestamps only
grow with the emulated time, and an event keeps its timestamp on every read.
"""

from __future__ import annotations

import bisect
import math
import time
from datetime import datetime, timezone

#: Real seconds an ``advance()`` takes; the emulated instants it skips map into this window.
JUMP_REAL_SECONDS = 0.001


class EmulatedClock:
    """Not thread-safe on its own; the emulator state calls it under its lock.

    :param speed: emulated seconds per real second (``60`` makes a minute pass in a second).
    """

    def __init__(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        self._speed = float(speed)
        self._wall_origin = time.time()
        self._mono_origin = time.monotonic()
        self._base_emulated = 0.0  # emulated time at the last re-base
        self._base_real = 0.0  # real seconds since the origin at the last re-base
        # Breakpoints of the emulated -> real mapping: (emulated, real seconds since the origin,
        # speed from there on); a jump is a short segment at a very high speed.
        self._marks: list[tuple[float, float, float]] = [(0.0, 0.0, self._speed)]

    @property
    def speed(self) -> float:
        return self._speed

    def _real(self) -> float:
        return time.monotonic() - self._mono_origin

    def now(self) -> float:
        """Emulated seconds since the clock started."""
        return self._base_emulated + (self._real() - self._base_real) * self._speed

    def _rebase(self, speed_after: float) -> None:
        emulated, real = self.now(), self._real()
        self._base_emulated, self._base_real = emulated, real
        self._marks.append((emulated, real, speed_after))

    def advance(self, seconds: float) -> float:
        """Jump forward by ``seconds`` emulated seconds; returns the new emulated time.

        The jump takes :data:`JUMP_REAL_SECONDS` of real time (the caller holds the state lock, so
        no request reads the clock meanwhile); the skipped instants map into that window.
        """
        if seconds < 0:
            raise ValueError(f"the emulated clock only moves forward; got {seconds!r}")
        if seconds == 0:
            return self.now()
        start_emulated, start_real = self.now(), self._real()
        time.sleep(JUMP_REAL_SECONDS)
        end_real = max(self._real(), start_real + 1e-9)
        self._marks.append((start_emulated, start_real, seconds / (end_real - start_real)))
        self._base_emulated, self._base_real = start_emulated + seconds, end_real
        self._marks.append((self._base_emulated, end_real, self._speed))
        return self.now()

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on without making the clock jump."""
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        self._rebase(float(speed))
        self._speed = float(speed)

    def isoformat(self, emulated: float) -> str:
        """v1: :meth:`wall_time` as ISO-8601 with a ``+00:00`` offset, e.g. ``2026-01-01T00:05:30.123456+00:00``."""
        return datetime.fromtimestamp(self.wall_time(emulated), tz=timezone.utc).isoformat(timespec="microseconds")

    def wall_time(self, emulated: float) -> float:
        """Real epoch seconds at which the emulated clock reached ``emulated``; never after now.

        :param emulated: an emulated instant (seconds since the clock started); one still ahead
            maps to now.
        """
        index = bisect.bisect_right(self._marks, emulated, key=lambda mark: mark[0]) - 1
        start, real, speed = self._marks[max(index, 0)]
        real += max(emulated - start, 0.0) / speed
        # Floor to the microsecond (what isoformat shows), so rounding never lands after now.
        wall = math.floor((self._wall_origin + min(real, self._real())) * 1e6) / 1e6
        return min(wall, time.time())

    def epoch(self, emulated: float) -> int:
        """v3: :meth:`wall_time` as integer epoch seconds (what ``created_at``/``updated_at`` carry).

        :param emulated: an emulated instant.
        """
        return int(self.wall_time(emulated))
