"""Modbus RTU instruments on a real serial stack: socat pty pair, pymodbus RTU server, threads.

The server's registers are the simulated press's emulated PID boxes and pressure gauge, so what
the pollers read over the pty is the plant, and the setpoints they write heat it. Real time: each
test waits at most a few seconds for the poller threads.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from firmware.clock import RealClock, VirtualClock
from firmware.hal.serial_bus import SerialInstruments, open_real_port
from firmware.hal.types import FaultKind, PressureReading, SensorFault, TempReading
from firmware.sim.press import SimPress
from tests.retrofit.rtu_server import SOCAT, RtuLine
from tests.retrofit.support import example_sim_text, sim_bundle

pytestmark = pytest.mark.skipif(SOCAT is None, reason="socat is needed: apt-get install -y socat")
WAIT_S = 4.0
OMRON_COMMAND = 0x0000  # the E5CC's operation-command address
OMRON_RUN, OMRON_STOP = 0x0100, 0x0101


def wait_for(check, timeout_s: float = WAIT_S):  # type: ignore[no-untyped-def]
    """Poll `check()` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout_s} s: {check}")


@pytest.fixture
def rig(tmp_path: Path):  # type: ignore[no-untyped-def]
    """(serial instruments polling on threads, the RTU line, the simulated press behind it)."""
    line_path = str(tmp_path / "ptyB")
    # A pty takes no parity setting (termios refuses it): the line runs 8N1 here.
    text = (example_sim_text()
            .replace("/dev/serial/by-id/usb-FTDI_USB-RS485_Cable-if00-port0", line_path)
            .replace('parity = "E"', 'parity = "N"')
            .replace("reconnect_s = 2.0", "reconnect_s = 0.3"))
    cfg = sim_bundle(text).press
    press = SimPress(cfg, VirtualClock())
    line = RtuLine(tmp_path, press.serial.ports["rs485"].modbus, parity="N")
    rs485_only = dataclasses.replace(cfg, serial_ports=cfg.serial_ports[:1],
                                     instruments=cfg.instruments[:3])
    try:
        line.start()
        instruments = SerialInstruments(rs485_only, open_real_port, RealClock(), threaded=True)
        yield instruments, line, press
        instruments.close()
    finally:
        line.close()


def test_controllers_and_gauge_are_read_over_the_pty(rig) -> None:  # type: ignore[no-untyped-def]
    instruments, line, press = rig
    temps = wait_for(lambda: (t := instruments.temps()) and all(
        isinstance(r, TempReading) for r in t.values()) and t)
    assert temps["top"].temp_c == pytest.approx(press._box_probe_c("top"), abs=0.11)
    wait_for(lambda: isinstance(instruments.pressure(), PressureReading))


def test_setpoints_reach_the_boxes_and_a_trip_stops_them(rig) -> None:  # type: ignore[no-untyped-def]
    instruments, line, press = rig
    omron = line.devices[1]
    wait_for(lambda: omron.stored.get(OMRON_COMMAND) == OMRON_STOP)  # boot: safe until told
    instruments.set_setpoints({"top": 120.0, "bottom": 110.0})
    wait_for(lambda: press.serial.boxes["top"].setpoint_c == pytest.approx(120.0))
    wait_for(lambda: press.serial.boxes["bottom"].setpoint_c == pytest.approx(110.0))
    assert omron.stored[OMRON_COMMAND] == OMRON_RUN  # control resumes
    instruments.safe()
    wait_for(lambda: press.serial.boxes["top"].setpoint_c == 0.0)
    wait_for(lambda: omron.stored[OMRON_COMMAND] == OMRON_STOP)


def test_no_answer_is_a_timeout_fault_and_the_loop_never_waits(rig) -> None:  # type: ignore[no-untyped-def]
    instruments, line, press = rig
    good = wait_for(lambda: isinstance(r := instruments.pressure(), PressureReading) and r)
    line.drop = True
    fault = wait_for(lambda: isinstance(r := instruments.pressure(), SensorFault) and r)
    assert fault.kind is FaultKind.NOT_READY and "no answer" in fault.detail
    started = time.perf_counter()
    for _ in range(100):
        instruments.temps(), instruments.pressure()
    assert time.perf_counter() - started < 0.05  # while the pollers sit in 0.15 s timeouts
    assert fault.time_s > good.time_s  # the last good reading only ages: STALE_SENSOR sees it


def test_a_corrupt_frame_is_a_crc_fault(rig) -> None:  # type: ignore[no-untyped-def]
    instruments, line, press = rig
    wait_for(lambda: isinstance(instruments.pressure(), PressureReading))
    line.corrupt = True
    fault = wait_for(lambda: isinstance(r := instruments.pressure(), SensorFault) and r)
    assert fault.kind is FaultKind.BUS_ERROR and "CRC" in fault.detail


def test_a_register_the_device_lacks_is_a_clear_fault(rig) -> None:  # type: ignore[no-untyped-def]
    instruments, line, press = rig
    wait_for(lambda: isinstance(instruments.pressure(), PressureReading))
    line.devices[3].registers = lambda address, count: None  # type: ignore[method-assign]
    fault = wait_for(lambda: isinstance(r := instruments.pressure(), SensorFault) and r)
    assert "refused" in fault.detail and "register map" in fault.detail


def test_an_unplugged_line_faults_every_instrument_then_reconnects(rig) -> None:  # type: ignore[no-untyped-def]
    instruments, line, press = rig
    wait_for(lambda: isinstance(instruments.pressure(), PressureReading))
    line.stop_line()
    fault = wait_for(lambda: isinstance(r := instruments.pressure(), SensorFault)
                     and r.kind is FaultKind.BUS_ERROR and r)
    assert "rs485" in fault.detail
    assert all(isinstance(r, SensorFault) for r in instruments.temps().values())
    line.start_line()
    wait_for(lambda: isinstance(instruments.pressure(), PressureReading), timeout_s=8.0)
