"""The line pressure the pressure controller steers by, from a noisy transducer (pressure.py).

The transducer's noise (0.05 % of a 70 MPa span: 0.035 MPa rms) is as large as the steps the
valves make near target, so no single reading can be steered by. The estimate averages readings
only while no valve moves the line, and starts each quiet stretch from the level the valve model
predicts, which readings then confirm (a big step trusts readings, a small one its prediction).
The drift of the locked line (creep and leakage down, stack heating up) is the slope pooled
within quiet stretches, never across a valve step, so a top-up or a bleed is not taken for one.
"""

from __future__ import annotations

import math
from collections import deque

LEVEL_TAU_S = 2.0  # averaging of quiet readings: 0.035 MPa rms -> ~0.0025 MPa at 50 Hz
DRIFT_TAU_S = 15.0  # drift changes over minutes, but switches when the heating stops
DRIFT_MIN_SXX_S2 = 2.0  # quiet time-spread (s^2 x readings) needed before trusting a slope
STEP_UNCERTAINTY_FRAC = 0.3  # a predicted step is known to ~30 %: it counts as (noise / 30 %
PRIOR_MAX_S = 0.5  # of the step)^2 readings, at most 0.5 s of them: big steps trust readings
NOISE_TAU_S = 20.0
NOISE_DEFAULT_MPA = 0.035  # 0.05 % of a 70 MPa transducer, until measured
WINDOW_MAX = 16
RUN_WINDOW = 8  # readings averaged while the slow or release path moves the line
DT_CACHE_MAX = 256  # ticks remembered by _dt_factors (a virtual clock's 50 Hz sums give ~20)
_DT_FACTORS: dict[float, tuple[float, float, float]] = {}  # dt_s -> _dt_factors(dt_s)


