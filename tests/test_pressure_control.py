"""PressureController on the REAL simulated hydraulics (firmware/sim/hydraulics.py), virtual time.

Each tick: the plant integrates to now (with the stack temperature), the transducer reads its line
pressure plus Gaussian noise of 0.05 % of a 70 MPa span (the benchmark default), the controller
decides, the plant takes the command. The benchmark case is plant.md's: 375 MPa on a 10 mm die
(29.45 kN, 9.30 MPa line on the 63.5 mm ram) at 5 MPa/s on the sample, then a 30 min hold while
the stack heats 25 -> 150 C, soaks, and cools to 60 C. Deviations are measured on the plant's TRUE
line pressure, the quantity the controller regulates (force = line x area; see the report on the
plant's ram drag). `pytest -s -k figures` prints the table that will feed bench/control.py.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from firmware.config.model import PressConfig, PwmOutputConfig
from firmware.control import pressure as pc
from firmware.control import pressure_parts as parts
from firmware.control.pressure import HydraulicCommand, Phase, PressureController, PressureFault
from firmware.control.pressure_parts import Learnt, PathModel
from firmware.presets import reference_sim_config
from firmware.sim.hydraulics import HydraulicPlant

CFG = reference_sim_config()
KN_PER_MPA = CFG.ram_area_m2 * 1e3
DIE_AREA_M2 = math.pi * 0.010**2 / 4.0
FORCE_KN = 375.0 * DIE_AREA_M2 * 1e3  # 29.45 kN
TARGET_MPA = FORCE_KN / KN_PER_MPA  # 9.30 MPa line
RATE_KN_PER_S = 5.0 * DIE_AREA_M2 * 1e3  # 5 MPa/s on the sample: 0.124 MPa/s of line
NOISE_MPA = 0.0005 * 70.0
HOLD_S = 1800.0
RAMP_S = TARGET_MPA / (RATE_KN_PER_S / KN_PER_MPA)  # 75 s


def heat_soak_cool(t_s: float) -> float:
    """Stack temperature (C): 25 -> 150 C in 10 min, 10 min soak, down to 60 C in 10 min."""
    if t_s < 600.0:
        return 25.0 + 125.0 * t_s / 600.0
    return 150.0 if t_s < 1200.0 else 150.0 - 90.0 * (t_s - 1200.0) / 600.0


class Rig:
    """Plant + noisy transducer + controller, stepped on a virtual clock at `hz`."""

    def __init__(self, hz: float = 50.0, cfg: PressConfig = CFG, seed: int = 1,
                 jitter: float = 0.0, **kwargs) -> None:
        self.dt, self.jitter, self.t = 1.0 / hz, jitter, 0.0  # jitter: +- share of each tick
        prop = cfg.hydraulics.proportional_valve
        self.plant = HydraulicPlant(cfg.backend.sim, cfg.ram_area_m2, prop_max_pressure_mpa=(
            70.0 if prop is None else prop.max_pressure_mpa))
        self.ctl = PressureController(cfg, **kwargs)
        self.rng = random.Random(seed)
        self.temp_c, self.sensor_ok = 25.0, True
        self.cmd = HydraulicCommand()  # all off, release open: the safe outputs

    @property
    def p(self) -> float:
        return self.plant.line_pressure_mpa

    def run(self, seconds: float, force_kn: float = FORCE_KN, rate: float | None = RATE_KN_PER_S,
            release: bool = False, hold: bool = False, temp: Callable[[float], float] | None = None,
            each: Callable[[Rig], None] | None = None) -> Rig:
        t0 = self.t
        while self.t < t0 + seconds - self.dt / 2:
            dt = self.dt * (1.0 + self.rng.uniform(-self.jitter, self.jitter))
            self.t += dt
            if temp is not None:
                self.temp_c = temp(self.t - t0)
            self.plant.advance_to(self.t, self.temp_c)
            y = self.p + self.rng.gauss(0.0, NOISE_MPA) if self.sensor_ok else None
            self.cmd = c = self.ctl.update(y, force_kn, rate, release, dt, hold)
            self.plant.command(self.t, c.pump_on, c.advance_open, c.press_open, not c.release_open,
                               c.prop_duty)
            if each is not None:
                each(self)
        return self


class Track:
    """Worst deviations (%), time in the +-0.5 % band, pump starts and run time over a stretch."""

    def __init__(self, rig: Rig, target_mpa: float = TARGET_MPA) -> None:
        self.target, self.lo, self.hi, self.n, self.inside = target_mpa, 0.0, 0.0, 0, 0
        self.starts0, self.on0, self.feeds0, self.t0 = (
            rig.ctl.pump_starts, rig.ctl.pump_on_s, rig.ctl.feed_steps, rig.t)
        self.release_opened = False

    def __call__(self, rig: Rig) -> None:
        dev = (rig.p - self.target) / self.target * 100.0
        self.lo, self.hi, self.n = min(self.lo, dev), max(self.hi, dev), self.n + 1
        self.inside += abs(dev) <= 0.5
        self.release_opened |= rig.cmd.release_open

    def done(self, rig: Rig) -> HoldFigures:
        minutes = (rig.t - self.t0) / 60.0
        return HoldFigures(self.lo, self.hi, 100.0 * self.inside / self.n,
                           (rig.ctl.pump_starts - self.starts0) / minutes,
                           100.0 * (rig.ctl.pump_on_s - self.on0) / (rig.t - self.t0),
                           rig.ctl.feed_steps - self.feeds0, self.release_opened, rig.ctl.fault)


@dataclass(frozen=True)
class HoldFigures:
    worst_low_pct: float
    worst_high_pct: float
    in_band_pct: float  # share of ticks within +-0.5 % of target
    starts_per_min: float
    pump_on_pct: float
    feed_steps: int
    release_opened: bool
    fault: PressureFault | None


@dataclass(frozen=True)
class RampFigures:
    overshoot_pct: float
    to_hold_s: float  # from the first tick to HOLD
    contact: tuple[float, float]  # (s, MPa) 0.5 s after contact, the contact jump settled
    starts: int  # pump starts until HOLD


def pressed(hz: float = 50.0, rate: float | None = RATE_KN_PER_S,
            **kwargs) -> tuple[Rig, RampFigures]:
    """A rig pressed to the benchmark force, held a few seconds; and its ramp figures."""
    rig, peak, seen = Rig(hz, **kwargs), [0.0], {}

    def watch(r: Rig) -> None:
        peak[0] = max(peak[0], r.p)
        seen.setdefault(r.ctl.phase, r.t)
        seen.setdefault(("starts", r.ctl.phase), r.ctl.pump_starts)
        if Phase.RAMP in seen and r.t >= seen[Phase.RAMP] + 0.5:
            seen.setdefault("contact", (r.t, r.p))
    rig.run((RAMP_S if rate else 0.0) + 15.0, rate=rate, each=watch)
    over = (peak[0] - TARGET_MPA) / TARGET_MPA * 100.0
    return rig, RampFigures(over, seen[Phase.HOLD], seen["contact"], seen["starts", Phase.HOLD])


@functools.cache
def hold_figures(hz: float = 50.0, needle: float = 1.0) -> HoldFigures:
    """The 30 min heat-soak-cool hold; `needle` scales the release orifice (its known speed is
    then given to the controller, as a press whose needle was set finer would configure it)."""
    sim = replace(CFG.backend.sim, release_orifice_m3_per_s_per_sqrt_pa=2e-9 * needle)
    cfg = replace(CFG, backend=replace(CFG.backend, sim=sim))
    learnt = Learnt(release=replace(Learnt().release, speed=Learnt().release.speed * needle))
    rig, _ = pressed(hz, cfg=cfg, learnt=learnt)
    track = Track(rig)
    rig.run(HOLD_S, temp=heat_soak_cool, each=track)
    return track.done(rig)


def leaky_hold(leak: float, minutes: float = 10.0) -> tuple[Rig, HoldFigures]:
    rig, _ = pressed()
    rig.plant.set_leak_multiplier(leak)
    track = Track(rig)
    rig.run(minutes * 60.0, each=track)
    return rig, track.done(rig)


# ---- ramp ----------------------------------------------------------------------------------
@pytest.mark.parametrize("hz", [10.0, 50.0, 100.0])
def test_ramp_to_375_mpa_on_a_10_mm_die_overshoots_at_most_1_percent(hz):
    rig, ramp = pressed(hz)
    assert ramp.overshoot_pct <= 1.0
    assert rig.ctl.phase is Phase.HOLD and rig.ctl.at_target and rig.ctl.fault is None
    t_c, p_c = ramp.contact  # from contact on, the ramp sets the pace, not the pump
    assert ramp.to_hold_s == pytest.approx(t_c + (TARGET_MPA - p_c) * RAMP_S / TARGET_MPA, abs=5)
    assert ramp.starts == 1  # approach and ramp are one stroke


def test_a_jittery_tick_still_presses_and_holds():
    rig, ramp = pressed(50.0, jitter=0.3)  # each tick 14-26 ms
    track = Track(rig)
    rig.run(600.0, temp=heat_soak_cool, each=track)
    f = track.done(rig)
    assert ramp.overshoot_pct <= 1.0 and f.fault is None and f.starts_per_min <= 2.0
    assert f.worst_high_pct <= 0.5 and f.worst_low_pct >= -100.0 * pc.BLEED_MAX_DIP_FRAC


def test_ramp_follows_its_setpoint_within_one_percent_of_target():
    worst = [0.0]

    def watch(r: Rig) -> None:
        if r.ctl.phase is Phase.RAMP and r.t > 5.0:  # after the contact transient
            worst[0] = max(worst[0], abs(r.p - r.ctl.setpoint_mpa))
    Rig().run(RAMP_S, each=watch)
    assert worst[0] < 0.01 * TARGET_MPA


@pytest.mark.parametrize("hz", [10.0, 50.0, 100.0])
def test_fastest_press_stops_early_and_reaches_target_in_a_few_seconds(hz):
    rig, ramp = pressed(hz, rate=None)
    assert ramp.overshoot_pct <= 1.0 and rig.ctl.phase is Phase.HOLD
    assert ramp.to_hold_s < pump_limited_s() + 3.0 * (1.0 + 10.0 / hz)  # + the slow finish
    assert [s.path for s in rig.ctl.stops][:2] == ["fast", "slow"]  # fast far, slow near target


def test_learnt_cut_off_converges_from_a_wrong_lag():
    wrong = Learnt(fast=replace(Learnt().fast, lag_s=0.0))
    rig = Rig(50.0, learnt=wrong)
    for _ in range(3):
        rig.run(10.0, rate=None).run(10.0, force_kn=0.0, rate=None, release=True)
    fast = [s for s in rig.ctl.stops if s.path == "fast"]
    assert len(fast) == 3 and abs(fast[2].error_mpa) < abs(fast[0].error_mpa) / 3
    assert fast[0].error_mpa > 0.4  # 32 MPa/s x 20 ms off delay, unforeseen
    assert 0.012 < rig.ctl.learnt.fast.lag_s < 0.03  # the sim's off delay is 20 ms


def test_learnt_figures_are_bounded():
    model, nominal = PathModel("fast", Learnt().fast), Learnt().fast.speed
    model.learn_lag(10.0, 0.0)
    for _ in range(50):
        model.learn_step(0.5, 1000.0, 5.0)  # an absurd long step (a fault) teaches nothing
    assert model.lag_s == parts.LAG_MAX_S and model.learnt.speed == nominal
    for _ in range(50):
        model.learn_step(0.02, 1000.0, 5.0)  # a short one is noisy: taken at most 3x, bounded
    assert model.learnt.speed <= parts.RATE_BOUND_FACTOR * nominal
    assert abs(model.learnt.dead_s) <= parts.DEAD_BOUND_S


def test_a_pulse_that_never_opened_lengthens_the_dead_time():
    model = PathModel("slow", parts.PathLearnt(1.5, -0.02, 0.02))
    for _ in range(10):
        model.learn_step(0.01, 0.0, 9.0)
    assert model.dead_s > 0.0 and model.min_ticks(0.01) >= 2


def test_drift_is_measured_between_valve_steps_not_across_them():
    est = parts.PressureEstimator()
    t, p, rng = 0.0, 9.0, random.Random(2)
    for k in range(3000):  # 60 s at 50 Hz, drifting -2 kPa/s, a 0.05 MPa step every 5 s
        t, p = t + 0.02, p - 0.002 * 0.02 + (0.05 if k % 250 == 0 else 0.0)
        if k % 250 == 0:
            est.restart(t, p, 0.02, 0.05)
        est.quiet(t, p + rng.gauss(0.0, NOISE_MPA))
    assert est.drift_mpa_per_s == pytest.approx(-0.002, abs=0.0003)


# ---- hold ----------------------------------------------------------------------------------
def test_hold_30_min_through_heating_and_cooling():
    f = hold_figures(50.0)
    assert f.fault is None and f.starts_per_min <= 2.0
    assert f.worst_high_pct <= 0.5  # top-ups and bleeds keep the top side in band
    assert f.worst_low_pct >= -100.0 * pc.BLEED_MAX_DIP_FRAC  # the only dips: needle bleeds
    assert f.in_band_pct >= 99.0


def test_hold_with_a_needle_set_ten_times_finer_keeps_half_a_percent():
    f = hold_figures(50.0, needle=0.1)
    assert max(-f.worst_low_pct, f.worst_high_pct) <= 0.5 and f.in_band_pct == 100.0
    assert f.starts_per_min <= 2.0 and f.fault is None


def test_hold_at_10_hz_widens_to_what_a_tick_can_do_and_never_bleeds_a_deep_dip():
    f = hold_figures(10.0)  # a 110 ms needle pulse would dip 17 %: it lets the heat rise instead
    assert f.fault is None and f.starts_per_min <= 2.0 and f.worst_low_pct > -1.5
    assert f.worst_high_pct < 100.0 * pc.URGENT_HIGH_FRAC


def test_proportional_relief_caps_the_hold_without_bleeding():
    cfg = replace(CFG, hydraulics=replace(CFG.hydraulics, proportional_valve=PwmOutputConfig(12)))
    rig, _ = pressed(cfg=cfg)
    track = Track(rig)
    rig.run(HOLD_S, temp=heat_soak_cool, each=track)
    f = track.done(rig)
    assert max(-f.worst_low_pct, f.worst_high_pct) <= 0.5 and not f.release_opened
    assert f.starts_per_min <= 2.0 and rig.cmd.prop_duty == pytest.approx(TARGET_MPA / 70, 0.01)


def test_a_leak_20x_is_held_with_more_top_ups_and_pump_time():
    _, healthy = leaky_hold(1.0)
    _, leaky = leaky_hold(20.0)
    assert leaky.fault is None and max(-leaky.worst_low_pct, leaky.worst_high_pct) <= 1.0
    assert leaky.feed_steps > 3 * healthy.feed_steps and leaky.pump_on_pct > healthy.pump_on_pct
    assert leaky.starts_per_min <= 2.0


def test_a_leak_100x_trips_the_pump_run_limit():
    rig, f = leaky_hold(100.0, minutes=8.0)
    assert f.fault is PressureFault.RUN_LIMIT and not rig.cmd.pump_on


def test_pause_keeps_the_pressure_where_it_was():
    rig = Rig().run(40.0)
    before = rig.p
    frozen = rig.run(0.5, hold=True).p  # a ramp pulse in flight still lands
    worst = [0.0]
    rig.run(60.0, hold=True, each=lambda r: worst.__setitem__(0, max(worst[0], abs(r.p - frozen))))
    assert abs(frozen - before) < 0.01 * before and worst[0] < 0.006 * frozen
    assert not rig.ctl.at_target and rig.ctl.phase is Phase.HOLD
    assert rig.run(60.0).ctl.at_target and abs(rig.p - TARGET_MPA) < 0.01 * TARGET_MPA


def test_a_lower_target_is_reached_with_release_pulses():
    rig, _ = pressed()
    low_kn = FORCE_KN * 0.6
    rig.run(60.0, force_kn=low_kn)
    step = PathModel("release", rig.ctl.learnt.release, sqrt_law=True).resolution(rig.p, rig.dt)
    assert rig.ctl.phase is Phase.HOLD and abs(rig.p - low_kn / KN_PER_MPA) < step


# ---- release -------------------------------------------------------------------------------
def test_controlled_release_at_a_given_rate():
    rig, _ = pressed()
    p0, t0, lag = rig.p, rig.t, [0.0]
    rate_mpa = RATE_KN_PER_S / KN_PER_MPA
    rig.run(RAMP_S + 10.0, force_kn=0.0, release=True, each=lambda r: lag.__setitem__(
        0, max(lag[0], abs(r.p - max(0.0, p0 - rate_mpa * (r.t - t0))))))
    assert rig.ctl.phase is Phase.IDLE and rig.cmd.release_open and not rig.cmd.pump_on
    assert lag[0] < 0.6  # one needle pulse at 9.3 MPa and 50 Hz (0.44 MPa), and its timing


def test_release_without_a_rate_unloads_at_the_safe_default():
    rig, _ = pressed()
    p0, t0, done = rig.p, rig.t, [None]
    rig.run(15.0, force_kn=0.0, rate=None, release=True, each=lambda r: done.__setitem__(
        0, done[0] or (r.ctl.phase is Phase.IDLE and r.t - t0)))
    # Never faster than the safe default; slower only where the needle itself limits the flow
    # (the reference needle empties 9 MPa in ~12 s, under the 2 MPa/s default).
    assert p0 / pc.DEFAULT_RELEASE_MPA_PER_S * 0.65 <= done[0] <= 15.0


# ---- faults --------------------------------------------------------------------------------
def test_sensor_fault_stops_the_pump_and_locks_the_line():
    rig = Rig().run(30.0)
    p0, cmds = rig.p, []
    rig.sensor_ok = False
    rig.run(2.0, each=lambda r: cmds.append(r.cmd))
    assert rig.ctl.fault is PressureFault.SENSOR  # only a pulse in flight may still land:
    assert abs(rig.p - p0) < 0.01 * TARGET_MPA
    assert not any(c.pump_on or c.advance_open or c.press_open or c.release_open for c in cmds)
    rig.sensor_ok = True
    assert rig.run(60.0).ctl.fault is None and rig.ctl.phase is Phase.HOLD


def test_sensor_fault_with_nothing_pressed_leaves_the_release_open():
    rig = Rig()
    rig.sensor_ok = False
    assert rig.run(1.0, force_kn=0.0, release=True).cmd.release_open
    assert rig.ctl.fault is PressureFault.SENSOR


def test_pump_failure_before_contact_stops_at_the_approach_limit():
    rig, on = Rig(), [0.0]
    rig.plant.set_pump_failed(True)
    rig.run(120.0, each=lambda r: on.__setitem__(0, on[0] + r.dt * r.cmd.pump_on))
    assert rig.ctl.fault is PressureFault.APPROACH_TIMEOUT and not rig.cmd.pump_on
    assert on[0] <= pc.APPROACH_LIMIT_S + 0.05
    assert rig.run(1.0, force_kn=0.0, release=True).cmd.release_open  # release still works


def test_pump_failure_in_the_hold_is_reported_within_seconds_of_the_first_top_up():
    rig, _ = pressed()
    rig.plant.set_pump_failed(True)
    feeds0, on0, seen = rig.ctl.feed_steps, rig.ctl.pump_on_s, {}

    def watch(r: Rig) -> None:
        seen.setdefault(r.ctl.feed_steps > feeds0, r.t)  # the leak brings the first top-up
        seen.setdefault(r.ctl.fault, r.t)
    rig.run(180.0, each=watch)
    assert rig.ctl.fault is PressureFault.NO_RISE and not rig.cmd.pump_on
    assert seen[PressureFault.NO_RISE] - seen[True] < 15.0
    assert rig.ctl.pump_on_s - on0 < parts.PUMP_LINGER_S + 15.0  # idling on, then top-ups


def test_reset_clears_a_latched_fault_and_keeps_what_was_learnt():
    rig = Rig()
    rig.plant.set_pump_failed(True)
    rig.run(40.0)
    learnt = rig.ctl.learnt
    rig.ctl.reset()
    assert rig.ctl.fault is None and rig.ctl.phase is Phase.IDLE and rig.ctl.learnt == learnt


# ---- figures -------------------------------------------------------------------------------
def pump_limited_s() -> float:
    """Approach at full pump flow, then full flow into the contact compliance (plant physics)."""
    sim, area = CFG.backend.sim, CFG.ram_area_m2
    k = 1.0 / (1.0 / sim.frame_stiffness_n_per_m + 1.0 / sim.sample_stiffness_n_per_m)
    c_m3_per_pa = sim.oil_volume_m3 / sim.bulk_modulus_pa + area**2 / k
    return sim.ram_gap_mm * 1e-3 * area / sim.pump_flow_m3_per_s + \
        TARGET_MPA * 1e6 * c_m3_per_pa / sim.pump_flow_m3_per_s


def physical_steps_mpa(dt_s: float) -> tuple[float, float, float]:
    """Smallest fast, slow and release steps at target with a tick of `dt_s` (plant physics):
    a feed valve opens for n ticks less (on - off) delay; the release valve (normally open) for
    one tick PLUS that."""
    sim, area = CFG.backend.sim, CFG.ram_area_m2
    k = 1.0 / (1.0 / sim.frame_stiffness_n_per_m + 1.0 / sim.sample_stiffness_n_per_m)
    c = sim.oil_volume_m3 / sim.bulk_modulus_pa + area**2 / k
    dead = sim.valve_on_delay_s - sim.valve_off_delay_s
    open_s = math.ceil((dead + 1e-6) / dt_s) * dt_s - dead
    fast = sim.pump_flow_m3_per_s / c * 1e-6
    release = sim.release_orifice_m3_per_s_per_sqrt_pa * math.sqrt(TARGET_MPA * 1e6) / c * 1e-6
    return fast * open_s, fast * sim.press_valve_flow_fraction * open_s, release * (dt_s + dead)


def test_figures_table():
    rows = []
    for hz in (10.0, 50.0, 100.0):
        _, ramp = pressed(hz)
        rig, fast = pressed(hz, rate=None)
        hold, steps = hold_figures(hz), physical_steps_mpa(1.0 / hz)
        rows.append((hz, ramp, fast, hold, steps, rig.ctl.learnt))
    print(f"\nPressure control on the reference press: {FORCE_KN:.2f} kN ({TARGET_MPA:.2f} MPa "
          f"line, 375 MPa on a 10 mm die), 30 min hold 25->150->60 C, noise {NOISE_MPA} MPa rms")
    print(" tick | ramp 5 MPa/s: over  to hold | fastest: over  to hold (pump min) | hold: worst"
          " low/high   in +-0.5%  starts/min pump on | step at target fast/slow/release MPa")
    for hz, ramp, fast, hold, steps, _ in rows:
        print(f"{hz:4.0f}Hz|{ramp.overshoot_pct:+17.2f}% {ramp.to_hold_s:7.1f}s |"
              f"{fast.overshoot_pct:+14.2f}% {fast.to_hold_s:6.2f}s ({pump_limited_s():.2f}s)"
              f"   |{hold.worst_low_pct:+11.2f}%/{hold.worst_high_pct:+.2f}% "
              f"{hold.in_band_pct:8.2f}% {hold.starts_per_min:9.2f} {hold.pump_on_pct:6.1f}%"
              f" | {steps[0]:.3f}/{steps[1]:.4f}/{steps[2]:.3f}")
    fine = hold_figures(50.0, needle=0.1)
    print(f"needle 10x finer, 50 Hz hold: worst {fine.worst_low_pct:+.2f}%/"
          f"{fine.worst_high_pct:+.2f}%, in band {fine.in_band_pct:.1f}%, "
          f"{fine.starts_per_min:.2f} starts/min")
    print("learnt cut-off lag fast/slow (s): " + ", ".join(
        f"{hz:.0f} Hz {lr.fast.lag_s:.3f}/{lr.slow.lag_s:.3f}" for hz, *_, lr in rows))
    assert all(r[3].fault is None for r in rows)


def test_steps_are_what_the_controller_learns():
    rig, _ = pressed(50.0)
    slow = PathModel("slow", rig.ctl.learnt.slow)
    assert slow.resolution(TARGET_MPA, 0.02) == pytest.approx(physical_steps_mpa(0.02)[1], rel=0.5)


def test_a_step_knows_its_direction():
    assert parts.Step("release", 0.0, 1, 9.0, True).sign == -1.0
    assert parts.Step("slow", 0.0, 1, 9.0, True).sign == 1.0
