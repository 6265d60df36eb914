"""Modbus RTU instruments over pyserial (via minimalmodbus): old PID boxes and pressure gauges.

A temperature controller is read (its process value) and, when it heats a zone for a recipe,
written (its setpoint). A pressure transmitter, a force indicator or a position display is only
read. Register maps come from config; these two are examples to check against the manuals:

    Omron E5CC (manual H175, 2-byte mode): PV 0x2000, SP 0x2103, both int16 in the display's
    decimal places (scale 0.1 with one decimal). Writes need "communications writing" on:
    operation command 0x0000 <- 0x0001; RAM write mode (no EEPROM wear) 0x0000 <- 0x0401.
    Eurotherm 3216 (3200 series manual): PV address 1, target setpoint 2, working SP 5, int16
    scaled by the configured decimal places. Its manual warns that SP 2 lives in EEPROM
    (~100,000 writes): a ramp is written in steps (`sp_write_step_c`), never continuously.

Every failure comes back as a `SensorFault` naming the instrument: no answer (timeout), a corrupt
frame (CRC), an exception the device reports (wrong register map), a value outside its valid
range (the controller's own sensor-break code). Only a failing port raises (`PortLost`).
"""

from __future__ import annotations

import math
import struct
from typing import Any

import minimalmodbus

from firmware.clock import Clock
from firmware.config.instruments import InstrumentConfig, RegisterConfig, RegisterWrite, from_si
from firmware.hal.serial_common import PORT_ERRORS, Instrument, PortLost, SerialPort
from firmware.hal.types import FaultKind

FUNCTION = {"holding": 3, "input": 4}
WRITE_FUNCTION = {"single": 6, "multiple": 16}
WORDS = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}
STRUCT = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f"}
# A setpoint that differs from the last one written by less than this is the same setpoint.
SP_SAME_C = 1e-6


def decode(reg: RegisterConfig, words: list[int]) -> float:
    """The value the registers hold, as `reg.kind` says (word order for 32-bit values)."""
    if reg.word_order == "little":
        words = list(reversed(words))
    data = b"".join(w.to_bytes(2, "big") for w in words)
    return float(struct.unpack(STRUCT[reg.kind], data)[0])


