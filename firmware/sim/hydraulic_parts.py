"""Small parts of the simulated hydraulics: delayed actuators, the pump motor, sample creep, and
the exact solution of the linear pressure equation the plant steps with.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

SERIES_SWITCH_LAM_H = 1e-4  # below this lam*h the exponential terms use their Taylor series
SETTLE_SNAP_S = 1e-12  # a ramp this close to its end is finished (float rounding of t + h)
CROSSING_NEWTON_ITERATIONS = 4  # the crossing-time solve converges to ~1e-12 s well before this
ORIFICE_LAMINAR_PA = 1.0e4  # below ~0.01 MPa the needle orifice flow is laminar (linear in p)
# Creep defaults (estimates: plant.md asks for creep but gives no numbers). A compacted pellet or
# polymer film shortens ~0.02 mm/min under 30 kN at 150 C (about 0.15 MPa/min of line pressure,
# similar to the valve leakage), ~300x slower at room temperature, and at most ~0.1 mm in all.
CREEP_RATE_MM_PER_MIN = 0.02
CREEP_REF_FORCE_N = 30e3  # 375 MPa on a 10 mm die, the DESIGN.md example
CREEP_REF_TEMP_C = 150.0
CREEP_DOUBLING_C = 15.0  # thermally activated: the rate doubles every 15 C
CREEP_STRESS_EXPONENT = 1.0  # linear viscous flow; metals would be 3-5
CREEP_MAX_MM = 0.1  # creep exhausts as the sample densifies (rate falls linearly to zero)


class Regime(enum.Enum):
    """Where the ram is.

    RETRACTED --p reaches p_drag--> TRAVEL --ram meets the stack--> CONTACT
    CONTACT --p falls below p_drag--> TRAVEL --ram back at 0--> RETRACTED
    In TRAVEL the pressure sits at p_drag and the ram moves at v = Q_net / A.
    """

    RETRACTED = "retracted"
    TRAVEL = "travel"
    CONTACT = "contact"


class Delayed(Generic[T]):
    """An actuator whose commands take effect after a delay (a solenoid's on/off response).

    A newer command cancels any change still pending at or after its own effective time, so a
    pulse shorter than (on delay - off delay) never opens the valve, as on a real solenoid.
    """

    def __init__(self, state: T) -> None:
        self.state = state
        self._commanded = state
        self._pending: list[tuple[float, T]] = []

    def command(self, now_s: float, value: T, delay_s: float) -> None:
        """Ask for `value` at `now_s`; it takes effect at `now_s + delay_s`."""
        if value == self._commanded:
            return
        self._commanded = value
        effective_s = now_s + delay_s
        self._pending = [(t, v) for t, v in self._pending if t < effective_s]
        self._pending.append((effective_s, value))

    @property
    def commanded(self) -> T:
        """The latest commanded value (pending or not)."""
        return self._commanded

    def next_change_s(self) -> float:
        """When the next pending change takes effect (inf if none)."""
        return self._pending[0][0] if self._pending else math.inf

    def apply_due(self, now_s: float) -> None:
        """Make every change due at or before `now_s` the current state."""
        while self._pending and self._pending[0][0] <= now_s:
            self.state = self._pending.pop(0)[1]


class PumpMotor:
    """Motor speed as a fraction of full (flow is proportional to it for a fixed displacement).

    It spins up and runs down at constant rates: a pump working against pressure decelerates
    against a roughly constant torque, so the run-down is linear, and delivers half a run-down's
    worth of full flow after it is switched off.
    """

    def __init__(self, spinup_s: float, rundown_s: float) -> None:
        self.speed = 0.0
        self.running = False
        self._up_per_s = 1.0 / spinup_s if spinup_s > 0 else math.inf
        self._down_per_s = 1.0 / rundown_s if rundown_s > 0 else math.inf

    def rate_per_s(self) -> float:
        """d(speed)/dt now (0 when it has reached its target)."""
        if self.running and self.speed < 1.0:
            return self._up_per_s
        if not self.running and self.speed > 0.0:
            return -self._down_per_s
        return 0.0

    def settle_s(self) -> float:
        """Seconds until the speed stops changing (inf if it is not changing)."""
        rate = self.rate_per_s()
        if rate == 0.0:
            return math.inf
        return ((1.0 - self.speed) if rate > 0 else self.speed) / abs(rate)

    def set_running(self, running: bool) -> None:
        """Switch the motor; an infinite rate (no spin-up/run-down) jumps at once."""
        self.running = running
        if math.isinf(self.rate_per_s()):
            self.speed = 1.0 if running else 0.0

    def advance(self, h_s: float) -> None:
        """Move the speed on by `h_s` seconds (callers never step past `settle_s`); it lands
        exactly on full or zero at the end of a ramp, so no rounding crumb is left to settle."""
        if self.speed == (1.0 if self.running else 0.0):
            return
        if h_s >= self.settle_s() - SETTLE_SNAP_S:
            self.speed = 1.0 if self.running else 0.0
        else:
            self.speed = min(1.0, max(0.0, self.speed + self.rate_per_s() * h_s))


@dataclass(frozen=True)
class Creep:
    """Viscoplastic shortening of the sample under load: faster when hot, exhausting with strain.

    rate = r_ref (F/F_ref)^n 2^((T - T_ref)/T_double) (1 - c/c_max)
    """

    rate_mm_per_min: float = CREEP_RATE_MM_PER_MIN
    ref_force_n: float = CREEP_REF_FORCE_N
    ref_temp_c: float = CREEP_REF_TEMP_C
    doubling_c: float = CREEP_DOUBLING_C
    stress_exponent: float = CREEP_STRESS_EXPONENT
    max_mm: float = CREEP_MAX_MM

    def rate_m_per_s(self, force_n: float, temp_c: float, creep_m: float) -> float:
        """Shortening rate (m/s) under `force_n` at `temp_c` after `creep_m` of creep so far."""
        if force_n <= 0.0 or self.rate_mm_per_min <= 0.0:
            return 0.0
        left = 1.0 - creep_m / (self.max_mm * 1e-3)
        if left <= 0.0:
            return 0.0
        heat = 2.0 ** ((temp_c - self.ref_temp_c) / self.doubling_c)
        load = (force_n / self.ref_force_n) ** self.stress_exponent
        return self.rate_mm_per_min * 1e-3 / 60.0 * load * heat * left


def next_change_s(actuators: Iterable[Delayed[Any]]) -> float:
    """When the first of `actuators` next changes (s; inf if none has a change pending)."""
    return min([a.next_change_s() for a in actuators])


def outflow_linear(p_pa: float, g_leak: float, k_orifice: float,
                   release_open: bool) -> tuple[float, float]:
    """Leak (conductance `g_leak`) + release needle (`k_orifice` sqrt(p), if `release_open`)
    flow linearised at `p_pa`: (conductance, offset) with Q ~ g p + offset."""
    if not release_open:
        return g_leak, 0.0
    if p_pa > ORIFICE_LAMINAR_PA:
        root = math.sqrt(p_pa)
        return g_leak + k_orifice / (2.0 * root), k_orifice * root / 2.0
    return g_leak + k_orifice / math.sqrt(ORIFICE_LAMINAR_PA), 0.0


def linear_step(p0: float, lam: float, b0: float, b1: float, h: float) -> float:
    """p(h) for dp/dt = -lam p + b0 + b1 t, p(0) = p0: exact for any h (stable when stiff)."""
    x = lam * h
    if x < SERIES_SWITCH_LAM_H:
        # Taylor terms keep lam -> 0 (no leak, no relief flow) exact and free of 0/0.
        phi1 = h * (1.0 - x / 2.0 + x * x / 6.0)
        phi2 = h * h * (0.5 - x / 6.0 + x * x / 24.0)
        return p0 * (1.0 - x + x * x / 2.0) + b0 * phi1 + b1 * phi2
    decay = math.exp(-x)
    phi1 = -math.expm1(-x) / lam
    phi2 = (h - phi1) / lam
    return p0 * decay + b0 * phi1 + b1 * phi2


def crossing_time(p0: float, lam: float, b0: float, b1: float, h: float, target: float) -> float:
    """When the solution of `linear_step` passes `target`, known to lie between p(0) and p(h)."""
    p1 = linear_step(p0, lam, b0, b1, h)
    t = h * (target - p0) / (p1 - p0) if p1 != p0 else h
    for _ in range(CROSSING_NEWTON_ITERATIONS):
        p = linear_step(p0, lam, b0, b1, t)
        slope = -lam * p + b0 + b1 * t
        if slope == 0.0:
            break
        t = min(h, max(0.0, t - (p - target) / slope))
    return t


def first_root(c0: float, c1: float, c2: float, h: float) -> float | None:
    """Smallest t in (0, h] where c0 + c1 t + c2 t^2 changes sign (None if it does not)."""
    roots: list[float] = []
    if abs(c2) < 1e-300:
        if c1 != 0.0:
            roots.append(-c0 / c1)
    else:
        disc = c1 * c1 - 4.0 * c2 * c0
        if disc >= 0.0:
            sq = math.sqrt(disc)
            roots += [(-c1 - sq) / (2.0 * c2), (-c1 + sq) / (2.0 * c2)]
    inside = [t for t in roots if 0.0 < t <= h]
    return min(inside) if inside else None
