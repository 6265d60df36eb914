"""The ADS1115 emulator against the datasheet, and our driver against the emulator."""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware.clock import VirtualClock
from firmware.errors import HardwareError
from firmware.hal.ads1115 import (
    ADS1115,
    DEADLINE_MARGIN_S,
    DR_BITS_BY_RATE_SPS,
    PGA_BITS_BY_FSR_V,
    ConversionTimeoutError,
    lsb_v,
)
from firmware.sim.i2c_ads1115 import SimADS1115, SimI2CBus

FSRS_V = sorted(PGA_BITS_BY_FSR_V)
RATES_SPS = sorted(DR_BITS_BY_RATE_SPS)
ADDR = 0x48
CONFIG_CH0_4V_128SPS = [0xC3, 0x83]  # OS=1, AIN0-GND, +-4.096 V, single-shot, 128 SPS, comp off
CONV_128SPS_S = 25e-6 + 1 / 128  # power-up plus one conversion


@dataclass
class Rig:
    """A virtual clock, the pin voltages, the emulated chip on its bus, and our driver."""

    volts: dict[int, float] = field(default_factory=lambda: {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.0})
    clock: VirtualClock = field(default_factory=VirtualClock)
    bus: SimI2CBus = field(default_factory=SimI2CBus)
    chip: SimADS1115 = field(init=False)
    adc: ADS1115 = field(init=False)

    def build(self, **chip_kwargs: float) -> Rig:
        self.chip = SimADS1115(self.clock, self.volts.__getitem__, **chip_kwargs)
        self.bus.attach(ADDR, self.chip)
        self.adc = ADS1115(self.bus, ADDR, self.clock, bus_number=1)
        return self

    def read(self, register: int) -> list[int]:
        return self.bus.read_i2c_block_data(ADDR, register, 2)

    def write(self, register: int, data: list[int]) -> None:
        self.bus.write_i2c_block_data(ADDR, register, data)


def rig(volts: dict[int, float] | None = None, **chip_kwargs: float) -> Rig:
    r = Rig()
    r.volts.update(volts or {})
    return r.build(**chip_kwargs)


# --- The emulator follows the datasheet. ---

@pytest.mark.parametrize(("register", "reset"),
                         [(0, [0, 0]), (1, [0x85, 0x83]), (2, [0x80, 0x00]), (3, [0x7F, 0xFF])])
def test_emulator_reset_values(register: int, reset: list[int]) -> None:
    assert rig().read(register) == reset


def test_emulator_registers_are_big_endian() -> None:
    r = rig()
    r.write(2, [0x12, 0x34])
    assert r.read(2) == [0x12, 0x34]


def test_emulator_os_reads_0_while_converting() -> None:
    r = rig({0: 1.0})
    r.write(1, CONFIG_CH0_4V_128SPS)
    assert r.read(1) == [0x43, 0x83]


def test_emulator_result_not_available_before_conversion_time() -> None:
    r = rig({0: 1.0})
    r.write(1, CONFIG_CH0_4V_128SPS)
    r.clock.advance(CONV_128SPS_S - 1e-6)
    assert (r.read(1)[0] & 0x80, r.read(0)) == (0, [0, 0])


def test_emulator_result_available_after_conversion_time() -> None:
    r = rig({0: 1.0})
    r.write(1, CONFIG_CH0_4V_128SPS)
    r.clock.advance(CONV_128SPS_S + 1e-6)
    assert (r.read(1), r.read(0)) == ([0xC3, 0x83], [0x1F, 0x40])  # 1 V / 125 uV = 8000


def test_emulator_slow_oscillator_stretches_the_conversion() -> None:
    r = rig({0: 1.0}, osc_error_frac=0.1)
    r.write(1, CONFIG_CH0_4V_128SPS)
    r.clock.advance(25e-6 + 1.09 / 128)
    assert r.chip.busy


