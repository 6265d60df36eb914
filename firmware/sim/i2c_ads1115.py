"""An emulated I2C bus and an ADS1115 on it that behaves as the datasheet says, in virtual time.

`SimI2CBus` stands in for `smbus2.SMBus` (the two block calls our drivers use, and `close()`).
`SimADS1115` keeps the four 16-bit registers, big-endian on the wire, with their reset values
(conversion 0x0000, config 0x8583, lo/hi threshold 0x8000/0x7FFF), and converts in virtual time.

Datasheet behaviour emulated:
- single-shot: writing OS=1 powers up (~25 us) and converts for 1/rate s, scaled by the oscillator
  error; OS reads 0 until the result is in the conversion register, then 1. OS=1 written while a
  conversion is running is ignored (the chip only starts one "when in power-down state").
- continuous (MODE=0): back-to-back conversions at the data rate; OS reads 0 throughout (the
  chip is never "not performing a conversion"; our reading of the datasheet); a config
  change takes effect from the next conversion.
- result: round(V / LSB), LSB = FSR/32768, saturating at 0x7FFF / 0x8000; all 8 MUX settings.
- input pins: each pin voltage from `inputs` is clamped to GND-0.3 .. VDD+0.3 V, where the chip's
  ESD diodes would clamp it (a real chip may be damaged there); each clamp is counted in
  `clamped_input_count` so a test or the plant can notice.

Simplifications (documented, not datasheet):
- Sampling: the real chip averages the input over the conversion (sinc filter). Here the input is
  sampled once, at the first bus access at or after the end of the conversion (an access is what
  lets the emulator see time). Our driver polls, so that is within one poll of the true end; the
  difference only shows for inputs that change appreciably within one conversion.
- In continuous mode, conversions nobody looked at are skipped, not computed.
- Switching between single-shot and continuous abandons the conversion in progress; what the
  chip does then is not stated plainly in the datasheet and our driver never does it.
- The comparator and ALERT/RDY pin are not emulated; the threshold registers only store values.
- Writes to the read-only conversion register are ignored; a pointer byte with bits 7:2 set, or a
  write of 1 or more than 2 data bytes, raises OSError(EIO) so driver bugs show up loudly.
- Reads of more than 2 bytes repeat the register's two bytes (what the chip sends after the
  second byte is not stated in the datasheet).

The register map is written out here again, from the datasheet, rather than imported from the
driver: the emulator must not share the driver's mistakes, or the tests could not catch them.
"""

from __future__ import annotations

import errno
import math
import random
from collections.abc import Callable, Sequence
from typing import Protocol

from firmware.clock import Clock

REMOTE_IO_ERRNO = 121  # Linux EREMOTEIO: what smbus2 raises when no device acknowledges
I2C_BLOCK_MAX_BYTES = 32  # smbus2's I2C_SMBUS_BLOCK_MAX; longer transfers raise ValueError

RESET_CONFIG = 0x8583  # OS=1, AIN0-AIN1, +-2.048 V, single-shot, 128 SPS, comparator off
RESET_LO_THRESH = 0x8000  # comparator low threshold at reset
RESET_HI_THRESH = 0x7FFF  # comparator high threshold at reset

OS_BIT = 0x8000  # config bit 15: write 1 = start single-shot; read 0 = converting
MODE_BIT = 0x0100  # config bit 8: 1 = single-shot / power-down, 0 = continuous
POINTER_MASK = 0x03  # pointer byte bits 1:0 select the register; bits 7:2 must be 0

FSR_V_BY_PGA = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256)  # PGA 000..111
RATE_SPS_BY_DR = (8, 16, 32, 64, 128, 250, 475, 860)  # DR 000..111
NO_PIN = -1  # MUX negative input is GND
MUX_PINS = ((0, 1), (0, 3), (1, 3), (2, 3), (0, NO_PIN), (1, NO_PIN), (2, NO_PIN),
            (3, NO_PIN))  # MUX 000..111 -> (positive pin, negative pin)
COUNTS_PER_FSR = 32768  # 16-bit signed output: LSB = FSR / 2**15
MAX_CODE = 0x7FFF  # saturation code for inputs >= +FSR
MIN_CODE = -0x8000  # saturation code for inputs <= -FSR

POWER_UP_S = 25e-6  # wake-up from power-down before a conversion starts
PIN_MARGIN_V = 0.3  # analog inputs must stay within GND-0.3 V and VDD+0.3 V
MIN_OSC_ERROR_FRAC = -0.9  # keeps conversion times positive; large positive values emulate a
# failing oscillator (fault injection), so there is no upper bound


