"""The daemon's functional core: one tick is a function of (state, sample, now).

    faults   = supervisor.check(sample, context)   # latching; any fault -> SAFE this tick
    targets  = autotune | run engine | manual | idle
    commands = zone controllers + pressure controller (or SAFE)
    record   = everything, for the journal and telemetry

No clock, no hardware, no disk, no MQTT: the shell (`firmware.daemon`) feeds samples and
commands in and carries commands, events and records out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from firmware.config.bundle import PressBundle
from firmware.control.autotune import AutotuneState, RelayAutotune
from firmware.control.pressure import PressureController
from firmware.control.temperature import ZoneController
from firmware.hal.outputs import SAFE_COMMANDS, OutputCommands
from firmware.hal.press_io import Sample
from firmware.hal.types import PressureReading, PressureResult, TempReading
from firmware.retrofit.external import ExternalZone
from firmware.retrofit.guide import ManualPressureGuide
from firmware.retrofit.session import ManualSession
from firmware.run.core_support import (
    control_mode,
    pressure_phase,
    run_mode,
    sample_record,
    zone_model,
)
from firmware.run.engine import Observed, RunEngine, RunState, Targets
from firmware.run.events import Event
from firmware.safety.context import SupervisorContext
from firmware.safety.faults import Verdict
from firmware.safety.supervisor import Supervisor

AUTOTUNE_BIAS_DUTY = 0.3  # relay centre before the tuner learns the holding duty


@dataclass
class RunInfo:
    """What a run is, beyond the engine's steps: for records, state and safety limits."""

    run_id: str
    recipe_name: str
    sample_id: str
    operator: str
    material_limit_c: float | None
    max_force_kn: float | None
    die_area_m2: float | None
    extra: dict[str, Any] = field(default_factory=dict)
    full_density_thickness_mm: float | None = None  # for relative density (run/density.py)


@dataclass(frozen=True)
class InterruptedRun:
    """A run the daemon died in, as its journal left it: what an operator may resume."""

    run_id: str
    recipe_text: str
    sample_id: str
    operator: str
    step_index: int
    setpoints_c: dict[str, float]
    stopped_wall_s: float


@dataclass(frozen=True)
class TickResult:
    commands: OutputCommands
    events: list[Event]
    record: dict[str, Any]
    verdict: Verdict


