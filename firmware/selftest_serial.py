"""Commissioning checks for a retrofit press's serial instruments and existing controllers.

Why: on a retrofit press the readings come over RS-485 and RS-232 from instruments hotpress did
not choose: a box at the wrong Modbus address, a baud rate or parity that differs, A and B
swapped, a register map copied from the wrong manual, an indicator printing lines in another
format. Each of those shows up here as one line naming the instrument and its port, with what to
check, before a recipe ever runs. At rest (every output safe, heater permit open):

- every instrument answers within its port's deadline, and what it reads is plausible for a cold,
  unloaded press: a temperature near room temperature, a pressure or force near zero, a position
  within the instrument's range;
- every existing controller takes a setpoint that cannot heat (at most ROOM_MIN_C), which is read
  back from its setpoint register, then gets its safe setpoint back, also read back. The write
  goes through the same driver path as a recipe's (`resume_writes`, the setpoint, then on the
  way back the safe setpoint and `safe_writes`), so a wrong register or a refused write turns up
  here and not on the first trip.

The self-test owns the serial lines while it runs: `InlineSerial` has `PressIO` poll them from
the test's own loop instead of on threads, so the read-backs here never collide with a poller on
a shared RS-485 line.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from typing import Any

from firmware.config.instruments import InstrumentConfig, SerialPortConfig, to_si
from firmware.hal.serial_common import PortLost, SerialResult
from firmware.hal.serial_modbus import ModbusInstrument
from firmware.hal.transducer import PositionReading
from firmware.hal.types import FaultKind, PressureReading, SensorFault, TempReading
from firmware.selftest import (
    NOISE_WARN_FRAC,
    ROOM_MAX_C,
    ROOM_MIN_C,
    ZERO_TOLERANCE_FRAC,
    Selftest,
    Status,
)
from firmware.selftest_advice import (
    explain_instrument_fault,
    fault_summary,
    register_text,
    setpoint_advice,
)

SETPOINT_TEST_STEP_C = 5.0  # the test setpoint is this far from the safe one...
SETPOINT_TEST_MAX_C = ROOM_MIN_C  # ...and never above a cold room: the box cannot heat to it
SETPOINT_TOLERANCE_MIN_C = 0.05  # a read-back within the register's resolution or this matches
SETPOINT_WRITE_MAX_S = 3.0  # the driver writes at the box's next poll: <= 0.75 s, 4 tries
# Without a configured full_scale a dial indicator travels 12.7-100 mm; a reading beyond this
# is a unit or scale mix-up (micrometres read as millimetres), not a ram position.
POSITION_SANE_MM = 200.0
RANK = {Status.PASS: 0, Status.SKIP: 1, Status.WARN: 2, Status.FAIL: 3}

Verdict = tuple[Status, str, str, str]  # status, measured, expected, advice


class InlineSerial:
    """A backend whose serial lines are polled from the caller's loop (`serial_inline`).

    Everything else is the wrapped backend's: its pins, buses and serial ports. The daemon polls
    each line on its own thread so a slow instrument never delays the tick; the self-test has no
    tick to protect and needs the line to itself for its read-backs.
    """

    serial_inline = True

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.pin_factory = backend.pin_factory
        self.spi = backend.spi
        self.i2c = backend.i2c

    def chip_select(self, pin: int) -> Any:
        """The wrapped backend's chip select for BCM `pin`."""
        return self.backend.chip_select(pin)

    def open_serial(self, cfg: SerialPortConfig) -> Any:
        """The wrapped backend's port for `cfg`."""
        return self.backend.open_serial(cfg)

    def close(self) -> None:
        """Close the wrapped backend."""
        self.backend.close()


def worst(*statuses: Status) -> Status:
    """The most serious of `statuses` (FAIL over WARN over PASS)."""
    return max(statuses, key=RANK.__getitem__)


def trial_setpoint_c(cfg: InstrumentConfig) -> float:
    """A setpoint distinct from the safe one that no cold platen heats to (C)."""
    up = cfg.safe_setpoint_c + SETPOINT_TEST_STEP_C
    return up if up <= SETPOINT_TEST_MAX_C else cfg.safe_setpoint_c - SETPOINT_TEST_STEP_C


def setpoint_tolerance_c(cfg: InstrumentConfig) -> float:
    """How far a read-back may differ from what was written: one count of the register (C)."""
    count_c = abs(to_si("temperature", cfg.unit, cfg.scale) - to_si("temperature", cfg.unit, 0.0))
    return max(SETPOINT_TOLERANCE_MIN_C, count_c)