class PressureEstimator:
    """The line pressure now (MPa) from noisy readings and what the valves were told to do.

    Each tick is one of `quiet` (no valve moves the line: average, learn the drift), `moving` (a
    valve is open: a short, lag-corrected window of raw readings) or `settling` (readings ignored
    while a valve closes); `restart` begins a quiet segment from a predicted level.
    """

    def __init__(self) -> None:
        self.level: float | None = None
        self.noise_mpa = NOISE_DEFAULT_MPA
        self._t0 = 0.0  # start of the quiet segment; times below are relative to it
        self._lvl = [0.0, 0.0, 0.0]  # EW weight, sum y, sum t (LEVEL_TAU_S)
        self._n = 0  # readings in the segment
        self._prior: tuple[float, float] | None = None  # predicted level at t0, its weight
        self._cur = [0.0] * 5  # EW weight, t, y, tt, ty of the segment (DRIFT_TAU_S)
        self._pool = [0.0, 0.0]  # centred sxx, sxy of finished segments, decaying
        self._drift: float | None = None  # drift_mpa_per_s of these sums (None: not yet worked)
        self._window: deque[float] = deque(maxlen=WINDOW_MAX)
        self._last_t: float | None = None

    @property
    def drift_mpa_per_s(self) -> float:
        """Natural drift of the locked line (MPa/s): creep and leak < 0, stack heating > 0."""
        if self._drift is None:  # read several times a tick, the sums change once: kept
            cs = _centred(self._cur)
            sxx, sxy = self._pool[0] + cs[0], self._pool[1] + cs[1]
            self._drift = sxy / sxx if sxx > DRIFT_MIN_SXX_S2 else 0.0
        return self._drift

    def sigma(self, dt_s: float) -> float:
        """Standard error of the quiet estimate with readings every `dt_s` (MPa)."""
        return self.noise_mpa * (_DT_FACTORS.get(dt_s) or _dt_factors(dt_s))[2]

    def sigma_now(self) -> float:
        """Standard error of the estimate now (MPa): the readings of this quiet stretch and the
        prediction it began from; after a step, far above `sigma` until readings accumulate."""
        den = self._lvl[0] + (0.0 if self._prior is None else self._prior[1])
        return self.noise_mpa / math.sqrt(den) if den > 0 else math.inf

    def quiet(self, t_s: float, y_mpa: float) -> None:
        """A reading while no valve moves the line."""
        dt_s = self._tick(t_s)  # called 50 times a second: unrolled, decays looked up per dt
        if self.level is not None and self._n > 2:
            k = min(1.0, dt_s / NOISE_TAU_S)
            r2 = min((y_mpa - self.level) ** 2, 0.01)
            self.noise_mpa = math.sqrt((1 - k) * self.noise_mpa**2 + k * r2)
        x = t_s - self._t0
        decay, drift_decay, _ = _DT_FACTORS.get(dt_s) or _dt_factors(dt_s)
        w, sy, st = self._lvl
        self._lvl = [w * decay + 1.0, sy * decay + y_mpa, st * decay + x]
        if self._prior is not None:
            self._prior = (self._prior[0], self._prior[1] * decay)
        c = self._cur  # moments_plus of the decayed sums with (x, y_mpa) at weight 1
        self._cur = [c[0] * drift_decay + 1.0, c[1] * drift_decay + x, c[2] * drift_decay + y_mpa,
                     c[3] * drift_decay + x * x, c[4] * drift_decay + x * y_mpa]
        self._drift = None
        self._n += 1
        self.level = self.at(t_s)

    def moving(self, t_s: float, y_mpa: float, speed_mpa_per_s: float, window: int) -> None:
        """A reading while a valve moves the line at about `speed_mpa_per_s` (signed): the mean
        of the last `window` readings, carried forward to now at that speed."""
        dt_s = self._tick(t_s)
        self._window.append(y_mpa)
        recent = list(self._window)[-max(1, window):]
        lag_s = (len(recent) - 1) / 2.0 * dt_s
        self.level = sum(recent) / len(recent) + speed_mpa_per_s * lag_s

    def settling(self, t_s: float, predicted_mpa: float) -> None:
        """A tick whose reading is ignored (a valve closing): the level is the prediction."""
        self._tick(t_s)
        self.level = predicted_mpa

    def restart(self, t_from_s: float, predicted_mpa: float | None, dt_s: float,
                step_mpa: float = 0.0) -> None:
        """Begin a quiet segment at `t_from_s` from a level predicted after a step of `step_mpa`
        (None: trust the readings alone)."""
        cs = _centred(self._cur)
        self._pool = [self._pool[0] + cs[0], self._pool[1] + cs[1]]
        self._t0, self._n = t_from_s, 0
        self._lvl, self._cur, self._drift = [0.0, 0.0, 0.0], [0.0] * 5, None
        sigma = math.hypot(STEP_UNCERTAINTY_FRAC * step_mpa, self.noise_mpa / RUN_WINDOW**0.5)
        weight = min(PRIOR_MAX_S / max(dt_s, 1e-3), (self.noise_mpa / sigma) ** 2)
        self._prior = None if predicted_mpa is None else (predicted_mpa, weight)
        self._window.clear()
        if predicted_mpa is not None:
            self.level = predicted_mpa

    def at(self, t_s: float) -> float | None:
        """The estimate at `t_s`: quiet readings and the prior, carried along the drift."""
        d, x = self.drift_mpa_per_s, t_s - self._t0
        w, sy, st = self._lvl
        num, den = sy + d * (w * x - st), w
        if self._prior is not None:
            num += self._prior[1] * (self._prior[0] + d * x)
            den += self._prior[1]
        return num / den if den > 0 else self.level

    def measured_at(self, t_s: float) -> tuple[float | None, int]:
        """Readings-only level of this segment at `t_s` (no prior), and how many readings."""
        w, sy, st = self._lvl
        if self._n == 0 or w <= 0:
            return None, 0
        return sy / w + self.drift_mpa_per_s * (t_s - self._t0 - st / w), self._n

    def _tick(self, t_s: float) -> float:
        dt_s = 0.0 if self._last_t is None else max(0.0, t_s - self._last_t)
        self._last_t = t_s
        decay = (_DT_FACTORS.get(dt_s) or _dt_factors(dt_s))[1]
        self._pool = [self._pool[0] * decay, self._pool[1] * decay]
        self._drift = None
        return dt_s


def _dt_factors(dt_s: float) -> tuple[float, float, float]:
    """The level's and the drift's decay over `dt_s`, and sigma's sqrt(dt_s / (2 LEVEL_TAU_S)):
    pure functions of the tick, which takes a handful of values (the clock's float sums), so
    they are worked out once each instead of three exps and a sqrt per reading."""
    if len(_DT_FACTORS) >= DT_CACHE_MAX:  # a measured clock's dt seldom repeats: stay bounded
        _DT_FACTORS.clear()
    factors = (math.exp(-dt_s / LEVEL_TAU_S), math.exp(-dt_s / DRIFT_TAU_S),
               math.sqrt(dt_s / (2 * LEVEL_TAU_S)))
    _DT_FACTORS[dt_s] = factors
    return factors


def _centred(c: list[float]) -> tuple[float, float]:
    """Centred (sxx, sxy) of weighted sums (w, t, y, tt, ty)."""
    w, st, sy, stt, sty = c
    if w < 2:
        return 0.0, 0.0
    return stt - st * st / w, sty - st * sy / w


def moments_plus(s: list[float], x: float, y: float, w: float) -> list[float]:
    """Weighted sums (w, x, y, xx, xy) with one more point (x, y) of weight w."""
    return [s[0] + w, s[1] + w * x, s[2] + w * y, s[3] + w * x * x, s[4] + w * x * y]
