"""Line-based ASCII instruments over pyserial: force and pressure indicators, dial indicators.

Most indicators with an RS-232 port either stream a line per reading ("ST,GS,+0012.34 kN") or
answer a request ("P\\r\\n", or "1\\r" on a Mitutoyo-style Digimatic interface that answers
"01A+00012.345"). The line format is a regex in config with a `value` group and, when the
instrument prints one, a `unit` group: a unit printed on the line wins over the configured one,
so an operator who switches the indicator from kN to t on its front panel changes nothing.

A line that does not parse (an "OL" overload message, noise on the line, a half line) is a
BUS_ERROR fault naming the instrument and showing the line; silence past the deadline is
NOT_READY. The port's own errors raise `PortLost` for the bus to reopen it.
"""

from __future__ import annotations

import re
import time

from firmware.clock import Clock
from firmware.config.instruments import UNITS, InstrumentConfig, canonical_unit
from firmware.hal.serial_common import PORT_ERRORS, Instrument, PortLost, SerialPort
from firmware.hal.types import FaultKind

LINE_ENDS = re.compile(rb"[\r\n]+")
MAX_BUFFER_BYTES = 4096  # a stuck transmitter without line ends must not grow memory
MAX_SHOWN_CHARS = 40  # how much of a bad line a fault message quotes
ENCODING = "latin-1"  # every byte decodes: garbage shows as garbage, never as an exception
DEFAULT_TIMEOUT_S = 0.2  # until the port tells its own (SerialPortConfig.timeout_s)


class AsciiInstrument(Instrument):
    """One indicator that prints lines: requested each period, or streaming on its own."""

    def __init__(self, cfg: InstrumentConfig, clock: Clock, ram_area_m2: float) -> None:
        super().__init__(cfg, clock, ram_area_m2)
        self.regex = re.compile(cfg.pattern)
        self.request = cfg.request.encode(ENCODING)
        self._buffer = b""
        self._last_line_s = clock.now()
        self._timeout_s = DEFAULT_TIMEOUT_S
        self.last_line = ""

    def connected(self, port: SerialPort) -> None:
        """Fresh port: drop whatever half line was left from before; learn its deadline."""
        self._buffer = b""
        self._last_line_s = self.clock.now()
        self._timeout_s = float(port.timeout or DEFAULT_TIMEOUT_S)

    def exchange(self, port: SerialPort, now_s: float) -> None:
        """Ask (if the instrument is asked) and take the newest complete line."""
        self.schedule(now_s)
        try:
            if self.request:
                port.reset_input_buffer()
                self._buffer = b""
                port.write(self.request)
            lines = self._read_lines(port, wait=bool(self.request))
        except PORT_ERRORS as e:
            raise PortLost(str(e)) from e
        if lines:
            self._last_line_s = self.clock.now()
            self.parse(lines[-1])
        elif self.request or self.clock.now() - self._last_line_s > self._silence_limit_s():
            self.fail(FaultKind.NOT_READY, "no line within the deadline "
                      f"({self._silence_limit_s():g} s): cable, baud rate, or output switched off?")

    def _silence_limit_s(self) -> float:
        """How long without a line is a failed poll: the port timeout after a request; a period
        and a timeout for an instrument that streams."""
        return self._timeout_s + (0.0 if self.request else self.cfg.period_s)

    def _read_lines(self, port: SerialPort, wait: bool) -> list[str]:
        """Complete lines now waiting; when `wait`, block until one arrives or the deadline."""
        deadline = time.monotonic() + self._timeout_s
        while True:
            waiting = port.in_waiting
            if waiting:
                self._buffer = (self._buffer + port.read(waiting))[-MAX_BUFFER_BYTES:]
            lines = self._complete_lines()
            if lines or not wait or time.monotonic() >= deadline:
                return lines
            chunk = port.read(1)  # blocks up to the port timeout: the deadline of the request
            self._buffer += chunk

    def _complete_lines(self) -> list[str]:
        """Split off every line that has its end; keep the unfinished tail for next time."""
        parts = LINE_ENDS.split(self._buffer)
        ended = LINE_ENDS.search(self._buffer[-1:]) is not None if self._buffer else False
        self._buffer = b"" if ended else parts.pop()
        return [p.decode(ENCODING).strip() for p in parts if p.strip()]

    def parse(self, line: str) -> None:
        """One line to a reading, or a fault that shows the line."""
        self.last_line = line
        match = self.regex.search(line)
        shown = line[:MAX_SHOWN_CHARS]
        if match is None:
            self.fail(FaultKind.BUS_ERROR, f"unreadable line {shown!r} (pattern does not match)")
            return
        try:
            number = float(match.group("value"))
        except (TypeError, ValueError):
            self.fail(FaultKind.BUS_ERROR, f"no number in line {shown!r}")
            return
        unit = self._unit(match)
        if unit is None:
            self.fail(FaultKind.BUS_ERROR, f"line {shown!r} is in a unit hotpress does not know "
                      f"for {self.cfg.measures}")
            return
        self.succeed(number * self.cfg.scale + self.cfg.offset, unit=unit)

    def _unit(self, match: re.Match[str]) -> str | None:
        """The unit printed on the line (if the pattern catches one), else the configured one."""
        text = match.groupdict().get("unit")
        if not text:
            return self.cfg.unit
        unit = canonical_unit(text)
        return unit if unit in UNITS[self.cfg.measures] else None
