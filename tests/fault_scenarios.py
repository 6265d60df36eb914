"""The fault catalogue as data: every fault the supervisor must catch, when it is injected, and
the bound it must be caught within. One place, used by `tests/test_fault_catalogue.py` (which
asserts) and `bench/faults.py` (which measures and prints); see `fault_runner.py` for the run.

Each scenario runs the daemon on the simulated press in virtual time through one realistic
recipe (`RECIPE`: a 10 kN contact load, heat to 150 C, press to 300 MPa on a 10 mm die, hold,
cool under pressure, release) and injects its fault at a `Moment` where it matters: a welded SSR in
the hold (the heater should be off most of the time), a dead pump in the approach and in the
pressure ramp, a leak in the hold, a stuck advance valve in the approach, a release valve stuck
closed as the release begins.

Every bound is computed from the supervisor's derived thresholds (`SafetyConfig`) and the press
config, never typed in, so a retuned press gets matching bounds. `BOUND_SLACK_TICKS` covers the
tick a fault lands in and the tick the check runs in.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass

from firmware.config.model import PressConfig
from firmware.safety.faults import FaultCode
from firmware.safety.thresholds import PUMP_START_LAG_S, SafetyConfig, pressure_rate_mpa_per_s
from firmware.sim.faults import SimFault

# The fault's first effect lands somewhere inside a tick, and the check that sees it runs at the
# start of a later one: two ticks of slack on every bound.
BOUND_SLACK_TICKS = 2
# TC_SPORADIC is injected at this fault-frame rate (per read): "sporadic at a high rate", 6000x
# the benchmark default, far beyond any healthy MAX31855 (about 1 in 10,000 reads).
SPORADIC_HIGH_RATE = 0.6
# LEAK multiplies the line's leak conductance by this: 0.2 MPa/min at 50 MPa becomes ~3 MPa/s at
# the 7.4 MPa hold, about twice what the slow top-up path (~1.6 MPa/s) can serve.
LEAK_MULTIPLIER = 6000.0
# LOOP_OVERRUNS: every tick ends this long after its deadline (a hog), so every tick is late.
OVERRUN_TICK_S = 0.15

RECIPE = """
name = "fault catalogue: LGPS at 150 C and 300 MPa"
die_diameter_mm = 10.0
materials = ["LGPS"]

[[steps]]
kind = "press"
label = "contact load"
force_kn = 10
pressure_rate_mpa_per_s = 2
until = "target"

[[steps]]
kind = "heat"
temp_c = 150
ramp_c_per_min = 15
soak_min = 1
band_c = 2
max_wait_min = 15

[[steps]]
kind = "press"
pressure_mpa = 300
pressure_rate_mpa_per_s = 5
require_temp_in_band = true
until = "target"

[[steps]]
kind = "hold"
duration_min = 5

[[steps]]
kind = "cool"
temp_c = 60
under_pressure = true
until = "target"

