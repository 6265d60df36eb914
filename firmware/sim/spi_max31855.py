"""An emulated SPI bus that serves MAX31855 frames to the real adafruit driver.

The point is that the driver code which runs on the Pi (`adafruit_max31855` over
`adafruit_bus_device.SPIDevice`) runs unchanged in simulation: only the bus and the chip-select
pins are fakes. The chip model reproduces what matters to the control loop:

- the datasheet frame: D31:18 thermocouple (14-bit signed, 0.25 C/LSB), D17 reserved (0), D16 fault,
  D15:4 cold junction (12-bit signed, 0.0625 C/LSB), D3 reserved (0), D2 short to VCC, D1 short to
  GND, D0 open; thermocouple data is invalid (here: zero) whenever a fault bit is set;
- the chip's own linearisation: it divides the real type-K EMF by a fixed 41.276 uV/C, so it reads
  ~3.4 C low at 300 C, just like the part; adafruit's `temperature_NIST` undoes most of that;
- noise before quantisation, an occasional 1-LSB flicker, sporadic short-to-GND/VCC frames;
- conversion timing: a conversion takes ~100 ms, a read returns the last *completed* conversion,
  and pulling CS low aborts the conversion in progress (it restarts when CS goes high), so polling
  faster than every 100 ms returns the same stale frame forever, as on the real part.

Everything is computed lazily from `clock.now()` at chip-select edges: no threads, no time steps.

Bus behaviour outside the one-chip case (documented because a test may rely on it):
- no chip selected: nobody drives MISO, reads return `miso_idle_byte` (0x00 by default, see
  `MISO_IDLE_BYTE`);
- two or more chips selected: both drive MISO; the bytes are the bitwise AND of their frames (a
  stand-in for contention: the result is garbage either way);
- bytes clocked past the 32-bit frame read 0x00 (the datasheet does not specify them).
"""

from __future__ import annotations

import enum
import functools
import math
import operator
import random
from collections.abc import Callable

from firmware.clock import Clock

# The datasheet gives tCONV 70 ms typical, 100 ms max; the max is the conservative staleness.
CONVERSION_TIME_S = 0.100
# A read landing on a conversion boundary (up to float rounding) sees that conversion complete.
BOUNDARY_SLACK_S = 1e-9
# The chip's fixed type-K gain (datasheet Table 1): the source of its linearisation error.
CHIP_SEEBECK_MV_PER_C = 0.041276
TC_LSB_C = 0.25  # D31:18 resolution
CJ_LSB_C = 0.0625  # D15:4 resolution
TC_COUNTS_MIN, TC_COUNTS_MAX = -(1 << 13), (1 << 13) - 1  # 14-bit signed: the chip saturates
CJ_COUNTS_MIN, CJ_COUNTS_MAX = -(1 << 11), (1 << 11) - 1  # 12-bit signed
# NIST ITS-90 type-K polynomials are defined on this range; the model clamps outside it.
TYPE_K_MIN_C, TYPE_K_MAX_C = -270.0, 1372.0
FRAME_BYTES = 4

FAULT_OPEN_BIT = 1 << 0  # D0 OC: thermocouple open
FAULT_SHORT_GND_BIT = 1 << 1  # D1 SCG: thermocouple shorted to GND
FAULT_SHORT_VCC_BIT = 1 << 2  # D2 SCV: thermocouple shorted to VCC
FAULT_FLAG_BIT = 1 << 16  # D16: set whenever any of D2:D0 is set

# SPI0 MISO on a Pi is GPIO9, whose reset default is a ~50 kOhm pull-down: a MISO that nobody
# drives (chip unpowered, wire off) reads 0x00. A board with a pull-up on DO gives 0xFF: pass it.
MISO_IDLE_BYTE = 0x00
# Real boards show a single-LSB jump now and then even at a steady temperature (per conversion).
DEFAULT_FLICKER_RATE = 0.01
# SPIDevice spins on try_lock() (with a real `time.sleep(0)`, ~80 us each) forever. The simulation
# is single-threaded, so a held lock is a leaked lock: after this many refusals in a row (well
# under a second) the bus raises instead of hanging the run.
MAX_LOCK_REFUSALS = 1000

