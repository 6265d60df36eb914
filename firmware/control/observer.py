"""What a heated zone is doing now, seen through a thermocouple that reads it ~20 s late.

A steel platen's thermocouple shows the heat the controller put in some 20 s later (heater core,
conduction through the steel, the probe's own lag: reference/plant.md), so a law that only looks
at the reading keeps heating while the platen is already on its way past the target. This
observer runs the zone's physics alongside the plant, from the duty actually applied:

    T_u' = k' (u - loss(T_u) - load)     the zone's heat content as a temperature (k' = P / C)
    l_1' = (T_u - l_1) / tau, ...,  l_n' = (l_{n-1} - l_n) / tau       the lag to the probe
    load' = noise                          heat taken by anything the model does not know (a
                                           cold die, a draught, an error in UA), in duty units
    reading = l_n + noise

and corrects every state with the difference between the reading and the model's reading (a
steady-state Kalman filter, gains worked out once at start). `predicted_c` is then the temperature
the reading will settle to if the duty stays at the holding duty: the reading with the heat
already on its way added in. `load_duty` is the integral action, with the load's physics in it:
a cold die shows as a load the moment the reading bends, not after an integral has charged.

The lag is a chain of first-order stages (`ZoneModel.lag_stages_s`: the dead time in LAG_STAGES
equal parts). The real chain, ~7 s of heater core, 3 x 4 s of steel and 3 s of probe, is not
equal, but what braking needs is the total: heat on its way is slope x total lag. With the real
stages the reference heat-up settles a few seconds sooner; not worth a config that a real press
could not fill in. A plain class: no I/O, no clock; time is passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from itertools import pairwise

# Four equal lags: the shape of a conduction delay (3 stages + the probe); more poles would buy
# nothing against 0.25 C quantisation.
LAG_STAGES = 4

# Reading variance: 0.1 C rms noise and 0.25 C quantisation (0.25^2/12), C^2 per fresh reading.
# The loop ticks at 10 Hz and a MAX31855 is read at 4 Hz, so each reading is seen 2.5 times:
# counted per tick, its variance is 2.5 times larger.
READING_VAR_C2 = (0.1**2 + 0.25**2 / 12.0) * 2.5

# How far the heat content may wander from the model per second (C^2/s): SSR windows, errors in
# heater power and heat capacity. Small: the physics is well known; the load state takes the rest.
TEMP_PROCESS_VAR_C2_PER_S = 1e-4

# How fast the unknown load may change (duty^2/s): a cold 0.6 kg die draws ~0.3 duty at first and
# fades over a minute or two; this lets the estimate follow it within ~30-60 s while the load
# seen in steady state (noise through the filter) stays well under 0.01 duty.
LOAD_PROCESS_VAR_PER_S = 1e-6

# A load beyond the heater's full power cannot be told from a broken heater, and an estimate
# charged past it would only have to unwind (duty units).
LOAD_LIMIT_DUTY = 1.0

DEFAULT_TICK_S = 0.1  # the daemon's 10 Hz loop
RICCATI_MAX_ITERATIONS = 40000
RICCATI_TOLERANCE = 1e-12  # on the gains: far below anything that changes a duty


@lru_cache(maxsize=32)
def kalman_gains(slope_c_per_s: float, stages_s: tuple[float, ...], tick_s: float,
                 temp_var_c2_per_s: float = TEMP_PROCESS_VAR_C2_PER_S,
                 load_var_per_s: float = LOAD_PROCESS_VAR_PER_S,
                 reading_var_c2: float = READING_VAR_C2) -> tuple[float, ...]:
    """Steady-state Kalman gains per tick: (T_u, l_1..l_n, load), from the Riccati recursion.

    Args: the integrating gain k' (C/s at full duty), the lag stages (s), the tick (s), the
    process variances of heat content (C^2/s) and load (duty^2/s), the reading variance (C^2).

    Pure Python (a 6 x 6 recursion, a fraction of a second once per zone model); cached, since
    every zone of a press has the same model.
    """
    n = len(stages_s) + 2
    f = _transition(slope_c_per_s, stages_s, tick_s)
    q = [[0.0] * n for _ in range(n)]
    q[0][0] = temp_var_c2_per_s * tick_s
    q[n - 1][n - 1] = load_var_per_s * tick_s
    p = [[float(i == j) for j in range(n)] for i in range(n)]
    gains = [0.0] * n
    for _ in range(RICCATI_MAX_ITERATIONS):
        p = _add(_mul(_mul(f, p), _transpose(f)), q)
        s = p[n - 2][n - 2] + reading_var_c2
        new_gains = [p[i][n - 2] / s for i in range(n)]
        row = p[n - 2][:]
        p = [[p[i][j] - new_gains[i] * row[j] for j in range(n)] for i in range(n)]
        converged = max(abs(a - b) for a, b in zip(new_gains, gains, strict=True))
        gains = new_gains
        if converged < RICCATI_TOLERANCE:
            break
    return tuple(gains)


def _transition(slope_c_per_s: float, stages_s: tuple[float, ...],
                tick_s: float) -> list[list[float]]:
    """Linearised one-tick transition (losses left out: they are slow against the gains)."""
    n = len(stages_s) + 2
    f = [[float(i == j) for j in range(n)] for i in range(n)]
    f[0][n - 1] = -slope_c_per_s * tick_s
    for i, stage_s in enumerate(stages_s, start=1):
        f[i][i - 1] += tick_s / stage_s
        f[i][i] -= tick_s / stage_s
    return f


def _mul(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
    cols = list(zip(*b, strict=True))
    return [[sum(x * y for x, y in zip(row, col, strict=True)) for col in cols] for row in a]


def _transpose(a: list[list[float]]) -> list[list[float]]:
    return [list(col) for col in zip(*a, strict=True)]


def _add(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
    return [[x + y for x, y in zip(ra, rb, strict=True)] for ra, rb in zip(a, b, strict=True)]


class ZoneObserver:
    """Estimates a zone's settling temperature and unknown load from readings and duties.

    Args:
        slope_c_per_s: k', the heating rate at full duty with no losses, C/s.
        stages_s: the lag from heater duty to the reading as first-order stages, s.
        loss_duty: the model's loss at a temperature, as a duty (the holding-power model).
        tick_s: the loop period the gains are worked out for; other dt_s are scaled to it.
    """

    def __init__(self, slope_c_per_s: float, stages_s: tuple[float, ...],
                 loss_duty: Callable[[float], float], tick_s: float = DEFAULT_TICK_S) -> None:
        if not (slope_c_per_s > 0.0 and stages_s and min(stages_s) > 0.0 and tick_s > 0.0):
            raise ValueError("observer needs slope, lag stages and tick > 0")
        self._slope = slope_c_per_s
        self._stages_s = stages_s
        self._loss_duty = loss_duty
        self._tick_s = tick_s
        self._gains = kalman_gains(slope_c_per_s, stages_s, tick_s)
        self._temps_c: list[float] = []  # T_u, then the lag stages; the last is the reading
        self.load_duty = 0.0
        """Estimated unknown load, as the duty that would cover it (negative: extra heat in)."""

    @property
    def started(self) -> bool:
        """True once `start` has set the states from a reading."""
        return bool(self._temps_c)

    @property
    def predicted_c(self) -> float:
        """Heat content as a temperature: where the reading goes if the duty now just holds it."""
        return self._temps_c[0]

    @property
    def reading_c(self) -> float:
        """The reading as the model has it now (a filtered reading)."""
        return self._temps_c[-1]

    @property
    def in_flight_c(self) -> float:
        """predicted_c - reading_c: the temperature change already on its way to the probe."""
        return self._temps_c[0] - self._temps_c[-1]

    def start(self, measured_c: float) -> None:
        """Take the zone as settled at `measured_c` (heater off a while, or holding); the load
        estimate is kept: whatever it learnt about the zone still holds."""
        self._temps_c = [measured_c] * (len(self._stages_s) + 1)

    def restart(self, measured_c: float) -> None:
        """Carry on after updates stopped (the zone was off): every state is moved so that the
        model reads `measured_c`, keeping the heat the model has in flight (`coast` keeps that
        current while the zone is off)."""
        if not self._temps_c:
            self.start(measured_c)
            return
        shift_c = measured_c - self._temps_c[-1]
        self._temps_c = [t + shift_c for t in self._temps_c]

    def coast(self, duty: float, dt_s: float) -> None:
        """Advance by `dt_s` s of `duty` with no reading to correct it (the zone is off and the
        loop gives the controller none): the heat in flight keeps arriving in the model as it
        does in the platen, so a restart knows how much is still on its way."""
        if self._temps_c:
            self._temps_c = self._advanced(duty, dt_s)

    def update(self, measured_c: float, duty: float, dt_s: float) -> None:
        """Advance by `dt_s` s over which `duty` (0..1) was applied, then correct to the reading.

        The correction gains are per nominal tick; a longer or shorter dt_s scales them (capped at
        one, i.e. the whole innovation), so a loop running slower or faster stays consistent.
        """
        if not self._temps_c:
            self.start(measured_c)
            return
        new = self._advanced(duty, dt_s)
        innovation_c = measured_c - new[-1]
        scale = dt_s / self._tick_s
        for i in range(len(new)):
            new[i] += min(1.0, self._gains[i] * scale) * innovation_c
        load = self.load_duty + self._gains[-1] * scale * innovation_c
        self.load_duty = min(max(load, -LOAD_LIMIT_DUTY), LOAD_LIMIT_DUTY)
        self._temps_c = new

    def _advanced(self, duty: float, dt_s: float) -> list[float]:
        """The states `dt_s` s on with `duty` applied (Euler: dt is a few % of a stage)."""
        temps = self._temps_c
        rate_c_per_s = self._slope * (duty - self._loss_duty(temps[0]) - self.load_duty)
        new = [temps[0] + rate_c_per_s * dt_s]
        new += [t + (up - t) * min(1.0, dt_s / stage_s)
                for (up, t), stage_s in zip(pairwise(temps), self._stages_s, strict=True)]
        return new