[[steps]]
kind = "release"
pressure_rate_mpa_per_s = 5
"""
# The clean run: RECIPE with a 70 min hold, about two hours from cold to released.
CLEAN_RECIPE = RECIPE.replace('name = "fault catalogue:', 'name = "clean run:').replace(
    "duration_min = 5", "duration_min = 70")
CLEAN_RUN_S = 2 * 3600.0  # the run, then idle at the press until two hours have passed
SAMPLE_MPA = 300.0  # RECIPE's pressing target on the sample
RELEASE_SAMPLE_MPA_PER_S = 5.0  # RECIPE's release rate, on the sample
DIE_AREA_M2 = math.pi * 0.010**2 / 4  # RECIPE's 10 mm die
# Step indices of RECIPE (0-based, as RunEngine.step_index counts).
STEP_CONTACT, STEP_HEAT, STEP_PRESS, STEP_HOLD, STEP_RELEASE = 0, 1, 2, 3, 5
HEAT_RAMP_AT_C = 70.0  # well into the ramp: the controller is heating hard
PRESS_RAMP_AT_MPA = 5.0  # line MPa: past the 3.2 MPa contact load, below the 7.4 MPa target
HOLD_AFTER_S = 20.0  # into the hold: the line has settled and top-ups are routine
APPROACH_AFTER_S = 0.3  # the advance valve is open and the ram is travelling


class Moment(enum.Enum):
    """When in RECIPE a fault is injected (see the constants above for the exact trigger)."""

    APPROACH = "approach"  # step 1, ram travelling to the die
    HEAT_RAMP = "heat_ramp"  # step 2, top platen past HEAT_RAMP_AT_C
    PRESS_RAMP = "press_ramp"  # step 3, line past PRESS_RAMP_AT_MPA
    HOLD = "hold"  # step 4, HOLD_AFTER_S into it
    RELEASE = "release"  # step 6, as it begins (the line still at the hold pressure)


class Special(enum.Enum):
    """Faults the simulator cannot inject: the runner makes them itself."""

    JOURNAL_UNWRITABLE = "journal_unwritable"  # the journal's fd swapped for /dev/full
    LOOP_OVERRUNS = "loop_overruns"  # every tick runs OVERRUN_TICK_S on the virtual clock


Bound = Callable[[SafetyConfig, PressConfig], float]


@dataclass(frozen=True)
class Scenario:
    """One fault, where it is injected, what must trip, and within how long (and why).

    - `fault`/`target`/`value`: what `SimPress.inject` gets, or a `Special`.
    - `expect`: the codes any one of which is a correct catch.
    - `bound`: detection bound in seconds from the thresholds (its docstring says how it is
      derived); `why`: the scenario in words.
    - `refused_while_present`: a reset while the fault is still injected must be refused. False
      where the condition cannot be seen once the outputs are safe (a dead pump that is off),
      so the supervisor has nothing to refuse on; `why` says so.
    - `known_gap`: set where the press does not catch this fault today, saying why.
    - `journal_outcome`: "faulted", except where the journal itself is what failed: its end
      record cannot be written, and the restart that clears the fault closes the run as
      "interrupted".
    """

    name: str
    fault: SimFault | Special
    moment: Moment
    expect: frozenset[FaultCode]
    bound: Bound
    why: str
    target: str | None = None
    value: float = 1.0
    refused_while_present: bool = True
    known_gap: str | None = None  # why this fault is not caught today (the test xfails it)
    journal_outcome: str = "faulted"  # how the run's journal ends


def _tick_s(press: PressConfig) -> float:
    return 1.0 / press.loop.tick_hz


def _slack(press: PressConfig) -> float:
    return BOUND_SLACK_TICKS * _tick_s(press)


def tc_streak_bound(s: SafetyConfig, p: PressConfig) -> float:
    """N consecutive bad reads one poll apart, +1 poll (the frame in conversion is still good)."""
    return (s.tc_bad_consecutive_reads + 1) * p.loop.tc_period_s + _slack(p)


def tc_window_bound(s: SafetyConfig, p: PressConfig) -> float:
    """Two bad-read windows of polls: at SPORADIC_HIGH_RATE a window holds 12 bad reads on
    average against the 7 that trip it: two windows without a trip is below a 1e-4 chance."""
    return 2 * s.bad_read_window_reads * p.loop.tc_period_s + _slack(p)


def stall_bound(s: SafetyConfig, p: PressConfig) -> float:
    """One lag for the probe to stop answering the heater and the controller to saturate, then
    one stall window of high duty without the rise."""
    zone = s.zones[0]
    return zone.sensor_lag_s + zone.stall_window_s + _slack(p)


def stall_held_bound(s: SafetyConfig, p: PressConfig) -> float:
    """A dead heater on a platen the other one holds up through the die (100 W/K): it sags only
    a few C, so the controller needs up to a window to wind up to full duty; then one window of
    full duty without the rise."""
    zone = s.zones[0]
    return zone.sensor_lag_s + 2 * zone.stall_window_s + _slack(p)


def runaway_bound(s: SafetyConfig, p: PressConfig) -> float:
    """A welded SSR at holding duty: one lag before the probe shows the extra heat and the
    controller cuts its duty to zero, then the settle time and the runaway window it needs."""
    zone = s.zones[0]
    return zone.sensor_lag_s + zone.runaway_settle_s + zone.runaway_window_s + _slack(p)


def pump_slow_bound(s: SafetyConfig, p: PressConfig) -> float:
    """The slow (metered) path's no-rise window, pumping continuously."""
    return s.pump_no_rise_slow_window_s + _slack(p)