class I2CDevice(Protocol):
    """What `SimI2CBus` needs from an emulated device."""

    not_answering: bool  # fault injection: the device stops acknowledging its address

    def write_register(self, register: int, data: Sequence[int]) -> None:
        """Handle a write of `data` bytes after pointer byte `register`."""
        ...

    def read_register(self, register: int, length: int) -> list[int]:
        """Return `length` bytes read after setting the pointer to `register`."""
        ...


class SimI2CBus:
    """An I2C bus holding emulated devices; raises like smbus2 does on a real bus."""

    def __init__(self) -> None:
        self._devices: dict[int, I2CDevice] = {}
        self._closed = False
        self.transfer_count = 0  # bus transactions so far: for tests and speed benchmarks

    def attach(self, address: int, device: I2CDevice) -> None:
        """Put `device` on the bus at the 7-bit `address` (ValueError if taken or invalid)."""
        if not 0x03 <= address <= 0x77:
            raise ValueError(f"7-bit I2C address must be 0x03..0x77, not {address:#x}")
        if address in self._devices:
            raise ValueError(f"I2C address {address:#04x} already has a device")
        self._devices[address] = device

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: Sequence[int],
                             force: bool | None = None) -> None:
        """smbus2's block write: pointer byte `register`, then `data`."""
        if len(data) > I2C_BLOCK_MAX_BYTES:
            raise ValueError(f"Data length cannot exceed {I2C_BLOCK_MAX_BYTES} bytes")
        self._device(i2c_addr).write_register(register, data)

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int,
                            force: bool | None = None) -> list[int]:
        """smbus2's block read: set the pointer to `register`, then read `length` bytes."""
        if length > I2C_BLOCK_MAX_BYTES:
            raise ValueError(f"Desired block length over {I2C_BLOCK_MAX_BYTES} bytes")
        return self._device(i2c_addr).read_register(register, length)

    def close(self) -> None:
        """Close the bus; later transfers raise OSError(EBADF) as on a closed file."""
        self._closed = True

    def _device(self, address: int) -> I2CDevice:
        """The device acknowledging `address`, or the OSError a real bus gives."""
        self.transfer_count += 1
        if self._closed:
            raise OSError(errno.EBADF, "I2C bus is closed")
        device = self._devices.get(address)
        if device is None or device.not_answering:
            raise OSError(REMOTE_IO_ERRNO, "Remote I/O error")
        return device


