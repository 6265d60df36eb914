"""Serial lines and their instruments, polled off the loop: the loop only reads the latest values.

One `SerialBus` per `[[serial_ports]]` line owns the port and polls its instruments in turn (an
RS-485 line carries one transaction at a time). On a real press each bus runs on its own thread,
sleeping to the next instrument's due time, so a dead instrument's 0.2 s timeouts, a CRC storm or
an unplugged adapter never delay the 10 Hz tick: the loop reads `latest`, and the supervisor sees
the reading's time stop (STALE_SENSOR) or the faults it becomes (SENSOR_BUS). On the simulated
press the emulated ports answer at once, so the backend asks for `inline` polling: `service()`
from the loop, in virtual time, where a thread could not keep up with a jumping clock.

A lost port (I/O error, adapter unplugged) is closed, every instrument on it gets a BUS_ERROR
fault, and it is reopened every `reconnect_s`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import serial

from firmware.clock import Clock
from firmware.config.instruments import SerialPortConfig
from firmware.config.model import PressConfig
from firmware.hal.serial_ascii import AsciiInstrument
from firmware.hal.serial_common import (
    PORT_ERRORS,
    Instrument,
    PortLost,
    SerialPort,
    SerialResult,
)
from firmware.hal.serial_modbus import ModbusInstrument
from firmware.hal.types import FaultKind

PortOpener = Callable[[SerialPortConfig], SerialPort]
MAX_IDLE_S = 0.5  # a bus thread wakes at least this often (to notice a stop request)
JOIN_TIMEOUT_S = 2.0  # closing waits this long for a bus thread stuck in a driver call
WRITE_TIMEOUT_FACTOR = 2.0  # a write may take this many read timeouts before it is a failure


def open_real_port(cfg: SerialPortConfig) -> SerialPort:
    """Open `cfg.url` with pyserial (a device path or any pyserial URL, e.g. "loop://")."""
    return serial.serial_for_url(  # type: ignore[no-any-return]
        cfg.url, baudrate=cfg.baudrate, bytesize=cfg.bytesize, parity=cfg.parity,
        stopbits=cfg.stopbits, timeout=cfg.timeout_s,
        write_timeout=WRITE_TIMEOUT_FACTOR * cfg.timeout_s)


class SerialBus:
    """One serial line and the instruments on it; `service(now)` does whatever is due."""

    def __init__(self, cfg: SerialPortConfig, instruments: list[Instrument], opener: PortOpener,
                 clock: Clock) -> None:
        self.cfg = cfg
        self.instruments = instruments
        self.opener = opener
        self.clock = clock
        self.port: SerialPort | None = None
        self.port_error = ""
        self._next_open_s = clock.now()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # ---- polling ---------------------------------------------------------------------------
    def service(self, now_s: float) -> float:
        """Open the port if needed, poll every due instrument; returns the next due time (s)."""
        if self.port is None and not self._open(now_s):
            return self._still_down(now_s)
        for inst in self.instruments:
            if now_s < inst.next_due_s:
                continue
            try:
                inst.exchange(self.port, now_s)  # type: ignore[arg-type]
            except PortLost as e:
                self._lost(f"lost: {e}")
                return self._next_open_s
            except Exception as e:  # noqa: BLE001 - a driver bug is a fault, never a dead loop
                inst.fail(FaultKind.BUS_ERROR, f"driver error {type(e).__name__}: {e}")
        return min(inst.next_due_s for inst in self.instruments)

    def _still_down(self, now_s: float) -> float:
        """While the port is closed, each instrument's poll is a fresh fault naming the port,
        so the supervisor sees bad reads (SENSOR_BUS, with the reason) and not just silence."""
        for inst in self.instruments:
            if now_s >= inst.next_due_s:
                inst.schedule(now_s)
                inst.fail(FaultKind.BUS_ERROR, self.port_error)
        return min([self._next_open_s, *(i.next_due_s for i in self.instruments)])

    def _open(self, now_s: float) -> bool:
        if now_s < self._next_open_s:
            return False
        try:
            port = self.opener(self.cfg)
        except (*PORT_ERRORS, ValueError) as e:
            self._next_open_s = now_s + self.cfg.reconnect_s
            self._fail_all(f"port {self.cfg.name} ({self.cfg.url}) cannot be opened: {e}")
            return False
        self.port, self.port_error = port, ""
        for inst in self.instruments:
            inst.connected(port)
            inst.next_due_s = min(inst.next_due_s, now_s)
        return True

    def _lost(self, why: str) -> None:
        """Close the port, fault every instrument on it, and try again after `reconnect_s`."""
        if self.port is not None:
            with contextlib.suppress(Exception):  # closing a dead port may fail too; it is gone
                self.port.close()
        self.port = None
        self._next_open_s = self.clock.now() + self.cfg.reconnect_s
        self._fail_all(f"port {self.cfg.name} ({self.cfg.url}) {why}")

    def _fail_all(self, detail: str) -> None:
        self.port_error = detail
        for inst in self.instruments:
            inst.fail(FaultKind.BUS_ERROR, detail)

    # ---- the thread ------------------------------------------------------------------------
    def start(self) -> None:
        """Poll on a daemon thread until `stop()`."""
        self._thread = threading.Thread(target=self._run, name=f"serial-{self.cfg.name}",
                                        daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Serve a write (a trip's safe setpoint) now instead of at the next due time."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping:
            try:
                next_s = self.service(self.clock.now())
            except Exception as e:  # noqa: BLE001 - a bug here must fault the readings, not die
                self._lost(f"poller error {type(e).__name__}: {e}")
                next_s = self._next_open_s
            wait_s = min(MAX_IDLE_S, max(0.0, next_s - self.clock.now()))
            self._wake.wait(wait_s)
            self._wake.clear()

    def stop(self) -> None:
        """Stop the thread (if any), serve the last writes (a safe setpoint), close the port."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT_S)
            if self._thread.is_alive():  # stuck in a driver call: leave the port to it
                return
        if self.port is not None:
            now_s = self.clock.now()
            for inst in self.instruments:
                inst.next_due_s = now_s
            with contextlib.suppress(Exception):  # best effort on the way out
                self.service(now_s)
        if self.port is not None:
            with contextlib.suppress(Exception):
                self.port.close()
            self.port = None


