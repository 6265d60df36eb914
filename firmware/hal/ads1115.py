"""Our own ADS1115 driver: single-shot, single-ended reads over any smbus2-compatible bus.

Why our own: the adafruit driver needs Blinka and sleeps on real time, and we need the clock
injected so the same code runs against the bus emulator (`firmware.sim.i2c_ads1115`) at any speed.

The bus only has to offer the two smbus2 calls below. ADS1115 registers are 16 bits, big-endian
(MSB first), so every access is a 2-byte I2C block transfer (`read_word_data` would swap the bytes).
A read writes the config register with OS=1, waits the nominal conversion time on the injected
clock, polls the OS bit until the chip reports idle, then reads the conversion register.

Errors: an `OSError` from the bus propagates; errno 121 (no ACK: nothing at that address) becomes a
`HardwareError` with the same errno and a message saying what to check on the rig. A conversion
that does not finish by its deadline raises `ConversionTimeoutError`, which callers turn into
`SensorFault(kind=NOT_READY)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Protocol

from firmware.clock import Clock
from firmware.errors import HardwareError

# --- Register map (datasheet "Register Map"); the pointer byte selects one of four registers. ---
REG_CONVERSION = 0x00  # last result, 16-bit two's complement; reads 0 until the first conversion
REG_CONFIG = 0x01  # operating mode, input, range, rate; OS bit is the busy flag
REG_LO_THRESH = 0x02  # comparator low threshold (unused here; reset 0x8000)
REG_HI_THRESH = 0x03  # comparator high threshold (unused here; reset 0x7FFF)

# --- Config register bits. ---
CONFIG_OS = 0x8000  # bit 15: write 1 starts a single conversion; reads 0 while converting, 1 idle
CONFIG_MUX_SHIFT = 12  # bits 14:12: input multiplexer
MUX_SINGLE_ENDED_BASE = 0b100  # MUX 100+ch measures AINch against GND
CONFIG_PGA_SHIFT = 9  # bits 11:9: programmable gain, i.e. the full-scale range
CONFIG_MODE_SINGLE_SHOT = 0x0100  # bit 8: 1 = single-shot then power down, 0 = continuous
CONFIG_DR_SHIFT = 5  # bits 7:5: data rate
CONFIG_COMP_QUE_DISABLE = 0b11  # bits 1:0: comparator off, ALERT/RDY pin high-impedance
# COMP_MODE (bit 4), COMP_POL (bit 3), COMP_LAT (bit 2) stay 0: the comparator is disabled anyway.

PGA_BITS_BY_FSR_V = {6.144: 0b000, 4.096: 0b001, 2.048: 0b010, 1.024: 0b011, 0.512: 0b100,
                     0.256: 0b101}  # full-scale range +-V -> PGA code (110, 111 also mean 0.256)
DR_BITS_BY_RATE_SPS = {8: 0b000, 16: 0b001, 32: 0b010, 64: 0b011, 128: 0b100, 250: 0b101,
                       475: 0b110, 860: 0b111}  # samples per second -> DR code
CHANNEL_COUNT = 4  # AIN0..AIN3
COUNTS_PER_FSR = 32768  # 16-bit signed output: LSB = FSR / 2**15
MAX_COUNTS = 0x7FFF  # the code the chip saturates at for inputs >= +FSR
MIN_COUNTS = -0x8000  # the code the chip saturates at for inputs <= -FSR
DEFAULT_ADDRESS = 0x48  # ADDR pin to GND; 0x49 VDD, 0x4A SDA, 0x4B SCL

# --- Timing. ---
POWER_UP_S = 25e-6  # single-shot: the chip wakes for ~25 us before the conversion starts
POLL_FRACTION = 1.0 / 16  # after the nominal time, poll every 1/16 conversion: few bus transfers
DEADLINE_FACTOR = 2.0  # the oscillator is within ~10 %; twice nominal means it is not converting
DEADLINE_MARGIN_S = 0.002  # I2C transfers at 100 kHz (~0.5 ms each way) and scheduling slack

EREMOTEIO = 121  # Linux errno when the address is not acknowledged: no device answering there


class I2CBus(Protocol):
    """The two smbus2 calls this driver uses; `smbus2.SMBus` and `SimI2CBus` both fit."""

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: Sequence[int]) -> None:
        """Write `data` bytes to `register` of the device at `i2c_addr`."""
        ...

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]:
        """Read `length` bytes from `register` of the device at `i2c_addr`."""
        ...


class ConversionTimeoutError(HardwareError, TimeoutError):
    """The chip kept reporting busy past the deadline: callers map this to a NOT_READY fault."""


def check_settings(channel: int, fsr_v: float, data_rate_sps: int) -> None:
    """Raise ValueError unless channel, range and rate are ones the chip offers.

    Called by `read_counts` and, once at construction, by the sensors built on this driver, so a
    bad config fails at start-up rather than inside the loop.
    """
    if channel not in range(CHANNEL_COUNT):
        raise ValueError(f"ADS1115 channel must be 0..{CHANNEL_COUNT - 1}, not {channel}")
    if fsr_v not in PGA_BITS_BY_FSR_V:
        raise ValueError(f"ADS1115 fsr_v must be one of {sorted(PGA_BITS_BY_FSR_V)}, not {fsr_v}")
    if data_rate_sps not in DR_BITS_BY_RATE_SPS:
        raise ValueError(
            f"ADS1115 data_rate_sps must be one of {sorted(DR_BITS_BY_RATE_SPS)}, "
            f"not {data_rate_sps}"
        )


def lsb_v(fsr_v: float) -> float:
    """Volts per count at full-scale range `fsr_v` (V)."""
    return fsr_v / COUNTS_PER_FSR


def counts_to_voltage(counts: int, fsr_v: float) -> float:
    """Input voltage (V) for a conversion result at full-scale range `fsr_v` (V)."""
    return counts * fsr_v / COUNTS_PER_FSR


def is_saturated(counts: int) -> bool:
    """True when the result is pinned at full scale, so the true input is unknown (beyond FSR)."""
    return counts >= MAX_COUNTS or counts <= MIN_COUNTS


def conversion_time_s(data_rate_sps: int) -> float:
    """Nominal conversion time (s) at `data_rate_sps`: one sample period."""
    return 1.0 / data_rate_sps


def single_shot_config(channel: int, fsr_v: float, data_rate_sps: int) -> int:
    """The config word that starts one single-ended conversion of AIN`channel` against GND."""
    return (CONFIG_OS
            | (MUX_SINGLE_ENDED_BASE + channel) << CONFIG_MUX_SHIFT
            | PGA_BITS_BY_FSR_V[fsr_v] << CONFIG_PGA_SHIFT
            | CONFIG_MODE_SINGLE_SHOT
            | DR_BITS_BY_RATE_SPS[data_rate_sps] << CONFIG_DR_SHIFT
            | CONFIG_COMP_QUE_DISABLE)


class ADS1115:
    """One ADS1115 on an I2C bus, read in single-shot mode; time passes only on `clock`.

    `bus` is anything with smbus2's block read/write (the caller owns and closes it);
    `address` is the 7-bit I2C address; `bus_number` only names the bus in error messages.
    """

    def __init__(self, bus: I2CBus, address: int, clock: Clock,
                 bus_number: int | None = None) -> None:
        self._bus = bus
        self._address = address
        self._clock = clock
        self._bus_name = "I2C bus ?" if bus_number is None else f"I2C bus {bus_number}"
        self._unfinished_rate_sps: int | None = None  # set when a conversion outlived its deadline
        self._closed = False
        # (channel, fsr_v, rate) -> config word, for settings already checked: the inner pressure
        # loop reads the same channel 50 times a second, so each is checked and encoded once.
        self._configs: dict[tuple[int, float, int], int] = {}

    @property
    def address(self) -> int:
        """The 7-bit I2C address this driver talks to."""
        return self._address

    def read_voltage(self, channel: int, fsr_v: float, data_rate_sps: int) -> float:
        """One single-shot conversion of AIN`channel` vs GND, in volts (range +-`fsr_v` V)."""
        return counts_to_voltage(self.read_counts(channel, fsr_v, data_rate_sps), fsr_v)

    def read_counts(self, channel: int, fsr_v: float, data_rate_sps: int) -> int:
        """One single-shot conversion of AIN`channel` vs GND as signed counts (LSB = fsr_v/32768).

        Blocks on the injected clock for about one conversion (1/`data_rate_sps` s). Raises
        ValueError for settings the chip lacks, `ConversionTimeoutError` if the chip stays busy,
        `HardwareError` (errno 121) if nothing answers, and any other bus `OSError` as is.
        """
        config = self._configs.get((channel, fsr_v, data_rate_sps))
        if config is None:
            check_settings(channel, fsr_v, data_rate_sps)
            config = single_shot_config(channel, fsr_v, data_rate_sps)
            self._configs[(channel, fsr_v, data_rate_sps)] = config
        if self._closed:
            raise HardwareError(f"ADS1115 at {self._address:#04x} is closed")
        if self._unfinished_rate_sps is not None:
            # A write of OS=1 is ignored while the chip is busy: we would read the old channel.
            self._wait_idle(self._unfinished_rate_sps, self._deadline_s(self._unfinished_rate_sps))
        self._write_register(REG_CONFIG, config)
        deadline_s = self._deadline_s(data_rate_sps)
        self._clock.sleep(POWER_UP_S + conversion_time_s(data_rate_sps))
        self._wait_idle(data_rate_sps, deadline_s)
        return _signed16(self._read_register(REG_CONVERSION))

    def close(self) -> None:
        """Stop using the chip (single-shot mode leaves it powered down); the bus stays open."""
        self._closed = True

    def __enter__(self) -> ADS1115:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _deadline_s(self, data_rate_sps: int) -> float:
        """When a conversion started now must be done: twice nominal plus margin."""
        return self._clock.now() + DEADLINE_FACTOR * conversion_time_s(data_rate_sps) \
            + DEADLINE_MARGIN_S

    def _wait_idle(self, data_rate_sps: int, deadline_s: float) -> None:
        """Poll OS until it reads 1; raise ConversionTimeoutError once past `deadline_s`."""
        while not self._read_register(REG_CONFIG) & CONFIG_OS:
            nominal_s = conversion_time_s(data_rate_sps)
            if self._clock.now() >= deadline_s:
                self._unfinished_rate_sps = data_rate_sps
                raise ConversionTimeoutError(
                    f"ADS1115 at {self._address:#04x} on {self._bus_name} still converting "
                    f"{DEADLINE_FACTOR:g}x past its {nominal_s * 1e3:.2f} ms conversion time"
                )
            self._clock.sleep(POLL_FRACTION * nominal_s)
        self._unfinished_rate_sps = None

    def _write_register(self, register: int, value: int) -> None:
        """Write a 16-bit register, MSB first."""
        try:
            self._bus.write_i2c_block_data(self._address, register, [value >> 8, value & 0xFF])
        except OSError as exc:
            if exc.errno == EREMOTEIO:
                raise self._absent_error() from exc
            raise

    def _read_register(self, register: int) -> int:
        """Read a 16-bit register, MSB first, as an unsigned int."""
        try:
            msb, lsb = self._bus.read_i2c_block_data(self._address, register, 2)
        except OSError as exc:
            if exc.errno == EREMOTEIO:
                raise self._absent_error() from exc
            raise
        return msb << 8 | lsb

    def _absent_error(self) -> HardwareError:
        """errno 121 turned into what to check on the rig; the errno stays on the exception."""
        return HardwareError(
            EREMOTEIO,
            f"no ADS1115 answering at {self._address:#04x} on {self._bus_name}: check the wiring "
            f"(VDD, GND, SDA, SCL), the ADDR pin and that I2C is enabled (raspi-config)",
        )


def _signed16(value: int) -> int:
    """Two's complement 16-bit to a Python int."""
    return value - 0x10000 if value & 0x8000 else value
