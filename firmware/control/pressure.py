"""Line-pressure control of the reference circuit: a plain class, no I/O, time passed in.

    IDLE --force wanted--> APPROACH (no contact yet) | RAMP (already in contact)
    APPROACH --reading above contact_mpa--> RAMP --setpoint at target, in band--> HOLD
    HOLD --target moves out of the band--> RAMP;  hold=True (paused): HOLD where it is
    any --release, or no force--> RELEASE --line below RELEASED_MPA--> IDLE

Ramp a setpoint at the asked rate: fast runs far below target, slow pulses sized by the learnt
path models near it, every run ended by an EARLY CUT-OFF `speed * lag` short (lag learnt from each
stop's overshoot); hold with slow top-ups and one-tick needle bleeds centred on the target
(pressure_bleed.py), the pump running on while the next top-up is due within PUMP_LINGER_S, or
cap with a proportional relief valve; release at a rate, then dump. A missing reading locks the
line (never a blind dump); no contact, no rise or a run past its stroke limit latch a fault.

Tick rate: a slow pulse is ~0.14 MPa at 10 Hz (1.5 % of 375 MPa on a 10 mm die), ~0.016 MPa at
50-100 Hz, a needle bleed 0.24 / 0.066 MPa at 10 / 50 Hz: a +-0.5 % hold needs >= 50 Hz.
force_kn = line_mpa * ram_area_m2 * 1e3 (the ram's seal drag is not subtracted).
"""

from __future__ import annotations

import math
from collections import deque

from firmware.config.model import PressConfig
from firmware.control import pressure_bleed as bleed
from firmware.control import pressure_parts as parts
from firmware.control.pressure_cache import BandMemo, CommandMemo
from firmware.control.pressure_estimate import RUN_WINDOW, PressureEstimator
from firmware.control.pressure_parts import HydraulicCommand, Learnt, Phase, PressureFault

CONTACT_MPA = 0.35  # the free ram needs ~0.1 MPa; 7 sigma of transducer noise above that
APPROACH_LIMIT_S = 30.0  # 5 mm at ~4 mm/s takes ~1.2 s; a 50 mm daylight ~12 s
QUIET_DELAY_S = 0.06  # after a close command the slowest solenoid (50 ms) has closed; then
VERIFY_S, LEDGER_WINDOW_S, LEDGER_MIN_READINGS = 0.2, 0.2, 3  # read this long (and this many)
HOLD_BAND_FRAC = 0.003  # +-0.3 % top-up trigger: the worst deviation stays inside +-0.5 %
BLEED_VERIFY_S = 1.0  # a bleed waits for a well-averaged reading (pressure_bleed.py: how much)
URGENT_BANDS = 2.0  # beyond this many bands: act at once, restart the pump at once
NOISE_SIGMAS = 3.0  # the band is never narrower than this many sigma of the estimate
RUN_LIMIT_MARGIN_S, RUN_LIMIT_FACTOR = 30.0, 2.0  # stroke limit: planned x factor + margin
SLOW_APPROACH_MARGIN_FRAC, SLOW_APPROACH_TIME_FACTOR = 0.5, 8.0  # see _approach
NO_RISE_MIN_MPA = 0.3  # judge pumping once this much rise was expected; fault if less than
NO_RISE_FRAC = 0.25  # this share of it came
DEFAULT_RELEASE_MPA_PER_S = 2.0  # line: 9.3 MPa (375 MPa on a 10 mm die) unloads in ~5 s
RELEASE_DUMP_MPA, RELEASED_MPA = 0.5, 0.2  # dump below; unloaded below (free ram: ~0.1 MPa)
FAST_RATE_FRAC = 0.7  # ramps faster than this share of the slow path's speed use the fast one
LAG_UNCERTAINTY_S = 0.03  # the fast path stops this much lag short of the slow path's range
RAMP_LEAD_S = 0.2  # a ramp pulse aims where the setpoint will be this much later
RUN_OVERTIME_S = 1.0  # a run taking this much over twice its planned time ends (and is judged)
RUN_MIN_S = 0.12  # a step needing more open time than this is a run with cut-off, not a pulse
PROP_CAP_FRAC, STOPS_KEPT = 0.001, 50  # proportional relief cracks 0.1 % over target; stops kept