def encode(reg: RegisterConfig, value: float) -> list[int]:
    """Registers holding `value` (rounded to an integer unless float32)."""
    number: float | int = value if reg.kind == "float32" else round(value)
    data = struct.pack(STRUCT[reg.kind], number)
    words = [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
    return list(reversed(words)) if reg.word_order == "little" else words


class ModbusInstrument(Instrument):
    """One Modbus RTU device on a (possibly shared) RS-485 line: read its value, write its SP."""

    def __init__(self, cfg: InstrumentConfig, clock: Clock, ram_area_m2: float) -> None:
        super().__init__(cfg, clock, ram_area_m2)
        self._modbus: minimalmodbus.Instrument | None = None
        self._port: SerialPort | None = None
        self._setup_pending = True
        self._desired_c: float | None = None  # None: the safe setpoint (heating off)
        self._desired_since_s = clock.now()
        self._written_c: float | None = None
        self._written_s = -math.inf
        self._stopped = False  # the safe setpoint (and safe_writes) went out since the last run
        self.sp_error = ""

    # ---- the loop's side (never blocks) ----------------------------------------------------
    def set_setpoint(self, setpoint_c: float | None) -> bool:
        """The setpoint (C) the controller should have; None asks for the safe setpoint.
        Returns True when this asks for the safe setpoint anew (the bus should act at once)."""
        if setpoint_c == self._desired_c:
            return False
        self._desired_c = setpoint_c
        self._desired_since_s = self.clock.now()
        if setpoint_c is not None:
            return False
        self._stopped = False
        self.next_due_s = self.clock.now()  # a trip is served at once
        return True

    @property
    def written_setpoint_c(self) -> float | None:
        """The setpoint last confirmed written to the controller (C), if any."""
        return self._written_c

    # ---- the bus's side --------------------------------------------------------------------
    def connected(self, port: SerialPort) -> None:
        """A new port: a new minimalmodbus handle on it, and the set-up writes again."""
        self._port = port
        self._modbus = minimalmodbus.Instrument(port, self.cfg.device_id)  # type: ignore[arg-type]
        self._modbus.clear_buffers_before_each_transaction = True
        self._setup_pending = True
        self._written_c = None  # after a reconnect nothing written before is trusted

    def exchange(self, port: SerialPort, now_s: float) -> None:
        """Set-up writes once per connection, a pending setpoint write, then the read."""
        if self._modbus is None or port is not self._port:
            self.connected(port)
        self.schedule(now_s)
        if not self._guarded(self._setup, "set-up write"):
            return
        if self.cfg.sp is not None and not self._guarded(self._write_setpoint, "setpoint write"):
            return
        self._guarded(self._read, "read")

    def _guarded(self, action: Any, what: str) -> bool:
        """Run one transaction; a device or frame error becomes a fault, a port error raises."""
        try:
            action()
            return True
        except minimalmodbus.NoResponseError:
            self.fail(FaultKind.NOT_READY, f"no answer to the {what} within "
                      f"{self._timeout_s():g} s (device {self.cfg.device_id}: wiring, id, baud?)")
        except minimalmodbus.InvalidResponseError as e:
            self.fail(FaultKind.BUS_ERROR, f"corrupt reply to the {what} (CRC or framing): {e}")
        except minimalmodbus.SlaveReportedException as e:
            self.fail(FaultKind.BUS_ERROR, f"device refused the {what}: {e} (register map?)")
        except minimalmodbus.ModbusException as e:
            self.fail(FaultKind.BUS_ERROR, f"{what} failed: {e}")
        except PORT_ERRORS as e:
            raise PortLost(str(e)) from e
        except (ValueError, TypeError) as e:  # a reply minimalmodbus could not make sense of
            self.fail(FaultKind.BUS_ERROR, f"unreadable reply to the {what}: {e}")
        return False

    def _timeout_s(self) -> float:
        return float(self._port.timeout or 0.0) if self._port is not None else 0.0

    def _setup(self) -> None:
        if self._setup_pending:
            self._raw_writes(self.cfg.setup_writes)
            self._setup_pending = False

    def _raw_writes(self, writes: tuple[RegisterWrite, ...]) -> None:
        assert self._modbus is not None
        for w in writes:
            self._modbus.write_register(w.address, w.value, 0, 6, False)

    def _read(self) -> None:
        assert self._modbus is not None and self.cfg.pv is not None
        reg = self.cfg.pv
        words = self._modbus.read_registers(reg.address, WORDS[reg.kind], FUNCTION[reg.table])
        raw = decode(reg, words)
        self.succeed(raw * self.cfg.scale + self.cfg.offset, int(raw))

    def _write_setpoint(self) -> None:
        """Write the safe setpoint at once on a trip; a ramp in steps, at most every interval."""
        cfg, now_s = self.cfg, self.clock.now()
        if self._desired_c is None:
            if not self._stopped or self._written_c is None:
                self._write_sp(cfg.safe_setpoint_c, now_s)
                self._raw_writes(cfg.safe_writes)
                self._stopped = True
            return
        if self._stopped:  # control resumes after a trip
            self._raw_writes(cfg.resume_writes)
            self._stopped = False
            self._written_c = None
        if self._should_write(self._desired_c, now_s):
            self._write_sp(self._desired_c, now_s)

    def _should_write(self, desired_c: float, now_s: float) -> bool:
        cfg = self.cfg
        if self._written_c is None:
            return True
        change_c = abs(desired_c - self._written_c)
        if change_c < max(SP_SAME_C, abs(cfg.scale) / 2.0):
            return False
        if now_s - self._written_s < cfg.sp_min_interval_s:
            return False
        settled = now_s - self._desired_since_s >= cfg.sp_min_interval_s
        return change_c >= cfg.sp_write_step_c or settled

    def _write_sp(self, setpoint_c: float, now_s: float) -> None:
        assert self._modbus is not None and self.cfg.sp is not None
        cfg, reg = self.cfg, self.cfg.sp
        raw = (from_si("temperature", cfg.unit, setpoint_c) - cfg.offset) / cfg.scale
        words = encode(reg, raw)
        self.sp_error = ""
        try:
            if len(words) == 1 and cfg.sp_function == "single":
                self._modbus.write_register(reg.address, words[0], 0, 6, False)
            else:
                self._modbus.write_registers(reg.address, words)
        except Exception as e:
            self.sp_error = f"{type(e).__name__}: {e}"
            raise
        self._written_c, self._written_s = setpoint_c, now_s

    def status(self) -> dict[str, Any]:
        """Counters plus the setpoint state, for diagnostics and records."""
        return {**super().status(), "sp_written_c": self._written_c, "sp_error": self.sp_error}
