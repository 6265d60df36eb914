"""Hydraulic plant of the simulated press: the reference circuit of reference/plant.md.

A fixed-displacement pump on an on/off motor (spin-up, linear run-down) feeds the cylinder through
a fast advance valve (full flow) and a slow press valve (a pressure-compensated fraction of the
flow) in parallel, behind a check valve, so the line only ever receives flow from the pump side.
The line loses oil through leakage (laminar, G_L p), the release valve's needle orifice to tank
(K sqrt(p), OPEN WHEN DE-ENERGISED), the relief valve (K_rv max(0, p - p_crack)) and an optional
proportional relief valve whose PWM duty sets its crack pressure. Solenoid commands take effect
after valve_on_delay_s / valve_off_delay_s.

The ram moves through three regimes (`Regime`); in contact the pressure obeys

    C_tot dp/dt = Q_in - G_L p - Q_release - Q_relief - A (dx_creep/dt - dx_thermal/dt)
    C_tot = V/beta + A^2/k,  k = frame stiffness in series with sample stiffness

and before contact only the oil's V/beta resists. Line force on the stack is F = (p - p_drag) A,
p_drag being the pressure that just moves the ram against its return spring and seal friction.
Powder in the die (`SimConfig.sample`, sim/compaction.py) adds its compaction to C_tot.

Integration: every term is linear in p except the orifice's sqrt, which is linearised at the
start of each step, so each step solves dp/dt = -lam p + b0 + b1 t exactly (b1: a pump spinning
up or running down). That is stable however stiff the relief is, and needs no fine steps for
accuracy: steps end at every valve/pump event and at every kink (relief crack, contact,
retraction) found by solving for its crossing time, and are kept to <= 5 % change of pressure so
the orifice linearisation and the creep rate stay accurate. Quiet holds take 1 s steps.
"""

from __future__ import annotations

import math
from typing import Literal

from firmware.config.model import SimConfig
from firmware.sim.compaction import PowderCharge
from firmware.sim.hydraulic_parts import (
    Creep,
    Delayed,
    PumpMotor,
    Regime,
    crossing_time,
    first_root,
    linear_step,
    next_change_s,
    outflow_linear,
)

QUIET_MAX_STEP_S = 1.0  # creep and stack heating change over minutes; re-evaluate every second
STEP_DP_FRACTION = 0.05  # orifice sqrt linearised over <= 5 % of p: flow error ~3e-4
STEP_DP_MIN_PA = 0.05e6  # ... but never demand finer than 0.05 MPa per step near zero pressure
MAX_STALLED_STEPS = 8  # regime changes take zero time, but never this many in a row: a bug
LEAK_REF_PRESSURE_PA = 50e6  # SimConfig.leak_mpa_per_min_at_50 is stated at 50 MPa
PROP_MAX_PRESSURE_MPA = 70.0  # PwmOutputConfig default: line-pressure cap at full duty
# Estimates (not in plant.md):
RELIEF_OVERRIDE_PA = 1.0e6  # a direct-acting relief passes full pump flow ~1 MPa over its crack
RAM_DRAG_N = 300.0  # return spring + seal friction: ~0.1 MPa line pressure moves the free ram
PUMP_SPINUP_S = 0.05  # small induction motor reaching speed (plant.md gives only the run-down)
STACK_HEATED_LENGTH_M = 0.08  # two 30 mm platens and a 20 mm die grow with the stack temperature
STEEL_EXPANSION_PER_K = 12e-6  # linear expansion of steel: 0.1 mm growth per ~100 K of heating
VALVES = ("advance", "press", "release")
StuckAs = Literal["open", "closed"] | None


