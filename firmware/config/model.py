"""The press configuration as typed, frozen objects: parsed and bounds-checked once, at load.

Units are in the names. Pins are BCM GPIO numbers. Outputs are safe when de-energised unless
`safe_energised` says otherwise (a normally-closed dump valve, say).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from firmware.config.instruments import (
    InstrumentConfig,
    ManualConfig,
    SerialPortConfig,
    to_si,
)


@dataclass(frozen=True)
class ZoneConfig:
    """One heated platen (or a monitored sample thermocouple when `ssr_pin` is None).

    Retrofit: `controller` names a Modbus temperature controller (an `[[instruments]]` table)
    that keeps heating this zone; its PV is the zone's temperature unless `tc_cs_pin` gives one
    of our own, and recipes reach it through its setpoint. Such a zone has no `ssr_pin`.
    """

    name: str
    tc_cs_pin: int | None
    ssr_pin: int | None
    heater_w: float
    max_temp_c: float
    ssr_active_high: bool = True
    ssr_window_s: float = 1.0
    controller: str | None = None

    @property
    def heated(self) -> bool:
        """True when recipes can heat this zone: through our SSR or an existing controller."""
        return self.ssr_pin is not None or self.controller is not None


@dataclass(frozen=True)
class TransducerConfig:
    """Line-pressure transducer on an ADS1115 channel."""

    i2c_bus: int = 1
    address: int = 0x48
    channel: int = 0
    # PGA full-scale range: 6.144, 4.096, 2.048, 1.024, 0.512, 0.256. 6.144 because the default
    # ratiometric wiring reads the 5 V supply and a 4.5 V full-span signal, both above 4.096.
    fsr_v: float = 6.144
    data_rate_sps: int = 860
    kind: Literal["ratiometric", "current"] = "ratiometric"
    range_mpa: float = 70.0  # pressure at full span (4.5 V or 20 mA)
    supply_channel: int | None = 1  # ratiometric: ADC channel measuring the 5 V supply
    supply_v: float = 5.0  # nominal supply when no supply channel is wired
    shunt_ohm: float = 150.0  # current: shunt resistor
    zero_offset_mpa: float = 0.0  # calibration: subtracted after scaling
    span_factor: float = 1.0  # calibration: multiplied after offset


@dataclass(frozen=True)
class OutputConfig:
    """A digital output (pump, valve) with its electrical polarity and safe state."""

    pin: int
    active_high: bool = True
    safe_energised: bool = False  # the state every path to safety drives it to
    normally_open: bool = False  # valves: open when de-energised (a dump/release valve)


@dataclass(frozen=True)
class PwmOutputConfig:
    """A PWM output (proportional relief valve): duty 0..1 sets the line-pressure cap."""

    pin: int
    frequency_hz: float = 200.0
    active_high: bool = True
    max_pressure_mpa: float = 70.0  # line pressure at full duty


@dataclass(frozen=True)
class InputConfig:
    """A digital input; `active_low` means the asserted (e-stop pressed / guard open) level is low.

    The default is fail-safe wiring: a normally-closed contact to GND with a pull-up, so a pressed
    e-stop, an open guard and a broken wire all read high (asserted).
    """

    pin: int
    active_low: bool = False
    pull_up: bool = True


@dataclass(frozen=True)
class HydraulicsConfig:
    """Pump and valves of the reference circuit (see reference/plant.md)."""

    pump: OutputConfig
    advance_valve: OutputConfig  # fast path, full flow
    release_valve: OutputConfig  # to tank through a needle orifice; normally open
    press_valve: OutputConfig | None = None  # slow metered path
    proportional_valve: PwmOutputConfig | None = None


@dataclass(frozen=True)
class RamPositionConfig:
    """Optional linear position sensor on an ADS1115 channel (0..fsr volts over 0..range_mm)."""

    channel: int = 2
    range_mm: float = 50.0
    full_scale_v: float = 3.3
    # Die calibration, for the pellet's thickness and relative density (`hotpressd calibrate-die`
    # measures all four with the empty die between the platens; README "Calibrating the die").
    empty_die_closed_mm: float | None = None  # reading as the platens close the empty die, no load
    compliance_mm_per_kn: float = 0.0  # frame and punches: extra travel per kN of force
    growth_mm_per_c: float = 0.0  # hot platens and die grow: the closed reading falls per C
    calibrated_at_c: float = 25.0  # mean platen temperature of the empty_die_closed_mm reading


@dataclass(frozen=True)
class InputsConfig:
    estop: InputConfig
    guard: InputConfig | None = None
    ram_position: RamPositionConfig | None = None


@dataclass(frozen=True)
class LimitsConfig:
    max_temp_c: float = 300.0
    max_line_pressure_mpa: float = 70.0
    max_force_kn: float = 200.0


@dataclass(frozen=True)
class LoopConfig:
    tick_hz: float = 10.0
    tc_period_s: float = 0.25  # MAX31855 converts in ~100 ms; never poll faster than that
    # Inner pressure loop while the hydraulics are active: a 10 Hz tick can meter only 1.5 % of a
    # 375 MPa target per slow-valve pulse; 50 Hz meters 0.2 % (see firmware/control/pressure.py).
    pressure_hz: float = 50.0


@dataclass(frozen=True)
class SimSampleConfig:
    """Powder loaded in the simulated die (sim/compaction.py); powder_mass_g = 0 is the empty
    die (for `hotpressd calibrate-die`). Without this table the die holds plant.md's generic
    pressed pellet: stiff, creeping, of no particular thickness (the benchmarks' plant)."""

    powder_mass_g: float = 0.15
    theoretical_density_g_cm3: float = 2.0
    die_diameter_mm: float = 10.0
    fill_density_frac: float = 0.5  # loose powder as poured (tap density / theoretical)
    heckel_k_per_mpa: float = 0.003  # compressibility (estimate for soft sulfides)


@dataclass(frozen=True)
class PlantConfig:
    """The press's physical figures: what the zone model, the recipe planner and the derived
    safety windows assume. Defaults are reference/plant.md's steel platen press.

    A real press states its own in `[plant]` (autotune measures the thermal ones); a simulated
    press is built from the same figures (`SimConfig` adds noise and the die's contents), and a
    `[plant]` table there is what the software believes against what the simulator does.
    """

    ambient_c: float = 25.0
    platen_material: Literal["steel", "aluminium"] = "steel"
    platen_heat_capacity_j_per_k: float = 4600.0
    heater_heat_capacity_j_per_k: float = 300.0
    heater_to_platen_k_per_w: float = 0.025
    ua_w_per_k: float = 2.5
    conduction_lag_s: float = 12.0
    tc_tau_s: float = 3.0
    die_coupling_w_per_k: float = 100.0  # platen to platen through the die when closed
    oil_volume_m3: float = 115e-6
    bulk_modulus_pa: float = 1.0e9
    frame_stiffness_n_per_m: float = 100e6
    sample_stiffness_n_per_m: float = 50e6
    pump_flow_m3_per_s: float = 0.8e-3 / 60
    press_valve_flow_fraction: float = 0.05
    leak_mpa_per_min_at_50: float = 0.2
    relief_crack_mpa: float = 70.0
    # A needle set for controlled release: 9 MPa falls in ~10 s (2e-9 dumped it in 1.3 s, so
    # the shortest opening took 1.6-17 % off a hold: no needle is set that open on a real press).
    release_orifice_m3_per_s_per_sqrt_pa: float = 3.0e-10
    valve_on_delay_s: float = 0.03
    valve_off_delay_s: float = 0.02
    pump_rundown_s: float = 0.2
    ram_gap_mm: float = 5.0  # travel to close the empty die (or plant.md's generic pellet)


@dataclass(frozen=True)
class SimConfig(PlantConfig):
    """The simulated press: its physics, plus sensor noise, fault rates and what is in the die."""

    tc_noise_c_rms: float = 0.1
    tc_sporadic_fault_rate: float = 1e-4  # fault frames per read
    transducer_noise_frac_rms: float = 0.0005
    seed: int = 1
    sample: SimSampleConfig | None = None  # what is in the die (see SimSampleConfig)


@dataclass(frozen=True)
class BackendConfig:
    kind: Literal["real", "sim"] = "sim"
    spi_bus: int = 0  # real: SPI bus number
    sim: SimConfig = field(default_factory=SimConfig)


@dataclass(frozen=True)
class PressConfig:
    """A whole press: what `hotpressd` loads from one TOML file.

    `transducer` and `hydraulics` may be left out only by a retrofit press: a manual press
    (`pressure_mode = "manual"`) has no pump or valves, and may read its pressure or force from a
    serial instrument instead of the ADS1115 (validate.py says which combinations are allowed).
    """

    id: str
    zones: tuple[ZoneConfig, ...]
    transducer: TransducerConfig | None
    ram_bore_mm: float
    hydraulics: HydraulicsConfig | None
    inputs: InputsConfig
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    sample_tc_cs_pin: int | None = None  # optional thermocouple at the sample, monitored only
    journal_dir: str = "/var/lib/hotpress"
    # An interrupted run may be resumed by an operator only within this time (and in band).
    resume_window_s: float = 900.0
    pressure_mode: Literal["automatic", "manual"] = "automatic"
    manual: ManualConfig = field(default_factory=ManualConfig)
    serial_ports: tuple[SerialPortConfig, ...] = ()
    instruments: tuple[InstrumentConfig, ...] = ()
    # Retrofit: a relay in series with the existing controllers' heater outputs, energised only
    # while a recipe wants heat, so a trip cuts them even when their serial line is dead.
    heater_permit: OutputConfig | None = None
    plant: PlantConfig | None = None  # the physical figures; see `physics`
    # Force the ram spends on its return spring and seals before it presses anything (kN):
    # `hotpressd calibrate-die` measures it as the line pressure of the free-moving ram.
    ram_drag_kn: float = 0.0

    @property
    def physics(self) -> PlantConfig:
        """The physical figures the software works with: `[plant]` when given, else the
        simulated plant's own, else (a real press without `[plant]`) the reference press's."""
        if self.plant is not None:
            return self.plant
        return self.backend.sim if self.backend.kind == "sim" else PlantConfig()

    @property
    def is_manual(self) -> bool:
        """True when the operator makes the pressure by hand (no pump or valves to drive)."""
        return self.pressure_mode == "manual"

    def instrument(self, name: str) -> InstrumentConfig:
        """The instrument called `name` (KeyError naming the known instruments otherwise)."""
        for inst in self.instruments:
            if inst.name == name:
                return inst
        raise KeyError(f"no instrument {name!r}; instruments are "
                       f"{[i.name for i in self.instruments]}")

    @property
    def pressure_instrument(self) -> InstrumentConfig | None:
        """The serial instrument that reads line pressure or force, if the press has one."""
        return next((i for i in self.instruments if i.measures in ("line_pressure", "force")),
                    None)

    @property
    def position_instrument(self) -> InstrumentConfig | None:
        """The serial instrument that reads ram position, if the press has one."""
        return next((i for i in self.instruments if i.measures == "position"), None)

    @property
    def pressure_range_mpa(self) -> float:
        """Line pressure at the pressure sensor's full scale: what the press can see (MPa)."""
        if self.transducer is not None:
            return self.transducer.range_mpa
        inst = self.pressure_instrument
        if inst is None or inst.full_scale is None:
            return self.limits.max_line_pressure_mpa
        value = to_si(inst.measures, inst.unit, inst.full_scale)
        return value if inst.measures == "line_pressure" else value / (self.ram_area_m2 * 1e3)

    @property
    def ram_area_m2(self) -> float:
        """Piston area from the bore: hydraulic force = line pressure * this."""
        return math.pi * (self.ram_bore_mm / 1000.0) ** 2 / 4.0

    def hydraulic_kn_for_force(self, force_kn: float) -> float:
        """Line x area that puts `force_kn` on the stack: the ram's drag is paid first (none
        when nothing is to be pressed)."""
        return force_kn + self.ram_drag_kn if force_kn > 0.0 else force_kn

    def line_mpa_for_force(self, force_kn: float) -> float:
        """Line pressure that puts `force_kn` on the stack."""
        return self.hydraulic_kn_for_force(force_kn) / (self.ram_area_m2 * 1e3)

    def force_kn_at_line(self, line_mpa: float) -> float:
        """Force on the stack at `line_mpa`: line x area less the ram's drag (never below 0)."""
        hydraulic_kn = line_mpa * self.ram_area_m2 * 1e3
        if self.ram_drag_kn == 0.0:
            return hydraulic_kn  # uncalibrated: the reading as it is, noise around zero included
        return max(0.0, hydraulic_kn - self.ram_drag_kn)

    def zone(self, name: str) -> ZoneConfig:
        """The zone called `name` (KeyError naming the known zones otherwise)."""
        for z in self.zones:
            if z.name == name:
                return z
        raise KeyError(f"no zone {name!r}; zones are {[z.name for z in self.zones]}")
