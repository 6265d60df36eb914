"""ASCII indicators: lines through pyserial's loop:// (what is written comes back), and a
request/answer indicator on the simulator's emulated port. Virtual time: nothing sleeps."""

from __future__ import annotations

import dataclasses

import pytest
import serial

from firmware.clock import VirtualClock
from firmware.config.instruments import InstrumentConfig, SerialPortConfig
from firmware.hal.serial_ascii import AsciiInstrument
from firmware.hal.serial_bus import SerialBus
from firmware.hal.transducer import PositionReading
from firmware.hal.types import FaultKind, PressureReading, SensorFault
from firmware.sim.serial_devices import SimAsciiDevice, SimSerialPort

RAM_AREA_M2 = 31.67e-4
LOAD_CELL = InstrumentConfig(
    name="load_cell", protocol="ascii", measures="force", port="ind", unit="kN",
    full_scale=200.0, period_s=0.1, example="ST,GS,+0012.34 kN",
    pattern=r"^(?:ST|US),(?:GS|NT),\s*(?P<value>[-+]?\d+\.\d+)\s*(?P<unit>kN|N|t|kgf|lbf)")
DIAL = InstrumentConfig(
    name="dial", protocol="ascii", measures="position", port="dial", unit="mm", period_s=0.25,
    request="1\r", pattern=r"^01A(?P<value>[-+]\d+\.\d+)", example="01A+00012.345")


@pytest.fixture
def loop():  # type: ignore[no-untyped-def]
    port = serial.serial_for_url("loop://", timeout=0.05)
    yield port
    port.close()


def streaming(loop, cfg: InstrumentConfig = LOAD_CELL):  # type: ignore[no-untyped-def]
    clock = VirtualClock()
    inst = AsciiInstrument(cfg, clock, RAM_AREA_M2)
    inst.connected(loop)
    return clock, inst


def test_a_streamed_line_is_a_force_reading_as_line_pressure(loop) -> None:  # type: ignore[no-untyped-def]
    clock, inst = streaming(loop)
    loop.write(b"ST,GS,+0029.50 kN\r\n")
    inst.exchange(loop, clock.now())
    assert isinstance(inst.latest, PressureReading)
    assert inst.latest.pressure_mpa * RAM_AREA_M2 * 1e3 == pytest.approx(29.5)


def test_the_unit_on_the_line_wins(loop) -> None:  # type: ignore[no-untyped-def]
    clock, inst = streaming(loop)
    loop.write(b"ST,GS,+003.008 t\r\n")  # the operator switched the indicator to tonnes
    inst.exchange(loop, clock.now())
    assert inst.latest.pressure_mpa * RAM_AREA_M2 * 1e3 == pytest.approx(29.5, abs=0.01)


def test_only_the_newest_complete_line_counts(loop) -> None:  # type: ignore[no-untyped-def]
    clock, inst = streaming(loop)
    loop.write(b"ST,GS,+0001.00 kN\r\nST,GS,+0002.00 kN\r\nST,GS,+0003")
    inst.exchange(loop, clock.now())
    assert inst.latest.signal == pytest.approx(2.0)
    loop.write(b".00 kN\r\n")
    clock.advance(0.1)
    inst.exchange(loop, clock.now())
    assert inst.latest.signal == pytest.approx(3.0)


def test_garbage_is_a_bus_fault_that_shows_the_line(loop) -> None:  # type: ignore[no-untyped-def]
    clock, inst = streaming(loop)
    loop.write(b"OL,GS,-------- kN\r\n")
    inst.exchange(loop, clock.now())
    assert inst.latest.kind is FaultKind.BUS_ERROR and "OL,GS" in inst.latest.detail


def test_an_unknown_unit_is_refused_not_misread(loop) -> None:  # type: ignore[no-untyped-def]
    cfg = dataclasses.replace(LOAD_CELL, pattern=r"(?P<value>[-+]?\d+\.\d+)\s*(?P<unit>\S+)")
    clock, inst = streaming(loop, cfg)
    loop.write(b"+0012.34 psi\r\n")  # a pressure unit from a force indicator
    inst.exchange(loop, clock.now())
    assert isinstance(inst.latest, SensorFault) and "unit" in inst.latest.detail


def test_a_silent_stream_becomes_a_fault_and_keeps_its_last_time(loop) -> None:  # type: ignore[no-untyped-def]
    clock, inst = streaming(loop)
    loop.write(b"ST,GS,+0001.00 kN\r\n")
    inst.exchange(loop, clock.now())
    good_s = inst.latest.time_s
    clock.advance(0.1)
    inst.exchange(loop, clock.now())
    assert inst.latest.time_s == good_s  # within one period and a timeout: nothing yet
    clock.advance(0.5)
    inst.exchange(loop, clock.now())
    assert inst.latest.kind is FaultKind.NOT_READY


def test_a_dial_indicator_answers_its_request() -> None:
    clock = VirtualClock()
    port = SimSerialPort(SerialPortConfig("dial", "sim"))
    port.ascii = SimAsciiDevice(DIAL, lambda: 4.25, clock)
    bus = SerialBus(port.cfg, [AsciiInstrument(DIAL, clock, RAM_AREA_M2)], lambda cfg: port,
                    clock)
    bus.service(clock.now())
    reading = bus.instruments[0].latest
    assert isinstance(reading, PositionReading) and reading.position_mm == pytest.approx(4.25)


def test_a_dial_that_does_not_answer_times_out() -> None:
    clock = VirtualClock()
    port = SimSerialPort(SerialPortConfig("dial", "sim"))
    port.ascii = SimAsciiDevice(DIAL, lambda: 4.25, clock)
    port.ascii.silent = True
    bus = SerialBus(port.cfg, [AsciiInstrument(DIAL, clock, RAM_AREA_M2)], lambda cfg: port,
                    clock)
    bus.service(clock.now())
    assert bus.instruments[0].latest.kind is FaultKind.NOT_READY
