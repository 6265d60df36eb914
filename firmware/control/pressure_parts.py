"""Parts of the pressure controller (pressure.py): its vocabulary, what it learns of the circuit,
and the pump.

A valve path (fast advance, slow press, release) moves the line at a speed: constant for the
pump-fed paths, `speed * sqrt(p)` through the release needle. Opening for `tau` of command moves
it `speed * (tau - dead_s)`: dead time = on less off delay (> 0 for a normally closed feed valve,
< 0 for the normally open release valve, whose pulses are stretched). After a run's close command
the line moves on for `lag_s` (off delay, plus pump run-down if the pump stops first): the early
cut-off stops `speed * lag_s` short. Speed and dead time are a weighted least-squares fit of
measured steps on command length, the lag comes from each stop's overshoot; all bounded, so a
failed pump or stuck valve teaches nothing absurd. The release needle is a screw set by hand, so
its speed is learnt in wide bounds from the hold's one-tick bleeds alone, its dead time kept (the
valve's delays: one-tick pulses cannot tell the two apart). The estimate the controller steers by
is in pressure_estimate.py.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from firmware.control.pressure_estimate import RUN_WINDOW, PressureEstimator, moments_plus

# Nominal reference circuit (reference/plant.md), used until the press has taught better.
NOMINAL_FAST_MPA_PER_S = 30.0  # 0.8 L/min into ~0.42 cm^3/MPa after contact: ~32 MPa/s
NOMINAL_SLOW_MPA_PER_S = 1.5  # the press valve's orifice passes ~5 % of the flow
# The reference needle (3e-10 m^3/s/sqrt(Pa), set for a ~10 s controlled release) into the
# ~0.42 cm^3/MPa contact compliance: 0.72 MPa^0.5/s, 2.2 MPa/s at 9.3 MPa. (A needle opened to
# 2e-9 is 6.7x that: taken for it, every bleed would look 6.7x too deep to make.)
NOMINAL_RELEASE_RATE = 0.72  # MPa^0.5/s
VALVE_ON_DELAY_S = 0.035  # plant.md: solenoids open in 20-50 ms ...
VALVE_OFF_DELAY_S = 0.02  # ... and close in 10-30 ms: mid-range estimates
# Learning.
RATE_BOUND_FACTOR = 4.0  # a learnt speed stays within 1/4..4x its nominal value
NEEDLE_BOUND_FACTOR = 10.0  # ... a needle's within 1/10..10x: its screw is turned by hand
DEAD_BOUND_S = 0.06  # |dead time| <= the slowest on delay and a tick of slack
LAG_MAX_S = 0.4  # off delay 30 ms + pump run-down 300 ms + slack
LAG_GAIN = 0.8  # share of the newest stop's lag taken in, when that is measured ...
LAG_NOISE_SCALE_S = 0.004  # ... to better than this (fast path ~1 ms; slow path ~10 ms: less)
FIT_FORGET = 0.85  # weight left to older steps per new one: ~7 steps of memory
RIDGE_SPEED_S2 = 0.09  # short pulses alone cannot tell speed from dead time: the fit leans on
RIDGE_OFFSET = 0.3  # the nominal values as much as a 0.3 s pulse would (speed), 0.3 pulse (offset)
NEEDLE_RIDGE_S2 = 0.001  # the needle's nominal speed counts as one bleed tick (~0.03 s open)^2
PLAUSIBLE_RATIO = (0.3, 3.0)  # longer steps this far off the prediction teach nothing (faults)
MIN_OPEN_S = 0.004  # a pulse must hold the valve open this long to count
SQRT_FLOOR_MPA = 0.05  # the orifice law near zero: never divide by sqrt(0)
LEDGER_NOISE_FRAC = 0.25  # read after a step until the mean is good to this share of it, but
LEDGER_MAX_S = 1.0  # no longer than this (a bleed at 0.2 MPa is ~0.01 MPa: 1 s gives ~40 %)
# Pump.
PUMP_SPINUP_S = 0.15  # a small induction motor reaches speed in 50-100 ms
PUMP_MIN_OFF_S = 5.0  # motor starts heat the winding: rest between them
PUMP_LINGER_S = 30.0  # run on if the next top-up is due within this: <= 2 starts/min
PUMP_STOP_AFTER_S = 1.0  # see the last top-up settle before stopping
HOLD_STROKE_S = 180.0  # a pump idling through top-ups rests after this (dead-heading heats oil)
DT_MEMO_MAX = 64  # tick lengths a path remembers its shortest pulse for (a virtual clock: ~20)


class Phase(enum.Enum):
    """What the pressure controller is doing; the diagram is in pressure.py's docstring."""

    IDLE = "idle"
    APPROACH = "approach"
    RAMP = "ramp"
    HOLD = "hold"
    RELEASE = "release"


