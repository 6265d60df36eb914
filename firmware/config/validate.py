"""Bounds and consistency rules for a press config, each with the reason for its numbers.

Three layers, run by `load.py` in order: a rule per field (a range, a set, a pattern), a rule per
object (things one table can check about itself), and `check_press` for what spans tables (a pin
used twice, a zone hotter than the press limit, a force limit the ram cannot reach). A failed
value never reaches the layers after it, so each problem is reported once, at its own key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields

from firmware.config.build import FieldRule, ObjectRule, quote
from firmware.config.model import (
    BackendConfig,
    InputConfig,
    LimitsConfig,
    LoopConfig,
    OutputConfig,
    PlantConfig,
    PressConfig,
    PwmOutputConfig,
    RamPositionConfig,
    SimConfig,
    SimSampleConfig,
    TransducerConfig,
    ZoneConfig,
)

# Platens: above ~400 C cartridge heaters, steel platens and hydraulic seals nearby all suffer, and
# no solid-state battery recipe in materials.md needs more; below 20 C a heater cannot hold.
TEMP_RANGE_C = (20.0, 400.0)
# A cartridge-heater zone: below 50 W it cannot heat a platen; above 10 kW it is not a lab press.
HEATER_RANGE_W = (50.0, 10000.0)
# SSR time-proportioning window: shorter than 0.1 s is a few mains cycles; longer than 10 s ripples.
SSR_WINDOW_RANGE_S = (0.1, 10.0)
RAM_BORE_RANGE_MM = (10.0, 300.0)
# ADS1115 PGA full-scale ranges (V) and data rates (SPS): the only values the chip can be set to.
ADS1115_FSR_V = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256)
ADS1115_RATES_SPS = (8, 16, 32, 64, 128, 250, 475, 860)
ADS1115_ADDRESSES = (0x48, 0x4B)  # ADDR strapped to GND, VDD, SDA, SCL
ADS1115_CHANNELS = (0, 3)
BCM_PINS = (0, 27)  # the 40-pin header's GPIOs
TICK_RANGE_HZ = (1.0, 200.0)
# MAX31855 converts in ~100 ms and a read aborts a conversion: polling faster gives stale data.
TC_PERIOD_RANGE_S = (0.1, 10.0)
# A calibration that moves the span by more than 20 % is a wrong range_mpa, not a calibration.
SPAN_FACTOR_RANGE = (0.8, 1.2)
# A zero offset above 10 % of span is a broken sensor or a unit mix-up.
MAX_ZERO_OFFSET_FRACTION = 0.1
# Ratiometric transducers span 10..90 % of their supply; 4-20 mA loops read up to 21 mA so that
# NAMUR NE43's over-range fault (> 21 mA) is still visible to the ADC.
RATIOMETRIC_FULL_SPAN_FRACTION = 0.9
CURRENT_MAX_READ_A = 0.021
# max_force_kn may exceed line pressure * ram area by this rounding slack before it is an error.
FORCE_SLACK_FRACTION = 0.005
SAFE_ID = re.compile(r"[A-Za-z0-9_-]+")  # an MQTT topic segment without wildcards or separators
# GPIOs the kernel owns when a bus is enabled, so they cannot be chip selects, SSRs or valves.
SPI_PINS = {
    0: {7: "SPI0 CE1", 8: "SPI0 CE0", 9: "SPI0 MISO", 10: "SPI0 MOSI", 11: "SPI0 SCLK"},
    1: {16: "SPI1 CE2", 17: "SPI1 CE1", 18: "SPI1 CE0", 19: "SPI1 MISO", 20: "SPI1 MOSI",
        21: "SPI1 SCLK"},
}
I2C_PINS = {0: {0: "I2C0 SDA", 1: "I2C0 SCL"}, 1: {2: "I2C1 SDA", 3: "I2C1 SCL"}}


def _num(x: float) -> str:
    """A number as a person writes it: 900, 0.25, 4.096."""
    return f"{x:g}"


@dataclass(frozen=True)
class Between:
    """A closed range `lo..hi` with its unit."""

    lo: float
    hi: float
    unit: str = ""

    def __call__(self, value: float) -> str | None:
        """`900 is out of range 20..400 C` when outside."""
        if self.lo <= value <= self.hi:
            return None
        span = f"{_num(self.lo)}..{_num(self.hi)}"
        return f"{_num(value)} is out of range {span} {self.unit}".rstrip()


@dataclass(frozen=True)
class AtLeast:
    """A lower bound; `strict` makes it `> lo` (for quantities that must be positive)."""

    lo: float
    unit: str = ""
    strict: bool = False

    def __call__(self, value: float) -> str | None:
        """`0 must be > 0 W/K` when below."""
        ok = value > self.lo if self.strict else value >= self.lo
        op = ">" if self.strict else ">="
        return None if ok else f"{_num(value)} must be {op} {_num(self.lo)} {self.unit}".rstrip()


@dataclass(frozen=True)
class OneOf:
    """A value from a fixed set (ADS1115 ranges and rates)."""

    allowed: tuple[float, ...]
    unit: str = ""

    def __call__(self, value: float) -> str | None:
        """`5 is not one of 6.144, 4.096, ... V` when not in the set."""
        if any(math.isclose(value, a) for a in self.allowed):
            return None
        listed = ", ".join(_num(a) for a in self.allowed)
        return f"{_num(value)} is not one of {listed} {self.unit}".rstrip()


def pin(value: int) -> str | None:
    """A BCM GPIO number on the 40-pin header."""
    lo, hi = BCM_PINS
    return None if lo <= value <= hi else f"GPIO {value} is out of range {lo}..{hi} (BCM numbering)"


def address(value: int) -> str | None:
    """An ADS1115 I2C address, shown in hex."""
    lo, hi = ADS1115_ADDRESSES
    if lo <= value <= hi:
        return None
    span = f"0x{lo:02X}..0x{hi:02X}"
    return f"0x{value:02X} is out of range {span} (ADS1115 ADDR to GND, VDD, SDA or SCL)"


def safe_id(value: str) -> str | None:
    """A name that is safe as an MQTT topic segment and a telemetry key."""
    if SAFE_ID.fullmatch(value):
        return None
    return f'{quote(value)} may use only letters, digits, "_" and "-" (it is an MQTT topic segment)'


def non_empty(value: str) -> str | None:
    """A string that must say something."""
    return None if value.strip() else "must not be empty"


POSITIVE = AtLeast(0.0, strict=True)
NON_NEGATIVE = AtLeast(0.0)
CHANNEL = Between(*ADS1115_CHANNELS)

FIELD_RULES: dict[tuple[type, str], FieldRule] = {
    (PressConfig, "id"): safe_id,
    (PressConfig, "ram_bore_mm"): Between(*RAM_BORE_RANGE_MM, "mm"),
    (PressConfig, "sample_tc_cs_pin"): pin,
    (PressConfig, "journal_dir"): non_empty,
    (ZoneConfig, "name"): safe_id,
    (ZoneConfig, "tc_cs_pin"): pin,
    (ZoneConfig, "ssr_pin"): pin,
    (ZoneConfig, "heater_w"): Between(0.0, HEATER_RANGE_W[1], "W"),  # lower bound: zone rule
    (ZoneConfig, "max_temp_c"): Between(*TEMP_RANGE_C, "C"),
    (ZoneConfig, "ssr_window_s"): Between(*SSR_WINDOW_RANGE_S, "s"),
    (TransducerConfig, "i2c_bus"): NON_NEGATIVE,
    (TransducerConfig, "address"): address,
    (TransducerConfig, "channel"): CHANNEL,
    (TransducerConfig, "fsr_v"): OneOf(ADS1115_FSR_V, "V"),
    (TransducerConfig, "data_rate_sps"): OneOf(ADS1115_RATES_SPS, "SPS"),
    (TransducerConfig, "range_mpa"): Between(1.0, 700.0, "MPa"),
    (TransducerConfig, "supply_channel"): CHANNEL,
    (TransducerConfig, "supply_v"): Between(2.0, 5.5, "V"),  # ADS1115 VDD range
    (TransducerConfig, "shunt_ohm"): Between(10.0, 1000.0, "ohm"),
    (TransducerConfig, "span_factor"): Between(*SPAN_FACTOR_RANGE),
    (OutputConfig, "pin"): pin,
    (PwmOutputConfig, "pin"): pin,
    (PwmOutputConfig, "frequency_hz"): Between(10.0, 5000.0, "Hz"),
    (PwmOutputConfig, "max_pressure_mpa"): AtLeast(0.0, "MPa", strict=True),
    (InputConfig, "pin"): pin,
    (RamPositionConfig, "channel"): CHANNEL,
    (RamPositionConfig, "range_mm"): AtLeast(0.0, "mm", strict=True),
    (RamPositionConfig, "full_scale_v"): AtLeast(0.0, "V", strict=True),
    (RamPositionConfig, "empty_die_closed_mm"): AtLeast(0.0, "mm"),
    (RamPositionConfig, "compliance_mm_per_kn"): Between(0.0, 0.5, "mm/kN"),
    (RamPositionConfig, "growth_mm_per_c"): Between(0.0, 0.01, "mm/C"),
    (RamPositionConfig, "calibrated_at_c"): Between(-20.0, TEMP_RANGE_C[1], "C"),
    (LimitsConfig, "max_temp_c"): Between(*TEMP_RANGE_C, "C"),
    (LimitsConfig, "max_line_pressure_mpa"): AtLeast(0.0, "MPa", strict=True),
    (LimitsConfig, "max_force_kn"): AtLeast(0.0, "kN", strict=True),
    (LoopConfig, "tick_hz"): Between(*TICK_RANGE_HZ, "Hz"),
    (LoopConfig, "tc_period_s"): Between(*TC_PERIOD_RANGE_S, "s"),
    (LoopConfig, "pressure_hz"): Between(*TICK_RANGE_HZ, "Hz"),
    (PressConfig, "resume_window_s"): Between(0.0, 86400.0, "s"),
    (PressConfig, "ram_drag_kn"): Between(0.0, 20.0, "kN"),
    (BackendConfig, "spi_bus"): NON_NEGATIVE,
    (SimConfig, "ambient_c"): Between(-40.0, 60.0, "C"),
    (SimConfig, "press_valve_flow_fraction"): Between(0.001, 1.0),
    (SimConfig, "tc_sporadic_fault_rate"): Between(0.0, 1.0),
    (SimConfig, "seed"): NON_NEGATIVE,
    (SimSampleConfig, "powder_mass_g"): AtLeast(0.0, "g"),
    (SimSampleConfig, "theoretical_density_g_cm3"): Between(0.5, 25.0, "g/cm^3"),
    (SimSampleConfig, "die_diameter_mm"): Between(1.0, 200.0, "mm"),
    (SimSampleConfig, "fill_density_frac"): Between(0.05, 0.95),
    (SimSampleConfig, "heckel_k_per_mpa"): Between(0.0, 0.1, "/MPa"),
}
# Sim parameters that may be zero (an ideal, noiseless or leak-free plant is a fair experiment);
# every other numeric sim parameter is physical and must be positive.
_SIM_MAY_BE_ZERO = (
    "leak_mpa_per_min_at_50", "valve_on_delay_s", "valve_off_delay_s", "pump_rundown_s",
    "ram_gap_mm", "tc_noise_c_rms", "transducer_noise_frac_rms",
)
_SIM_UNITS = {"_j_per_k": "J/K", "_k_per_w": "K/W", "_w_per_k": "W/K", "_s": "s", "_m3": "m^3",
              "_pa": "Pa", "_n_per_m": "N/m", "_m3_per_s": "m^3/s", "_mpa": "MPa"}


def _sim_rules() -> None:
    """Give every numeric sim parameter without an explicit rule a positivity rule."""
    for name, default in vars(SimConfig()).items():
        if (SimConfig, name) in FIELD_RULES or isinstance(default, str) or default is None:
            continue
        unit = next((u for sfx, u in _SIM_UNITS.items() if name.endswith(sfx)), "")
        FIELD_RULES[(SimConfig, name)] = AtLeast(0.0, unit, strict=name not in _SIM_MAY_BE_ZERO)


_sim_rules()
# `[plant]` holds the same physical figures as the simulator and is checked the same way.
FIELD_RULES.update({(PlantConfig, name): rule for (cls, name), rule in list(FIELD_RULES.items())
                    if cls is SimConfig and name in {f.name for f in fields(PlantConfig)}})


def check_zone(zone: ZoneConfig) -> list[tuple[str, str]]:
    """A heated zone (SSR or controller) needs a real heater; a monitor-only zone may say 0 W."""
    lo = HEATER_RANGE_W[0]
    if zone.heated and zone.heater_w < lo:
        by = "an ssr_pin" if zone.controller is None else "a controller"
        return [("heater_w", f"{_num(zone.heater_w)} W is below {_num(lo)} W for a zone with "
                 f"{by} (omit {by.split()[-1]} for a monitor-only thermocouple)")]
    return []


def check_transducer(t: TransducerConfig) -> list[tuple[str, str]]:
    """Channels distinct, the full-span signal inside the ADC range, a plausible zero offset."""
    problems = []
    if t.kind == "ratiometric" and t.supply_channel == t.channel:
        problems.append(("supply_channel", f"channel {t.channel} is also transducer.channel; "
                         "the supply needs its own ADC input"))
    top_v, what = _full_span_v(t)
    if top_v > t.fsr_v + 1e-9:
        fit = [f for f in ADS1115_FSR_V if f >= top_v]
        fix = f"use {_num(min(fit))}" if fit else "divide the signal down"
        problems.append(("fsr_v", f"{_num(t.fsr_v)} V cannot read {what}; {fix}"))
    if abs(t.zero_offset_mpa) > MAX_ZERO_OFFSET_FRACTION * t.range_mpa:
        problems.append(("zero_offset_mpa", f"{_num(t.zero_offset_mpa)} MPa is more than 10 % of "
                         f"range_mpa {_num(t.range_mpa)} MPa: check the sensor and units"))
    return problems


def _full_span_v(t: TransducerConfig) -> tuple[float, str]:
    """The highest voltage the ADC must read from the transducer wiring, and what it is."""
    if t.kind == "current":
        top_v = CURRENT_MAX_READ_A * t.shunt_ohm
        return top_v, f"21 mA through shunt_ohm {_num(t.shunt_ohm)} ({_num(round(top_v, 3))} V)"
    if t.supply_channel is not None:
        return t.supply_v, f"the {_num(t.supply_v)} V supply on supply_channel {t.supply_channel}"
    top_v = RATIOMETRIC_FULL_SPAN_FRACTION * t.supply_v
    return top_v, f"the {_num(round(top_v, 3))} V full-span signal (90 % of supply_v)"


def _valve_open_when_safe(out: OutputConfig) -> bool:
    """A valve's state in the safe state: open if normally open and left de-energised, or v.v."""
    return out.normally_open != out.safe_energised


