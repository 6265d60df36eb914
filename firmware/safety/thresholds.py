"""Supervisor thresholds, with defaults derived from what the press can physically do.

A 1 kW press on a 4.6 kJ/K platen heats at half the rate of a 2 kW one, so a heating-stall window
that suits one false-trips or sleeps on the other (Marlin's fixed 20 s / 2 C windows needed
raising by hand for every heavy bed). So the windows here are computed from the press config:

- full-power heating rate `heater_w / (C_platen + C_heater)` (K/s), before losses;
- heater-to-probe lag: conduction lag + probe lag + the heater core's own time constant
  `C_heater * R_heater_to_platen` (the core runs ~50 K ahead of the platen at full power);
- hydraulic rise rates `Q / C_tot`, `C_tot = V/beta + A^2/k`, on the fast and the slow path;
- the release needle's fall `dp/dt = -K sqrt(p) / C_tot`: sqrt(p) falls at a constant speed.

Where the plant figures live: `PressConfig.physics` (platen and heater heat capacity, lags, pump
flow, oil volume, stiffness): a real press's `[plant]` table, else the simulated plant's figures,
else the reference steel press's. Autotune measures the thermal ones on the press itself.

Every threshold may be tuned in the press TOML's `[safety]` table (see `config.py`), within
bounds that keep each check able to trip. There is no switch that turns a check off.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from firmware.config.model import PlantConfig, PressConfig, ZoneConfig
from firmware.safety.history import ENDPOINT_AVERAGE_S

# ---- temperature limits ---------------------------------------------------------------------
# Pioreactor-style graded thresholds: a warning this far below the limit, a trip at the limit.
OVER_TEMP_WARN_MARGIN_C = 5.0  # 12 s of full-power rise on the reference press: time to react
OVER_TEMP_CONFIRM_READS = 2  # two fresh reads (0.5 s): one garbled frame that passes the fault
#                              bits cannot trip, and 0.5 s at 0.41 K/s is 0.2 C late
OVER_TEMP_RESET_HYSTERESIS_C = 10.0  # reset only this far below the limit that tripped, so a
#                                       press hovering at its limit is not reset into a re-trip

# ---- thermocouple and bus read health -------------------------------------------------------
TC_MAX_BLIND_S = 1.0  # consecutive bad reads may hide this long: < 0.5 C at 0.41 K/s
TC_MIN_BAD_CONSECUTIVE = 3  # Klipper shuts a heater after 3 consecutive invalid reads
BAD_READ_WINDOW_READS = 20  # kiln-controller: more than 30 % bad of the last 20 reads aborts
BAD_READ_WINDOW_FRACTION = 0.30
RESET_GOOD_READS = 3  # a sensor must give this many good reads in a row before a reset
TC_STALE_POLLS = 4  # a thermocouple result older than 4 poll periods + 1 tick is stale
PRESSURE_MAX_BLIND_S = 0.2  # at 32 MPa/s (full flow) 0.2 s blind hides ~6 MPa: the relief
#                              valve is the backstop for that; longer is not acceptable
PRESSURE_MIN_BAD_CONSECUTIVE = 2  # one glitch is a warning, two in a row is a trip
PRESSURE_STALE_TICKS = 3  # the transducer is read every tick; 3 ticks old is a hung reader

# ---- heating stall (high duty, no rise) -----------------------------------------------------
STALL_MIN_RISE_C = 2.0  # Klipper's heating_gain; 8 MAX31855 LSBs, 20x its 0.1 C rms noise
STALL_EXPECTED_RATE_FRACTION = 0.25  # the window allows STALL_MIN_RISE_C at a quarter of the
#   lossless full-power rate: losses at 300 C eat ~65 % of a 2 kW steel platen's power
STALL_LAG_MARGIN = 2.0  # the lag chain is cascaded: first visible rise ~1x lag, allow 2x
STALL_DUTY_FRACTION = 0.8  # mean duty over the window at or above this counts as "heating hard"

# ---- runaway / welded SSR (rise with the SSR off) -------------------------------------------
RUNAWAY_MIN_RISE_C = 3.0  # above the heat soak left once the lag has passed, and 12 LSBs
RUNAWAY_RATE_FRACTION = 0.25  # a welded SSR at 250 C still nets ~50 % of full power; a rise
#   at a quarter of full-power rate needs ~500 W that nothing but the heater supplies
RUNAWAY_SETTLE_LAGS = 2.0  # after full power stops, the heater core and the lag chain keep
#   the probe rising for ~1.5 lags (lumped model, 2 kW steel: +8 C over ~35 s; 4 kW with a 20 s
#   lag: +23 C); after 2 lags no window saw more than 0.25 C more (1-4 kW, lags 3-20 s)
RUNAWAY_OFF_DUTY_FRACTION = 0.05  # "off": at most 5 % duty (100 W of 2 kW can't make the rate)
RUNAWAY_NEIGHBOUR_BAND_C = 4.0  # a heating neighbour reading no more than 4 C below (2 x the
#   MAX31855's +-2 C) may in fact be hotter and push heat in through a die (50-500 W/K)

# ---- platen disagreement --------------------------------------------------------------------
PLATEN_DISAGREE_BAND_C = 10.0  # 2 x 2 C MAX31855 accuracy + several C face non-uniformity
PLATEN_DISAGREE_WARN_C = 5.0  # Pioreactor-style: warn at half the trip band
PLATEN_STEADY_RATE_C_PER_S = 0.05  # "steady": half of Klipper's 0.1 C/s settle slope
PLATEN_STEADY_MIN_WINDOW_S = 30.0  # steadiness is judged over 2 lags, and never less than 30 s
PLATEN_SETPOINT_MATCH_C = 1.0  # setpoints this close mean the platens should agree

# ---- hydraulics ------------------------------------------------------------------------------
OVER_PRESSURE_MARGIN_FRACTION = 0.05  # trip 5 % above the limit: transducer 0.5 % of span,
#   slow-path overshoot ~0.5 %, one full-flow pulse ~1.4 %; "a few %" (reference/control.md)
HYDRAULIC_RESET_MAX_FRACTION = 0.02  # after a hydraulic trip the safe state opens the release:
HYDRAULIC_RESET_MIN_MPA = 1.0  # reset only once the line is down to max(1 MPa, 2 % of max)
PUMP_NO_RISE_MIN_RISE_MPA = 0.5  # 14x the transducer noise (0.05 % of a 70 MPa span, rms)
PUMP_NO_RISE_RATE_FRACTION = 0.1  # a powder compacts far softer than the 50 kN/mm sample
PUMP_START_LAG_S = 0.5  # estimate: motor spin-up plus a 20-50 ms valve opening
PUMP_NO_RISE_MIN_WINDOW_S = 2.0  # 20 ticks: shorter and tick/transducer resolution decide
APPROACH_MARGIN = 2.0  # the approach may take twice the stroke at the fast-path speed
DEFAULT_STROKE_MM = 50.0  # used when no ram position sensor gives the travel (estimate)
HOLD_BAND_FRACTION = 0.10  # "decayed": 10 % below the hold target...
HOLD_BAND_MIN_MPA = 1.0  # ...but never less than one full-flow valve pulse (~1 MPa, plant.md)
HOLD_DWELL_MARGIN = 2.0  # below the band twice as long as a top-up at the slow rate needs
HOLD_DWELL_MIN_S = 3.0
LOCKED_BASE_BAND_MPA = 1.0  # noise, valve closing and pump run-down afterflow
LOCKED_SETTLE_MARGIN = 2.0  # start judging 2x (pump run-down + valve off delay) after pump off
LOCKED_SETTLE_MIN_S = 0.5
STEEL_EXPANSION_PER_K = 12e-6  # linear expansion of steel
STACK_HOT_LENGTH_M = 0.1  # estimate: two 30 mm platens and a 40 mm die grow with temperature
LOCKED_EXPANSION_MARGIN = 2.0  # allow twice the computed thermal growth pressure
# Release valve stuck closed: with the release commanded open (pump off, feed valves closed) the
# needle orifice must take the line down. A valve stuck closed leaves only leakage (0.2 MPa/min
# at 50 MPa: ~0.03 MPa/min at a 7.4 MPa hold), some 200x slower than the slowest needle below.
RELEASE_NEEDLE_MARGIN = 20.0  # the line may fall 20x slower than the configured needle lets it:
#   twice the 1/10 that the pressure controller accepts for a needle screw turned by hand
#   (control/pressure_parts.NEEDLE_BOUND_FACTOR), for a careful operator who closed it nearly shut
RELEASE_MIN_FALL_MPA = 0.5  # a fall this big proves the line is releasing (14x transducer noise)
RELEASE_MIN_PRESSURE_MPA = 2.0  # "well above zero": judged above 2 MPa (6 kN on the reference
#   ram; 1.4x the 1.4 MPa reset level); lower, the orifice's sqrt(p) flow makes the window long
RELEASE_SETTLE_MARGIN = 2.0  # the release opens and the feed valves close within a valve delay

# ---- inputs and the loop --------------------------------------------------------------------
GUARD_ACTIVE_PRESSURE_MPA = 1.0  # above one valve pulse of pressure the platens are loaded
LOOP_MAX_LATE_S = 0.5  # a streak of overruns this long trips (Klipper: heater off after 3 s)
LOOP_MIN_OVERRUN_STREAK = 2  # one late tick is a warning, not a trip


class GuardPolicy(enum.Enum):
    """What an open guard does in a state where it is configurable."""

    WARN = "warn"
    TRIP = "trip"


@dataclass(frozen=True)
class ZoneSafety:
    """Derived per-zone thermal thresholds; `heated` is False for monitor-only thermocouples."""

    name: str
    heated: bool
    full_power_rate_c_per_s: float
    sensor_lag_s: float
    stall_window_s: float
    runaway_settle_s: float
    runaway_window_s: float


@dataclass(frozen=True)
class SafetyConfig:
    """Every supervisor threshold, with units in the names. Build with `derive_safety_config`."""

    zones: tuple[ZoneSafety, ...]
    over_temp_warn_margin_c: float = OVER_TEMP_WARN_MARGIN_C
    over_temp_confirm_reads: int = OVER_TEMP_CONFIRM_READS
    over_temp_reset_hysteresis_c: float = OVER_TEMP_RESET_HYSTERESIS_C
    tc_bad_consecutive_reads: int = TC_MIN_BAD_CONSECUTIVE
    pressure_bad_consecutive_reads: int = PRESSURE_MIN_BAD_CONSECUTIVE
    bad_read_window_reads: int = BAD_READ_WINDOW_READS
    bad_read_window_fraction: float = BAD_READ_WINDOW_FRACTION
    reset_good_reads: int = RESET_GOOD_READS
    tc_stale_s: float = 1.1
    pressure_stale_s: float = 0.3
    stall_min_rise_c: float = STALL_MIN_RISE_C
    stall_duty_fraction: float = STALL_DUTY_FRACTION
    runaway_min_rise_c: float = RUNAWAY_MIN_RISE_C
    runaway_off_duty_fraction: float = RUNAWAY_OFF_DUTY_FRACTION
    runaway_neighbour_band_c: float = RUNAWAY_NEIGHBOUR_BAND_C
    platen_disagree_band_c: float = PLATEN_DISAGREE_BAND_C
    platen_disagree_warn_c: float = PLATEN_DISAGREE_WARN_C
    platen_steady_rate_c_per_s: float = PLATEN_STEADY_RATE_C_PER_S
    platen_steady_window_s: float = PLATEN_STEADY_MIN_WINDOW_S
    platen_setpoint_match_c: float = PLATEN_SETPOINT_MATCH_C
    over_pressure_margin_fraction: float = OVER_PRESSURE_MARGIN_FRACTION
    hydraulic_reset_max_mpa: float = HYDRAULIC_RESET_MIN_MPA
    pump_no_rise_min_rise_mpa: float = PUMP_NO_RISE_MIN_RISE_MPA
    pump_no_rise_fast_window_s: float = PUMP_NO_RISE_MIN_WINDOW_S
    pump_no_rise_slow_window_s: float = PUMP_NO_RISE_MIN_WINDOW_S
    pump_no_rise_approach_window_s: float = 30.0
    hold_band_fraction: float = HOLD_BAND_FRACTION
    hold_band_min_mpa: float = HOLD_BAND_MIN_MPA
    hold_decay_dwell_s: float = HOLD_DWELL_MIN_S
    locked_band_mpa: float = LOCKED_BASE_BAND_MPA
    locked_expansion_mpa_per_k: float = 0.0
    locked_settle_s: float = LOCKED_SETTLE_MIN_S
    release_stuck_window_s: float = 10.0
    release_stuck_min_fall_mpa: float = RELEASE_MIN_FALL_MPA
    release_stuck_min_pressure_mpa: float = RELEASE_MIN_PRESSURE_MPA
    guard_active_pressure_mpa: float = GUARD_ACTIVE_PRESSURE_MPA
    guard_open_when_idle: GuardPolicy = GuardPolicy.WARN
    guard_open_when_running: GuardPolicy = GuardPolicy.TRIP
    loop_overrun_streak: int = LOOP_MIN_OVERRUN_STREAK

    def zone(self, name: str) -> ZoneSafety | None:
        """The thresholds of zone `name`, or None for a thermocouple that is not a zone."""
        return next((z for z in self.zones if z.name == name), None)


def sensor_lag_s(sim: PlantConfig) -> float:
    """Heater-to-probe lag (s): conduction lag + probe lag + heater core time constant."""
    core_tau_s = sim.heater_heat_capacity_j_per_k * sim.heater_to_platen_k_per_w
    return sim.conduction_lag_s + sim.tc_tau_s + core_tau_s


def full_power_rate_c_per_s(zone: ZoneConfig, sim: PlantConfig) -> float:
    """Platen heating rate at full power before losses (K/s): 0.41 for 2 kW on 4.6 kJ/K steel."""
    return zone.heater_w / (sim.platen_heat_capacity_j_per_k + sim.heater_heat_capacity_j_per_k)


def derive_zone(zone: ZoneConfig, sim: PlantConfig) -> ZoneSafety:
    """A zone's stall and runaway windows from its heater power, heat capacity and lag."""
    heated = zone.ssr_pin is not None and zone.heater_w > 0
    rate = full_power_rate_c_per_s(zone, sim) if heated else 0.0
    lag_s = sensor_lag_s(sim)
    stall_s = runaway_s = math.inf
    if heated:
        # Each window also spans the two endpoint averages (history.ENDPOINT_AVERAGE_S), which
        # shorten the span a rise is measured over by that much.
        stall_rate = STALL_EXPECTED_RATE_FRACTION * rate
        stall_s = (STALL_LAG_MARGIN * lag_s + STALL_MIN_RISE_C / stall_rate
                   + ENDPOINT_AVERAGE_S)
        runaway_s = RUNAWAY_MIN_RISE_C / (RUNAWAY_RATE_FRACTION * rate) + ENDPOINT_AVERAGE_S
    return ZoneSafety(zone.name, heated, rate, lag_s, stall_s, RUNAWAY_SETTLE_LAGS * lag_s,
                      runaway_s)