class PressureFault(enum.Enum):
    """Why the controller stopped pumping. SENSOR clears when readings return; the rest latch."""

    SENSOR = "sensor"  # no valid reading: pump off, feed valves closed, line locked
    APPROACH_TIMEOUT = "approach_timeout"  # no contact within approach_limit_s of pumping
    NO_RISE = "no_rise"  # pumping raised (almost) no pressure: pump failed, hose burst
    RUN_LIMIT = "run_limit"  # one pump run went past its stroke time limit


@dataclass(frozen=True)
class HydraulicCommand:
    """Outputs for one tick in flow terms; copy the fields into OutputCommands."""

    pump_on: bool = False
    advance_open: bool = False
    press_open: bool = False
    release_open: bool = True  # normally open: open is the safe state
    prop_duty: float | None = None  # proportional relief duty 0..1; None when none is fitted


@dataclass(frozen=True)
class PathLearnt:
    """What is known of one valve path (speed: MPa/s, or MPa^0.5/s for the release orifice)."""

    speed: float
    dead_s: float
    lag_s: float


_FEED_DEAD_S = VALVE_ON_DELAY_S - VALVE_OFF_DELAY_S


@dataclass(frozen=True)
class Learnt:
    """Everything learnt of a press: keep it, and seed the next controller with it."""

    fast: PathLearnt = PathLearnt(NOMINAL_FAST_MPA_PER_S, _FEED_DEAD_S, VALVE_OFF_DELAY_S)
    slow: PathLearnt = PathLearnt(NOMINAL_SLOW_MPA_PER_S, _FEED_DEAD_S, VALVE_OFF_DELAY_S)
    release: PathLearnt = PathLearnt(NOMINAL_RELEASE_RATE, -_FEED_DEAD_S, VALVE_ON_DELAY_S)


@dataclass(frozen=True)
class StopRecord:
    """One cut-off: where a run should have ended, where the cut-off said, where it settled."""

    path: str
    level_mpa: float
    predicted_mpa: float
    settled_mpa: float
    lag_s: float  # the learnt lag the cut-off used

    @property
    def overshoot_mpa(self) -> float:
        """How far past its level the run went (MPa; negative: stopped short)."""
        return self.settled_mpa - self.level_mpa

    @property
    def error_mpa(self) -> float:
        """Settled less predicted (MPa): what the learnt lag still got wrong."""
        return self.settled_mpa - self.predicted_mpa


@dataclass
class Step:
    """One valve action: a pulse of `ticks`, or a run (`ticks` None) ended by its cut-off."""

    path: str  # "fast", "slow" or "release"
    t_open: float
    ticks: int | None
    p_start: float  # level when it began: from readings alone if ...
    verified: bool  # ... there were enough since the last step: then it can be learnt from
    approach: bool = False  # began before contact
    tau_s: float = 0.0  # filled in at close: command length,
    t_close: float = 0.0
    quiet_from: float = 0.0  # when readings count again,
    predicted_delta: float = 0.0  # the model's step,
    p_close: float = 0.0  # the estimate at close,
    stop_level: float | None = None  # the level a cut-off stopped it at,
    capped: bool = False  # and whether a proportional relief trimmed it

    @property
    def sign(self) -> float:
        """+1 for the feed paths, -1 for the release path."""
        return -1.0 if self.path == "release" else 1.0

    def pulse_over(self, t_s: float, dt_s: float) -> bool:
        """True at the tick that ends this pulse (never for a run)."""
        return self.ticks is not None and t_s >= self.t_open + (self.ticks - 0.5) * dt_s

    def ledger_s(self, noise_mpa: float, dt_s: float, least_s: float) -> float:
        """How long to read the line after this step before learning from it (s): `least_s`,
        longer for a step small against the transducer's `noise_mpa` (one reading per `dt_s`)."""
        readings = (noise_mpa / max(LEDGER_NOISE_FRAC * self.predicted_delta, 1e-9)) ** 2
        return min(LEDGER_MAX_S, max(least_s, readings * dt_s))

    @property
    def window(self) -> int:
        """Readings averaged while this step's run moves the line (fast: noise is negligible)."""
        return 1 if self.path == "fast" else RUN_WINDOW