# NIST ITS-90 type K, E(t) in mV for t in C (srdata.nist.gov/its90/type_k), lowest order first.
_K_BELOW_0 = (
    0.0, 0.394501280250e-01, 0.236223735980e-04, -0.328589067840e-06, -0.499048287770e-08,
    -0.675090591730e-10, -0.574103274280e-12, -0.310888728940e-14, -0.104516093650e-16,
    -0.198892668780e-19, -0.163226974860e-22,
)  # fmt: skip
_K_ABOVE_0 = (
    -0.176004136860e-01, 0.389212049750e-01, 0.185587700320e-04, -0.994575928740e-07,
    0.318409457190e-09, -0.560728448890e-12, 0.560750590590e-15, -0.320207200030e-18,
    0.971511471520e-22, -0.121047212750e-25,
)  # fmt: skip
_K_EXP_A0, _K_EXP_A1, _K_EXP_A2 = 0.118597600000e00, -0.118343200000e-03, 0.126968600000e03


def type_k_emf_mv(temp_c: float) -> float:
    """The real type-K EMF in mV at `temp_c` (reference 0 C), clamped to the NIST range."""
    t = min(max(temp_c, TYPE_K_MIN_C), TYPE_K_MAX_C)
    coefs = _K_ABOVE_0 if t >= 0.0 else _K_BELOW_0
    emf_mv = 0.0
    for c in reversed(coefs):
        emf_mv = emf_mv * t + c
    if t >= 0.0:
        emf_mv += _K_EXP_A0 * math.exp(_K_EXP_A1 * (t - _K_EXP_A2) ** 2)
    return emf_mv


def chip_reported_c(hot_c: float, cold_c: float) -> float:
    """What the MAX31855 computes: the true EMF read back through its fixed linear gain."""
    emf_mv = type_k_emf_mv(hot_c) - type_k_emf_mv(cold_c)
    return cold_c + emf_mv / CHIP_SEEBECK_MV_PER_C


def encode_frame(tc_counts: int, cj_counts: int, cause_bits: int = 0, flag: bool = False) -> int:
    """Pack a 32-bit frame; D16 is set when `flag` or any cause bit (D2:D0) is set."""
    tc = min(max(tc_counts, TC_COUNTS_MIN), TC_COUNTS_MAX) & 0x3FFF
    cj = min(max(cj_counts, CJ_COUNTS_MIN), CJ_COUNTS_MAX) & 0xFFF
    d16 = FAULT_FLAG_BIT if (flag or cause_bits) else 0
    return (tc << 18) | d16 | (cj << 4) | (cause_bits & 0x7)


class TcFault(enum.Enum):
    """Faults `SimMax31855.inject` can impose. Conversion faults show from the next conversion."""

    OPEN = "open thermocouple"  # D0, from the next completed conversion
    SHORT_GND = "thermocouple shorted to GND"  # D1, from the next completed conversion
    SHORT_VCC = "thermocouple shorted to VCC"  # D2, from the next completed conversion
    FAULT_FLAG_ONLY = "D16 without a cause bit"  # not datasheet behaviour: a corrupt frame
    FROZEN = "chip stuck: keeps returning its last frame"  # immediately
    BUS_DEAD = "chip does not drive MISO"  # immediately: reads give the bus idle level


_CAUSE_BITS: dict[TcFault | None, int] = {
    TcFault.OPEN: FAULT_OPEN_BIT,
    TcFault.SHORT_GND: FAULT_SHORT_GND_BIT,
    TcFault.SHORT_VCC: FAULT_SHORT_VCC_BIT,
}
_SPORADIC_CAUSES = (FAULT_SHORT_GND_BIT, FAULT_SHORT_VCC_BIT)