def stack_stiffness_n_per_m(sim: PlantConfig) -> float:
    """Frame and sample stiffness in series (N/m): what a locked line pushes against."""
    return 1.0 / (1.0 / sim.frame_stiffness_n_per_m + 1.0 / sim.sample_stiffness_n_per_m)


def line_compliance_m3_per_pa(press: PressConfig) -> float:
    """Oil taken per pascal of line pressure in contact (m^3/Pa): `V/beta + A^2/k`."""
    sim = press.physics
    return (sim.oil_volume_m3 / sim.bulk_modulus_pa
            + press.ram_area_m2**2 / stack_stiffness_n_per_m(sim))


def pressure_rate_mpa_per_s(press: PressConfig, flow_m3_per_s: float) -> float:
    """Line pressure rise after contact (MPa/s): `Q / (V/beta + A^2/k)`; 32 MPa/s full flow."""
    return flow_m3_per_s / line_compliance_m3_per_pa(press) / 1e6


def release_speed_mpa05_per_s(press: PressConfig) -> float:
    """The configured needle's speed: the line falls at `speed * sqrt(p)` MPa/s (p in MPa), so
    sqrt(p) falls at speed / 2 per second. `K / C_tot / 1e3`: 0.72 on the reference press (9 MPa
    in ~8 s, plant.md's "~10 s"); the same figure the pressure controller learns."""
    orifice = press.physics.release_orifice_m3_per_s_per_sqrt_pa
    return orifice / line_compliance_m3_per_pa(press) / 1e3


