"""Short memories the checks judge trends with: timestamped series and read-health windows.

Times are the supervisor's `now_s` or the readings' own `time_s`, in seconds; nothing here reads
a clock. Series are trimmed by time, so memory is bounded by the longest window a check uses.
"""

from __future__ import annotations

import bisect
from collections import deque

# Trend ends are averaged over this long, not taken from single readings: 2 s is 8 reads at 4 Hz,
# which shrinks the 0.1 C rms noise and straddles the MAX31855's 0.25 C steps and 1-LSB flicker,
# while staying short against every window it is used in (the shortest is ~15 s).
ENDPOINT_AVERAGE_S = 2.0


class Series:
    """Values with their times, oldest first, kept for `keep_s` seconds behind the newest.

    Window means are O(log n): times are searched by bisection and sums come from a running
    total, because the loop asks for several means per zone per tick and a heavy press keeps
    minutes of 10 Hz points.
    """

    def __init__(self, keep_s: float) -> None:
        self.keep_s = keep_s
        self.clear()

    def clear(self) -> None:
        """Forget everything (after a reset, or when the quantity stops being meaningful)."""
        self._t: list[float] = []
        self._total: list[float] = [0.0]  # _total[i] = sum of values before index i
        self._head = 0  # index of the oldest point kept; earlier ones are dropped lazily

    def add(self, t_s: float, value: float) -> None:
        """Append a point (times must not go backwards; an older point is ignored)."""
        times = self._t
        if len(times) > self._head and t_s < times[-1]:
            return
        times.append(t_s)
        self._total.append(self._total[-1] + value)
        # Keep one point at or before the window start, so `covers(now - keep)` can hold.
        start_s = t_s - self.keep_s
        while len(times) - self._head >= 2 and times[self._head + 1] <= start_s:
            self._head += 1
        if self._head > 1024 and self._head > len(self._t) // 2:
            self._compact()

    def _compact(self) -> None:
        """Drop the points before the head (amortised O(1) per point)."""
        base = self._total[self._head]
        self._t = self._t[self._head:]
        self._total = [x - base for x in self._total[self._head:]]
        self._head = 0

    def __len__(self) -> int:
        return len(self._t) - self._head

    @property
    def first_t_s(self) -> float | None:
        """Time of the oldest point kept, or None when empty."""
        return self._t[self._head] if len(self) else None

    @property
    def last(self) -> tuple[float, float] | None:
        """The newest `(t_s, value)`, or None."""
        if not len(self):
            return None
        return self._t[-1], self._total[-1] - self._total[-2]

    def covers(self, t_from_s: float) -> bool:
        """True when the series reaches back to `t_from_s` (the window is fully observed)."""
        return len(self._t) > self._head and self._t[self._head] <= t_from_s

    def mean_between(self, t0_s: float, t1_s: float) -> float | None:
        """Mean of the values with `t0_s <= t <= t1_s`, or None when there are none."""
        i = bisect.bisect_left(self._t, t0_s, lo=self._head)
        j = bisect.bisect_right(self._t, t1_s, lo=self._head)
        return (self._total[j] - self._total[i]) / (j - i) if j > i else None

    def start_value(self, t0_s: float) -> float | None:
        """The value at the start of a window: the mean over its first ENDPOINT_AVERAGE_S."""
        return self.mean_between(t0_s, t0_s + ENDPOINT_AVERAGE_S)

    def end_value(self, t1_s: float) -> float | None:
        """The value at the end of a window: the mean over its last ENDPOINT_AVERAGE_S."""
        return self.mean_between(t1_s - ENDPOINT_AVERAGE_S, t1_s)

    def rise(self, t0_s: float, t1_s: float) -> float | None:
        """End value minus start value over `[t0_s, t1_s]`, or None if the series does not
        cover `t0_s` (a window only partly seen proves nothing either way).
        """
        if not self.covers(t0_s):
            return None
        start, end = self.start_value(t0_s), self.end_value(t1_s)
        return None if start is None or end is None else end - start


class ReadHealth:
    """Consecutive and windowed bad reads of one sensor channel.

    `record(ok)` is called once per new read (a result reused between polls is not a read).
    `tripped` holds when `consecutive_bad >= consecutive_limit` (Klipper/Marlin style) or when
    more than `window_fraction` of the last `window_reads` reads were bad (kiln-controller
    style); a window still filling counts as if its missing reads were good, so two bad reads of
    the first three after boot do not look like 67 %.
    """

    def __init__(self, consecutive_limit: int, window_reads: int, window_fraction: float) -> None:
        self.consecutive_limit = consecutive_limit
        self.window_fraction = window_fraction
        self._window: deque[bool] = deque(maxlen=window_reads)
        self.consecutive_bad = 0
        self.consecutive_good = 0

    def record(self, ok: bool) -> None:
        """Count one new read."""
        self._window.append(ok)
        self.consecutive_bad = 0 if ok else self.consecutive_bad + 1
        self.consecutive_good = self.consecutive_good + 1 if ok else 0

    @property
    def bad_in_window(self) -> int:
        """Bad reads among the last `window_reads`."""
        return sum(1 for ok in self._window if not ok)

    @property
    def window_tripped(self) -> bool:
        """More than `window_fraction` of the window's full length were bad."""
        maxlen = self._window.maxlen or 1
        return self.bad_in_window > self.window_fraction * maxlen

    def tripped(self, consecutive_limit: int | None = None) -> bool:
        """True when the streak or the window says this channel cannot be trusted."""
        limit = self.consecutive_limit if consecutive_limit is None else consecutive_limit
        return self.consecutive_bad >= limit or self.window_tripped

    def clear(self) -> None:
        """Forget the window after an accepted reset (the good streak is kept)."""
        self._window.clear()
        self.consecutive_bad = 0
