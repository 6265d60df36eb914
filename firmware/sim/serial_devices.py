"""Emulated serial instruments wired to the simulated press: the far end of each serial line.

A `SimSerialPort` looks like an open pyserial port to the hardware layer and answers at once,
from the plant as it is at the clock's time: Modbus RTU slaves (an old PID box per platen with
its own thermocouple and heater, a pressure transmitter, a force indicator) and line-printing
ASCII indicators. Their wire formats are built here independently of the drivers in
`firmware.hal.serial_*` (struct packing, CRC, line templates from the config's `example`), so a
driver that gets a format wrong fails against the simulator as it would against the device.

Faults for tests: a device can go `silent` (no answer: a timeout), answer with a `corrupt` CRC,
print `garbage`; a port can be `unplugged` (every call raises SerialException).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable

import serial

from firmware.clock import Clock
from firmware.config.instruments import (
    InstrumentConfig,
    RegisterConfig,
    SerialPortConfig,
    from_si,
    to_si,
)
from firmware.config.model import PressConfig

STRUCT = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f"}
ILLEGAL_ADDRESS = 0x02  # Modbus exception code: no such register
LINE_END = "\r\n"
# The emulated PID box: a PI as an autotuned box ends up for a lag-dominant, nearly integrating
# steel platen (0.3-0.4 K/s at full power, ~20 s heater-to-probe lag): full power 12 C below the
# setpoint, slow integral. Following a 10 C/min ramp to 150 C it overshoots ~3 C (tried on the
# simulated platen: a faster integral overshoots 7 C, a lower gain never settles within 2 C).
BOX_GAIN_PER_C = 0.08
BOX_INTEGRAL_S = 600.0

ValueFn = Callable[[], float]


def crc16(frame: bytes) -> bytes:
    """Modbus RTU CRC-16 (poly 0xA001, init 0xFFFF), low byte first."""
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def words_of(reg: RegisterConfig, raw: float) -> list[int]:
    """`raw` packed as the register kind says (integers rounded), in the configured word order."""
    number: float | int = raw if reg.kind == "float32" else round(raw)
    data = struct.pack(STRUCT[reg.kind], number)
    words = [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
    return words[::-1] if reg.word_order == "little" else words


def value_of(reg: RegisterConfig, words: list[int]) -> float:
    """The inverse of `words_of`."""
    words = words[::-1] if reg.word_order == "little" else words
    return float(struct.unpack(STRUCT[reg.kind], b"".join(w.to_bytes(2, "big") for w in words))[0])


class SimControllerBox:
    """An existing PID temperature controller heating one platen: setpoint in, heater level out."""

    def __init__(self) -> None:
        self.setpoint_c: float | None = None
        self.level = 0.0
        self._integral = 0.0

    def update(self, probe_c: float, dt_s: float) -> None:
        """Advance the PI by `dt_s`; no setpoint (or a cold one) means heater off."""
        if self.setpoint_c is None or dt_s <= 0.0:
            self.level = 0.0 if self.setpoint_c is None else self.level
            return
        error = self.setpoint_c - probe_c
        trial = BOX_GAIN_PER_C * (error + self._integral / BOX_INTEGRAL_S)
        saturated_high = trial >= 1.0 and error > 0.0
        saturated_low = trial <= 0.0 and error < 0.0
        if not (saturated_high or saturated_low):  # integrate only when not winding up
            self._integral += error * dt_s
        self.level = min(1.0, max(0.0, BOX_GAIN_PER_C * (error + self._integral / BOX_INTEGRAL_S)))


class SimModbusDevice:
    """A Modbus RTU slave whose PV comes from the plant and whose SP goes to a controller box."""

    def __init__(self, cfg: InstrumentConfig, value_si: ValueFn,
                 box: SimControllerBox | None = None) -> None:
        self.cfg = cfg
        self.value_si = value_si
        self.box = box
        self.silent = False
        self.corrupt = False
        self.stored: dict[int, int] = {}  # any other register written (set-up, run/stop)
        self.requests = 0

    def _pv_words(self) -> list[int]:
        cfg = self.cfg
        assert cfg.pv is not None
        shown = from_si(cfg.measures, cfg.unit, self.value_si())
        return words_of(cfg.pv, (shown - cfg.offset) / cfg.scale)

    def registers(self, address: int, count: int) -> list[int] | None:
        """Words at `address`, or None when any of them is not a register of this device."""
        blocks = {}
        if self.cfg.pv is not None:
            blocks[self.cfg.pv.address] = self._pv_words()
        if self.cfg.sp is not None and self.box is not None:
            shown = self.box.setpoint_c if self.box.setpoint_c is not None else 0.0
            sp_raw = (from_si("temperature", self.cfg.unit, shown) - self.cfg.offset)
            blocks[self.cfg.sp.address] = words_of(self.cfg.sp, sp_raw / self.cfg.scale)
        flat = {a + i: w for a, ws in blocks.items() for i, w in enumerate(ws)}
        flat.update({a: v for a, v in self.stored.items() if a not in flat})
        words = [flat.get(address + i) for i in range(count)]
        return None if any(w is None for w in words) else words  # type: ignore[misc]

    def write(self, address: int, words: list[int]) -> None:
        """A write: the setpoint goes to the controller box, anything else is remembered."""
        sp = self.cfg.sp
        if sp is not None and self.box is not None and address == sp.address:
            shown = value_of(sp, words) * self.cfg.scale + self.cfg.offset
            self.box.setpoint_c = to_si("temperature", self.cfg.unit, shown)
            return
        for i, word in enumerate(words):
            self.stored[address + i] = word

    def handle(self, frame: bytes) -> bytes:
        """The reply to one request frame addressed to this device ("" when it stays silent)."""
        self.requests += 1
        if self.silent:
            return b""
        reply = self._reply(frame[1], frame[2:-2])
        reply = bytes([frame[0]]) + reply
        crc = crc16(reply)
        if self.corrupt:
            crc = bytes([crc[0] ^ 0xFF, crc[1]])
        return reply + crc

    def _reply(self, function: int, body: bytes) -> bytes:
        address = int.from_bytes(body[0:2], "big")
        if function in (3, 4):
            count = int.from_bytes(body[2:4], "big")
            words = self.registers(address, count)
            if words is None:
                return bytes([function | 0x80, ILLEGAL_ADDRESS])
            data = b"".join(w.to_bytes(2, "big") for w in words)
            return bytes([function, len(data)]) + data
        if function == 6:
            self.write(address, [int.from_bytes(body[2:4], "big")])
            return bytes([function]) + body[:4]
        if function == 16:
            count = int.from_bytes(body[2:4], "big")
            data = body[5:5 + 2 * count]
            self.write(address, [int.from_bytes(data[i:i + 2], "big")
                                 for i in range(0, len(data), 2)])
            return bytes([function]) + body[:4]
        return bytes([function | 0x80, 0x01])  # illegal function


class SimAsciiDevice:
    """An indicator printing lines shaped like the config's `example`, asked or streaming."""

    def __init__(self, cfg: InstrumentConfig, value_si: ValueFn, clock: Clock) -> None:
        self.cfg = cfg
        self.value_si = value_si
        self.clock = clock
        self.silent = False
        self.garbage = False
        self._next_s = clock.now()
        self._template, self._decimals = self._shape(cfg)

    @staticmethod
    def _shape(cfg: InstrumentConfig) -> tuple[str, int]:
        """The example with its number replaced by `{}`, and the decimals the number had."""
        match = re.search(cfg.pattern, cfg.example) if cfg.example else None
        if match is None:
            return "{} " + cfg.unit, 3
        start, end = match.span("value")
        number = cfg.example[start:end]
        decimals = len(number.split(".")[1]) if "." in number else 0
        return cfg.example[:start] + "{}" + cfg.example[end:], decimals

    def line(self) -> str:
        """One line for the plant's value now, in the instrument's unit and format."""
        if self.garbage:
            return "\x00\x7f?OL" + LINE_END
        cfg = self.cfg
        shown = (from_si(cfg.measures, cfg.unit, self.value_si()) - cfg.offset) / cfg.scale
        text = f"{shown:+0{self._decimals + 7}.{self._decimals}f}"
        return self._template.format(text) + LINE_END

    def on_request(self, data: bytes) -> str:
        """What the instrument prints when written to (its request, answered with a line)."""
        if self.silent or not self.cfg.request or data != self.cfg.request.encode("latin-1"):
            return ""
        return self.line()

    def streamed(self) -> str:
        """Lines due since the last call, for an instrument that streams (the newest only)."""
        if self.cfg.request or self.silent or self.clock.now() < self._next_s:
            return ""
        self._next_s += self.cfg.period_s
        if self._next_s <= self.clock.now():
            self._next_s = self.clock.now() + self.cfg.period_s
        return self.line()