def release_window_s(press: PressConfig, margin: float = RELEASE_NEEDLE_MARGIN) -> float:
    """Sustained release time allowed before the line must have fallen RELEASE_MIN_FALL_MPA:
    a needle `margin` times slower than configured, in the slowest case (from the lowest
    pressure judged: the orifice's flow falls with sqrt(p)), plus the valves' settling. 10.6 s
    on the reference press; `margin` 1 gives the healthy needle's own time (0.6 s)."""
    sim = press.physics
    speed = release_speed_mpa05_per_s(press) / margin
    p_mpa = RELEASE_MIN_PRESSURE_MPA
    fall_s = 2.0 * (math.sqrt(p_mpa) - math.sqrt(p_mpa - RELEASE_MIN_FALL_MPA)) / speed
    return RELEASE_SETTLE_MARGIN * (sim.valve_on_delay_s + sim.valve_off_delay_s) + fall_s


def pump_window_s(rate_mpa_per_s: float) -> float:
    """Pumping time allowed to see the minimum rise at a tenth of the expected rate, plus start."""
    needed_s = PUMP_NO_RISE_MIN_RISE_MPA / (PUMP_NO_RISE_RATE_FRACTION * rate_mpa_per_s)
    return max(PUMP_NO_RISE_MIN_WINDOW_S, PUMP_START_LAG_S + needed_s)


