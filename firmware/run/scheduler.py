"""Fixed-rate loop timing on an injected clock: absolute deadlines, jitter and overruns counted.

Deadlines are `start + k * period`, never `last + period`, so the loop does not drift. A tick that
runs past the next deadline is an overrun; the ticks it swallowed are skipped (not run late in a
burst, which would feed the controllers stale dt).
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from firmware.clock import Clock

JITTER_WINDOW_TICKS = 6000  # ten minutes at 10 Hz: enough for stable p99 without growing forever
FIFO_PRIORITY = 20  # modest: above ordinary processes, below kernel threads and IRQ handlers


@dataclass(frozen=True)
class LoopStats:
    """Timing of the loop so far, for telemetry and the loop benchmark."""

    ticks: int
    overruns: int
    skipped_ticks: int
    jitter_p50_ms: float
    jitter_p99_ms: float
    jitter_max_ms: float
    busy_max_ms: float


def request_realtime(priority: int = FIFO_PRIORITY) -> bool:
    """Ask for SCHED_FIFO; returns False (and changes nothing) when not permitted."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError, AttributeError):
        return False
    return True


class Scheduler:
    """Calls `tick(now_s)` every `period_s` of the injected clock until `stop()`."""

    def __init__(self, clock: Clock, period_s: float) -> None:
        if period_s <= 0:
            raise ValueError("period_s must be > 0")
        self.clock = clock
        self.period_s = period_s
        self._k = 0
        self._start_s: float | None = None
        self._stop = False
        self.ticks = 0
        self.overruns = 0
        self.skipped_ticks = 0
        self.consecutive_overruns = 0
        self._jitter_s: deque[float] = deque(maxlen=JITTER_WINDOW_TICKS)
        self._jitter_max_s = 0.0
        self._busy_max_s = 0.0

    def stop(self) -> None:
        """Ask the loop to return after the tick in progress."""
        self._stop = True

    @property
    def stopped(self) -> bool:
        """True once `stop()` has been called."""
        return self._stop

    def next_deadline(self) -> float:
        if self._start_s is None:
            self._start_s = self.clock.now()
        return self._start_s + self._k * self.period_s

    def run_once(self, tick: Callable[[float], None]) -> None:
        """Wait for the next deadline, run one tick, account for its timing."""
        deadline_s = self.next_deadline()
        self.clock.sleep_until(deadline_s)
        started_s = self.clock.now()
        jitter_s = max(0.0, started_s - deadline_s)
        self._jitter_s.append(jitter_s)
        self._jitter_max_s = max(self._jitter_max_s, jitter_s)
        tick(deadline_s)
        ended_s = self.clock.now()
        self._busy_max_s = max(self._busy_max_s, ended_s - started_s)
        self.ticks += 1
        self._k += 1
        late_by = ended_s - self.next_deadline()
        if late_by > 0:
            missed = math.floor(late_by / self.period_s) + 1
            self.overruns += 1
            self.consecutive_overruns += 1
            self.skipped_ticks += missed
            self._k += missed
        else:
            self.consecutive_overruns = 0

    def run(self, tick: Callable[[float], None], max_ticks: int | None = None) -> None:
        """Tick until `stop()` is called (or `max_ticks` ticks have run)."""
        self._stop = False
        done = 0
        while not self._stop and (max_ticks is None or done < max_ticks):
            self.run_once(tick)
            done += 1

    def stats(self) -> LoopStats:
        samples = sorted(self._jitter_s)

        def pct(q: float) -> float:
            if not samples:
                return 0.0
            return samples[min(len(samples) - 1, int(q * len(samples)))] * 1000.0

        return LoopStats(self.ticks, self.overruns, self.skipped_ticks, pct(0.5), pct(0.99),
                         self._jitter_max_s * 1000.0, self._busy_max_s * 1000.0)