class PressCore:
    """All the state of one press's control, advanced one tick at a time."""

    def __init__(self, bundle: PressBundle) -> None:
        self.bundle = bundle
        cfg = bundle.press
        self.cfg = cfg
        # Retrofit: zones an existing controller heats get its setpoint, not our SSR duty.
        self.external = {z.name: ExternalZone(z.name) for z in cfg.zones
                         if z.controller is not None}
        self.heated = tuple(z.name for z in cfg.zones if z.ssr_pin is not None) + tuple(
            self.external)
        self.engine = RunEngine(self.heated)
        self.supervisor = Supervisor(cfg, bundle.safety)
        self.zones = {z.name: ZoneController(zone_model(cfg, z)) for z in cfg.zones
                      if z.ssr_pin is not None}
        # A manual press: the guide stands where the pressure controller stands, driving nothing.
        self.pressure: PressureController | ManualPressureGuide
        self.session: ManualSession | None = None
        if cfg.is_manual:
            guide = ManualPressureGuide(cfg.manual, cfg.ram_area_m2,
                                        bundle.safety.over_pressure_margin_fraction)
            self.pressure, self.session = guide, ManualSession(guide, cfg.manual)
        else:
            self.pressure = PressureController(cfg)
        self.last_commands: OutputCommands = SAFE_COMMANDS
        self.manual: Targets | None = None
        self.autotune: tuple[str, RelayAutotune] | None = None
        self.run: RunInfo | None = None
        self.interrupted: InterruptedRun | None = None  # resumable only on an operator's word
        self.journal_ok = True
        self.last_sample: Sample | None = None
        self.last_verdict = Verdict()
        self._valid_temps: dict[str, float] = {}
        self._last_now: float | None = None
        self._targets = Targets()
        self._autotune_duty = 0.0
        self._substeps_s = 0.0  # pressure time the inner loop ran since the last tick

    # ---- the tick --------------------------------------------------------------------------
    def tick(self, sample: Sample, now_s: float, consecutive_overruns: int = 0) -> TickResult:
        dt_s = 0.0 if self._last_now is None else max(0.0, now_s - self._last_now)
        pressure_dt_s = max(dt_s - self._substeps_s, 1e-3)  # the substeps ran the rest of it
        self._substeps_s = 0.0
        self._last_now = now_s
        self.last_sample = sample
        self._update_valid_temps(sample)
        verdict = self.supervisor.check(sample, self._context(consecutive_overruns), now_s)
        self.last_verdict = verdict
        events = [Event("warning", w.describe(), w.as_dict()) for w in verdict.warnings]
        for fault in verdict.new_faults:
            events.append(Event("fault", fault.describe(), fault.as_dict()))
        if verdict.new_faults:
            events += self._stop_everything(verdict.new_faults[0].describe())
        targets, more = self._targets_for(sample, now_s, dt_s)
        events += more
        self._targets = targets
        if verdict.outputs_safe_required:
            commands = self._safe()
        else:
            commands = self._control(sample, targets, dt_s, pressure_dt_s)
        self.last_commands = commands
        record = sample_record(self, sample, targets, commands)
        if self.external:
            record["setpoints_c"].update({n: x.setpoint_c for n, x in self.external.items()})
        record.update(self.retrofit_view())
        return TickResult(commands, events, record, verdict)

    def retrofit_view(self) -> dict[str, Any]:
        """A manual press's band and hint for the operator (state and telemetry); {} otherwise."""
        if self.session is None:
            return {}
        area = self.run.die_area_m2 if self.run else None
        return self.session.view(area, self.cfg.ram_area_m2)

    def _context(self, overruns: int) -> SupervisorContext:
        run = self.run
        phase = pressure_phase(self.pressure.phase)
        hold_mpa = None
        if phase.value == "hold":
            hold_mpa = self.cfg.line_mpa_for_force(self._targets.force_kn)
        return SupervisorContext(
            last_outputs=self.last_commands, mode=run_mode(self.engine.state),
            run_in_progress=self.engine.state is not RunState.IDLE,
            material_limit_c=run.material_limit_c if run else None,
            zone_setpoints_c={n: sp for n, sp in self._zone_setpoints().items() if sp is not None},
            pressure_phase=phase, hold_target_mpa=hold_mpa,
            recipe_max_force_kn=run.max_force_kn if run else None,
            consecutive_overruns=overruns, journal_ok=self.journal_ok,
            pressure_fault=self.pressure.fault.value if self.pressure.fault is not None else None)

    def _zone_setpoints(self) -> dict[str, float | None]:
        """Every heated zone's current setpoint (C): ours, and those written to controllers."""
        return {**{n: zc.setpoint_c for n, zc in self.zones.items()},
                **{n: x.setpoint_c for n, x in self.external.items()}}

    def _update_valid_temps(self, sample: Sample) -> None:
        for name, result in sample.temps.items():
            if isinstance(result, TempReading):
                self._valid_temps[name] = result.temp_c

    def _observed(self, sample: Sample) -> Observed:
        temps = {z: (r.temp_c if isinstance(r, TempReading) else self._valid_temps.get(z))
                 for z, r in sample.temps.items() if z in self.zones or z in self.external}
        force = self._force_kn(sample)
        if self.session is not None:
            force = self.session.engine_force(force)
        return Observed(temps, force, self.pressure.at_target)

    def _force_kn(self, sample: Sample) -> float | None:
        p = sample.pressure
        return self.cfg.force_kn_at_line(p.pressure_mpa) if isinstance(p, PressureReading) \
            else None

    def _engine_now(self, sample: Sample, now_s: float) -> float:
        """The run engine's time: on a manual press it stands still while out of band."""
        if self.session is None:
            return now_s
        running = self.engine.state is RunState.RUNNING
        return self.session.engine_now(now_s, self._force_kn(sample), running)

    def _targets_for(self, sample: Sample, now_s: float,
                     dt_s: float) -> tuple[Targets, list[Event]]:
        if self.autotune is not None:
            return self._autotune_targets(sample, dt_s)
        engine_now_s = self._engine_now(sample, now_s)
        if self.engine.state is not RunState.IDLE:
            targets, events = self.engine.advance(self._observed(sample), engine_now_s)
            if self.engine.state is RunState.IDLE:
                self.run = None
            return targets, events
        self.engine.advance(self._observed(sample), engine_now_s)
        return (self.manual or Targets()), []

    def _autotune_targets(self, sample: Sample, dt_s: float) -> tuple[Targets, list[Event]]:
        assert self.autotune is not None
        zone, tuner = self.autotune
        reading = sample.temps.get(zone)
        if isinstance(reading, TempReading) and dt_s > 0:
            self._autotune_duty = tuner.update(reading.temp_c, dt_s)
        if tuner.state is AutotuneState.RUNNING:
            return Targets(), []
        self.autotune = None
        if tuner.state is AutotuneState.DONE and tuner.result is not None:
            self.zones[zone].apply_autotune(tuner.result)
            data = {"zone": zone, "result": tuner.result.to_dict()}
            return Targets(), [Event("autotune", f"autotune of {zone} done: k' "
                                     f"{tuner.result.slope_c_per_s_per_duty:.3f} C/s, dead time "
                                     f"{tuner.result.dead_time_s:.1f} s", data)]
        return Targets(), [Event("autotune", f"autotune of {zone} failed: "
                                 f"{tuner.failure_reason}", {"zone": zone, "failed": True})]

    def _control(self, sample: Sample, targets: Targets, dt_s: float,
                 pressure_dt_s: float) -> OutputCommands:
        duties: dict[str, float] = {}
        for name, zc in self.zones.items():
            reading = sample.temps.get(name)
            measured = reading.temp_c if isinstance(reading, TempReading) else None
            target = targets.temps_c.get(name)
            if self.autotune is not None and self.autotune[0] == name:
                duties[name] = self._autotune_duty
            elif target is None or dt_s <= 0:
                duties[name] = zc.off() if target is None else zc.duty
            else:
                duties[name] = zc.update(measured, target, targets.ramp_c_per_min, dt_s,
                                         hold=targets.hold_position)
        p = sample.pressure
        line_mpa = p.pressure_mpa if isinstance(p, PressureReading) else None
        # The pressure controller works on line x area: the ram's drag comes on top.
        hyd = self.pressure.update(line_mpa, self.cfg.hydraulic_kn_for_force(targets.force_kn),
                                   targets.rate_kn_per_s, targets.release, pressure_dt_s,
                                   hold=targets.hold_position)
        return OutputCommands(heater_duty=duties, pump_on=hyd.pump_on,
                              advance_open=hyd.advance_open, press_open=hyd.press_open,
                              release_open=hyd.release_open, prop_duty=hyd.prop_duty or 0.0,
                              controller_setpoints_c=self._external_setpoints(sample, targets,
                                                                              dt_s))

    def _external_setpoints(self, sample: Sample, targets: Targets,
                            dt_s: float) -> dict[str, float]:
        """Setpoints (C) for the zones existing controllers heat; a zone without a target is
        left out, which sends its controller to its safe setpoint."""
        out: dict[str, float] = {}
        for name, zone in self.external.items():
            target = targets.temps_c.get(name)
            if target is None:
                zone.off()
                continue
            reading = sample.temps.get(name)
            measured = reading.temp_c if isinstance(reading, TempReading) else None
            out[name] = zone.update(measured, target, targets.ramp_c_per_min, dt_s,
                                    hold=targets.hold_position)
        return out

    def pressure_active(self) -> bool:
        """True while the hydraulics are under closed-loop control (worth an inner loop); never
        on a manual press, which has no pump or valves to meter."""
        return (self.session is None and not self.last_verdict.latched
                and self.pressure.phase.value in ("approach", "ramp", "hold", "release"))

    def pressure_substep(self, pressure: PressureResult, dt_s: float) -> OutputCommands | None:
        """One inner pressure-loop step between ticks: the same targets, a fresh reading.

        Returns the commands to apply (heaters as they are), or None when nothing may move."""
        if self.last_verdict.latched:
            return None
        t = self._targets
        line_mpa = pressure.pressure_mpa if isinstance(pressure, PressureReading) else None
        hyd = self.pressure.update(line_mpa, self.cfg.hydraulic_kn_for_force(t.force_kn),
                                   t.rate_kn_per_s, t.release, dt_s, hold=t.hold_position)
        self._substeps_s += dt_s
        # This runs 40 times a second of pressing, and most substeps leave the valves as they
        # are: the (immutable) commands are then kept, else built field by field (not with
        # dataclasses.replace, which introspects the class on every call).
        last, prop_duty = self.last_commands, hyd.prop_duty or 0.0
        if (hyd.pump_on, hyd.advance_open, hyd.press_open, hyd.release_open, prop_duty) != (
                last.pump_on, last.advance_open, last.press_open, last.release_open,
                last.prop_duty):
            self.last_commands = OutputCommands(
                heater_duty=last.heater_duty, pump_on=hyd.pump_on, advance_open=hyd.advance_open,
                press_open=hyd.press_open, release_open=hyd.release_open, prop_duty=prop_duty,
                controller_setpoints_c=last.controller_setpoints_c)
        return self.last_commands

    def _safe(self) -> OutputCommands:
        for zc in self.zones.values():
            zc.off()
        for zone in self.external.values():
            zone.off()
        self.pressure.reset()
        return SAFE_COMMANDS

    def _stop_everything(self, reason: str) -> list[Event]:
        """A trip: the run ends faulted, autotune and manual setpoints are dropped."""
        self.manual = None
        events: list[Event] = []
        if self.autotune is not None:
            self.autotune[1].abort(reason)
            events.append(Event("autotune", f"autotune aborted: {reason}",
                                {"zone": self.autotune[0], "failed": True}))
            self.autotune = None
        events += self.engine.fault(reason)
        if self.engine.state is RunState.IDLE:
            self.run = None
        return events

    # ---- what the operator sees -------------------------------------------------------------
    @property
    def mode(self) -> str:
        return control_mode(self)

    def journal_failed(self, reason: str) -> None:
        """The shell could not write the journal: the next check trips JOURNAL_UNWRITABLE."""
        self.journal_ok = False

    def start_autotune(self, zone: str, at_c: float) -> None:
        tuner = RelayAutotune(at_c, AUTOTUNE_BIAS_DUTY)
        self.autotune = (zone, tuner)
        self._autotune_duty = 0.0
