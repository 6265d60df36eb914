"""A real Modbus RTU line for tests: a socat pty pair, a pymodbus server on one end.

The server's registers are the simulator's emulated devices (`sim/serial_devices.py`), so what
the hardware layer reads over the pty is the simulated press; pymodbus does the RTU framing,
a real serial stack in between. `trace_packet` lets a test drop replies (a timeout) or corrupt
them (a CRC error); `stop_line()` kills socat (the adapter unplugged) and `start_line()` brings
the same paths back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from firmware.sim.serial_devices import SimModbusDevice

SOCAT = shutil.which("socat")
START_TIMEOUT_S = 5.0
REGISTER_SPAN = 0x3000  # every address the example maps use (0..0x2103) is inside


class RtuLine:
    """socat pty pair + pymodbus RTU server serving `devices` on end A; clients use end B."""

    def __init__(self, tmp: Path, devices: dict[int, SimModbusDevice], baudrate: int = 19200,
                 parity: str = "E") -> None:
        self.a, self.b = str(tmp / "ptyA"), str(tmp / "ptyB")
        self.devices = devices
        self.baudrate, self.parity = baudrate, parity
        self.drop = False  # answer nothing: the client times out
        self.corrupt = False  # flip the CRC of every answer
        self._socat: subprocess.Popen[bytes] | None = None
        self._loop = asyncio.new_event_loop()
        self._server: ModbusSerialServer | None = None
        self._thread: threading.Thread | None = None

    # ---- the line: pty pair and server together (unplugging takes both) ---------------------
    def start(self) -> RtuLine:
        self.start_line()
        return self

    def start_line(self) -> None:
        """socat's pty pair at the same paths, then a server on end A."""
        for path in (self.a, self.b):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        assert SOCAT is not None, "socat is needed: apt-get install -y socat"
        self._socat = subprocess.Popen(
            [SOCAT, f"pty,raw,echo=0,link={self.a}", f"pty,raw,echo=0,link={self.b}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (os.path.exists(self.a) and os.path.exists(self.b)):
            assert time.monotonic() < deadline, "socat did not make the pty pair"
            time.sleep(0.01)
        self._start_server()

    def stop_line(self) -> None:
        """The adapter unplugged: server and ptys gone."""
        self._stop_server()
        if self._socat is not None:
            self._socat.terminate()
            self._socat.wait(timeout=5)
            self._socat = None

    def _start_server(self) -> None:
        self._server = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while self._server is None or not self._server.is_active():
            assert time.monotonic() < deadline, "the RTU server did not start"
            time.sleep(0.02)
        time.sleep(0.2)  # the server opens its end of the pty after it reports active

    def _stop_server(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(5)
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()
        self._server = None

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        devices = [SimDevice(id=i, simdata=[SimData(0, count=REGISTER_SPAN, values=0,
                                                    datatype=DataType.REGISTERS)],
                             action=functools.partial(self._action, i)) for i in self.devices]
        self._server = ModbusSerialServer(
            devices, framer=FramerType.RTU, port=self.a, baudrate=self.baudrate,
            parity=self.parity, ignore_missing_devices=True, trace_packet=self._trace,
            reconnect_delay=0.2)
        await self._server.serve_forever()

    async def _action(self, device_id: int, function_code: int, start: int, address: int,
                      count: int, registers: list[int], values: list[int] | list[bool] | None,
                      ) -> ExcCodes | None:
        """Reads come from the emulated device (the simulated press), writes go to it."""
        device = self.devices[device_id]
        if values is not None:
            device.write(address, [int(v) for v in values])
            return None
        words = device.registers(address, count)
        if words is None:
            return ExcCodes.ILLEGAL_ADDRESS
        registers[address - start:address - start + count] = words
        return None

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            return data
        if self.drop:
            return b""
        if self.corrupt and len(data) > 2:
            return data[:-1] + bytes([data[-1] ^ 0xFF])
        return data

    def close(self) -> None:
        self.stop_line()