def check_hydraulics_safe(cfg: PressConfig) -> Iterator[tuple[str, str]]:
    """On any trip the pump stops, the feed valves close and the release valve dumps pressure."""
    h = cfg.hydraulics
    if h is None:  # a manual press: nothing to drive safe (validate_retrofit checks it may)
        return
    if h.pump.safe_energised:
        yield "hydraulics.pump.safe_energised", "true would run the pump on every trip"
    if not _valve_open_when_safe(h.release_valve):
        yield ("hydraulics.release_valve", "its safe state is closed, so a trip would lock "
               "pressure in; set normally_open = true (or safe_energised = true)")
    for name in ("advance_valve", "press_valve"):
        valve = getattr(h, name)
        if valve is not None and _valve_open_when_safe(valve):
            yield f"hydraulics.{name}", "its safe state is open; a feed valve must close on a trip"


def pin_uses(cfg: PressConfig) -> Iterator[tuple[str, int]]:
    """Every GPIO the config claims, with the key that claims it."""
    for i, z in enumerate(cfg.zones):
        if z.tc_cs_pin is not None:
            yield f"zones[{i}].tc_cs_pin", z.tc_cs_pin
        if z.ssr_pin is not None:
            yield f"zones[{i}].ssr_pin", z.ssr_pin
    if cfg.sample_tc_cs_pin is not None:
        yield "sample_tc_cs_pin", cfg.sample_tc_cs_pin
    h = cfg.hydraulics
    for name in ("pump", "advance_valve", "release_valve", "press_valve", "proportional_valve"):
        if h is not None and getattr(h, name) is not None:
            yield f"hydraulics.{name}.pin", getattr(h, name).pin
    if cfg.heater_permit is not None:
        yield "heater_permit.pin", cfg.heater_permit.pin
    for name in ("estop", "guard"):
        if getattr(cfg.inputs, name) is not None:
            yield f"inputs.{name}.pin", getattr(cfg.inputs, name).pin


