"""Clocks injected into everything that needs time, so the same loop runs on a Pi and in simulation.

`RealClock` sleeps to absolute deadlines on the monotonic clock; `VirtualClock` jumps, so an hour
of recipe runs in seconds; `ScaledClock` runs virtual time at a fixed multiple of real time (the
daemon's `--speed`). Nothing in control, recipe or safety code reads time except through these.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What every time consumer needs: a monotonic reading and a way to wait until a deadline."""

    def now(self) -> float:
        """Monotonic time in seconds."""
        ...

    def sleep_until(self, deadline_s: float) -> None:
        """Return once `now() >= deadline_s` (at once if already past)."""
        ...

    def sleep(self, duration_s: float) -> None:
        """Wait `duration_s` seconds of this clock's time."""
        ...


class RealClock:
    """Wall-clock monotonic time; sleeps to absolute deadlines so a periodic loop never drifts."""

    def now(self) -> float:
        return time.monotonic()

    def sleep_until(self, deadline_s: float) -> None:
        remaining_s = deadline_s - time.monotonic()
        if remaining_s > 0:
            time.sleep(remaining_s)

    def sleep(self, duration_s: float) -> None:
        self.sleep_until(self.now() + duration_s)


class VirtualClock:
    """Simulated time that only moves when someone sleeps or calls `advance`: never blocks."""

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = float(start_s)

    def now(self) -> float:
        return self._now_s

    def advance(self, duration_s: float) -> None:
        """Move time forward by `duration_s` (negative values are refused: time is monotonic)."""
        if duration_s < 0:
            raise ValueError(f"virtual time cannot go back ({duration_s} s)")
        self._now_s += duration_s

    def sleep_until(self, deadline_s: float) -> None:
        if deadline_s > self._now_s:
            self._now_s = deadline_s

    def sleep(self, duration_s: float) -> None:
        self.advance(max(0.0, duration_s))


class ThrottledClock(VirtualClock):
    """Virtual time that never runs more than `speed` times faster than real time.

    Time moves only when someone sleeps, exactly as `VirtualClock`, so a slow tick can never make
    the loop 'late' in simulated time (no false overruns at high speed); each sleep also waits the
    real time its virtual span is worth at `speed`, so a person can watch the run go by.
    """

    def __init__(self, speed: float, start_s: float = 0.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0; use VirtualClock for as-fast-as-possible")
        super().__init__(start_s)
        self._speed = speed
        self._real_start_s = time.monotonic()
        self._virtual_start_s = start_s

    def sleep_until(self, deadline_s: float) -> None:
        if deadline_s <= self.now():
            return
        real_due_s = self._real_start_s + (deadline_s - self._virtual_start_s) / self._speed
        remaining_s = real_due_s - time.monotonic()
        if remaining_s > 0:
            time.sleep(remaining_s)
        super().sleep_until(deadline_s)

    def sleep(self, duration_s: float) -> None:
        self.sleep_until(self.now() + max(0.0, duration_s))


class ScaledClock:
    """Virtual time that runs `speed` times faster than real time (speed 1 is real time)."""

    def __init__(self, speed: float, start_s: float = 0.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0; use VirtualClock for as-fast-as-possible")
        self._speed = speed
        self._start_real_s = time.monotonic()
        self._start_s = start_s

    def now(self) -> float:
        return self._start_s + (time.monotonic() - self._start_real_s) * self._speed

    def sleep_until(self, deadline_s: float) -> None:
        remaining_s = (deadline_s - self.now()) / self._speed
        if remaining_s > 0:
            time.sleep(remaining_s)

    def sleep(self, duration_s: float) -> None:
        self.sleep_until(self.now() + duration_s)
