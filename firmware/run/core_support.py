"""Small pure helpers of the core: zone models from config, enum mappings, the sample record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from firmware.config.model import PressConfig, ZoneConfig
from firmware.control.temperature import ZoneModel
from firmware.hal.outputs import OutputCommands
from firmware.hal.press_io import Sample
from firmware.hal.transducer import PositionReading
from firmware.hal.types import PressureReading, SensorFault, TempReading
from firmware.run.density import densification
from firmware.run.engine import RunState, Targets
from firmware.safety.context import PressurePhase, RunMode

if TYPE_CHECKING:
    from firmware.run.core import PressCore


def zone_model(cfg: PressConfig, zone: ZoneConfig) -> ZoneModel:
    """The control model of a zone from the press's physical figures (`PressConfig.physics`);
    an autotune result, when stored, corrects it at start-up."""
    sim = cfg.physics
    heat_capacity = sim.platen_heat_capacity_j_per_k + sim.heater_heat_capacity_j_per_k
    heater_lag_s = sim.heater_heat_capacity_j_per_k * sim.heater_to_platen_k_per_w
    dead_time_s = sim.conduction_lag_s + sim.tc_tau_s + heater_lag_s
    return ZoneModel(zone.heater_w, heat_capacity, dead_time_s, sim.ua_w_per_k, sim.ambient_c)


def run_mode(state: RunState) -> RunMode:
    return {RunState.IDLE: RunMode.IDLE, RunState.RUNNING: RunMode.RUNNING,
            RunState.PAUSED: RunMode.PAUSED}[state]


def pressure_phase(phase: Any) -> PressurePhase:
    """The pressure controller's phase as the supervisor names it (same vocabulary)."""
    return PressurePhase(getattr(phase, "value", str(phase)).lower())


def control_mode(core: PressCore) -> str:
    """The one word the operator sees: estop, fault, autotune, running, paused, manual, idle."""
    sample = core.last_sample
    if sample is not None and sample.estop:
        return "estop"
    if core.last_verdict.latched:
        return "fault"
    if core.autotune is not None:
        return "autotune"
    if core.engine.state is RunState.RUNNING:
        return "running"
    if core.engine.state is RunState.PAUSED:
        return "paused"
    return "manual" if core.manual is not None else "idle"


def _temp(result: object) -> float | None:
    return result.temp_c if isinstance(result, TempReading) else None


def sample_record(core: PressCore, sample: Sample, targets: Targets,
                  commands: OutputCommands) -> dict[str, Any]:
    """One tick as the journal stores it and telemetry sends it (protocol TELEMETRY keys)."""
    cfg = core.cfg
    p = sample.pressure
    line_mpa = p.pressure_mpa if isinstance(p, PressureReading) else None
    force_kn = cfg.force_kn_at_line(line_mpa) if line_mpa is not None else None
    area = core.run.die_area_m2 if core.run else None
    sample_mpa = force_kn / (area * 1e3) if (force_kn is not None and area) else None
    target_mpa = (targets.force_kn / (area * 1e3)
                  if (area and not targets.release) else None)
    pos = sample.position
    position_mm = pos.position_mm if isinstance(pos, PositionReading) else None
    # Density works on line x area, as the die was calibrated: the drag setting cannot skew it.
    hydraulic_kn = line_mpa * cfg.ram_area_m2 * 1e3 if line_mpa is not None else None
    temps_c = {n: _temp(r) for n, r in sample.temps.items()}
    dens = densification(cfg.inputs.ram_position, position_mm, hydraulic_kn,
                         temps_c.values(), core.run.full_density_thickness_mm if core.run else None)
    return {
        "type": "sample",
        "t_s": round(sample.time_s, 3),
        "mode": core.mode,
        "run_id": core.run.run_id if core.run else None,
        "step_index": core.engine.step_index if core.run else None,
        "temps_c": temps_c,
        "temp_faults": {n: r.kind.name for n, r in sample.temps.items()
                        if isinstance(r, SensorFault)},
        "setpoints_c": {n: (None if zc.setpoint_c is None else round(zc.setpoint_c, 3))
                        for n, zc in core.zones.items()},
        "line_mpa": None if line_mpa is None else round(line_mpa, 4),
        "pressure_fault": p.kind.name if isinstance(p, SensorFault) else None,
        "force_kn": None if force_kn is None else round(force_kn, 3),
        "sample_mpa": None if sample_mpa is None else round(sample_mpa, 2),
        "target_sample_mpa": None if target_mpa is None else round(target_mpa, 2),
        "target_force_kn": None if targets.release else round(targets.force_kn, 3),
        "position_mm": None if position_mm is None else round(position_mm, 4),
        "thickness_mm": None if dens is None else round(dens.thickness_mm, 4),
        "relative_density": (None if dens is None or dens.relative_density is None
                             else round(dens.relative_density, 4)),
        "duty": {n: round(d, 4) for n, d in commands.heater_duty.items()},
        "outputs": {"pump": commands.pump_on, "advance_open": commands.advance_open,
                    "press_open": commands.press_open, "release_open": commands.release_open},
        "estop": sample.estop,
        "guard_open": sample.guard_open,
    }