def approach_bound(s: SafetyConfig, p: PressConfig) -> float:
    """The approach window (twice the stroke at fast-path speed, plus the pump start)."""
    return s.pump_no_rise_approach_window_s + _slack(p)


def _hold_line_mpa(p: PressConfig) -> float:
    """RECIPE's hold target as line pressure (MPa): 300 MPa on the 10 mm die is ~7.4 MPa."""
    return SAMPLE_MPA * DIE_AREA_M2 / p.ram_area_m2


def _decay_bound(s: SafetyConfig, p: PressConfig, outflow_mpa_per_s: float) -> float:
    """Time to fall through the hold band against slow-path top-ups, then the dwell."""
    sim = p.backend.sim
    slow = pressure_rate_mpa_per_s(p, sim.pump_flow_m3_per_s * sim.press_valve_flow_fraction)
    net = outflow_mpa_per_s - slow
    if not net > 0:
        raise ValueError(f"top-up ({slow:.2f} MPa/s) outruns the fault ({outflow_mpa_per_s:.2f})")
    band = max(s.hold_band_min_mpa, s.hold_band_fraction * _hold_line_mpa(p))
    return band / net + s.hold_decay_dwell_s + _slack(p)


def release_decay_bound(s: SafetyConfig, p: PressConfig) -> float:
    """The release needle's flow at the hold pressure (K sqrt(p)), less what slow top-ups
    put back, takes the line through the hold band; then the hold-decay dwell."""
    sim = p.backend.sim
    c_tot = sim.pump_flow_m3_per_s / (pressure_rate_mpa_per_s(p, sim.pump_flow_m3_per_s) * 1e6)
    q = sim.release_orifice_m3_per_s_per_sqrt_pa * math.sqrt(_hold_line_mpa(p) * 1e6)
    return _decay_bound(s, p, q / c_tot / 1e6)


def release_stuck_bound(s: SafetyConfig, p: PressConfig) -> float:
    """The release step ramps its setpoint down at RECIPE's rate and pulses the valve at a
    duty that rises while the line does not move; at the latest when the setpoint reaches zero
    (the hold line over the rate) the valve is held open; then one release window."""
    rate_mpa_per_s = RELEASE_SAMPLE_MPA_PER_S * DIE_AREA_M2 / p.ram_area_m2
    return _hold_line_mpa(p) / rate_mpa_per_s + s.release_stuck_window_s + _slack(p)


def leak_decay_bound(s: SafetyConfig, p: PressConfig) -> float:
    """The multiplied leak (laminar: proportional to pressure) at the hold pressure, less what
    slow top-ups put back, takes the line through the hold band; then the dwell."""
    leak = p.backend.sim.leak_mpa_per_min_at_50 / 60.0 * _hold_line_mpa(p) / 50.0
    return _decay_bound(s, p, leak * LEAK_MULTIPLIER)


def over_pressure_bound(s: SafetyConfig, p: PressConfig) -> float:
    """The next pulse goes at full flow: the pump start, then the climb from the injection
    point to the sample-force trip (limit + margin) at the fast path's rate."""
    trip_mpa = SAMPLE_MPA * DIE_AREA_M2 / p.ram_area_m2 * (1 + s.over_pressure_margin_fraction)
    fast = pressure_rate_mpa_per_s(p, p.backend.sim.pump_flow_m3_per_s)
    return PUMP_START_LAG_S + (trip_mpa - PRESS_RAMP_AT_MPA) / fast + _slack(p)


def wiring_bound(s: SafetyConfig, p: PressConfig) -> float:
    """`pressure_bad_consecutive_reads` transducer reads, one a tick."""
    return s.pressure_bad_consecutive_reads * _tick_s(p) + _slack(p)