class SerialInstruments:
    """Every serial instrument of a press, by role: zone temperatures, pressure, position."""

    def __init__(self, cfg: PressConfig, opener: PortOpener, clock: Clock,
                 threaded: bool) -> None:
        self.cfg = cfg
        self.threaded = threaded
        self.by_name: dict[str, Instrument] = {}
        for inst_cfg in cfg.instruments:
            kind = ModbusInstrument if inst_cfg.protocol == "modbus_rtu" else AsciiInstrument
            self.by_name[inst_cfg.name] = kind(inst_cfg, clock, cfg.ram_area_m2)
        self.buses = [SerialBus(p, [i for i in self.by_name.values() if i.cfg.port == p.name],
                                opener, clock) for p in cfg.serial_ports]
        self.zone_sources = {z.name: z.controller for z in cfg.zones
                             if z.controller is not None and z.tc_cs_pin is None}
        self.controllers = {z.name: self.by_name[z.controller] for z in cfg.zones
                            if z.controller is not None}
        pressure, position = cfg.pressure_instrument, cfg.position_instrument
        self.pressure_source = self.by_name[pressure.name] if pressure else None
        self.position_source = self.by_name[position.name] if position else None
        if threaded:
            for bus in self.buses:
                bus.start()

    def service(self, now_s: float) -> None:
        """Inline polling (simulated press): do what is due on every line now."""
        for bus in self.buses:
            bus.service(now_s)

    def temps(self) -> dict[str, SerialResult]:
        """Latest result of every zone whose temperature comes from its controller."""
        return {zone: self.by_name[name].latest for zone, name in self.zone_sources.items()}

    def pressure(self) -> SerialResult | None:
        """Latest line pressure (a force instrument's reading converted), if serial."""
        return self.pressure_source.latest if self.pressure_source is not None else None

    def position(self) -> SerialResult | None:
        """Latest ram position, if a serial instrument reads it."""
        return self.position_source.latest if self.position_source is not None else None

    def set_setpoints(self, setpoints_c: dict[str, float]) -> None:
        """Each controller's setpoint (C) from the loop; a zone left out goes to its safe SP."""
        urgent = False
        for zone, inst in self.controllers.items():
            assert isinstance(inst, ModbusInstrument)
            urgent = inst.set_setpoint(setpoints_c.get(zone)) or urgent
        if urgent:
            for bus in self.buses:
                bus.wake()

    def safe(self) -> None:
        """Every controller to its safe setpoint, served at once (repeat calls cost nothing)."""
        self.set_setpoints({})

    def status(self) -> dict[str, dict[str, object]]:
        """Poll counters and setpoint state per instrument, for diagnostics."""
        return {name: inst.status() for name, inst in self.by_name.items()}

    def close(self) -> None:
        """Every controller to its safe setpoint (written as each line stops), lines closed."""
        self.set_setpoints({})
        for bus in self.buses:
            bus.stop()