class SimADS1115:
    """An ADS1115 whose AINx pins read `inputs(x)` volts (vs GND) at the clock's current time.

    `vdd_v` is the chip's supply (sets the input clamp); `osc_error_frac` stretches (positive) or
    shortens every conversion (the real oscillator is within about +-10 %; much more emulates
    a failing chip); `noise_v_rms` adds
    Gaussian noise at the input, drawn from `rng` (shared with the plant) or else a generator
    seeded with `seed`, so runs repeat.
    Fault flags: `not_answering` (no ACK: OSError 121), `stuck_converting` (OS never returns to 1).
    """

    def __init__(self, clock: Clock, inputs: Callable[[int], float], vdd_v: float = 5.0,
                 osc_error_frac: float = 0.0, noise_v_rms: float = 0.0, seed: int = 0,
                 rng: random.Random | None = None) -> None:
        if osc_error_frac <= MIN_OSC_ERROR_FRAC:
            raise ValueError(f"osc_error_frac must be above {MIN_OSC_ERROR_FRAC}")
        self._clock = clock
        self._inputs = inputs
        self._pin_min_v = -PIN_MARGIN_V
        self._pin_max_v = vdd_v + PIN_MARGIN_V
        self._time_scale = 1.0 + osc_error_frac
        self._noise_v_rms = noise_v_rms
        self._rng = rng if rng is not None else random.Random(seed)
        self.not_answering = False
        self.stuck_converting = False
        self.clamped_input_count = 0
        self._config = RESET_CONFIG & ~OS_BIT  # stored without OS; OS is computed on read
        self._conversion = 0
        self._thresholds = [RESET_LO_THRESH, RESET_HI_THRESH]
        self._end_s: float | None = None  # end of the conversion in progress; None when idle
        self._converting_config = 0  # the config word the running conversion started with

    @property
    def busy(self) -> bool:
        """True while a conversion is running (what OS=0 reports); brings time up to date first."""
        self._update()
        return self._end_s is not None

    def write_register(self, register: int, data: Sequence[int]) -> None:
        """A bus write: 0 data bytes only moves the pointer; 2 bytes (MSB first) set a register."""
        if register & ~POINTER_MASK:
            self._check_pointer(register)
        if len(data) == 0:
            return
        if len(data) != 2:
            raise OSError(errno.EIO, f"ADS1115 registers take 2 bytes, got {len(data)}")
        value = (data[0] & 0xFF) << 8 | (data[1] & 0xFF)
        if self._end_s is not None:  # (`_update` has nothing to do while the chip is idle)
            self._update()
        if register == 0x01:
            self._write_config(value)
        elif register >= 0x02:
            self._thresholds[register - 0x02] = value

    def read_register(self, register: int, length: int) -> list[int]:
        """A bus read of `length` bytes from `register`, MSB first."""
        if register & ~POINTER_MASK:
            self._check_pointer(register)
        if self._end_s is not None:  # (the hot path: `_update` has nothing to do when idle)
            self._update()
        if register == 0x00:
            value = self._conversion & 0xFFFF
        elif register == 0x01:
            value = self._config | (0 if self._end_s is not None else OS_BIT)
        else:
            value = self._thresholds[register - 0x02]
        if length == 2:
            return [value >> 8, value & 0xFF]
        return ([value >> 8, value & 0xFF] * ((length + 1) // 2))[:length]

    def _write_config(self, value: int) -> None:
        """Store the config; start, continue or stop conversions as the datasheet says."""
        continuous = not value & MODE_BIT
        was_continuous = self._end_s is not None and not self._converting_config & MODE_BIT
        self._config = value & ~OS_BIT
        if continuous and not was_continuous:
            self._start(POWER_UP_S)
        elif not continuous and was_continuous:
            self._end_s = None  # simplification: the chip would finish the current conversion
        if not continuous and value & OS_BIT and self._end_s is None:
            self._start(POWER_UP_S)

    def _start(self, delay_s: float) -> None:
        """Begin a conversion now with the current config, done after `delay_s` + one period."""
        self._converting_config = self._config
        self._end_s = self._clock.now() + delay_s + self._period_s(self._config)

    def _period_s(self, config: int) -> float:
        """Conversion time for `config`: one data-rate period, scaled by the oscillator error."""
        return self._time_scale / RATE_SPS_BY_DR[(config >> 5) & 0b111]

    def _update(self) -> None:
        """Finish any conversion whose end has passed: the emulator only sees time on access."""
        end_s = self._end_s
        if end_s is None or self.stuck_converting:
            return
        now_s = self._clock.now()
        if now_s < end_s:
            return
        if self._converting_config & MODE_BIT:  # single-shot: convert once, power down
            self._conversion = self._sample(self._converting_config)
            self._end_s = None
            return
        period_s = self._period_s(self._config)
        missed = int((now_s - end_s) // period_s)  # whole conversions since, with the new config
        self._conversion = self._sample(self._config if missed else self._converting_config)
        self._converting_config = self._config
        self._end_s = end_s + (missed + 1) * period_s

    def _sample(self, config: int) -> int:
        """The conversion result for `config` with the inputs as they are now."""
        positive, negative = MUX_PINS[(config >> 12) & 0b111]
        voltage_v = self._pin_v(positive) - (0.0 if negative == NO_PIN else self._pin_v(negative))
        if self._noise_v_rms:
            voltage_v += self._rng.gauss(0.0, self._noise_v_rms)
        code = math.floor(voltage_v * COUNTS_PER_FSR / FSR_V_BY_PGA[(config >> 9) & 0b111] + 0.5)
        return MAX_CODE if code > MAX_CODE else MIN_CODE if code < MIN_CODE else code

    def _pin_v(self, pin: int) -> float:
        """Voltage at AIN`pin`, clamped where the input protection diodes would clamp it."""
        voltage_v = self._inputs(pin)
        if self._pin_min_v <= voltage_v <= self._pin_max_v:
            return voltage_v
        self.clamped_input_count += 1
        return min(max(voltage_v, self._pin_min_v), self._pin_max_v)

    @staticmethod
    def _check_pointer(register: int) -> None:
        """Only pointer values 0..3 exist; anything else is a driver bug."""
        if register & ~POINTER_MASK:
            raise OSError(errno.EIO, f"ADS1115 pointer byte {register:#04x}: bits 7:2 must be 0")