def bus_bound(s: SafetyConfig, p: PressConfig) -> float:
    """The bad-read streak, or the stale bound, whichever comes first."""
    reads_s = s.pressure_bad_consecutive_reads * _tick_s(p)
    return min(reads_s, s.pressure_stale_s) + _slack(p)


def input_bound(s: SafetyConfig, p: PressConfig) -> float:
    """An input is read every tick and trips on the first read."""
    return _slack(p)


def journal_bound(s: SafetyConfig, p: PressConfig) -> float:
    """The next tick's record is the first write to fail (outputs go safe at once); the tick
    after that, the check trips."""
    return _tick_s(p) + _slack(p)


def overrun_bound(s: SafetyConfig, p: PressConfig) -> float:
    """A streak of `loop_overrun_streak` late ticks, each swallowing the period it ran into,
    then the tick whose check sees the streak."""
    late_tick_s = math.ceil(OVERRUN_TICK_S / _tick_s(p)) * _tick_s(p)
    return (s.loop_overrun_streak + 1) * late_tick_s + _slack(p)


def _tc(name: str, fault: SimFault, why: str) -> Scenario:
    return Scenario(name, fault, Moment.HEAT_RAMP, frozenset({FaultCode.TC_FAULT}),
                    tc_streak_bound, why, target="top")


HYDRAULIC_NOT_VISIBLE = ("reset is judged on a released line and a stopped pump: once the safe "
                         "state has dumped the line, a dead pump or a stuck valve is invisible")
STALL_NOT_VISIBLE = ("HEATING_STALL clears on a valid reading: with the heater off there is no "
                     "duty to judge the rise against")