class PressureController:
    """Pump and valves for a force target, a rate, a hold and a release (see the module doc).

    Args:
        cfg: the press (ram area; whether a proportional relief valve is fitted).
        learnt: figures learnt on an earlier run (`controller.learnt`); nominal ones if None.
        hold_band_frac: hold trigger band, fraction of target (widened to what the tick allows).
        contact_mpa: reading that means the ram has met the stack (MPa).
        approach_limit_s: pumping time allowed to find contact (s).
    """

    def __init__(self, cfg: PressConfig, *, learnt: Learnt | None = None,
                 hold_band_frac: float = HOLD_BAND_FRAC, contact_mpa: float = CONTACT_MPA,
                 approach_limit_s: float = APPROACH_LIMIT_S) -> None:
        self._kn_per_mpa = cfg.ram_area_m2 * 1e3
        prop = cfg.hydraulics.proportional_valve
        self._prop_max_mpa = None if prop is None else prop.max_pressure_mpa
        self._contact_mpa, self._approach_limit_s = contact_mpa, approach_limit_s
        self._approach_s = approach_limit_s
        learnt = learnt or Learnt()
        self._paths = {"fast": parts.PathModel("fast", learnt.fast),
                       "slow": parts.PathModel("slow", learnt.slow),
                       "release": parts.PathModel("release", learnt.release, sqrt_law=True)}
        self._bands, self._commands = BandMemo(hold_band_frac, NOISE_SIGMAS), CommandMemo()
        self.reset()

    @property
    def learnt(self) -> Learnt:
        """Speeds, dead times and cut-off lags learnt so far (seed the next controller with it)."""
        return Learnt(*(self._paths[k].learnt for k in ("fast", "slow", "release")))

    def reset(self) -> None:
        """Back to IDLE with faults and counters cleared; learnt figures are kept."""
        self.phase, self.at_target = Phase.IDLE, False
        self.fault: PressureFault | None = None
        self.feed_steps = self.pump_starts = 0  # feed-valve pulses and runs; motor starts
        self.pump_on_s = self.setpoint_mpa = 0.0  # pump run time (s); moving setpoint (line MPa)
        self.stops: deque[parts.StopRecord] = deque(maxlen=STOPS_KEPT)  # every cut-off, measured
        self.estimator = self._est = PressureEstimator()  # .level, .drift_mpa_per_s (MPa)
        self._pump = parts.Pump()
        self._t = self._dt = self._ramp_deadline = self._hold_target = self._cap_mpa = 0.0
        self._step: parts.Step | None = None  # open now
        self._pending: parts.Step | None = None  # closed, its effect not yet measured
        self._expect = self._quiet_from = self._next_t = self._last_feed_t = 0.0
        self._contact, self._dump, self._latched, self._bled = False, True, False, False
        self._freeze: float | None = None
        self._rise = [0.0, 0.0]  # pumping's expected and seen rise

    def update(self, line_mpa: float | None, target_force_kn: float, rate_kn_per_s: float | None,
               release: bool, dt_s: float, hold: bool = False) -> HydraulicCommand:
        """One control tick: `line_mpa` reading (None: no valid reading), `target_force_kn`
        wanted on the stack (<= 0: release), `rate_kn_per_s` to get there (None: as fast as the
        circuit allows; releasing: DEFAULT_RELEASE_MPA_PER_S of line), `release` to unload,
        `dt_s` since the last tick (> 0), `hold` when the run is paused (keep the pressure)."""
        if not dt_s > 0.0:
            raise ValueError(f"dt_s must be > 0, got {dt_s}")
        self._t, self._dt = self._t + dt_s, dt_s
        self.pump_on_s += dt_s if self._pump.on else 0.0
        if line_mpa is None or not math.isfinite(line_mpa):
            self.fault, self.at_target = self.fault or PressureFault.SENSOR, False  # keep a latched
            self._lock()
            return self._command()
        if self.fault is PressureFault.SENSOR:
            self.fault = None
            self._est.restart(self._t, None, dt_s)
        target = max(0.0, target_force_kn) / self._kn_per_mpa
        rate = rate_kn_per_s / self._kn_per_mpa if rate_kn_per_s and rate_kn_per_s > 0 else None
        self._observe(line_mpa)
        if self._step is not None and self._step.pulse_over(self._t, dt_s):
            self._close(None)
        self._measure(force=False)
        if self._pump.on and self._t > self._pump.deadline_s:
            self.fault, self._latched = PressureFault.RUN_LIMIT, True
        self._decide(target, rate, release, hold)
        self.at_target = self.phase is Phase.HOLD and self._freeze is None and not self._latched
        return self._command()

    def _decide(self, target: float, rate: float | None, release: bool, hold: bool) -> None:
        if hold and not self._latched:  # a latched fault keeps the line locked, paused or not
            return self._paused()
        self._freeze = None
        if release or target <= 0.0:
            return self._releasing(rate)
        if self._latched:
            return self._lock()
        if self.phase in (Phase.IDLE, Phase.RELEASE):
            self._lock(pump=False)
            self._dump, self._cap_mpa = False, target * (1 + PROP_CAP_FRAC)
            self._contact, self.phase = self._level() >= self._contact_mpa, Phase.APPROACH
            if self._contact:
                self._enter_ramp(target, rate)
        if self.phase is Phase.APPROACH:
            self._approach(target, rate)
        elif self.phase is Phase.RAMP or abs(target - self._hold_target) > self._band(target):
            if self.phase is Phase.HOLD:
                self._enter_ramp(target, rate)
            self._ramp(target, rate)
        else:
            self._hold(target)

    def _enter_ramp(self, target: float, rate: float | None) -> None:
        self.phase, self.setpoint_mpa = Phase.RAMP, self._level()
        planned_s = abs(target - self.setpoint_mpa) / (rate or self._paths["slow"].speed(target))
        self._ramp_deadline = self._t + RUN_LIMIT_FACTOR * planned_s + RUN_LIMIT_MARGIN_S
        self._pump.deadline_s = max(self._pump.deadline_s, self._ramp_deadline)

    def _approach(self, target: float, rate: float | None) -> None:
        s = self._step
        if s is None:
            # At contact the fast path overshoots by its stopping distance (~1.4 MPa at 50 Hz): a
            # target under twice that goes on the slow path (~20x slower: 8x the time limit).
            slow = self._fast_margin(target) >= SLOW_APPROACH_MARGIN_FRAC * target
            limit_s = self._approach_limit_s * (SLOW_APPROACH_TIME_FACTOR if slow else 1.0)
            self._pump_start(True, limit_s)
            self._open("slow" if slow else "fast", None, approach=True)
            self._approach_s = limit_s
        elif self._level() >= self._contact_mpa:
            self._contact, s.approach, s.t_open, s.p_start = True, False, self._t, self._level()
            if rate is not None:  # else the approach run carries on as the ramp's fast run
                self._close(None)
            self._enter_ramp(target, rate)
            self._run_check(self._run_level("fast", target, rate))
        elif self._t - s.t_open > self._approach_s:
            self.fault, self._latched = PressureFault.APPROACH_TIMEOUT, True

    def _ramp(self, target: float, rate: float | None) -> None:
        self.phase, sp = Phase.RAMP, self.setpoint_mpa
        step = math.inf if rate is None else rate * self._dt
        sp = self.setpoint_mpa = min(target, sp + step) if sp < target else max(target, sp - step)
        self._cap_mpa = max(sp, target) * (1 + PROP_CAP_FRAC)
        if self._step is not None:
            return self._run_check(self._run_level(self._step.path, target, rate))
        p, band = self._level(), self._band(target)
        if self._settling():
            return None
        reach = self._paths["slow" if p < target else "release"].resolution(p, self._dt)
        if sp == target and abs(p - target) <= band + reach:  # the rest is the hold's job
            self.phase, self._hold_target = Phase.HOLD, target
        elif self._t < self._next_t and abs(p - sp) < URGENT_BANDS * band:
            return None
        elif p < target:
            self._ramp_up(p, target, rate)
        elif self._prop_max_mpa is None:
            goal = max(target, sp - (rate or DEFAULT_RELEASE_MPA_PER_S) * RAMP_LEAD_S)
            self._pulse_down(p, goal)

    def _ramp_up(self, p: float, target: float, rate: float | None) -> None:
        fast, slow = self._paths["fast"], self._paths["slow"]
        room = self._run_level("fast", target, rate) - p
        wants_fast = rate is None or rate > FAST_RATE_FRAC * slow.speed(p)
        path = "fast" if wants_fast and room > fast.speed(p) * (fast.lag_s + self._dt) else "slow"
        model, limit = self._paths[path], self._run_level(path, target, rate)
        if not self._pump_start(urgent=True):
            return
        delta = (limit if rate is None else min(limit, self.setpoint_mpa + rate * RAMP_LEAD_S)) - p
        if delta > 0.0 and (rate is None or delta / model.speed(p) > RUN_MIN_S):
            self._open(path, None)
        elif delta > 0.0 and (ticks := model.ticks_for(delta, p, self._dt, at_most=True)):
            self._open(path, ticks)

    def _hold(self, target: float) -> None:
        self.phase, self._cap_mpa = Phase.HOLD, target * (1 + PROP_CAP_FRAC)
        band = self._band(target)
        if self._step is not None:
            return self._run_check(self._step.stop_level or target)
        p, drift = self._level(), self._est.drift_mpa_per_s
        urgent = abs(p - target) > URGENT_BANDS * band
        if self._settling() or (self._t < self._next_t and not urgent):
            return None
        release = self._paths["release"] if self._prop_max_mpa is None or self._latched else None
        limits = bleed.hold_limits(release, p, self._dt, target, band, self._est.sigma(self._dt),
                                   drift, self._est.sigma_now() if self._bled else 0.0)
        plan = bleed.plan_bleed(release, p, target, limits, drift, self._dt)
        if p < target - limits.low_mpa and not self._latched:
            self._top_up(p, target, band, drift, urgent)
        elif plan.ticks and (urgent or self._t >= self._next_t + BLEED_VERIFY_S):
            if not plan.refill or self._latched or self._pump_start(False) or not self._pump.on:
                self._pulse_down(p, plan.goal_mpa, plan.ticks)
        else:
            due_s = (p - (target - limits.low_mpa)) / -drift if drift < 0 else math.inf
            self._pump.rest(self._t, self._last_feed_t, due_s)  # due_s: to the next top-up

    def _top_up(self, p: float, target: float, band: float, drift: float, urgent: bool) -> None:
        """Refill on the slow path, aiming past target against the drift (under it if heating)."""
        aim = target + (bleed.AIM_FRAC if drift <= 0 else -bleed.AIM_FRAC) * band if \
            self._prop_max_mpa is None else self._cap_mpa + band  # the relief trims it
        if self._pump_start(urgent):
            slow = self._paths["slow"]
            run = (aim - p) / slow.speed(p) > RUN_MIN_S
            ticks = None if run else slow.ticks_for(aim - p, p, self._dt)
            self._open("slow", None if run else ticks or slow.min_ticks(self._dt), aim=aim)

    def _pulse_down(self, p: float, goal: float, ticks: int | None = None) -> None:
        """Bleed toward `goal` (MPa): `ticks` of release pulse, or as many as stay above it."""
        if self._prop_max_mpa is not None and not self._latched:
            self._cap_mpa = goal  # the relief does it
            return
        ticks = ticks or self._paths["release"].ticks_for(p - goal, p, self._dt, at_most=True)
        if ticks:
            self._open("release", ticks)

    def _releasing(self, rate: float | None) -> None:
        r, p = rate or DEFAULT_RELEASE_MPA_PER_S, self._level()
        if self.phase is Phase.IDLE:
            self._lock()
            self._dump = True
            return
        if self.phase is not Phase.RELEASE:
            self._lock()
            self.phase, self.setpoint_mpa, self._dump = Phase.RELEASE, p, False
        sp = self.setpoint_mpa = self._cap_mpa = max(0.0, self.setpoint_mpa - r * self._dt)
        if p <= RELEASED_MPA and (self._dump or sp <= RELEASE_DUMP_MPA):
            self.phase, self._contact, self._dump = Phase.IDLE, False, True
        elif sp <= RELEASE_DUMP_MPA:
            self._lock(pump=False)
            self._dump = True
        elif self._step is None and self._t >= self._next_t:
            self._pulse_down(p, sp - r * RAMP_LEAD_S)

    def _paused(self) -> None:
        if self._freeze is None:  # freeze what is there once a pulse in flight has landed
            idle = self.phase is Phase.IDLE or not self._contact
            if idle or (self._step is not None and self._step.ticks is None):
                self._lock(pump=idle)
            if idle or self._step is not None or self._t < self._quiet_from + LEDGER_WINDOW_S:
                return
            self._freeze = self._hold_target = self._level()
        self._hold(self._freeze)

    def _open(self, path: str, ticks: int | None, approach: bool = False,
              aim: float | None = None) -> None:
        self._measure(force=True)
        measured, n = self._est.measured_at(self._t)  # learn from readings, never a prediction
        verified = not approach and n >= LEDGER_MIN_READINGS and measured is not None
        start = measured if verified and measured is not None else self._level()
        self._step = parts.Step(path, self._t, ticks, start, verified, approach)
        self._step.stop_level = aim
        self.feed_steps += path != "release"

    def _settling(self) -> bool:
        """True until the last step is measured: fully after a stop or a bleed, else roughly."""
        s = self._pending
        full = s is not None and (s.stop_level is not None or s.path == "release")
        wait_s = LEDGER_WINDOW_S if full else (LEDGER_MIN_READINGS - 0.5) * self._dt * bool(s)
        return self._t < self._quiet_from + wait_s

    def _run_check(self, level: float) -> None:
        s = self._step
        if s is None or s.ticks is not None or s.approach:
            return
        model, sign, p = self._paths[s.path], s.sign, self._level()
        late = self._t - s.t_open > 2 * abs(level - s.p_start) / model.speed(p) + RUN_OVERTIME_S
        if sign * (p + sign * model.speed(p) * (model.lag_s + self._dt) - level) >= 0.0 or late:
            self._close(None if late else level)  # a late run is judged by what it did

    def _close(self, stop_level: float | None) -> None:
        s, self._step = self._step, None
        assert s is not None
        model, sign, p = self._paths[s.path], s.sign, self._level()
        s.tau_s, s.t_close, s.p_close, s.stop_level = self._t - s.t_open, self._t, p, stop_level
        s.predicted_delta = model.step(s.tau_s, s.p_start)
        if s.ticks is None:
            predicted = p + sign * model.speed(p) * model.lag_s
        else:
            predicted = s.p_start + sign * s.predicted_delta + self._est.drift_mpa_per_s * s.tau_s
        s.capped = self._prop_max_mpa is not None and predicted > self._cap_mpa
        self._expect = min(predicted, self._cap_mpa) if s.capped else predicted
        self._quiet_from = s.quiet_from = self._t + QUIET_DELAY_S
        self._next_t = self._quiet_from + VERIFY_S
        self._bled = s.path == "release"  # the estimate now rests on a needle step's prediction
        self._last_feed_t = self._last_feed_t if self._bled else self._t
        self._est.restart(self._quiet_from, self._expect, self._dt, abs(self._expect - s.p_start)
                          if s.ticks is not None else model.speed(p) * (model.lag_s + self._dt))
        self._pending = s

    def _pump_start(self, urgent: bool, limit_s: float = parts.HOLD_STROKE_S) -> bool:
        if self._latched:
            return False
        deadline = max(self._t + limit_s + RUN_LIMIT_MARGIN_S, self._ramp_deadline)
        ready = self._pump.start(self._t, urgent, deadline)
        self.pump_starts = self._pump.starts
        return ready

    def _lock(self, pump: bool = True) -> None:
        """Close whatever valve step is open (learning nothing from it); stop the pump."""
        if self._step is not None:
            self._step, self._quiet_from = None, self._t + QUIET_DELAY_S
            self._next_t = self._quiet_from
            self._est.restart(self._quiet_from, self._est.level, self._dt)
        self._pending = None
        if pump:
            self._pump.stop(self._t)

    def _observe(self, y: float) -> None:
        s = self._step
        if s is not None and s.ticks is None:
            speed = 0.0 if s.approach else s.sign * self._paths[s.path].speed(y)
            self._est.moving(self._t, y, speed, s.window)
        elif s is not None or self._t < self._quiet_from:
            self._est.settling(self._t, self._expect if s is None else s.p_start)
        elif self._prop_max_mpa is not None and self.phase is Phase.RELEASE and not self._dump:
            self._est.moving(self._t, y, 0.0, RUN_WINDOW)  # the line follows the relief
        else:
            self._est.quiet(self._t, y)

    def _measure(self, force: bool) -> None:
        """Once a closed step has settled, learn from what it did (drop it if cut short)."""
        s = self._pending
        level, n = self._est.measured_at(s.t_close) if s and self._t >= s.quiet_from else (None, 0)
        if s is None or level is None or n < LEDGER_MIN_READINGS or \
                (not force and self._t < s.quiet_from + s.ledger_s(
                    self._est.noise_mpa, self._dt, LEDGER_WINDOW_S)):
            self._pending = None if force else s
            return
        self._pending = None
        record, seen = self._paths[s.path].learn_from(s, level, n, self._est)
        self.stops.extend([record] if record else [])
        if seen is not None and s.path != "release":
            self._rise = [self._rise[0] + s.predicted_delta, self._rise[1] + seen]
        if self._rise[0] >= NO_RISE_MIN_MPA:
            if self._rise[1] < NO_RISE_FRAC * self._rise[0]:
                self.fault, self._latched = PressureFault.NO_RISE, True
            self._rise = [0.0, 0.0]

    def _level(self) -> float:  # the estimated line pressure (0 until the first reading)
        return self._est.level if self._est.level is not None else 0.0

    def _band(self, target: float) -> float:
        return self._bands.band(target, self._dt, self._paths["slow"], self._est)

    def _fast_margin(self, target: float) -> float:
        fast = self._paths["fast"]
        return fast.speed(target) * (self._dt + fast.lag_s + LAG_UNCERTAINTY_S) + self._band(target)

    def _run_level(self, path: str, target: float, rate: float | None) -> float:
        if path == "fast":
            return target - self._fast_margin(target)
        level = target - 0.5 * self._band(target)
        return level if rate is None else min(level, self.setpoint_mpa + rate * RAMP_LEAD_S)

    def _command(self) -> HydraulicCommand:
        path, cap = None if self._step is None else self._step.path, self._cap_mpa
        duty = None if self._prop_max_mpa is None else min(1.0, max(0.0, 0.0 if self._dump else
                                                                     cap / self._prop_max_mpa))
        return self._commands.command(self._pump.on, path, self._dump, duty)

