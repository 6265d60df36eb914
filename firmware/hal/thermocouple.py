"""A K-type thermocouple on a MAX31855, read through the real adafruit driver, faults as values.

One `read()` is one SPI transaction. The driver's `temperature_NIST` property would cost two (it
reads `temperature`, then `reference_temperature`): twice the bus time, twice the chance of a
sporadic fault frame, and the two halves could come from different conversions. So we read
`temperature` once (the driver decodes it and raises on the fault bits), take the cold junction
from the same frame (the driver keeps it in `.data`), and run the driver's own NIST correction
on those two numbers, so the arithmetic stays adafruit's.

Two frames no live chip sends are treated as bus errors before the driver's fault bits are
believed: a frame with a reserved bit set (D17, D3 always read 0: a MISO stuck high gives
0xFFFFFFFF, which the driver would call "not connected"), and the all-zero frame (a MISO stuck low
or an unpowered chip; the driver would call it a valid 0.00 C with a 0.0000 C cold junction, and
a loop would heat flat out). The price: a board genuinely at exactly 0 C on both junctions reads
as a bus error, which no heated press sees.
"""

from __future__ import annotations

import struct
from types import TracebackType
from typing import NamedTuple, Protocol

import adafruit_max31855

from firmware.clock import Clock
from firmware.hal.types import FaultKind, SensorFault, TempReading, TempResult

# The driver's RuntimeError messages (adafruit_max31855 3.x `_read`) and what they mean.
DRIVER_FAULTS: dict[str, FaultKind] = {
    "thermocouple not connected": FaultKind.TC_OPEN,  # D0 OC
    "short circuit to ground": FaultKind.TC_SHORT_GND,  # D1 SCG
    "short circuit to power": FaultKind.TC_SHORT_VCC,  # D2 SCV
    "faulty reading": FaultKind.TC_FAULTY,  # D16 with no cause bit: a corrupt frame
}
FRAME_RESERVED_BITS = (1 << 17) | (1 << 3)  # D17 and D3 always read 0 on a live chip
CJ_LSB_C = 0.0625  # D15:4 resolution (datasheet)

# The driver's NIST correction as a plain function of (`temperature`, `reference_temperature`).
_DRIVER_NIST = adafruit_max31855.MAX31855.temperature_NIST.fget


class SPIBus(Protocol):
    """What the adafruit driver calls on its bus (`busio.SPI` or `SimSPIBus`)."""

    def try_lock(self) -> bool: ...
    def unlock(self) -> None: ...
    def configure(
        self, *, baudrate: int = 100_000, polarity: int = 0, phase: int = 0, bits: int = 8
    ) -> None: ...
    def readinto(
        self, buf: bytearray, start: int = 0, end: int | None = None, write_value: int = 0
    ) -> None: ...


class ChipSelectPin(Protocol):
    """What the driver calls on its chip-select (`digitalio.DigitalInOut` or `SimChipSelect`)."""

    value: bool

    def switch_to_output(self, value: bool = True, drive_mode: object = None) -> None: ...


class _Decoded(NamedTuple):
    """The two attributes the driver's `temperature_NIST` reads, already decoded from one frame."""

    temperature: float
    reference_temperature: float


class Thermocouple:
    """One thermocouple channel: `read()` returns a `TempReading` or a `SensorFault`, never raises.

    `spi` and `cs` belong to the caller (the bus is shared with other chips), so `close()` leaves
    them alone: CS stays high and the chip stays off the bus.
    """

    def __init__(self, spi: SPIBus, cs: ChipSelectPin, clock: Clock, name: str) -> None:
        self.name = name
        self._clock = clock
        self._driver: adafruit_max31855.MAX31855 | None = adafruit_max31855.MAX31855(spi, cs)

    @property
    def closed(self) -> bool:
        """True once `close()` has run."""
        return self._driver is None

    def read(self) -> TempResult:
        """Read the chip once; temperatures in C, stamped with `clock.now()` at the read."""
        now_s = self._clock.now()
        driver = self._driver
        if driver is None:
            return self._fault(now_s, FaultKind.BUS_ERROR, "read after close()")
        try:
            raw_temp_c = driver.temperature
        except RuntimeError as err:
            return self._from_driver_error(now_s, err, driver.data)
        except Exception as err:  # noqa: BLE001 - the hardware boundary: bus failures become values
            return self._fault(now_s, FaultKind.BUS_ERROR, f"{type(err).__name__}: {err}")
        return self._from_frame(now_s, raw_temp_c, driver.data)

    def close(self) -> None:
        """Stop using the chip; later reads return a BUS_ERROR fault. Safe to call twice."""
        self._driver = None

    def __enter__(self) -> Thermocouple:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _from_driver_error(self, now_s: float, err: RuntimeError, data: bytes) -> SensorFault:
        """A fault-bit error from the driver, unless the frame itself is impossible."""
        kind = DRIVER_FAULTS.get(str(err))
        if kind is None:  # not a decoding error: the bus itself failed (e.g. a leaked lock)
            return self._fault(now_s, FaultKind.BUS_ERROR, f"RuntimeError: {err}")
        return self._impossible_frame(now_s, data) or self._fault(now_s, kind, str(err))

    def _from_frame(self, now_s: float, raw_temp_c: float, data: bytes) -> TempResult:
        """A fault-free frame: check it is possible, then apply the driver's NIST correction."""
        impossible = self._impossible_frame(now_s, data)
        if impossible is not None:
            return impossible
        cold_c = (struct.unpack_from(">h", data, 2)[0] >> 4) * CJ_LSB_C
        try:
            temp_c = _DRIVER_NIST(_Decoded(raw_temp_c, cold_c))
        except RuntimeError as err:  # EMF beyond the type-K tables: reversed polarity, say
            return self._fault(now_s, FaultKind.TC_FAULTY, f"{err} (raw {raw_temp_c} C)")
        return TempReading(now_s, temp_c, cold_c, raw_temp_c)

    def _impossible_frame(self, now_s: float, data: bytes) -> SensorFault | None:
        """A BUS_ERROR for frames no live chip sends (see the module docstring), else None."""
        frame = int.from_bytes(data, "big")
        if frame == 0:
            return self._fault(now_s, FaultKind.BUS_ERROR, "all-zero frame: MISO stuck low?")
        if frame & FRAME_RESERVED_BITS:
            return self._fault(now_s, FaultKind.BUS_ERROR, f"reserved bits set: 0x{frame:08X}")
        return None

    def _fault(self, now_s: float, kind: FaultKind, detail: str) -> SensorFault:
        return SensorFault(now_s, kind, f"{self.name}: {detail}")
