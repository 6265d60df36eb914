"""The pressure scenario of bench/control.py, kept apart: it needs firmware.control.pressure.

press_375: 375 MPa on a 10 mm die (29.5 kN) from t = 0, the platens heated 25 -> 150 C by
hotpress, held at 150 C until COOL_AT_S, then left to cool to 60 C; the force is held until the
reading is at 60 C and at least HOLD_MIN_S have passed, so the hold sees the stack grow as it heats
and shrink as it cools (the locked pressure rises and falls: plant.md). Figures, on the true force
as sample pressure (force / die area):
  time_to_pressure_s  from the command until the force first reaches -3 % of target;
  overshoot_mpa       highest sample pressure in the first minute at pressure, minus target;
  hold_min_mpa, hold_max_mpa, hold_band_pct   the hold (from 1 min after reaching pressure to the
                      end): extremes, and the worst deviation in % of target;
  pump_starts_per_min over the hold; hold_s its length;
  hold_line_low_pct, hold_line_high_pct, hold_line_in_05_pct   the same hold on the hydraulic
                      force (true line pressure x ram area) less the config's calibrated ram
                      drag, the quantity the press controls: worst deviation below / above
                      target (%), share of loop steps within +-0.5 % (%);
  hold_drag_pct       mean of true less that force over the hold (% of target): the error of
                      the drag calibration (ram_drag_kn against the plant's seal drag).
The loop is the daemon's: heaters and the pressure controller every tick, and between ticks the
inner pressure loop at loop.pressure_hz (line reading and valves only); each step's controller
update gets the time since the previous one, as the daemon's core gives it.
"""

from __future__ import annotations

import math
from typing import Any

from control_lib.rig import Rig
from firmware.control.temperature import ZoneController
from firmware.hal.outputs import OutputCommands
from firmware.hal.types import PressureReading, TempReading
from firmware.run.core_support import zone_model

DIE_DIAMETER_MM = 10.0
SAMPLE_MPA = 375.0
SAMPLE_RATE_MPA_PER_S = 5.0  # a recipe's pressing rate on the sample: 375 MPa in 75 s
RATE_KN_PER_S = SAMPLE_RATE_MPA_PER_S * math.pi * (DIE_DIAMETER_MM / 2.0) ** 2 / 1e3
HEAT_C, COOL_TO_C = 150.0, 60.0
COOL_AT_S = 900.0
HOLD_MIN_S = 1800.0
SETTLE_S = 60.0  # the hold is judged from a minute after reaching pressure
REACHED_FRAC = 0.97  # "at pressure": within 3 % of the target force on the sample
MAX_S = 7200.0


def pressure_scenario() -> tuple[dict[str, float], list[str]]:
    """Figures and notes; no figures (and a note saying why) without the pressure module."""
    try:
        from firmware.control.pressure import PressureController
    except ImportError as exc:
        return {}, [f"press_375 skipped: {exc}"]
    try:
        return _run(PressureController), []
    except Exception as exc:  # noqa: BLE001 - a module still being written must not cost the rest
        return {}, [f"press_375 failed: {type(exc).__name__}: {exc}"]


class _Record:
    """Sample pressure (true force / die area) at every loop step, and when it was reached."""

    def __init__(self, rig: Rig, target_kn: float, die_area_mm2: float) -> None:
        self.rig, self.target_kn, self.die_area_mm2 = rig, target_kn, die_area_mm2
        self.kn_per_mpa = rig.cfg.ram_area_m2 * 1e3
        self.drag_kn = rig.cfg.ram_drag_kn
        self.times: list[float] = []
        self.sample_mpa: list[float] = []
        self.line_mpa: list[float] = []  # hydraulic force as sample pressure (line x ram area)
        self.reached_s: float | None = None

    def take(self) -> None:
        now_s = self.rig.clock.now()
        truth = self.rig.press.truth()
        force_kn = truth["force_kn"]
        line_kn = truth["line_pressure_mpa"] * self.kn_per_mpa - self.drag_kn
        self.times.append(now_s)
        self.sample_mpa.append(force_kn * 1e3 / self.die_area_mm2)
        self.line_mpa.append(line_kn * 1e3 / self.die_area_mm2)
        if self.reached_s is None and force_kn >= REACHED_FRAC * self.target_kn:
            self.reached_s = now_s


def _inner_loop(rig: Rig, pressure: Any, target_kn: float, record: _Record) -> None:
    """As the daemon does between ticks while pressing: read the line and set the valves at
    loop.pressure_hz (when this version of PressIO has the calls for it)."""
    steps = _substeps(rig)
    if steps == 1:
        return
    period_s = rig.tick_s / steps
    for k in range(1, steps):
        rig.clock.sleep_until(rig.tick_time_s + k * period_s)
        line = rig.io.read_pressure()
        line_mpa = line.pressure_mpa if isinstance(line, PressureReading) else None
        hyd = pressure.update(line_mpa, target_kn, RATE_KN_PER_S, False, period_s)
        rig.io.apply_hydraulics(OutputCommands(
            pump_on=hyd.pump_on, advance_open=hyd.advance_open, press_open=hyd.press_open,
            release_open=hyd.release_open, prop_duty=hyd.prop_duty or 0.0))
        record.take()