def test_emulator_ignores_os_write_while_converting() -> None:
    r = rig({0: 1.0, 1: 2.0})
    r.write(1, CONFIG_CH0_4V_128SPS)
    r.write(1, [0xD3, 0x83])  # AIN1: ignored for conversion, stored in the register
    r.clock.advance(CONV_128SPS_S + 1e-6)
    assert (r.read(0), r.read(1)) == ([0x1F, 0x40], [0xD3, 0x83])


def test_emulator_samples_input_at_end_of_conversion() -> None:
    r = rig({0: 1.0})
    r.write(1, CONFIG_CH0_4V_128SPS)
    r.volts[0] = 0.5
    r.clock.advance(CONV_128SPS_S)
    assert r.read(0) == [0x0F, 0xA0]  # 4000 counts


def test_emulator_clips_at_positive_full_scale() -> None:
    r = rig({0: 4.5})
    r.write(1, CONFIG_CH0_4V_128SPS)
    r.clock.advance(CONV_128SPS_S)
    assert r.read(0) == [0x7F, 0xFF]


def test_emulator_clips_at_negative_full_scale() -> None:
    r = rig({1: 5.0})
    r.write(1, [0x85, 0x83])  # AIN0 - AIN1 = -5 V on +-2.048 V
    r.clock.advance(CONV_128SPS_S)
    assert r.read(0) == [0x80, 0x00]


def test_emulator_clamps_inputs_beyond_vdd_plus_0v3() -> None:
    r = rig({0: 7.0})
    r.write(1, [0xC1, 0x83])  # AIN0-GND, +-6.144 V
    r.clock.advance(CONV_128SPS_S)
    assert (r.read(0), r.chip.clamped_input_count) == ([0x6E, 0x6B], 1)  # 5.3 V = 28267


def test_emulator_continuous_mode_keeps_converting() -> None:
    r = rig({0: 1.0})
    r.write(1, [0xC2, 0x83])  # MODE=0: continuous at 128 SPS
    r.clock.advance(CONV_128SPS_S)
    r.volts[0] = 0.5
    r.clock.advance(1 / 128)
    assert (r.read(0), r.read(1)[0] & 0x80) == ([0x0F, 0xA0], 0)


def test_emulator_absent_address_is_remote_io_error() -> None:
    with pytest.raises(OSError) as info:
        rig().bus.read_i2c_block_data(0x49, 0, 2)
    assert info.value.errno == 121


def test_emulator_not_answering_is_remote_io_error() -> None:
    r = rig()
    r.chip.not_answering = True
    with pytest.raises(OSError) as info:
        r.read(1)
    assert info.value.errno == 121


@pytest.mark.parametrize("data", [[0x85], [0x85, 0x83, 0x00]])
def test_emulator_refuses_wrong_write_length(data: list[int]) -> None:
    with pytest.raises(OSError):
        rig().write(1, data)


def test_emulator_refuses_pointer_beyond_register_3() -> None:
    with pytest.raises(OSError):
        rig().read(4)


def test_closed_bus_raises_bad_file() -> None:
    r = rig()
    r.bus.close()
    with pytest.raises(OSError) as info:
        r.read(1)
    assert info.value.errno == errno.EBADF


# --- Our driver reads the emulator right. ---

@pytest.mark.parametrize("rate_sps", RATES_SPS)
@pytest.mark.parametrize("fsr_v", FSRS_V)
def test_driver_reads_every_gain_and_rate(fsr_v: float, rate_sps: int) -> None:
    r = rig({2: 0.6789 * fsr_v})
    voltage_v = r.adc.read_voltage(2, fsr_v, rate_sps)
    assert abs(voltage_v - 0.6789 * fsr_v) <= lsb_v(fsr_v)


@pytest.mark.parametrize("osc_error_frac", [-0.1, 0.1])
@pytest.mark.parametrize("rate_sps", RATES_SPS)
def test_driver_copes_with_oscillator_error(rate_sps: int, osc_error_frac: float) -> None:
    r = rig({0: 1.0}, osc_error_frac=osc_error_frac)
    assert r.adc.read_counts(0, 4.096, rate_sps) == 8000