def check_pins(cfg: PressConfig) -> Iterator[tuple[str, str]]:
    """Each GPIO used once, and none that the enabled SPI and I2C buses own."""
    # The sim checks this too: a sim config is a real wiring, so it moves to a Pi unchanged.
    i2c = I2C_PINS.get(cfg.transducer.i2c_bus, {}) if cfg.transducer is not None else {}
    bus_pins = {**SPI_PINS.get(cfg.backend.spi_bus, {}), **i2c}
    first_use: dict[int, str] = {}
    for path, gpio in pin_uses(cfg):
        if gpio in first_use:
            yield path, f"GPIO {gpio} is also used by {first_use[gpio]}"
        elif gpio in bus_pins:
            yield path, f"GPIO {gpio} is {bus_pins[gpio]}, owned by the bus; pick a free GPIO"
        first_use.setdefault(gpio, path)


def check_channels(cfg: PressConfig) -> Iterator[tuple[str, str]]:
    """The ram position sensor needs its own ADS1115 input and must fit the ADC range."""
    pos, t = cfg.inputs.ram_position, cfg.transducer
    if pos is None or t is None:  # without the ADS1115: validate_retrofit says what is missing
        return
    taken = {t.channel: "transducer.channel"}
    if t.kind == "ratiometric" and t.supply_channel is not None:
        taken.setdefault(t.supply_channel, "transducer.supply_channel")
    if pos.channel in taken:
        yield "inputs.ram_position.channel", f"channel {pos.channel} is also {taken[pos.channel]}"
    if pos.full_scale_v > t.fsr_v:
        yield ("inputs.ram_position.full_scale_v", f"{_num(pos.full_scale_v)} V is above "
               f"transducer.fsr_v {_num(t.fsr_v)} V, the ADC range it shares")
    if pos.empty_die_closed_mm is not None and pos.empty_die_closed_mm > pos.range_mm:
        yield ("inputs.ram_position.empty_die_closed_mm", f"{_num(pos.empty_die_closed_mm)} mm "
               f"is beyond the sensor's range_mm {_num(pos.range_mm)} mm")