SCENARIOS: tuple[Scenario, ...] = (
    _tc("tc_open", SimFault.TC_OPEN, "open thermocouple in the heat ramp: read streak"),
    _tc("tc_short_gnd", SimFault.TC_SHORT_GND, "short to GND in the heat ramp: read streak"),
    _tc("tc_short_vcc", SimFault.TC_SHORT_VCC, "short to VCC in the heat ramp: read streak"),
    Scenario("tc_sporadic_high", SimFault.TC_SPORADIC, Moment.HEAT_RAMP,
             frozenset({FaultCode.TC_FAULT}), tc_window_bound,
             "fault frames at 60 % of reads: the bad-read window", target="top",
             value=SPORADIC_HIGH_RATE),
    Scenario("tc_frozen", SimFault.TC_FROZEN, Moment.HEAT_RAMP,
             frozenset({FaultCode.HEATING_STALL}), stall_bound,
             "a frozen chip in the heat ramp: the controller heats blind, the stall check "
             "sees high duty and no rise; " + STALL_NOT_VISIBLE, target="top",
             refused_while_present=False),
    Scenario("heater_open", SimFault.HEATER_OPEN, Moment.HOLD,
             frozenset({FaultCode.HEATING_STALL}), stall_held_bound,
             "an open heater in the hold (in the ramp the other platen heats this one through "
             "the die, so there is no stall until it reaches its setpoint): high duty, no "
             "rise; " + STALL_NOT_VISIBLE,
             target="top", refused_while_present=False),
    Scenario("ssr_welded", SimFault.SSR_WELDED, Moment.HOLD,
             frozenset({FaultCode.RUNAWAY, FaultCode.OVER_TEMP}), runaway_bound,
             "a welded SSR in the hold: rise with the SSR off", target="top"),
    Scenario("pump_failed_approach", SimFault.PUMP_FAILED, Moment.APPROACH,
             frozenset({FaultCode.PUMP_NO_RISE}), approach_bound,
             "a dead pump in the approach: no travel; " + HYDRAULIC_NOT_VISIBLE,
             refused_while_present=False),
    Scenario("pump_failed_ramp", SimFault.PUMP_FAILED, Moment.PRESS_RAMP,
             frozenset({FaultCode.PUMP_NO_RISE}), pump_slow_bound,
             "a dead pump in the pressure ramp; " + HYDRAULIC_NOT_VISIBLE,
             refused_while_present=False),
    Scenario("advance_stuck_closed", SimFault.VALVE_STUCK_CLOSED, Moment.APPROACH,
             frozenset({FaultCode.PUMP_NO_RISE}), approach_bound,
             "the advance valve stuck closed in the approach: no travel; "
             + HYDRAULIC_NOT_VISIBLE, target="advance", refused_while_present=False),
    Scenario("press_stuck_closed", SimFault.VALVE_STUCK_CLOSED, Moment.PRESS_RAMP,
             frozenset({FaultCode.PUMP_NO_RISE}), pump_slow_bound,
             "the press (metered) valve stuck closed in the ramp: no rise; "
             + HYDRAULIC_NOT_VISIBLE, target="press", refused_while_present=False),
    Scenario("release_stuck_open", SimFault.VALVE_STUCK_OPEN, Moment.HOLD,
             frozenset({FaultCode.HOLD_DECAY, FaultCode.PUMP_NO_RISE}), release_decay_bound,
             "the release valve stuck open in the hold: the line falls; "
             + HYDRAULIC_NOT_VISIBLE, target="release", refused_while_present=False),
    Scenario("release_stuck_closed", SimFault.VALVE_STUCK_CLOSED, Moment.RELEASE,
             frozenset({FaultCode.RELEASE_STUCK}), release_stuck_bound,
             "the release valve stuck closed as the release step begins: the line stays at "
             "the hold pressure with the release commanded open (pressure locked in); a reset "
             "is refused until the line is relieved", target="release"),
    Scenario("advance_stuck_open", SimFault.VALVE_STUCK_OPEN, Moment.PRESS_RAMP,
             frozenset({FaultCode.OVER_PRESSURE}), over_pressure_bound,
             "the advance valve stuck open in the ramp: a metered pulse goes at full flow; "
             + HYDRAULIC_NOT_VISIBLE, target="advance", refused_while_present=False),
    Scenario("leak", SimFault.LEAK, Moment.HOLD,
             frozenset({FaultCode.HOLD_DECAY, FaultCode.PUMP_NO_RISE}), leak_decay_bound,
             "a leak beyond what top-up serves in the hold; " + HYDRAULIC_NOT_VISIBLE,
             value=LEAK_MULTIPLIER, refused_while_present=False),
    Scenario("transducer_wiring", SimFault.TRANSDUCER_WIRING, Moment.PRESS_RAMP,
             frozenset({FaultCode.TRANSDUCER_WIRING}), wiring_bound,
             "the transducer signal wire breaks in the ramp"),
    Scenario("estop", SimFault.ESTOP_PRESSED, Moment.PRESS_RAMP,
             frozenset({FaultCode.ESTOP}), input_bound, "e-stop pressed in the ramp"),
    Scenario("guard_open", SimFault.GUARD_OPEN, Moment.PRESS_RAMP,
             frozenset({FaultCode.GUARD_OPEN}), input_bound, "guard opened while pressing"),
    Scenario("i2c_not_answering", SimFault.I2C_NOT_ANSWERING, Moment.PRESS_RAMP,
             frozenset({FaultCode.SENSOR_BUS, FaultCode.STALE_SENSOR}), bus_bound,
             "the ADS1115 stops answering in the ramp"),
    Scenario("journal_unwritable", Special.JOURNAL_UNWRITABLE, Moment.HOLD,
             frozenset({FaultCode.JOURNAL_UNWRITABLE}), journal_bound,
             "the journal's disk fills in the hold (its fd now writes to /dev/full); cleared "
             "by restarting hotpressd, as a refused start says", journal_outcome="interrupted"),
    Scenario("loop_overruns", Special.LOOP_OVERRUNS, Moment.HOLD,
             frozenset({FaultCode.LOOP_OVERRUNS}), overrun_bound,
             "every tick ends 1.5 periods after its deadline, in the hold"),
)


def by_name(name: str) -> Scenario:
    """The scenario called `name`."""
    return next(s for s in SCENARIOS if s.name == name)
