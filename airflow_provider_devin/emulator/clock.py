"""The emulated clock: real elapsed time times a speed factor, plus manual jumps.

Every timeline in the emulator is expressed in emulated seconds since the clock started. Clients
see an emulated instant in two ways:

* **v1** (:meth:`EmulatedClock.isoformat`): the instant on a wall clock that started at the real
  time the clock was created and runs at the emulated speed, so ``created_at``/``updated_at``/
  message timestamps keep the emulated spacing (a 60 s timeline reads as 60 s apart) even when the
  clock runs 60 times faster than real time. These may lie in the future.
* **v3** (:meth:`EmulatedClock.wall_time`, integer epoch seconds): the real wall time at which
  the emulated clock reached that instant. A jump (``advance``) happens in no real time, so every
  instant it skipped maps to the wall time of the jump. These are never in the future, they only
  grow with the emulated time, and an event keeps its timestamp on every read.
"""

from __future__ import annotations

import bisect
import time
from datetime import datetime, timezone

_JUMP = 0.0  # the "speed" of a jump segment: every instant in it maps to the jump's real time


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
        # speed from there on, or _JUMP for the instants a jump skipped).
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
        """Jump forward by ``seconds`` emulated seconds; returns the new emulated time."""
        if seconds < 0:
            raise ValueError(f"the emulated clock only moves forward; got {seconds!r}")
        self._rebase(_JUMP)
        self._base_emulated += seconds
        self._marks.append((self._base_emulated, self._base_real, self._speed))
        return self.now()

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on without making the clock jump."""
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        self._rebase(float(speed))
        self._speed = float(speed)

    def isoformat(self, emulated: float) -> str:
        """v1: ISO-8601 with a ``+00:00`` offset, e.g. ``2026-01-01T00:05:30.123456+00:00`` (see module doc)."""
        return datetime.fromtimestamp(self._wall_origin + emulated, tz=timezone.utc).isoformat(timespec="microseconds")

    def wall_time(self, emulated: float) -> float:
        """v3: real epoch seconds at which the emulated clock reached ``emulated``, never after now."""
        index = bisect.bisect_right(self._marks, emulated, key=lambda mark: mark[0]) - 1
        start, real, speed = self._marks[max(index, 0)]
        if speed != _JUMP:
            real += max(emulated - start, 0.0) / speed
        return self._wall_origin + min(real, self._real())

    def epoch(self, emulated: float) -> int:
        """:meth:`wall_time` as integer epoch seconds (what v3 ``created_at``/``updated_at`` carry)."""
        return int(self.wall_time(emulated))
