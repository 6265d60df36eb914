"""What the live chart of a press draws: a bounded, decimated series of its readings, and the plan.

Telemetry comes at up to the press's tick rate (10 Hz of press time, far more at a simulator's
accelerated speed); a chart needs a point per pixel at most. So a point is kept only when it is
`spacing_s` of press time after the last one, and when the series reaches `MAX_POINTS` every other
point is dropped and the spacing doubles: a whole run always fits in a fixed memory and a fixed
JSON size, with an even density from its start to now.

The series belongs to one run: a new run id in telemetry starts a new series, and after the run
ends the series is kept (frozen) so the finished curve stays on screen until the next run. Before
any run the chart shows the idle readings of the last `IDLE_WINDOW_S`. A browser asks for points
by (generation, index): `gen` changes whenever old indices stop meaning what they meant (a new run,
a decimation, a back-fill), and then it gets the whole series again.

Times are press times (`t_s`, the press's monotonic clock); `t0_s` is the run's start on that clock
(from the run header when seen, else the first sample), so x = t_s - t0_s is "time into the run"
and lines up with the plan, whose steps start at 0.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

MAX_POINTS = 3000  # a point per pixel on a wide screen, ~250 kB of JSON for a whole run
START_SPACING_S = 0.5  # press-time spacing at a run's start: a pressure ramp shows its shape
IDLE_WINDOW_S = 900.0  # idle: the last 15 min of press time, enough to see a platen cool
IDLE_SPACING_S = 1.0  # idle telemetry is 1 Hz at real speed; keep each second at most

Point = list[Any]  # [t_s, temps {zone: C}, setpoints {zone: C}, sample MPa, target MPa, density]


def _num(value: Any) -> float | None:
    """A finite number, or None (a fault reading stays a gap, never a 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return float(value)


def _zones(value: Any) -> dict[str, float | None]:
    if not isinstance(value, dict):
        return {}
    return {str(k): _num(v) for k, v in value.items()}


def point_of(t_s: float, msg: dict[str, Any]) -> Point:
    """The chart point of one telemetry message or journal sample."""
    return [round(t_s, 3), _zones(msg.get("temps_c")), _zones(msg.get("setpoints_c")),
            _num(msg.get("sample_mpa")), _num(msg.get("target_sample_mpa")),
            _num(msg.get("relative_density"))]


def plan_steps(header: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """The plan's steps as the chart needs them, from a run header (None when it has none)."""
    plan = (header or {}).get("plan")
    steps = plan.get("steps") if isinstance(plan, dict) else None
    if not isinstance(steps, list):
        return None
    out = []
    for s in steps:
        if not isinstance(s, dict):
            continue
        out.append({"start_s": _num(s.get("start_s")) or 0.0, "end_s": _num(s.get("end_s")) or 0.0,
                    "temps_c": _zones(s.get("temps_c")),
                    "pressure_mpa": _num(s.get("pressure_mpa")) or 0.0,
                    "kind": str(s.get("kind") or ""), "label": str(s.get("label") or "")})
    return out


class LiveSeries:
    """The chart data of one press (thread-safe: fed by the MQTT thread, read by web requests)."""

    def __init__(self, max_points: int = MAX_POINTS) -> None:
        self.max_points = max_points
        self._lock = threading.Lock()
        self.run_id: str | None = None
        self.t0_s: float | None = None
        self.plan: list[dict[str, Any]] | None = None
        self.frozen = False  # the run ended: keep its curve, add no idle points to it
        self.backfilled = False
        self.gen = 0
        self.spacing_s = START_SPACING_S
        self.points: list[Point] = []

    def _reset(self, run_id: str | None, t0_s: float | None) -> None:
        self.run_id, self.t0_s, self.plan = run_id, t0_s, None
        self.frozen, self.backfilled = False, False
        self.spacing_s = START_SPACING_S if run_id else IDLE_SPACING_S
        self.points = []
        self.gen += 1

    def add(self, msg: dict[str, Any]) -> None:
        """Take one telemetry message: append, start a new run's series, or ignore."""
        t_s = _num(msg.get("t_s"))
        if t_s is None:
            return
        run_id = msg.get("run_id") if isinstance(msg.get("run_id"), str) else None
        with self._lock:
            if run_id and run_id != self.run_id:
                self._reset(run_id, t_s)
            elif not run_id and self.run_id:
                self.frozen = True
                return
            elif self.frozen:
                return
            self._append(t_s, msg)
            if not run_id:
                self._trim_idle(t_s)

    def _append(self, t_s: float, msg: dict[str, Any]) -> None:
        if self.points and t_s - self.points[-1][0] < self.spacing_s:
            return
        if self.points and t_s < self.points[-1][0]:  # a restarted press: its clock began anew
            self._reset(self.run_id, t_s)
        self.points.append(point_of(t_s, msg))
        if len(self.points) >= self.max_points:
            self.points = self.points[::2]
            self.spacing_s *= 2.0
            self.gen += 1

    def _trim_idle(self, now_s: float) -> None:
        if self.points and now_s - self.points[0][0] > IDLE_WINDOW_S:
            self.points = [p for p in self.points if now_s - p[0] <= IDLE_WINDOW_S]
            self.t0_s = self.points[0][0]
            self.gen += 1
        if self.t0_s is None and self.points:
            self.t0_s = self.points[0][0]

    def run_started(self, run_id: str, header: dict[str, Any] | None) -> None:
        """A run_started event: its header gives the true start time and the press's plan."""
        header = header or {}
        with self._lock:
            if run_id != self.run_id:
                self._reset(run_id, None)
            started = _num(header.get("started_t_s"))
            if started is not None:
                self.t0_s = started
            plan = plan_steps(header)
            if plan is not None:
                self.plan = plan
            if self.t0_s is None:
                self.t0_s = self.points[0][0] if self.points else None
            self.gen += 1

    def needs_backfill(self, run_id: str | None) -> bool:
        """True once per run: the run is shown and older points may be in the store."""
        with self._lock:
            return bool(run_id) and run_id == self.run_id and not self.backfilled

    def backfill(self, run_id: str, samples: Iterable[tuple[float, dict[str, Any]]],
                 header: dict[str, Any] | None) -> None:
        """Put the run's earlier samples (from the store) before the live ones, and its plan."""
        with self._lock:
            if run_id != self.run_id:
                return
            self.backfilled = True
            first = self.points[0][0] if self.points else float("inf")
            older = [point_of(t, m) for t, m in samples if t < first]
            if header:
                self.t0_s = _num(header.get("started_t_s")) or self.t0_s
                self.plan = self.plan or plan_steps(header)
            if older:
                step = max(1, (len(older) + len(self.points)) // (self.max_points // 2))
                self.points = older[::step] + self.points
                self.t0_s = self.t0_s if self.t0_s is not None else older[0][0]
            self.gen += 1

    def since(self, gen: int | None, after: int) -> dict[str, Any]:
        """New points for a browser that holds `after` points of generation `gen`."""
        with self._lock:
            full = gen != self.gen or not 0 <= after <= len(self.points)
            start = 0 if full else after
            return {"gen": self.gen, "full": full, "run_id": self.run_id, "t0_s": self.t0_s,
                    "frozen": self.frozen, "count": len(self.points),
                    "points": self.points[start:], "plan": self.plan if full else None}