class PathModel:
    """One valve path: its speed, dead time and cut-off lag, learnt from what its steps did.
    `sqrt_law`: the release needle (speed x sqrt(p); speed learnt alone, see the module doc)."""

    def __init__(self, name: str, learnt: PathLearnt, sqrt_law: bool = False) -> None:
        self.name = name
        self.sqrt_law = sqrt_law
        self.speed_param = learnt.speed
        self.dead_s = min(DEAD_BOUND_S, max(-DEAD_BOUND_S, learnt.dead_s))
        self.lag_s = min(LAG_MAX_S, max(0.0, learnt.lag_s))
        self._nominal = learnt.speed
        self._sums = [0.0] * 5  # weight, x, y, xx, xy of (tau, delta / unit), forgetting
        self._dead0 = self.dead_s
        self._shortest_dead_s = self.dead_s  # the dead time _shortest_by_dt was worked out for
        self._shortest_by_dt: dict[float, tuple[int, float]] = {}  # dt_s -> _shortest(dt_s)

    @property
    def learnt(self) -> PathLearnt:
        """The current figures, for saving."""
        return PathLearnt(self.speed_param, self.dead_s, self.lag_s)

    def speed(self, p_mpa: float) -> float:
        """How fast the path moves the line at `p_mpa` (MPa/s, > 0)."""
        if self.sqrt_law:
            return self.speed_param * math.sqrt(max(p_mpa, SQRT_FLOOR_MPA))
        return self.speed_param

    def step(self, tau_s: float, p_mpa: float) -> float:
        """Pressure moved (MPa, >= 0) by `tau_s` of open command at `p_mpa`."""
        return self.speed(p_mpa) * max(0.0, tau_s - self.dead_s)

    def min_ticks(self, dt_s: float) -> int:
        """The shortest pulse, in ticks of `dt_s`, that opens the valve at all."""
        return self._shortest(dt_s)[0]

    def resolution(self, p_mpa: float, dt_s: float) -> float:
        """The smallest step this path can make at `p_mpa` with ticks of `dt_s` (MPa)."""
        return self.speed(p_mpa) * self._shortest(dt_s)[1]  # = step(min_ticks * dt_s, p_mpa)

    def _shortest(self, dt_s: float) -> tuple[int, float]:
        """min_ticks at `dt_s` and the open time past the dead time it gives (s), as `step` has
        it. Asked several times a tick (600k times a run), they depend only on the tick and the
        dead time: kept per tick length (a virtual clock's sums give ~20) until the fit moves."""
        if self.dead_s != self._shortest_dead_s or len(self._shortest_by_dt) >= DT_MEMO_MAX:
            self._shortest_dead_s = self.dead_s
            self._shortest_by_dt.clear()
        hit = self._shortest_by_dt.get(dt_s)
        if hit is None:
            n = max(1, math.ceil((self.dead_s + MIN_OPEN_S) / dt_s - 1e-9))
            hit = self._shortest_by_dt[dt_s] = (n, max(0.0, n * dt_s - self.dead_s))
        return hit

    def ticks_for(self, delta_mpa: float, p_mpa: float, dt_s: float, at_most: bool = False) -> int:
        """Pulse length (ticks) that moves the line by `delta_mpa`, 0 if below the resolution.
        `at_most`: round down (never more than `delta_mpa`) instead of to the nearest."""
        ticks = (delta_mpa / self.speed(p_mpa) + self.dead_s) / dt_s
        n = math.floor(ticks + 1e-9) if at_most else round(ticks)
        return n if n >= self.min_ticks(dt_s) else 0

    def learn_step(self, tau_s: float, delta_mpa: float, p_mpa: float,
                   noise_mpa: float = 0.0) -> None:
        """Take in a step of a pulse or run of `tau_s` command, measured as `delta_mpa` (MPa) to
        within `noise_mpa` (its standard error): a step lost in the noise counts for little."""
        predicted = self.step(tau_s, p_mpa)
        if predicted <= 0.0:
            return
        short = tau_s < self.dead_s + 2 * DEAD_BOUND_S  # noisy, and may not have opened at all
        if short or PLAUSIBLE_RATIO[0] <= delta_mpa / predicted <= PLAUSIBLE_RATIO[1]:
            # Clipped evenly about the prediction: clipping noise at 0 alone would bias it up.
            high = PLAUSIBLE_RATIO[1] * predicted
            delta_mpa = min(max(2 * predicted - high, delta_mpa), high)
            unit = self.speed(p_mpa) / self.speed_param
            weight = predicted**2 / (predicted**2 + noise_mpa**2)
            forgotten = [v * FIT_FORGET for v in self._sums]
            self._sums = moments_plus(forgotten, tau_s, delta_mpa / unit, weight)
            self._fit()

    def learn_from(self, s: Step, level: float, n: int,
                   est: PressureEstimator) -> tuple[StopRecord | None, float | None]:
        """Learn what closed step `s` did, measured once settled as `level` (MPa, from `n`
        readings): the cut-off lag if a cut-off stopped it, its size if it began from a measured
        level. Returns the stop record (None if no cut-off) and the step seen (MPa, or None)."""
        record = None
        if s.stop_level is not None:
            speed = self.speed(s.p_close)
            record = StopRecord(s.path, s.stop_level, s.p_close + s.sign * speed * self.lag_s,
                                level, self.lag_s)
            noise = est.noise_mpa * math.sqrt(1 / s.window + 1 / n)
            self.learn_lag(s.sign * (level - s.p_close) / speed, noise / speed)
        if not s.verified or s.capped:
            return record, None
        seen = s.sign * (level - s.p_start - est.drift_mpa_per_s * s.tau_s)
        self.learn_step(s.tau_s, seen, (level + s.p_start) / 2, est.noise_mpa * math.sqrt(2 / n))
        return record, seen

    def learn_lag(self, lag_obs_s: float, noise_s: float) -> None:
        """Move the cut-off lag toward the one a stop just showed, the less so the noisier that
        was (`noise_s`: its standard error); bounded to 0..LAG_MAX_S."""
        gain = LAG_GAIN / (1.0 + (noise_s / LAG_NOISE_SCALE_S) ** 2)
        self.lag_s = min(LAG_MAX_S, max(0.0, self.lag_s + gain * (lag_obs_s - self.lag_s)))

    def _fit(self) -> None:
        """Ridge least squares of delta = a tau + b, leaning on a = speed0, b = -speed0 dead0."""
        w, sx, sy, sxx, sxy = self._sums
        if self.sqrt_law:  # delta = a (tau - dead), dead kept: sums of (tau - dead) moments
            d, ridge = self.dead_s, NEEDLE_RIDGE_S2
            a = (sxy - d * sy + ridge * self._nominal) / (sxx - 2 * d * sx + d * d * w + ridge)
            bound = NEEDLE_BOUND_FACTOR
            self.speed_param = min(self._nominal * bound, max(self._nominal / bound, a))
            return
        m11, m22 = sxx + RIDGE_SPEED_S2, w + RIDGE_OFFSET
        r1 = sxy + RIDGE_SPEED_S2 * self._nominal
        r2 = sy - RIDGE_OFFSET * self._nominal * self._dead0
        det = m11 * m22 - sx * sx  # > 0: the ridge terms make the matrix positive definite
        a, b = (r1 * m22 - sx * r2) / det, (m11 * r2 - sx * r1) / det
        bound = RATE_BOUND_FACTOR
        self.speed_param = min(self._nominal * bound, max(self._nominal / bound, a))
        self.dead_s = min(DEAD_BOUND_S, max(-DEAD_BOUND_S, -b / self.speed_param))