def test_driver_reads_within_noise() -> None:
    r = rig({0: 1.0}, noise_v_rms=2 * lsb_v(4.096), seed=3)
    counts = [r.adc.read_counts(0, 4.096, 860) for _ in range(200)]
    assert abs(sum(counts) / len(counts) - 8000) < 1 and max(abs(c - 8000) for c in counts) < 10


def test_driver_writes_the_datasheet_config_word() -> None:
    r = rig()
    r.adc.read_counts(2, 4.096, 860)
    assert r.read(1) == [0xE3, 0xE3]  # OS, AIN2-GND, +-4.096 V, single-shot, 860 SPS, comp off


@pytest.mark.parametrize("rate_sps", RATES_SPS)
def test_driver_waits_about_one_conversion(rate_sps: int) -> None:
    r = rig()
    r.adc.read_counts(0, 4.096, rate_sps)
    assert 1 / rate_sps < r.clock.now() <= 1.1 / rate_sps


def test_driver_polls_the_bus_only_a_few_times() -> None:
    r = rig(osc_error_frac=0.1)
    r.adc.read_counts(0, 4.096, 860)
    assert r.bus.transfer_count <= 5  # write, 3 polls, read


def test_driver_reads_negative_counts() -> None:
    r = rig({0: -0.2})
    assert r.adc.read_counts(0, 0.256, 128) == -25600


def test_driver_reports_absent_chip_actionably() -> None:
    r = rig()
    r.chip.not_answering = True
    with pytest.raises(HardwareError, match=r"0x48 on I2C bus 1.*I2C is enabled") as info:
        r.adc.read_counts(0, 4.096, 860)
    assert info.value.errno == 121


def test_driver_passes_other_bus_errors_through() -> None:
    r = rig()
    r.bus.close()
    with pytest.raises(OSError) as info:
        r.adc.read_counts(0, 4.096, 860)
    assert info.value.errno == errno.EBADF and not isinstance(info.value, HardwareError)


def test_driver_times_out_on_a_stuck_conversion() -> None:
    r = rig()
    r.chip.stuck_converting = True
    with pytest.raises(ConversionTimeoutError):
        r.adc.read_counts(0, 4.096, 860)
    assert r.clock.now() <= 2 / 860 + DEADLINE_MARGIN_S + 1 / 860 / 16


def test_driver_waits_out_an_overlong_conversion_before_the_next() -> None:
    r = rig({0: 1.0, 1: 2.0}, osc_error_frac=1.5)  # 8 SPS takes 2.5 x 125 ms: past the deadline
    with pytest.raises(ConversionTimeoutError):
        r.adc.read_counts(0, 4.096, 8)
    assert r.adc.read_counts(1, 4.096, 860) == 16000  # AIN1, not the late AIN0 result


@pytest.mark.parametrize(("channel", "fsr_v", "rate_sps"),
                         [(4, 4.096, 860), (0, 5.0, 860), (0, 4.096, 100)])
def test_driver_refuses_settings_the_chip_lacks(channel: int, fsr_v: float,
                                                rate_sps: int) -> None:
    with pytest.raises(ValueError):
        rig().adc.read_counts(channel, fsr_v, rate_sps)


def test_driver_refuses_reads_after_close() -> None:
    r = rig()
    with r.adc:
        pass
    with pytest.raises(HardwareError, match="closed"):
        r.adc.read_counts(0, 4.096, 860)


@given(fsr_v=st.sampled_from(FSRS_V), frac=st.floats(-0.05, 0.999))
def test_any_voltage_in_range_round_trips_within_half_an_lsb(fsr_v: float, frac: float) -> None:
    voltage_v = frac * min(fsr_v, 5.3)
    r = rig({0: voltage_v})
    assert abs(r.adc.read_voltage(0, fsr_v, 860) - voltage_v) <= lsb_v(fsr_v) / 2 + 1e-12
