"""Builders for the supervisor tests: Samples made by hand, and a tiny platen model for traces.

Nothing here uses the simulator (it is still being finished): readings are built directly, and
the thermal traces come from `Platen`, the three-lump model of reference/plant.md in ten lines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from firmware.config.model import PressConfig
from firmware.hal.outputs import OutputCommands
from firmware.hal.press_io import Sample
from firmware.hal.types import FaultKind, PressureReading, SensorFault, TempReading
from firmware.presets import reference_sim_config
from firmware.safety import Supervisor, SupervisorContext, Verdict, derive_safety_config
from firmware.safety.faults import FaultCode
from firmware.safety.thresholds import SafetyConfig

TICK_S = 0.1
REFERENCE = reference_sim_config()
Temp = float | FaultKind | None  # a reading, a fault frame, or the last result reused


def press(heater_w: float | None = None, **sim: float) -> PressConfig:
    """The reference press, with every zone's heater power and any sim figures changed."""
    cfg = REFERENCE
    if heater_w is not None:
        zones = tuple(dataclasses.replace(z, heater_w=heater_w) for z in cfg.zones)
        cfg = dataclasses.replace(cfg, zones=zones)
    if sim:
        backend = dataclasses.replace(cfg.backend, sim=dataclasses.replace(cfg.backend.sim, **sim))
        cfg = dataclasses.replace(cfg, backend=backend)
    return cfg


def ctx(duty: float | Mapping[str, float] = 0.0, **kw: object) -> SupervisorContext:
    """A context with the heaters at `duty` (one for both, or by zone) and other fields by name."""
    duties = duty if isinstance(duty, Mapping) else {"top": duty, "bottom": duty}
    outputs = kw.pop("outputs", None) or OutputCommands(heater_duty=dict(duties))
    return SupervisorContext(last_outputs=outputs, **kw)  # type: ignore[arg-type]


def pumping(advance: bool = False, **kw: object) -> SupervisorContext:
    """Pump on into the cylinder through the advance (fast) or the press (slow) valve."""
    out = OutputCommands(pump_on=True, advance_open=advance, press_open=not advance,
                         release_open=False)
    return ctx(outputs=out, **kw)


LOCKED = OutputCommands(release_open=False)  # pump off, every valve closed


class Rig:
    """A supervisor fed a tick at a time; each tick's thermocouple and transducer reads are new."""

    def __init__(self, cfg: PressConfig | None = None, safety: SafetyConfig | None = None) -> None:
        self.cfg = cfg or REFERENCE
        self.sup = Supervisor(self.cfg, safety or derive_safety_config(self.cfg))
        self.t_s = 0.0
        self.temps: dict[str, TempReading | SensorFault] = {}
        self.p: PressureReading | SensorFault = PressureReading(0.0, 0.0, 0.5, 0)
        self.verdicts: list[Verdict] = []

    def tick(self, temps: Mapping[str, Temp] | float = 25.0, p: float | FaultKind | None = 0.0,
             c: SupervisorContext | None = None, estop: bool = False,
             guard: bool = False) -> Verdict:
        """Advance one tick; a float for `temps` sets every zone to it."""
        self.t_s = round(self.t_s + TICK_S, 6)
        if not isinstance(temps, Mapping):
            temps = {z.name: temps for z in self.cfg.zones}
        for name, value in temps.items():
            if isinstance(value, FaultKind):
                self.temps[name] = SensorFault(self.t_s, value, "test")
            elif value is not None:
                self.temps[name] = TempReading(self.t_s, value, 25.0, value)
        if isinstance(p, FaultKind):
            self.p = SensorFault(self.t_s, p, "test")
        elif p is not None:
            self.p = PressureReading(self.t_s, p, 0.5, 0)
        sample = Sample(self.t_s, dict(self.temps), self.p, estop, guard)
        verdict = self.sup.check(sample, c or ctx(), self.t_s)
        self.verdicts.append(verdict)
        return verdict

    def run(self, seconds: float, **kw: object) -> Verdict:
        """Repeat the same tick for `seconds`."""
        verdict = self.tick(**kw)  # type: ignore[arg-type]
        for _ in range(round(seconds / TICK_S) - 1):
            verdict = self.tick(**kw)  # type: ignore[arg-type]
        return verdict

    def sample(self, estop: bool = False, guard: bool = False) -> Sample:
        """The latest readings as a Sample (for `reset`)."""
        return Sample(self.t_s, dict(self.temps), self.p, estop, guard)

    def reset(self, **kw: bool) -> tuple[bool, str]:
        """Ask the supervisor for a reset now."""
        return self.sup.reset(self.t_s, self.sample(**kw))

    def first(self, code: FaultCode) -> float | None:
        """Time (s) of the first tick on which `code` was latched, or None."""
        for i, verdict in enumerate(self.verdicts):
            if code in verdict.codes():
                return round((i + 1) * TICK_S, 6)
        return None

    def warned(self, code: FaultCode) -> bool:
        """True if any tick reported a warning with `code`."""
        return any(w.code is code for v in self.verdicts for w in v.warnings)


@dataclasses.dataclass
class Platen:
    """Heater core, platen and a 3-stage conduction lag plus probe lag (reference/plant.md)."""

    heater_w: float = 2000.0
    c_platen_j_per_k: float = 4600.0
    c_heater_j_per_k: float = 300.0
    r_k_per_w: float = 0.025
    ua_w_per_k: float = 2.5
    lag_s: float = 12.0
    tau_s: float = 3.0
    ambient_c: float = 25.0
    start_c: float = 25.0

    def __post_init__(self) -> None:
        self.heater_c = self.platen_c = self.probe_c = self.start_c
        self.lags = [self.start_c] * 3

    def step(self, power: float, dt_s: float = TICK_S, n: int = 10) -> float:
        """Advance `dt_s` at `power` (0..1 of heater_w, what the heater really gets); probe C."""
        h = dt_s / n
        for _ in range(n):
            q = (self.heater_c - self.platen_c) / self.r_k_per_w
            rise = self.platen_c - self.ambient_c
            loss = self.ua_w_per_k * rise * (1 + rise / 300)
            self.heater_c += h * (self.heater_w * power - q) / self.c_heater_j_per_k
            self.platen_c += h * (q - loss) / self.c_platen_j_per_k
            upstream = self.platen_c
            for i in range(3):
                self.lags[i] += h * (upstream - self.lags[i]) / (self.lag_s / 3)
                upstream = self.lags[i]
            self.probe_c += h * (upstream - self.probe_c) / self.tau_s
        return round(self.probe_c * 4) / 4  # the MAX31855's 0.25 C steps


def drive(rig: Rig, seconds: float, platens: Mapping[str, Platen], duty: Mapping[str, float],
          power: Mapping[str, float] | None = None, **kw: object) -> Verdict:
    """Run the platens for `seconds`: `duty` is what was commanded, `power` what the heaters
    really got (a welded SSR gets 1.0 whatever its duty); `power` defaults to `duty`.
    """
    power = power or duty
    verdict = rig.verdicts[-1] if rig.verdicts else Verdict()
    for _ in range(round(seconds / TICK_S)):
        temps = {name: platen.step(power[name]) for name, platen in platens.items()}
        verdict = rig.tick(temps, c=ctx(dict(duty), **kw))
    return verdict