def approach_window_s(press: PressConfig) -> float:
    """Pumping time allowed before contact: twice the stroke at the fast-path ram speed."""
    pos = press.inputs.ram_position
    stroke_m = (pos.range_mm if pos is not None else DEFAULT_STROKE_MM) / 1000.0
    speed_m_per_s = press.physics.pump_flow_m3_per_s / press.ram_area_m2
    return PUMP_START_LAG_S + APPROACH_MARGIN * stroke_m / speed_m_per_s


def hold_dwell_s(press: PressConfig, slow_rate_mpa_per_s: float) -> float:
    """How long the line may sit below the hold band: 2x a slow top-up across the widest band."""
    band_mpa = max(HOLD_BAND_MIN_MPA, HOLD_BAND_FRACTION * press.limits.max_line_pressure_mpa)
    top_up_s = PUMP_START_LAG_S + band_mpa / slow_rate_mpa_per_s
    return max(HOLD_DWELL_MIN_S, HOLD_DWELL_MARGIN * top_up_s)


def expansion_mpa_per_k(press: PressConfig) -> float:
    """Locked line pressure per K of stack heating: steel growth against the stack stiffness."""
    growth_m_per_k = STEEL_EXPANSION_PER_K * STACK_HOT_LENGTH_M
    mpa = growth_m_per_k * stack_stiffness_n_per_m(press.physics) / press.ram_area_m2 / 1e6
    return LOCKED_EXPANSION_MARGIN * mpa