class SerialChecks:
    """The at-rest checks of every serial instrument; built before the rest window, which calls
    `watch()` after each read, then `judge_rest()` and `check_setpoints()`."""

    def __init__(self, test: Selftest) -> None:
        assert test.io.serial is not None
        self.test = test
        self.cfg = test.cfg
        self.serial = test.io.serial
        self.ports = {p.name: p for p in test.cfg.serial_ports}
        self.zone_of = {z.controller: z for z in test.cfg.zones if z.controller is not None}
        self.results: dict[str, list[SerialResult]] = {n: [] for n in self.serial.by_name}
        self._start = {n: (i.polls, i.bad_polls) for n, i in self.serial.by_name.items()}
        self._seen = dict(self._start)

    # ---- at rest ---------------------------------------------------------------------------
    def watch(self) -> None:
        """Keep each instrument's result of every poll since the last call (the newest one)."""
        for name, inst in self.serial.by_name.items():
            if (inst.polls, inst.bad_polls) != self._seen[name]:
                self._seen[name] = (inst.polls, inst.bad_polls)
                self.results[name].append(inst.latest)

    def answered(self, name: str) -> bool:
        """True when instrument `name` gave at least one reading at rest."""
        return any(not isinstance(r, SensorFault) for r in self.results[name])

    def judge_rest(self) -> None:
        """One line per instrument: it answers, and reads what a cold, unloaded press shows."""
        for name, inst in self.serial.by_name.items():
            cfg = inst.cfg
            label = f"{name} on {cfg.port}"
            polls = self._seen[name][0] - self._start[name][0]
            bad = self._seen[name][1] - self._start[name][1]
            results = self.results[name]
            faults = [r for r in results if isinstance(r, SensorFault)]
            good = [r for r in results if not isinstance(r, SensorFault)]
            if not good:
                fault = faults[-1] if faults else SensorFault(0.0, FaultKind.NOT_READY,
                                                              f"{name}: never polled")
                self.test.add(label, Status.FAIL, f"no reading in {polls} polls: "
                              f"{fault_summary(fault)}", self._deadline(cfg),
                              explain_instrument_fault(fault, cfg, self.ports[cfg.port]))
                continue
            status, measured, expected, advice = self._judge_value(cfg, good)
            if bad:
                polls_status = Status.FAIL if bad * 2 >= polls else Status.WARN
                status = worst(status, polls_status)
                measured += f"; {bad} of {polls} polls failed"
                why = (explain_instrument_fault(faults[-1], cfg, self.ports[cfg.port])
                       if faults else "")
                advice = "; ".join(a for a in (advice, why) if a)
            self.test.add(label, status, measured, expected, advice)

    def _deadline(self, cfg: InstrumentConfig) -> str:
        return f"answers within {self.ports[cfg.port].timeout_s:g} s"

    def _judge_value(self, cfg: InstrumentConfig, good: list[SerialResult]) -> Verdict:
        if cfg.measures == "temperature":
            return self._judge_temperature(cfg, [r.temp_c for r in good
                                                 if isinstance(r, TempReading)])
        if cfg.measures == "position":
            return self._judge_position(cfg, [r.position_mm for r in good
                                              if isinstance(r, PositionReading)])
        return self._judge_zero(cfg, [r.pressure_mpa for r in good
                                      if isinstance(r, PressureReading)])

    def _judge_temperature(self, cfg: InstrumentConfig, temps_c: list[float]) -> Verdict:
        """Near room temperature on a cold press; warm is a WARN, implausible a FAIL."""
        zone = self.zone_of.get(cfg.name)
        max_c = zone.max_temp_c if zone is not None else self.cfg.limits.max_temp_c
        temp_c = statistics.fmean(temps_c)
        expected = f"{ROOM_MIN_C:g}..{ROOM_MAX_C:g} C (room, cold press)"
        measured = f"{temp_c:.1f} C"
        scale = (f"check scale ({cfg.scale:g}: 0.1 for a display with one decimal), offset and "
                 f'unit ("{cfg.unit}") against the box\'s display, and that pv '
                 f"({register_text(cfg.pv)}) is its process value")
        if ROOM_MIN_C <= temp_c <= ROOM_MAX_C:
            return Status.PASS, measured, expected, ""
        if ROOM_MAX_C < temp_c <= max_c:
            return (Status.WARN, measured, expected, "the platen is warm: the at-rest check "
                    f"wants a cold press; if it is cold, {scale}")
        return Status.FAIL, measured, expected, f"not a cold platen's temperature: {scale}"

    def _judge_zero(self, cfg: InstrumentConfig, lines_mpa: list[float]) -> Verdict:
        """Near zero with nothing pressed, judged in the instrument's own quantity."""
        mean_mpa, noise_mpa = statistics.fmean(lines_mpa), statistics.pstdev(lines_mpa)
        range_mpa = self.cfg.pressure_range_mpa
        tolerance_mpa = ZERO_TOLERANCE_FRAC * range_mpa
        show = self._shown(cfg)
        measured = f"{show(mean_mpa)} (noise {show(noise_mpa, signed=False)} rms)"
        expected = f"0 +-{show(tolerance_mpa, signed=False)}"
        if abs(mean_mpa) > tolerance_mpa:
            return (Status.FAIL, measured, expected, "reads a load with nothing pressed: open "
                    "the release valve and take any load off; if it still reads, zero (tare) the "
                    f"gauge, or check scale ({cfg.scale:g}), offset, unit (\"{cfg.unit}\") and "
                    f"full_scale against its display")
        if noise_mpa > NOISE_WARN_FRAC * range_mpa:
            return (Status.WARN, measured, expected, "noisy: ground the sensor's screen at one "
                    "end and keep its cable away from heater and motor wiring")
        return Status.PASS, measured, expected, ""

    def _shown(self, cfg: InstrumentConfig) -> Any:
        """A formatter of line pressure (MPa) in the instrument's quantity: MPa, or kN."""
        area_m2 = self.cfg.ram_area_m2

        def show(line_mpa: float, signed: bool = True) -> str:
            sign = "+" if signed else ""
            if cfg.measures == "force":
                return f"{line_mpa * area_m2 * 1e3:{sign}.2f} kN"
            return f"{line_mpa:{sign}.3f} MPa"
        return show

    def _judge_position(self, cfg: InstrumentConfig, positions_mm: list[float]) -> Verdict:
        """Within the instrument's travel (its full_scale, else POSITION_SANE_MM)."""
        mm = statistics.fmean(positions_mm)
        limit_mm = (to_si("position", cfg.unit, cfg.full_scale) if cfg.full_scale is not None
                    else POSITION_SANE_MM)
        expected = f"within +-{limit_mm:g} mm"
        if math.isfinite(mm) and abs(mm) <= limit_mm:
            return Status.PASS, f"{mm:.3f} mm", expected, ""
        return (Status.FAIL, f"{mm:.3f} mm", expected, f"beyond the indicator's travel: check "
                f'the unit ("{cfg.unit}": mm, um or in), scale ({cfg.scale:g}) and that the '
                "pattern's value group catches the reading, against the indicator's display")

    # ---- setpoints -------------------------------------------------------------------------
    def check_setpoints(self) -> set[str]:
        """Every answering controller takes a test setpoint and its safe one back, both read
        back; one line per controller. Returns the zones whose controller passed."""
        if self.serial.controllers and self.cfg.heater_permit is None:
            self.test.add("heater permit", Status.WARN, "no [heater_permit] relay configured",
                          "a relay in series with the controllers' outputs",
                          "a trip reaches the controllers only over their serial line, which a "
                          "broken cable cannot carry: fit a heater permit relay (README, "
                          "Retrofitting a manual press)")
        boxes = {zone: inst for zone, inst in self.serial.controllers.items()
                 if isinstance(inst, ModbusInstrument)}
        for zone, inst in list(boxes.items()):
            if not self.answered(inst.cfg.name):
                boxes.pop(zone)
                self.test.add(f"setpoint {inst.cfg.name}", Status.SKIP, "not run", advice=(
                    f"needs {inst.cfg.name} answering: fix the line above first"))
        if not boxes:
            return set()
        if self.serial.threaded:  # a poller thread would race the read-backs on the line
            for inst in boxes.values():
                self.test.add(f"setpoint {inst.cfg.name}", Status.SKIP, "not run",
                              advice="the serial lines are polled on threads here")
            return set()
        tests = {zone: trial_setpoint_c(inst.cfg) for zone, inst in boxes.items()}
        self.test.progress("writing a test setpoint into " + ", ".join(
            f"{i.cfg.name} ({tests[z]:g} C)" for z, i in boxes.items()) + ", then the safe one")
        wrote = self._write(boxes, tests)
        read = {zone: self._read_setpoint(inst) for zone, inst in boxes.items()}
        restored = self._write(boxes, None)
        read_safe = {zone: self._read_setpoint(inst) for zone, inst in boxes.items()}
        passed = set()
        for zone, inst in boxes.items():
            verdict = self._judge_setpoint(inst, tests[zone], wrote[zone], read[zone],
                                           restored[zone], read_safe[zone])
            self.test.add(f"setpoint {inst.cfg.name}", *verdict)
            if verdict[0] is not Status.FAIL:
                passed.add(zone)
        return passed

    def _write(self, boxes: dict[str, ModbusInstrument],
               setpoints_c: dict[str, float] | None) -> dict[str, SensorFault | None]:
        """Ask the driver for `setpoints_c` (None: the safe setpoints, as on a trip) and poll
        until each box confirms the write; per zone, None (written) or the fault that stopped it."""
        if setpoints_c is None:
            self.serial.safe()
            setpoints_c = {zone: inst.cfg.safe_setpoint_c for zone, inst in boxes.items()}
        else:
            self.serial.set_setpoints(setpoints_c)
        start_s = self.test.clock.now()
        pending = dict(boxes)
        last: dict[str, SensorFault | None] = {zone: None for zone in boxes}
        while pending and self.test.clock.now() - start_s < SETPOINT_WRITE_MAX_S:
            self.test.io.read()  # polls the lines (inline): the driver writes when the box is due
            for zone, inst in list(pending.items()):
                if inst.written_setpoint_c == setpoints_c[zone]:
                    pending.pop(zone)
                    last[zone] = None
                elif isinstance(inst.latest, SensorFault) and inst.latest.time_s >= start_s:
                    last[zone] = inst.latest
            self.test.clock.sleep(1.0 / self.cfg.loop.tick_hz)
        for zone, inst in pending.items():
            last[zone] = last[zone] or SensorFault(
                self.test.clock.now(), FaultKind.NOT_READY, f"{inst.cfg.name}: the setpoint "
                f"write was not confirmed within {SETPOINT_WRITE_MAX_S:g} s ({inst.sp_error})")
        return last

    def _read_setpoint(self, inst: ModbusInstrument) -> SerialResult:
        """The controller's setpoint register, read as the driver reads its PV (C), or a fault."""
        bus = next(b for b in self.serial.buses if inst in b.instruments)
        if bus.port is None:
            return SensorFault(self.test.clock.now(), FaultKind.BUS_ERROR,
                               f"{inst.cfg.name}: port {bus.cfg.name} is closed: {bus.port_error}")
        assert inst.cfg.sp is not None
        reader_cfg = dataclasses.replace(inst.cfg, pv=inst.cfg.sp, sp=None, setup_writes=(),
                                         safe_writes=(), resume_writes=(), valid_min=None,
                                         valid_max=None)
        reader = ModbusInstrument(reader_cfg, self.test.clock, self.cfg.ram_area_m2)
        try:
            reader.exchange(bus.port, self.test.clock.now())
        except PortLost as e:
            return SensorFault(self.test.clock.now(), FaultKind.BUS_ERROR,
                               f"{inst.cfg.name}: port {bus.cfg.name} lost: {e}")
        return reader.latest

    def _judge_setpoint(self, inst: ModbusInstrument, test_c: float, wrote: SensorFault | None,
                        read: SerialResult, restored: SensorFault | None,
                        read_safe: SerialResult) -> Verdict:
        """PASS when both writes were confirmed and both read-backs match."""
        cfg = inst.cfg
        safe_c, tol_c = cfg.safe_setpoint_c, setpoint_tolerance_c(cfg)
        expected = "read back as written"
        port = self.ports[cfg.port]
        if wrote is not None:
            return (Status.FAIL, f"write of {test_c:g} C failed: {fault_summary(wrote)}",
                    expected, setpoint_advice(cfg, port, wrote))
        if not isinstance(read, TempReading):
            return (Status.FAIL, f"wrote {test_c:g} C; read-back failed: {fault_summary(read)}",
                    expected, setpoint_advice(cfg, port, read))
        measured = f"wrote {test_c:g} C, read {read.temp_c:g} C"
        if abs(read.temp_c - test_c) > tol_c:
            return (Status.FAIL, measured, expected, setpoint_advice(cfg, port, None))
        if restored is not None:
            return (Status.FAIL, f"{measured}; safe setpoint {safe_c:g} C not written: "
                    f"{fault_summary(restored)}", expected,
                    "set the box's setpoint low by hand now; "
                    + setpoint_advice(cfg, port, restored))
        if not isinstance(read_safe, TempReading):
            return (Status.WARN, f"{measured}; safe {safe_c:g} C written, not read back",
                    expected, explain_instrument_fault(read_safe, cfg, port))
        measured += f"; safe {safe_c:g} C restored, read {read_safe.temp_c:g} C"
        if abs(read_safe.temp_c - safe_c) <= tol_c:
            return Status.PASS, measured, expected, ""
        status = Status.WARN if read_safe.temp_c <= SETPOINT_TEST_MAX_C else Status.FAIL
        return (status, measured, expected, f"the box holds {read_safe.temp_c:g} C for the safe "
                f"setpoint {safe_c:g} C (its setpoint low limit?): that is what it keeps on a "
                "trip; set safe_setpoint_c to it, or lower the box's SP low limit")
