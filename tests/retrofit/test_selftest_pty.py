"""`hotpressd selftest`'s serial checks over a real serial stack: a socat pty pair with a pymodbus
RTU server on the far end serving the simulated press's PID boxes and gauge, the self-test's
serial lines polled from its own loop (`InlineSerial`), as on a Pi. Real time, at-rest checks
only (the outputs are not confirmed): a few seconds per test."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from firmware.clock import RealClock, VirtualClock
from firmware.config.instruments import SerialPortConfig
from firmware.hal.press_io import PressIO
from firmware.hal.serial_bus import open_real_port
from firmware.selftest import CheckResult, Outcome, Selftest, Status
from firmware.selftest_serial import InlineSerial
from firmware.sim.press import SimPress
from tests.retrofit.rtu_server import SOCAT, RtuLine
from tests.retrofit.support import example_sim_text, sim_bundle

pytestmark = pytest.mark.skipif(SOCAT is None, reason="socat is needed: apt-get install -y socat")
RS485 = "/dev/serial/by-id/usb-FTDI_USB-RS485_Cable-if00-port0"


class RealLines:
    """The simulated press's pins, with its serial lines opened for real (pyserial on the pty),
    polled on threads as a Pi's backend would be until `InlineSerial` takes them over."""

    serial_inline = False

    def __init__(self, press: SimPress) -> None:
        self.press = press
        self.pin_factory, self.spi, self.i2c = press.pin_factory, press.spi, press.i2c

    def chip_select(self, pin: int) -> Any:
        return self.press.chip_select(pin)

    def open_serial(self, cfg: SerialPortConfig) -> Any:
        return open_real_port(cfg)

    def close(self) -> None:
        self.press.close()


def check(outcome: Outcome, name: str) -> CheckResult:
    return next(r for r in outcome.results if r.name == name)


@pytest.fixture
def rig(tmp_path: Path):  # type: ignore[no-untyped-def]
    """(the RS-485 part of the example press on a pty, its RTU line, the simulated press)."""
    # A pty takes no parity setting (termios refuses it): the line runs 8N1 here.
    text = (example_sim_text().replace(RS485, str(tmp_path / "ptyB"))
            .replace('parity = "E"', 'parity = "N"'))
    full = sim_bundle(text).press
    press = SimPress(full, VirtualClock())
    cfg = dataclasses.replace(full, serial_ports=full.serial_ports[:1],
                              instruments=full.instruments[:3])  # boxes and gauge, no dial
    line = RtuLine(tmp_path, press.serial.ports["rs485"].modbus, parity="N")
    try:
        yield cfg, line.start(), press
    finally:
        line.close()


def at_rest(cfg: Any, press: SimPress) -> Outcome:
    """The self-test with the outputs not confirmed, in real time, through the pty."""
    clock = RealClock()
    io = PressIO(cfg, InlineSerial(RealLines(press)), clock)
    try:
        return Selftest(cfg, io, clock, confirm=lambda _q: False, progress=lambda _s: None).run()
    finally:
        io.close()


def test_boxes_and_gauge_pass_over_a_real_line(rig) -> None:  # type: ignore[no-untyped-def]
    cfg, line, press = rig
    outcome = at_rest(cfg, press)
    for name in ("top_pid on rs485", "bottom_pid on rs485", "line_gauge on rs485",
                 "setpoint top_pid", "setpoint bottom_pid"):
        assert check(outcome, name).status is Status.PASS, check(outcome, name)
    assert check(outcome, "setpoint top_pid").measured.startswith("wrote 5 C, read 5 C")
    assert press.serial.boxes["top"].setpoint_c == 0.0  # the safe setpoint is back


def test_a_line_that_never_answers_fails_every_device_on_it(rig) -> None:  # type: ignore[no-untyped-def]
    cfg, line, press = rig
    line.drop = True
    outcome = at_rest(cfg, press)
    for name, device_id in (("top_pid", 1), ("bottom_pid", 2), ("line_gauge", 3)):
        result = check(outcome, f"{name} on rs485")
        assert result.status is Status.FAIL and "no answer" in result.measured
        assert f"(Modbus id {device_id}) on port rs485" in result.advice
        assert "swap A and B" in result.advice