def _substeps(rig: Rig) -> int:
    """Pressure steps per tick: the tick's own and the inner loop's (1 without an inner loop)."""
    loop = rig.cfg.loop
    steps = max(1, round(getattr(loop, "pressure_hz", loop.tick_hz) / loop.tick_hz))
    return steps if hasattr(rig.io, "read_pressure") else 1


def _run(controller_class: type) -> dict[str, float]:
    rig = Rig()
    cfg = rig.cfg
    die_area_mm2 = math.pi * (DIE_DIAMETER_MM / 2.0) ** 2
    target_kn = SAMPLE_MPA * die_area_mm2 / 1e3
    # As the core does: the controller works on line x area, the calibrated ram drag on top.
    hydraulic_kn = cfg.hydraulic_kn_for_force(target_kn)
    pressure = controller_class(cfg)
    zones = {z.name: ZoneController(zone_model(cfg, z), tick_s=rig.tick_s)
             for z in cfg.zones if z.ssr_pin is not None}
    record = _Record(rig, target_kn, die_area_mm2)
    starts_at_settle, tick_dt_s = 0, rig.tick_s / _substeps(rig)
    while rig.tick_time_s < MAX_S:
        now_s = rig.tick_time_s
        sample = rig.io.read()
        target_c = HEAT_C if now_s < COOL_AT_S else COOL_TO_C
        duties, coldest_c = {}, math.inf
        for name, zc in zones.items():
            reading = sample.temps[name]
            value = reading.temp_c if isinstance(reading, TempReading) else None
            duties[name] = zc.update(value, target_c, None, rig.tick_s)
            coldest_c = min(coldest_c, math.inf if value is None else value)
        reached_s = record.reached_s
        if reached_s is not None and now_s - reached_s >= HOLD_MIN_S and coldest_c <= COOL_TO_C:
            break
        line = sample.pressure
        line_mpa = line.pressure_mpa if isinstance(line, PressureReading) else None
        # As the daemon's core does: the tick's step gets only the time the inner loop left it.
        hyd = pressure.update(line_mpa, hydraulic_kn, RATE_KN_PER_S, False, tick_dt_s)
        rig.io.apply(OutputCommands(heater_duty=duties, pump_on=hyd.pump_on,
                                    advance_open=hyd.advance_open, press_open=hyd.press_open,
                                    release_open=hyd.release_open, prop_duty=hyd.prop_duty or 0.0))
        record.take()
        _inner_loop(rig, pressure, hydraulic_kn, record)
        rig.next_tick()
        if record.reached_s is not None and now_s - record.reached_s < SETTLE_S:
            starts_at_settle = pressure.pump_starts
    rig.close()
    return _figures(record, pressure.pump_starts - starts_at_settle)


def _figures(record: _Record, hold_pump_starts: int) -> dict[str, float]:
    reached_s = record.reached_s
    if reached_s is None:
        raise RuntimeError(f"{SAMPLE_MPA} MPa not reached in {MAX_S} s")
    rows = list(zip(record.times, record.sample_mpa, record.line_mpa, strict=True))
    first = [p for t, p, _ in rows if t - reached_s <= SETTLE_S]
    hold = [p for t, p, _ in rows if t - reached_s > SETTLE_S]
    line = [100.0 * (q / SAMPLE_MPA - 1.0) for t, _, q in rows if t - reached_s > SETTLE_S]
    hold_s = record.times[-1] - reached_s - SETTLE_S
    key = "press_375.hotpress."
    return {
        key + "time_to_pressure_s": reached_s,
        key + "overshoot_mpa": max(0.0, max(first) - SAMPLE_MPA),
        key + "hold_min_mpa": min(hold),
        key + "hold_max_mpa": max(hold),
        key + "hold_band_pct": 100.0 * max(abs(p - SAMPLE_MPA) for p in hold) / SAMPLE_MPA,
        key + "pump_starts_per_min": hold_pump_starts / (hold_s / 60.0),
        key + "hold_s": hold_s,
        key + "hold_line_low_pct": min(line),
        key + "hold_line_high_pct": max(line),
        key + "hold_line_in_05_pct": 100.0 * sum(abs(d) <= 0.5 for d in line) / len(line),
        key + "hold_drag_pct": sum(100.0 * p / SAMPLE_MPA - 100.0 - d
                                   for p, d in zip(hold, line, strict=True)) / len(hold),
    }