def derive_safety_config(press: PressConfig) -> SafetyConfig:
    """The default thresholds for `press`, each computed from its capability (see module doc)."""
    sim = press.physics
    tick_s = 1.0 / press.loop.tick_hz
    flow = sim.pump_flow_m3_per_s
    fast = pressure_rate_mpa_per_s(press, flow)
    slow = pressure_rate_mpa_per_s(press, flow * sim.press_valve_flow_fraction)
    max_line = press.limits.max_line_pressure_mpa
    return SafetyConfig(
        zones=tuple(derive_zone(z, sim) for z in press.zones),
        tc_bad_consecutive_reads=max(TC_MIN_BAD_CONSECUTIVE,
                                     math.ceil(TC_MAX_BLIND_S / press.loop.tc_period_s)),
        pressure_bad_consecutive_reads=max(PRESSURE_MIN_BAD_CONSECUTIVE,
                                           math.ceil(PRESSURE_MAX_BLIND_S / tick_s)),
        tc_stale_s=TC_STALE_POLLS * press.loop.tc_period_s + tick_s,
        pressure_stale_s=PRESSURE_STALE_TICKS * tick_s,
        platen_steady_window_s=max(PLATEN_STEADY_MIN_WINDOW_S, 2.0 * sensor_lag_s(sim)),
        hydraulic_reset_max_mpa=max(HYDRAULIC_RESET_MIN_MPA,
                                    HYDRAULIC_RESET_MAX_FRACTION * max_line),
        pump_no_rise_fast_window_s=pump_window_s(fast),
        pump_no_rise_slow_window_s=pump_window_s(slow),
        pump_no_rise_approach_window_s=approach_window_s(press),
        hold_decay_dwell_s=hold_dwell_s(press, slow),
        locked_expansion_mpa_per_k=expansion_mpa_per_k(press),
        locked_settle_s=max(LOCKED_SETTLE_MIN_S,
                            LOCKED_SETTLE_MARGIN * (sim.pump_rundown_s + sim.valve_off_delay_s)),
        release_stuck_window_s=release_window_s(press),
        loop_overrun_streak=max(LOOP_MIN_OVERRUN_STREAK,
                                math.ceil(LOOP_MAX_LATE_S * press.loop.tick_hz)),
    )
