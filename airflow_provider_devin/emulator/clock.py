"""The emulated clock: real elapsed time times a speed factor, plus manual jumps.

Every timeline in the emulator is expressed in emulated seconds since the clock started.
Timestamps shown to clients are that instant on a wall clock that started at the real time the
clock was created, so ``created_at``/``updated_at``/message timestamps stay consistent with the
order of events even when the clock runs 60 times faster than real time.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone


class EmulatedClock:
    """Not thread-safe on its own; the emulator state calls it under its lock.

    :param speed: emulated seconds per real second (``60`` makes a minute pass in a second).
    """

    def __init__(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        self._speed = float(speed)
        self._wall_origin = time.time()
        self._real_origin = time.monotonic()
        self._emulated_origin = 0.0  # emulated seconds accumulated before the last re-base

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        """Emulated seconds since the clock started."""
        return self._emulated_origin + (time.monotonic() - self._real_origin) * self._speed

    def advance(self, seconds: float) -> float:
        """Jump forward by ``seconds`` emulated seconds; returns the new emulated time."""
        if seconds < 0:
            raise ValueError(f"the emulated clock only moves forward; got {seconds!r}")
        self._emulated_origin += seconds
        return self.now()

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on without making the clock jump."""
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        self._emulated_origin = self.now()
        self._real_origin = time.monotonic()
        self._speed = float(speed)

    def isoformat(self, emulated: float) -> str:
        """ISO-8601 with a ``+00:00`` offset for an emulated instant, e.g. ``2026-01-01T00:05:30.123456+00:00``."""
        return datetime.fromtimestamp(self._wall_origin + emulated, tz=timezone.utc).isoformat(timespec="microseconds")