class Pump:
    """The pump motor: on/off, starts counted, spin-up, minimum off time."""

    def __init__(self) -> None:
        self.on = False
        self.starts = 0
        self.since = self.stopped = -math.inf  # last start, last stop (s)
        self.deadline_s = 0.0  # a run still going at this time has run too long

    def start(self, t_s: float, urgent: bool, deadline_s: float) -> bool:
        """Run it (a restart within PUMP_MIN_OFF_S only if `urgent`); True once up to speed."""
        if self.on:
            return t_s - self.since >= PUMP_SPINUP_S
        if urgent or t_s - self.stopped >= PUMP_MIN_OFF_S:
            self.on, self.since, self.starts = True, t_s, self.starts + 1
            self.deadline_s = deadline_s
        return False

    def stop(self, t_s: float) -> None:
        """Switch it off (a no-op if off)."""
        if self.on:
            self.on, self.stopped = False, t_s

    def rest(self, t_s: float, last_feed_s: float, due_s: float) -> None:
        """Stop once the last top-up (at `last_feed_s`) has settled, unless the next is due
        within PUMP_LINGER_S (`due_s` from now); stop anyway after HOLD_STROKE_S of running."""
        settled = t_s - max(last_feed_s, self.since) >= PUMP_STOP_AFTER_S
        if self.on and settled and (due_s > PUMP_LINGER_S or t_s - self.since > HOLD_STROKE_S):
            self.stop(t_s)
