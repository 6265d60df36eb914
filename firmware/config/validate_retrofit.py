"""Rules for the retrofit parts of a press config: serial lines, instruments, manual pressing.

Same three layers as `validate.py` (field, object, whole press), run by `load.py` beside them.
The whole-press rules decide which sources a press may combine: exactly one pressure source
(the ADS1115 transducer or one serial pressure/force instrument), at most one ram position
source, a temperature source for every zone, and a pump and valves only on an automatic press.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from firmware.config.build import FieldRule, ObjectRule
from firmware.config.instruments import (
    UNITS,
    InstrumentConfig,
    ManualConfig,
    RegisterConfig,
    RegisterWrite,
    SerialPortConfig,
    canonical_unit,
)
from firmware.config.model import PressConfig, ZoneConfig
from firmware.config.validate import AtLeast, Between, OneOf, non_empty, safe_id

# The rates serial instruments are set to; anything else is a typo (96000) or a unit mix-up.
BAUDRATES = (1200.0, 2400.0, 4800.0, 9600.0, 19200.0, 38400.0, 57600.0, 115200.0)
# A poll faster than 20 Hz buys nothing on a 9600 baud bus (one Modbus read takes ~25 ms);
# slower than every 10 s and the supervisor's stale check would trip first.
PERIOD_RANGE_S = (0.05, 10.0)
# Below 10 ms no USB adapter answers at all; above 5 s a dead instrument hides too long.
TIMEOUT_RANGE_S = (0.01, 5.0)
REGISTER_RANGE = (0.0, 65535.0)
MODBUS_IDS = (1.0, 247.0)  # 0 is broadcast, 248-255 reserved
# Manual band: 0.2 % is below any gauge a hand pump is read by; above 5 % the band would reach
# the over-pressure trip, 5 % above the recipe's force (the guide caps the upper edge anyway).
BAND_FRACTION_RANGE = (0.002, 0.05)
PRESSURE_MEASURES = ("line_pressure", "force")
# Staleness: a thermocouple result is stale after 4 poll periods and a tick (thresholds.py), so a
# serial zone temperature polled within 3 periods has a period to spare for one lost answer.
TEMP_POLL_STALE_FACTOR = 3.0
# Pressure results are stale after 0.3 s by default and 1 s at most ([safety] pressure_stale_s):
# half of the largest leaves room for one lost answer.
MAX_PRESSURE_POLL_S = 0.5

RETROFIT_FIELD_RULES: dict[tuple[type, str], FieldRule] = {
    (SerialPortConfig, "name"): safe_id,
    (SerialPortConfig, "url"): non_empty,
    (SerialPortConfig, "baudrate"): OneOf(BAUDRATES, "baud"),
    (SerialPortConfig, "bytesize"): OneOf((7.0, 8.0), "bits"),
    (SerialPortConfig, "stopbits"): OneOf((1.0, 2.0), "bits"),
    (SerialPortConfig, "timeout_s"): Between(*TIMEOUT_RANGE_S, "s"),
    (SerialPortConfig, "reconnect_s"): Between(0.1, 60.0, "s"),
    (RegisterConfig, "address"): Between(*REGISTER_RANGE),
    (RegisterWrite, "address"): Between(*REGISTER_RANGE),
    (RegisterWrite, "value"): Between(*REGISTER_RANGE),
    (InstrumentConfig, "name"): safe_id,
    (InstrumentConfig, "port"): safe_id,
    (InstrumentConfig, "period_s"): Between(*PERIOD_RANGE_S, "s"),
    (InstrumentConfig, "device_id"): Between(*MODBUS_IDS),
    (InstrumentConfig, "full_scale"): AtLeast(0.0, strict=True),
    (InstrumentConfig, "sp_write_step_c"): Between(0.0, 50.0, "C"),
    (InstrumentConfig, "sp_min_interval_s"): Between(0.0, 600.0, "s"),
    (InstrumentConfig, "safe_setpoint_c"): Between(-50.0, 100.0, "C"),
    (ManualConfig, "band_fraction"): Between(*BAND_FRACTION_RANGE),
    (ManualConfig, "band_min_kn"): Between(0.01, 20.0, "kN"),
    (ManualConfig, "top_up_fraction"): Between(0.0, 0.9),
    (ManualConfig, "rate_warn_factor"): Between(1.0, 10.0),
    (ZoneConfig, "controller"): safe_id,
}


def check_instrument(inst: InstrumentConfig) -> list[tuple[str, str]]:
    """What one [[instruments]] table can check about itself."""
    problems: list[tuple[str, str]] = []
    units = UNITS[inst.measures]
    if inst.unit not in units:
        problems.append(("unit", f'"{inst.unit}" is not a unit of {inst.measures}; use one of '
                         + ", ".join(f'"{u}"' for u in units)))
    if inst.scale == 0.0:
        problems.append(("scale", "must not be 0"))
    if inst.measures in PRESSURE_MEASURES and inst.full_scale is None:
        problems.append(("full_scale", f"required for {inst.measures} (in {inst.unit}): the "
                         "over-pressure trip and recipe checks need the instrument's range"))
    if (inst.valid_min is not None and inst.valid_max is not None
            and inst.valid_min >= inst.valid_max):
        problems.append(("valid_max", "must be above valid_min"))
    if inst.sp is not None and inst.measures != "temperature":
        problems.append(("sp", "only temperature controllers take a setpoint"))
    checks = _modbus_problems if inst.protocol == "modbus_rtu" else _ascii_problems
    return problems + checks(inst)


def _modbus_problems(inst: InstrumentConfig) -> list[tuple[str, str]]:
    """A Modbus instrument needs its PV register and none of the line-format keys."""
    problems = [] if inst.pv is not None else [("pv", "missing: the register of the value "
                                                 "to read, e.g. pv = { address = 0x2000 }")]
    for key in ("pattern", "request", "example"):
        if getattr(inst, key):
            problems.append((key, 'only for protocol = "ascii" instruments'))
    return problems


def _ascii_problems(inst: InstrumentConfig) -> list[tuple[str, str]]:
    """An ASCII instrument needs a pattern with a value group that parses its own example."""
    for key in ("pv", "sp"):
        if getattr(inst, key) is not None:
            return [(key, 'only for protocol = "modbus_rtu" instruments')]
    if inst.setup_writes or inst.safe_writes or inst.resume_writes:
        return [("setup_writes", 'register writes are only for protocol = "modbus_rtu"')]
    if not inst.pattern:
        return [("pattern", 'missing: a regex with a (?P<value>...) group, e.g. '
                 r'"(?P<value>[-+]?\d+\.\d+)\s*(?P<unit>\S+)"')]
    try:
        regex = re.compile(inst.pattern)
    except re.error as e:
        return [("pattern", f"not a valid regex: {e}")]
    if "value" not in regex.groupindex:
        return [("pattern", "needs a (?P<value>...) group for the number")]
    return _example_problems(inst, regex) if inst.example else []


def _example_problems(inst: InstrumentConfig, regex: re.Pattern[str]) -> list[tuple[str, str]]:
    """The example line must parse, and any unit it carries must be one the press knows."""
    match = regex.search(inst.example)
    if match is None:
        return [("example", "the pattern does not match this line")]
    try:
        float(match.group("value"))
    except (TypeError, ValueError):
        return [("example", f"the value group caught {match.group('value')!r}, not a number")]
    unit_text = match.groupdict().get("unit")
    if unit_text and canonical_unit(unit_text) not in UNITS[inst.measures]:
        return [("example", f"the line's unit {unit_text!r} is not a unit of {inst.measures}")]
    return []


RETROFIT_OBJECT_RULES: dict[type, ObjectRule] = {InstrumentConfig: check_instrument}


def check_names(cfg: PressConfig) -> Iterator[tuple[str, str]]:
    """Port and instrument names unique; every instrument on a known port; ASCII lines owned."""
    for table, items in (("serial_ports", cfg.serial_ports), ("instruments", cfg.instruments)):
        counts = Counter(item.name for item in items)
        for i, item in enumerate(items):
            if counts[item.name] > 1:
                yield f"{table}[{i}].name", f'"{item.name}" is used by more than one table'
    ports = {p.name for p in cfg.serial_ports}
    per_port = Counter(inst.port for inst in cfg.instruments)
    for i, inst in enumerate(cfg.instruments):
        if inst.port not in ports:
            yield (f"instruments[{i}].port", f'no [[serial_ports]] named "{inst.port}"; ports '
                   f"are {sorted(ports)}")
        elif inst.protocol == "ascii" and per_port[inst.port] > 1:
            yield (f"instruments[{i}].port", f'an ASCII instrument owns its line, but "{inst.port}"'
                   " also serves other instruments")
    for i, port in enumerate(cfg.serial_ports):
        if per_port[port.name] == 0:
            yield f"serial_ports[{i}]", f'no instrument uses port "{port.name}"'


def check_sources(cfg: PressConfig) -> Iterator[tuple[str, str]]:
    """One pressure source, at most one position source, hydraulics only when automatic."""
    pressure = [i for i in cfg.instruments if i.measures in PRESSURE_MEASURES]
    if cfg.transducer is None and not pressure:
        hint = (' (or a serial instrument with measures = "line_pressure" or "force")'
                if cfg.is_manual else "")
        yield "transducer", f"missing required table [transducer]{hint}"
    if (cfg.transducer is not None and pressure) or len(pressure) > 1:
        yield "instruments", "more than one pressure source: keep one of [transducer] and the " \
                             "pressure/force instruments"
    if cfg.is_manual and cfg.ram_drag_kn > 0.0:
        yield "ram_drag_kn", ("not used on a manual press: the operator's band is on line force "
                              "(the gauge); leave it out")
    if not cfg.is_manual:
        if cfg.hydraulics is None:
            yield "hydraulics", "missing required table [hydraulics]"
        if pressure:
            yield "instruments", ("a serial pressure reading is too slow for the pump and valve "
                                  'loop; use the ADS1115 [transducer], or pressure_mode = "manual"')
    elif cfg.hydraulics is not None:
        yield "hydraulics", ('a manual press has no pump or valves to drive: remove '
                             '[hydraulics], or set pressure_mode = "automatic"')
    yield from _position_sources(cfg)
    yield from _pressure_range(cfg)


def _position_sources(cfg: PressConfig) -> Iterator[tuple[str, str]]:
    """The ADC position input needs the ADS1115; two position sources would disagree."""
    positions = [i for i in cfg.instruments if i.measures == "position"]
    if cfg.inputs.ram_position is not None and cfg.transducer is None and cfg.instruments:
        yield "inputs.ram_position", "reads through the ADS1115 of [transducer], which is missing"
    if len(positions) + (cfg.inputs.ram_position is not None) > 1:
        yield "instruments", "more than one ram position source"


def _pressure_range(cfg: PressConfig) -> Iterator[tuple[str, str]]:
    """The over-pressure trip must be able to see the press limit on the serial instrument."""
    inst = cfg.pressure_instrument
    if cfg.transducer is not None or inst is None or inst.full_scale is None:
        return
    if cfg.limits.max_line_pressure_mpa > cfg.pressure_range_mpa * (1.0 + 1e-6):
        yield ("limits.max_line_pressure_mpa", f"{cfg.limits.max_line_pressure_mpa:g} MPa is above "
               f"what instrument {inst.name!r} can show ({cfg.pressure_range_mpa:.1f} MPa line at "
               f"full_scale {inst.full_scale:g} {inst.unit}), so the over-pressure trip could "
               "never see it")


def check_zone_sources(cfg: PressConfig) -> Iterator[tuple[str, str]]:
    """Every zone reads a temperature; a controller heats one zone and never beside an SSR."""
    by_name = {inst.name: inst for inst in cfg.instruments}
    users = Counter(z.controller for z in cfg.zones if z.controller is not None)
    for i, zone in enumerate(cfg.zones):
        where = f"zones[{i}]"
        if zone.tc_cs_pin is None and zone.controller is None:
            yield where, "no temperature source: give tc_cs_pin (a MAX31855) or controller"
        if zone.controller is None:
            continue
        inst = by_name.get(zone.controller)
        if zone.ssr_pin is not None:
            yield f"{where}.controller", "a zone is heated by our SSR or by a controller, not both"
        if inst is None:
            yield f"{where}.controller", f'no [[instruments]] named "{zone.controller}"'
        elif inst.measures != "temperature" or inst.sp is None or inst.protocol != "modbus_rtu":
            yield (f"{where}.controller", f'"{inst.name}" must be a modbus_rtu temperature '
                   "instrument with an sp register")
        elif users[zone.controller] > 1:
            yield f"{where}.controller", f'"{inst.name}" already controls another zone'
    if cfg.heater_permit is not None:
        if cfg.heater_permit.safe_energised:
            yield "heater_permit.safe_energised", "true would permit heating on every trip"
        if not users:
            yield "heater_permit", "permits the heating of existing controllers; no zone has one"
    for i, inst in enumerate(cfg.instruments):
        if inst.measures == "temperature" and users[inst.name] == 0:
            yield f"instruments[{i}]", f'temperature instrument "{inst.name}" is no zone\'s ' \
                                       "controller"


def check_periods(cfg: PressConfig) -> Iterator[tuple[str, str]]:
    """A poll period the supervisor's stale checks can live with: a zone temperature is stale
    after ~4 thermocouple periods, a pressure after a few ticks (up to 1 s with [safety]
    pressure_stale_s), so slower polls would trip STALE_SENSOR between two good reads."""
    for i, inst in enumerate(cfg.instruments):
        if inst.measures == "temperature" and inst.period_s > TEMP_POLL_STALE_FACTOR * \
                cfg.loop.tc_period_s:
            yield (f"instruments[{i}].period_s", f"{inst.period_s:g} s is more than "
                   f"{TEMP_POLL_STALE_FACTOR:g} x loop.tc_period_s ({cfg.loop.tc_period_s:g} s): "
                   "the zone would read stale between polls; poll faster or raise tc_period_s")
        if inst.measures in PRESSURE_MEASURES and inst.period_s > MAX_PRESSURE_POLL_S:
            yield (f"instruments[{i}].period_s", f"{inst.period_s:g} s is too slow for a "
                   f"pressure reading (at most {MAX_PRESSURE_POLL_S:g} s): the operator and the "
                   "over-pressure trip would see it late")


def check_retrofit(cfg: PressConfig) -> list[tuple[str, str]]:
    """Every retrofit rule that spans tables, as (key path, message) pairs."""
    checks = (check_names, check_sources, check_zone_sources, check_periods)
    return [problem for check in checks for problem in check(cfg)]