class SimSerialPort:
    """The simulated end of one serial line: pyserial's surface, answered by emulated devices."""

    def __init__(self, cfg: SerialPortConfig) -> None:
        self.cfg = cfg
        self.port = f"sim://{cfg.name}"
        self.baudrate = cfg.baudrate
        self.timeout: float | None = cfg.timeout_s
        self.is_open = True
        self.unplugged = False
        self.modbus: dict[int, SimModbusDevice] = {}
        self.ascii: SimAsciiDevice | None = None
        self._rx = bytearray()

    def _check(self) -> None:
        if self.unplugged or not self.is_open:
            raise serial.SerialException(f"{self.port}: device disconnected")

    def write(self, data: bytes) -> int:
        """A request: the addressed Modbus slave answers, or the ASCII device prints a line."""
        self._check()
        if self.ascii is not None:
            self._rx += self.ascii.on_request(bytes(data)).encode("latin-1")
        elif len(data) >= 4 and crc16(data[:-2]) == bytes(data[-2:]):
            device = self.modbus.get(data[0])
            if device is not None:
                self._rx += device.handle(bytes(data))
        return len(data)

    @property
    def in_waiting(self) -> int:
        self._check()
        if self.ascii is not None:
            self._rx += self.ascii.streamed().encode("latin-1")
        return len(self._rx)

    def read(self, size: int = 1) -> bytes:
        """Up to `size` bytes already there; never waits (a timeout costs no virtual time)."""
        self._check()
        out = bytes(self._rx[:size])
        del self._rx[:size]
        return out

    def reset_input_buffer(self) -> None:
        self._check()
        self._rx.clear()

    def reset_output_buffer(self) -> None:
        """Nothing is buffered on the way out."""
        self._check()

    def flush(self) -> None:
        """Nothing is buffered on the way out."""

    def open(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.is_open = False


class SimSerialHub:
    """Every emulated serial line of a press, built from its config: the backend's `open_serial`.

    `zone_c(zone)`, `line_mpa()`, `force_kn()`, `position_mm()` read the plant (the simulated
    press passes them in); each temperature controller gets a `SimControllerBox` heating its zone.
    """

    def __init__(self, cfg: PressConfig, clock: Clock, zone_c: Callable[[str], float],
                 line_mpa: ValueFn, force_kn: ValueFn, position_mm: ValueFn) -> None:
        self.ports = {p.name: SimSerialPort(p) for p in cfg.serial_ports}
        self.boxes: dict[str, SimControllerBox] = {}
        self.devices: dict[str, SimModbusDevice | SimAsciiDevice] = {}
        heats = {z.controller: z.name for z in cfg.zones if z.controller is not None}
        for inst in cfg.instruments:
            value = self._value_fn(inst, heats, zone_c, line_mpa, force_kn, position_mm)
            port = self.ports[inst.port]
            if inst.protocol == "ascii":
                port.ascii = SimAsciiDevice(inst, value, clock)
                self.devices[inst.name] = port.ascii
                continue
            box = None
            if inst.name in heats:
                box = self.boxes.setdefault(heats[inst.name], SimControllerBox())
            device = SimModbusDevice(inst, value, box)
            port.modbus[inst.device_id] = device
            self.devices[inst.name] = device

    @staticmethod
    def _value_fn(inst: InstrumentConfig, heats: dict[str, str], zone_c: Callable[[str], float],
                  line_mpa: ValueFn, force_kn: ValueFn, position_mm: ValueFn) -> ValueFn:
        if inst.measures == "temperature":
            zone = heats.get(inst.name, "")
            return lambda: zone_c(zone)
        return {"line_pressure": line_mpa, "force": force_kn, "position": position_mm}[
            inst.measures]

    def open(self, cfg: SerialPortConfig) -> SimSerialPort:
        """Open the emulated line `cfg.name` (SerialException while it is unplugged)."""
        port = self.ports[cfg.name]
        if port.unplugged:
            raise serial.SerialException(f"could not open port {port.port}: unplugged")
        port.open()
        return port