class SimMax31855:
    """One emulated MAX31855 on a thermocouple whose junction temperatures come from the plant.

    `hot_junction_c` and `cold_junction_c` are called when a conversion is found complete (at a
    chip-select edge), so a frame holds the plant's temperatures at read time rather than at the
    end of the conversion: an error of at most one conversion (100 ms), well below the noise.
    `rng` drives noise, flicker and sporadic faults, so a seed makes a run repeatable.
    """

    def __init__(
        self,
        clock: Clock,
        hot_junction_c: Callable[[], float],
        cold_junction_c: Callable[[], float],
        rng: random.Random,
        noise_c_rms: float = 0.1,
        sporadic_fault_rate: float = 1e-4,
        *,
        flicker_rate: float = DEFAULT_FLICKER_RATE,
    ) -> None:
        if noise_c_rms < 0 or not 0 <= sporadic_fault_rate <= 1 or not 0 <= flicker_rate <= 1:
            raise ValueError("noise must be >= 0 C rms and rates within 0..1")
        self._clock = clock
        self._hot_c = hot_junction_c
        self._cold_c = cold_junction_c
        self._rng = rng
        self.noise_c_rms = noise_c_rms
        self.sporadic_fault_rate = sporadic_fault_rate
        self.flicker_rate = flicker_rate
        self.reads = 0  # chip-select transactions seen (a CS falling edge each)
        self._fault: TcFault | None = None
        self._frame_bytes = self._convert().to_bytes(FRAME_BYTES, "big")  # powered up long ago
        self._conv_start_s: float | None = clock.now()  # None while CS is low (aborted)
        self._out: bytes | None = None  # what the current transaction shifts out; None: not driven
        self._out_pos = 0

    @property
    def fault(self) -> TcFault | None:
        """The injected fault, or None for a healthy chip."""
        return self._fault

    @property
    def frame(self) -> int:
        """The last completed conversion's frame as of now (what the next read would return)."""
        self._settle(self._clock.now())
        return int.from_bytes(self._frame_bytes, "big")

    def inject(self, fault: TcFault) -> None:
        """Impose `fault` (replacing any other); frames completed before now keep the old state."""
        self._settle(self._clock.now())
        self._fault = fault

    def clear(self) -> None:
        """Remove the injected fault; a frozen chip starts a fresh conversion now."""
        now_s = self._clock.now()
        self._settle(now_s)
        if self._fault is TcFault.FROZEN and self._conv_start_s is not None:
            self._conv_start_s = now_s
        self._fault = None

    def select(self) -> None:
        """CS falling edge: latch the last completed frame and abort the conversion in progress."""
        self.reads += 1
        self._settle(self._clock.now())
        self._conv_start_s = None
        self._out = self._transaction_bytes()
        self._out_pos = 0

    def deselect(self) -> None:
        """CS rising edge: MISO goes high-impedance and a new conversion starts."""
        self._conv_start_s = self._clock.now()
        self._out = None

    def shift_out(self, n_bytes: int) -> bytes | None:
        """The next `n_bytes` of the frame on MISO, or None when the chip is not driving it."""
        if self._out is None:
            return None
        pos = self._out_pos
        self._out_pos = pos + n_bytes
        chunk = self._out[pos : pos + n_bytes]
        return chunk + bytes(n_bytes - len(chunk)) if len(chunk) < n_bytes else chunk

    def _transaction_bytes(self) -> bytes | None:
        """The bytes this transaction serves: the frame, a sporadic fault frame, or nothing."""
        if self._fault is TcFault.BUS_DEAD:
            return None
        if self._fault is TcFault.FROZEN or not self.sporadic_fault_rate:
            return self._frame_bytes
        if self._rng.random() >= self.sporadic_fault_rate:
            return self._frame_bytes
        cj_counts = int.from_bytes(self._frame_bytes[2:4], "big", signed=True) >> 4
        cause = self._rng.choice(_SPORADIC_CAUSES)
        return encode_frame(0, cj_counts, cause).to_bytes(FRAME_BYTES, "big")

    def _settle(self, now_s: float) -> None:
        """Catch up on conversions completed since the last look; only the latest one matters."""
        if self._conv_start_s is None or self._fault is TcFault.FROZEN:
            return
        done = int((now_s - self._conv_start_s + BOUNDARY_SLACK_S) / CONVERSION_TIME_S)
        if done < 1:
            return
        self._conv_start_s += done * CONVERSION_TIME_S
        self._frame_bytes = self._convert().to_bytes(FRAME_BYTES, "big")

    def _convert(self) -> int:
        """One conversion of the current plant temperatures into a frame."""
        cold_c = self._cold_c()
        cj_counts = math.floor(cold_c / CJ_LSB_C + 0.5)
        if self._fault is TcFault.FAULT_FLAG_ONLY:
            return encode_frame(0, cj_counts, flag=True)
        cause = _CAUSE_BITS.get(self._fault, 0)
        if cause:
            return encode_frame(0, cj_counts, cause)
        return encode_frame(self._tc_counts(self._hot_c(), cold_c), cj_counts)

    def _tc_counts(self, hot_c: float, cold_c: float) -> int:
        """The chip's linearised hot reading, noisy, quantised to 0.25 C, with rare flicker."""
        temp_c = chip_reported_c(hot_c, cold_c)
        if self.noise_c_rms:
            temp_c += self._rng.gauss(0.0, self.noise_c_rms)
        counts = math.floor(temp_c / TC_LSB_C + 0.5)
        if self.flicker_rate and self._rng.random() < self.flicker_rate:
            counts += self._rng.choice((-1, 1))
        return counts