def check_limits(cfg: PressConfig) -> Iterator[tuple[str, str]]:
    """Zone limits within the press limit; pressure and force limits the hardware can see."""
    lim = cfg.limits
    for i, z in enumerate(cfg.zones):
        if z.max_temp_c > lim.max_temp_c:
            yield (f"zones[{i}].max_temp_c", f"{_num(z.max_temp_c)} C is above "
                   f"limits.max_temp_c {_num(lim.max_temp_c)} C")
    if cfg.transducer is not None and lim.max_line_pressure_mpa > cfg.transducer.range_mpa:
        yield ("limits.max_line_pressure_mpa", f"{_num(lim.max_line_pressure_mpa)} MPa is above "
               f"transducer.range_mpa {_num(cfg.transducer.range_mpa)} MPa, so the over-pressure "
               "trip could never see it")
    # An error, not a warning: a force limit the ram cannot reach means the bore or a pressure
    # unit is wrong, and then every force the press shows (and every recipe check) is wrong too.
    reachable_kn = lim.max_line_pressure_mpa * 1e6 * cfg.ram_area_m2 / 1e3
    if lim.max_force_kn > reachable_kn * (1.0 + FORCE_SLACK_FRACTION):
        yield ("limits.max_force_kn", f"{_num(lim.max_force_kn)} kN is more than the ram can "
               f"make: {_num(lim.max_line_pressure_mpa)} MPa on a {_num(cfg.ram_bore_mm)} mm bore "
               f"is {reachable_kn:.1f} kN; check ram_bore_mm and limits.max_line_pressure_mpa")


def check_zones(cfg: PressConfig) -> Iterator[tuple[str, str]]:
    """At least one heated zone, and every zone name unique (names key telemetry and recipes)."""
    if not cfg.zones:
        yield "zones", "no zones; add at least one [[zones]] table with an ssr_pin"
    elif not any(z.heated for z in cfg.zones):
        either = " (or a controller)" if cfg.instruments else ""
        yield "zones", f"no zone has an ssr_pin{either}; at least one heated zone is needed"
    seen: dict[str, int] = {}
    for i, z in enumerate(cfg.zones):
        if z.name in seen:
            yield f"zones[{i}].name", f'"{z.name}" is also zones[{seen[z.name]}].name'
        seen.setdefault(z.name, i)


def check_press(cfg: PressConfig) -> list[tuple[str, str]]:
    """Every rule that spans more than one table, as (key path, message) pairs."""
    checks = (check_zones, check_pins, check_channels, check_limits, check_hydraulics_safe)
    return [problem for check in checks for problem in check(cfg)]


OBJECT_RULES: dict[type, ObjectRule] = {
    ZoneConfig: check_zone,
    TransducerConfig: check_transducer,
}