class HydraulicPlant:
    """Pump, valves, cylinder and stack of the simulated press, integrated lazily to a given time.

    Plant time starts at the first `command` or `advance_to` call.
    """

    def __init__(self, cfg: SimConfig, ram_area_m2: float, *, ram_drag_n: float = RAM_DRAG_N,
                 pump_spinup_s: float = PUMP_SPINUP_S,
                 prop_max_pressure_mpa: float = PROP_MAX_PRESSURE_MPA,
                 stack_length_m: float = STACK_HEATED_LENGTH_M,
                 stack_expansion_per_k: float = STEEL_EXPANSION_PER_K,
                 creep: Creep | None = None) -> None:
        self._area_m2 = ram_area_m2
        self._c_oil_m3_per_pa = cfg.oil_volume_m3 / cfg.bulk_modulus_pa
        k_stack = 1.0 / (1.0 / cfg.frame_stiffness_n_per_m + 1.0 / cfg.sample_stiffness_n_per_m)
        self._k_stack_n_per_m = k_stack
        self._c_contact_m3_per_pa = self._c_oil_m3_per_pa + ram_area_m2**2 / k_stack
        leak_pa_per_s = cfg.leak_mpa_per_min_at_50 * 1e6 / 60.0
        self._g_leak_nominal = self._c_contact_m3_per_pa * leak_pa_per_s / LEAK_REF_PRESSURE_PA
        self._leak_multiplier = 1.0
        self._q_pump_m3_per_s = cfg.pump_flow_m3_per_s
        self._press_fraction = cfg.press_valve_flow_fraction
        self._k_relief = cfg.pump_flow_m3_per_s / RELIEF_OVERRIDE_PA
        self._k_orifice = cfg.release_orifice_m3_per_s_per_sqrt_pa
        self._relief_crack_pa = cfg.relief_crack_mpa * 1e6
        self._prop_max_pa = prop_max_pressure_mpa * 1e6
        self._p_drag_pa = ram_drag_n / ram_area_m2
        self._on_delay_s = cfg.valve_on_delay_s
        self._off_delay_s = cfg.valve_off_delay_s
        self._powder = PowderCharge.from_config(cfg.sample, ram_area_m2, self._p_drag_pa)
        self._gap_m = cfg.ram_gap_mm * 1e-3 - (self._powder.fill_m if self._powder else 0.0)
        self._ambient_c = cfg.ambient_c
        self._expansion_m_per_k = stack_length_m * stack_expansion_per_k
        empty_die = cfg.sample is not None and cfg.sample.powder_mass_g == 0.0  # never creeps
        self._creep = Creep(rate_mm_per_min=0.0) if empty_die else (creep or Creep())
        self._t_s: float | None = None
        self._p_pa = 0.0
        self._x_m = 0.0  # ram position while travelling (derived in the other regimes)
        self._regime = Regime.RETRACTED
        self._creep_m = 0.0
        self._stack_c = cfg.ambient_c
        self._stack_rate_c_per_s = 0.0
        self._pump = Delayed(False)
        self._motor = PumpMotor(pump_spinup_s, cfg.pump_rundown_s)
        self._valves = {name: Delayed(False) for name in VALVES}  # energised, after delay
        self._prop: Delayed[float | None] = Delayed(None)
        self._actuators = (self._pump, self._prop, *self._valves.values())
        # When an actuator next changes: worked out only when a command or an applied change
        # alters what is pending, not on each of the ~300k `advance_to` calls of a run.
        self._next_event = math.inf
        self._pump_failed = False
        self._stuck: dict[str, StuckAs] = dict.fromkeys(VALVES)
        # The circuit as the valves and faults have it, refreshed at every event (hot path).
        self._path_fraction = 0.0
        self._release_open = True
        self._cracks_pa: tuple[float, ...] = (self._relief_crack_pa,)
        self._g_leak = self._g_leak_nominal
        self._refresh_circuit()

    # ---- readings --------------------------------------------------------------------------
    @property
    def line_pressure_mpa(self) -> float:
        """Gauge pressure in the cylinder line (MPa): what the transducer sees."""
        return self._p_pa * 1e-6

    @property
    def force_kn(self) -> float:
        """Force the ram puts on the stack (kN): line pressure times area, less the ram's drag."""
        if self._regime is not Regime.CONTACT:
            return 0.0
        return max(0.0, self._p_pa - self._p_drag_pa) * self._area_m2 * 1e-3

    @property
    def ram_position_mm(self) -> float:
        """Ram extension from fully retracted (mm), including the stack's elastic squeeze."""
        if self._regime is Regime.RETRACTED:
            return 0.0
        if self._regime is Regime.TRAVEL:
            return self._x_m * 1e3
        squeeze_m = (self._p_pa - self._p_drag_pa) * self._area_m2 / self._k_stack_n_per_m
        return (self._contact_x_m() + squeeze_m) * 1e3

    @property
    def in_contact(self) -> bool:
        """True while the ram bears on the stack (the platens are closed on the die)."""
        return self._regime is Regime.CONTACT

    @property
    def time_s(self) -> float:
        """Plant time the state belongs to (s)."""
        return self._t_s if self._t_s is not None else 0.0

    def true_state(self) -> dict[str, float | str | bool]:
        """Everything a benchmark may want to compare with what the sensors said
        (`prop_crack_mpa` only when a proportional relief valve is commanded)."""
        state: dict[str, float | str | bool] = {
            "time_s": self.time_s, "line_pressure_mpa": self.line_pressure_mpa,
            "force_kn": self.force_kn, "ram_position_mm": self.ram_position_mm,
            "in_contact": self.in_contact, "regime": self._regime.value,
            "pump_speed_frac": self._motor.speed,
            "advance_open": self._open("advance"), "press_open": self._open("press"),
            "release_open": self._open("release"),
            "creep_mm": self._creep_m * 1e3, "thermal_growth_mm": self._growth_m() * 1e3,
            "stack_temp_c": self._stack_c, "leak_multiplier": self._leak_multiplier,
        }
        if self._powder is not None:
            state.update(self._powder.truth(self._creep_m))
        if self._prop.state is not None:
            state["prop_crack_mpa"] = self._prop_crack_pa() * 1e-6
        return state

    # ---- commands and faults ---------------------------------------------------------------
    def command(self, now_s: float, pump: bool, advance: bool, press: bool,
                release_energised: bool, prop_duty: float | None = None) -> None:
        """Record the outputs as commanded at `now_s`; valves follow after their delays.

        `advance`/`press`: valve open. `release_energised`: True closes the release valve.
        `prop_duty`: proportional relief PWM duty 0..1 (crack = duty x max), None if not fitted.
        """
        t_s = max(now_s, self._start(now_s))
        self._pump.command(t_s, pump, 0.0)
        for name, energise in (("advance", advance), ("press", press),
                               ("release", release_energised)):
            delay_s = self._on_delay_s if energise else self._off_delay_s
            self._valves[name].command(t_s, energise, delay_s)
        duty = None if prop_duty is None else min(1.0, max(0.0, prop_duty))
        self._prop.command(t_s, duty, self._on_delay_s)
        self._next_event = next_change_s(self._actuators)

    def set_pump_failed(self, failed: bool) -> None:
        """Fault hook: the pump delivers nothing (coupling sheared, motor dead)."""
        self._pump_failed = failed
        self._refresh_circuit()

    def set_valve_stuck(self, name: str, stuck: StuckAs) -> None:
        """Fault hook: valve `name` (advance/press/release) stays 'open' or 'closed'; None frees."""
        if name not in self._stuck:
            raise ValueError(f"no valve {name!r}; valves are {list(VALVES)}")
        if stuck not in ("open", "closed", None):
            raise ValueError(f"stuck must be 'open', 'closed' or None, not {stuck!r}")
        self._stuck[name] = stuck
        self._refresh_circuit()

    def set_leak_multiplier(self, multiplier: float) -> None:
        """Fault hook: leakage conductance times `multiplier` (1 is the healthy plant)."""
        self._leak_multiplier = max(0.0, multiplier)
        self._refresh_circuit()

    # ---- integration -----------------------------------------------------------------------
    def advance_to(self, now_s: float, stack_temp_c: float) -> None:
        """Integrate up to `now_s`; the stack temperature moves linearly to `stack_temp_c` (C)."""
        t_s = self._start(now_s)
        if now_s <= t_s:
            return
        self._stack_rate_c_per_s = (stack_temp_c - self._stack_c) / (now_s - t_s)
        stalled = 0
        next_event_s = self._next_event
        while t_s < now_s:
            if t_s >= next_event_s:
                self._apply_due(t_s)
                next_event_s = self._next_event
            seg_end_s = min(now_s, next_event_s, t_s + self._motor.settle_s())
            h_s = self._step(seg_end_s - t_s)
            stalled = stalled + 1 if h_s <= 0.0 else 0
            if stalled > MAX_STALLED_STEPS:
                raise RuntimeError(f"hydraulic plant stalled at t={t_s} s: {self.true_state()}")
            t_s = seg_end_s if h_s >= seg_end_s - t_s else t_s + h_s
            self._t_s = t_s
        self._stack_c = stack_temp_c
        self._stack_rate_c_per_s = 0.0

    def _start(self, now_s: float) -> float:
        if self._t_s is None:
            self._t_s = now_s
        return self._t_s

    def _apply_due(self, t_s: float) -> None:
        for actuator in self._actuators:
            actuator.apply_due(t_s)
        if self._motor.running != self._pump.state:
            self._motor.set_running(self._pump.state)
        self._refresh_circuit()
        self._next_event = next_change_s(self._actuators)

    def _refresh_circuit(self) -> None:
        if self._pump_failed:
            self._path_fraction = 0.0
        elif self._open("advance"):
            self._path_fraction = 1.0
        elif self._open("press"):
            self._path_fraction = self._press_fraction
        else:
            self._path_fraction = 0.0
        self._release_open = self._open("release")
        self._g_leak = self._g_leak_nominal * self._leak_multiplier
        if self._prop.state is None:
            self._cracks_pa = (self._relief_crack_pa,)
        else:
            self._cracks_pa = (self._relief_crack_pa, self._prop_crack_pa())

    def _open(self, name: str) -> bool:
        stuck = self._stuck[name]
        if stuck is not None:
            return stuck == "open"
        energised = self._valves[name].state
        return not energised if name == "release" else energised

    def _prop_crack_pa(self) -> float:
        duty = self._prop.state
        return math.inf if duty is None else duty * self._prop_max_pa

    def _inflow_m3_per_s(self) -> tuple[float, float]:
        """Pump flow into the line now and its rate of change (spin-up / run-down)."""
        q_m3_per_s = self._q_pump_m3_per_s * self._path_fraction
        if q_m3_per_s == 0.0:
            return 0.0, 0.0
        return q_m3_per_s * self._motor.speed, q_m3_per_s * self._motor.rate_per_s()

    def _growth_m(self) -> float:
        return self._expansion_m_per_k * (self._stack_c - self._ambient_c)

    def _contact_x_m(self) -> float:
        """Ram position at which it first touches the stack: the gap less growth, plus creep
        and compaction."""
        compact_m = self._powder.compact_m if self._powder is not None else 0.0
        return self._gap_m - self._growth_m() + self._creep_m + compact_m

    def _step(self, h_max_s: float) -> float:
        """Advance at most `h_max_s` in the current regime; return the time actually taken."""
        if self._regime is Regime.TRAVEL:
            return self._step_travel(min(h_max_s, QUIET_MAX_STEP_S))
        return self._step_pressure(h_max_s)

    def _step_pressure(self, h_max_s: float) -> float:
        """Retracted or in contact: the oil (and stack) compliance integrates the net flow."""
        contact = self._regime is Regime.CONTACT
        p0 = self._p_pa
        creep_m_per_s = self._creep_rate_m_per_s() if contact else 0.0
        lam, b0, b1, relieving = self._linearised(p0, contact, creep_m_per_s)
        h_s = min(h_max_s, QUIET_MAX_STEP_S)
        slope_pa_per_s = abs(b0 - lam * p0)
        if slope_pa_per_s > 0.0:
            h_s = min(h_s, max(STEP_DP_FRACTION * p0, STEP_DP_MIN_PA) / slope_pa_per_s)
        p1 = linear_step(p0, lam, b0, b1, h_s)
        kinks: list[float] = []  # a plain loop: this runs on every step
        for crack, on in zip(self._cracks_pa, relieving, strict=True):
            if p1 < crack if on else p1 > crack:
                kinks.append(crack)
        if (p1 < self._p_drag_pa) if contact else (p1 > self._p_drag_pa):
            kinks.append(self._p_drag_pa)
        if p1 < 0.0:
            kinks.append(0.0)
        if contact and self._powder is not None and p0 < self._powder.p_max_pa < p1:
            kinks.append(self._powder.p_max_pa)  # reloading meets unpacked powder: more compliant
        if kinks:  # stop on the first kink crossed, exactly on it
            h_s, p1 = min((crossing_time(p0, lam, b0, b1, h_s, k), k) for k in kinks)
        self._p_pa = max(0.0, p1)
        self._creep_m += creep_m_per_s * h_s
        if contact and self._powder is not None:
            self._powder.pressed_to(p1)
        self._advance_common(h_s)
        if kinks and p1 == self._p_drag_pa:
            self._leave_pressure_regime()
        return h_s

    def _linearised(self, p0: float, contact: bool,
                    creep_m_per_s: float) -> tuple[float, float, float, list[bool]]:
        """dp/dt = -lam p + b0 + b1 t around p0, and which relief valves flow.

        A relief valve sitting exactly at its crack pressure counts as flowing only if the line
        is rising there, so a step that stopped on the crack goes on the right side of it.
        """
        c = self._c_contact_m3_per_pa if contact else self._c_oil_m3_per_pa
        q0, q1 = self._inflow_m3_per_s()
        mech = 0.0
        if contact:
            growth_m_per_s = self._expansion_m_per_k * self._stack_rate_c_per_s
            mech = self._area_m2 * (growth_m_per_s - creep_m_per_s)
        g, offset = outflow_linear(p0, self._g_leak, self._k_orifice, self._release_open)
        b = q0 + mech - offset
        net_m3_per_s = b - g * p0  # net flow into the line at p0, before the relief valves
        relieving: list[bool] = []  # one loop, no comprehensions: this runs on every step
        for crack in self._cracks_pa:
            on = p0 > crack or (p0 == crack and net_m3_per_s > 0.0)
            relieving.append(on)
            if on:
                g += self._k_relief
                b += self._k_relief * crack
        if contact and self._powder is not None:
            c += self._powder.line_compliance_m3_per_pa(p0, rising=net_m3_per_s > 0.0)
        return g / c, b / c, q1 / c, relieving

    def _leave_pressure_regime(self) -> None:
        """At p_drag: contact lost (ram starts back) or the retracted ram starts to move."""
        x_contact_m = self._contact_x_m()
        if self._regime is Regime.CONTACT:
            self._regime, self._x_m = Regime.TRAVEL, x_contact_m
            if x_contact_m <= 0.0:
                self._regime, self._x_m = Regime.RETRACTED, 0.0
        else:
            self._regime = Regime.CONTACT if x_contact_m <= 0.0 else Regime.TRAVEL
            self._x_m = 0.0

    def _step_travel(self, h_s: float) -> float:
        """Free ram: pressure at p_drag, the net flow moves the ram (exact for a pump ramp)."""
        p = self._p_drag_pa
        q0, q1 = self._inflow_m3_per_s()
        g, offset = outflow_linear(p, self._g_leak, self._k_orifice, self._release_open)
        out_m3_per_s = g * p + offset
        out_m3_per_s += sum(self._k_relief * max(0.0, p - crack) for crack in self._cracks_pa)
        v0 = (q0 - out_m3_per_s) / self._area_m2
        half_acc = 0.5 * q1 / self._area_m2  # m/s^2 over 2: x = x0 + v0 t + half_acc t^2
        x0 = self._x_m
        gap0 = x0 - self._contact_x_m()
        closing = v0 + self._expansion_m_per_k * self._stack_rate_c_per_s
        t_contact = first_root(gap0, closing, half_acc, h_s)
        t_home = first_root(x0, v0, half_acc, h_s)
        events = [(t, r) for t, r in ((t_contact, Regime.CONTACT), (t_home, Regime.RETRACTED))
                  if t is not None]
        h_s, regime = min(events, key=lambda e: e[0], default=(h_s, Regime.TRAVEL))
        self._x_m = x0 + v0 * h_s + half_acc * h_s * h_s
        self._advance_common(h_s)
        if regime is not Regime.TRAVEL:
            self._regime = regime
            self._x_m = 0.0 if regime is Regime.RETRACTED else self._contact_x_m()
        return h_s

    def _advance_common(self, h_s: float) -> None:
        self._stack_c += self._stack_rate_c_per_s * h_s
        self._motor.advance(h_s)

    def _creep_rate_m_per_s(self) -> float:
        force_n = max(0.0, self._p_pa - self._p_drag_pa) * self._area_m2
        return self._creep.rate_m_per_s(force_n, self._stack_c, self._creep_m)