class SimChipSelect:
    """A chip-select output pin (the parts of `digitalio.DigitalInOut` that SPIDevice uses).

    Idles high (deselected), as the breakout's pull-up holds it before the pin is an output.
    """

    def __init__(self, bus: SimSPIBus, chip: SimMax31855) -> None:
        self._bus = bus
        self._chip = chip
        self._value = True

    def switch_to_output(self, value: bool = True, drive_mode: object = None) -> None:
        """Make the pin an output at `value` (drive mode is accepted and ignored)."""
        self.value = value

    @property
    def value(self) -> bool:
        """The pin level: False selects the chip."""
        return self._value

    @value.setter
    def value(self, level: bool) -> None:
        level = bool(level)
        if level == self._value:
            return
        self._value = level
        if level:
            self._bus.release(self._chip)
        else:
            self._bus.select(self._chip)

    def deinit(self) -> None:
        """Release the pin: it floats back high through the pull-up, deselecting the chip."""
        self.value = True


class SimSPIBus:
    """The parts of `busio.SPI` that SPIDevice and the MAX31855 driver call, over emulated chips.

    The chips are receive-only (the MAX31855 has no data-in pin), so `write` just clocks bytes
    out and `write_readinto` reads. The last `configure` call is kept (`baudrate`, `polarity`,
    `phase`, `bits`) so tests can check the driver asked for SPI mode 0.
    """

    def __init__(self, miso_idle_byte: int = MISO_IDLE_BYTE) -> None:
        self.miso_idle_byte = miso_idle_byte
        self.baudrate: int | None = None
        self.polarity: int | None = None
        self.phase: int | None = None
        self.bits: int | None = None
        self._locked = False
        self._refusals = 0
        self._chips: list[SimMax31855] = []
        self._selected: list[SimMax31855] = []

    def chip_select(self, chip: SimMax31855) -> SimChipSelect:
        """Wire `chip` to this bus and return its chip-select pin (one pin per chip)."""
        if chip in self._chips:
            raise ValueError("this chip already has a chip-select on this bus")
        self._chips.append(chip)
        return SimChipSelect(self, chip)

    def select(self, chip: SimMax31855) -> None:
        """Called by a chip-select pin going low."""
        self._selected.append(chip)
        chip.select()

    def release(self, chip: SimMax31855) -> None:
        """Called by a chip-select pin going high."""
        self._selected.remove(chip)
        chip.deselect()

    def try_lock(self) -> bool:
        """Take the bus if free; raise after `MAX_LOCK_REFUSALS` refusals (a leaked lock)."""
        if not self._locked:
            self._locked, self._refusals = True, 0
            return True
        self._refusals += 1
        if self._refusals >= MAX_LOCK_REFUSALS:
            raise RuntimeError("SPI bus locked and never released: a caller leaked the lock")
        return False

    def unlock(self) -> None:
        """Release the bus."""
        self._locked = False

    def configure(
        self, *, baudrate: int = 100_000, polarity: int = 0, phase: int = 0, bits: int = 8
    ) -> None:
        """Record the clock settings (the emulated chips answer regardless)."""
        self._require_lock()
        self.baudrate, self.polarity, self.phase, self.bits = baudrate, polarity, phase, bits

    def readinto(
        self, buf: bytearray, start: int = 0, end: int | None = None, write_value: int = 0
    ) -> None:
        """Fill `buf[start:end]` from MISO (see the module docstring for no or several chips)."""
        self._require_lock()
        end = len(buf) if end is None else end
        buf[start:end] = self._miso(end - start)

    def write(self, buf: bytes, start: int = 0, end: int | None = None) -> None:
        """Clock bytes out; the MAX31855 has no data input, so nothing else happens."""
        self._require_lock()

    def write_readinto(
        self,
        buffer_out: bytes,
        buffer_in: bytearray,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
    ) -> None:
        """Full duplex: the outgoing bytes are ignored, the incoming ones are read as usual."""
        self.readinto(buffer_in, in_start, in_end)

    def deinit(self) -> None:
        """Nothing to release; present because `busio.SPI` has it."""

    def _miso(self, n_bytes: int) -> bytes:
        """What MISO carries for the next `n_bytes`: one chip's frame, idle, or contention (AND)."""
        if len(self._selected) == 1:
            data = self._selected[0].shift_out(n_bytes)
            return bytes([self.miso_idle_byte]) * n_bytes if data is None else data
        driven = [d for c in self._selected if (d := c.shift_out(n_bytes)) is not None]
        if not driven:
            return bytes([self.miso_idle_byte]) * n_bytes
        return bytes(functools.reduce(operator.and_, col) for col in zip(*driven, strict=True))

    def _require_lock(self) -> None:
        if not self._locked:
            raise RuntimeError("SPI bus used without try_lock()")
