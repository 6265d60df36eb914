"""Pressure transducer and ram position sensor, read by our driver from the emulated ADS1115."""

from __future__ import annotations

from dataclasses import replace

import pytest

from firmware.clock import VirtualClock
from firmware.config.model import RamPositionConfig, TransducerConfig
from firmware.hal.ads1115 import ADS1115
from firmware.hal.transducer import PositionReading, PressureTransducer, RamPositionSensor
from firmware.hal.types import FaultKind, PressureReading, SensorFault
from firmware.sim.i2c_ads1115 import SimADS1115, SimI2CBus

RATIO = TransducerConfig(kind="ratiometric", fsr_v=6.144, channel=0, supply_channel=1,
                         range_mpa=70.0)
CURRENT = TransducerConfig(kind="current", fsr_v=4.096, channel=0, shunt_ohm=150.0,
                           range_mpa=70.0)
POT = RamPositionConfig(channel=2, range_mm=50.0, full_scale_v=3.3)
MPA_TOL = 0.01  # a few LSB at 6.144 V full scale (0.19 mV = 0.003 MPa each)


class Rig:
    """Pin voltages feeding an emulated ADS1115 on a bus, read by our driver on a virtual clock."""

    def __init__(self, **volts: float) -> None:
        self.volts = {0: 0.0, 1: 5.0, 2: 0.0, 3: 0.0}
        self.volts.update({int(k[-1]): v for k, v in volts.items()})
        self.clock = VirtualClock(10.0)
        self.chip = SimADS1115(self.clock, self.volts.__getitem__)
        self.bus = SimI2CBus()
        self.bus.attach(0x48, self.chip)
        self.adc = ADS1115(self.bus, 0x48, self.clock, bus_number=1)

    def pressure(self, cfg: TransducerConfig = RATIO) -> PressureReading | SensorFault:
        return PressureTransducer(self.adc, cfg, self.clock).read()

    def position(self, fsr_v: float = 4.096) -> PositionReading | SensorFault:
        return RamPositionSensor(self.adc, POT, fsr_v, 860, self.clock).read()


def mpa(result: PressureReading | SensorFault) -> float:
    assert isinstance(result, PressureReading), result
    return result.pressure_mpa


def fault(result: object) -> FaultKind:
    assert isinstance(result, SensorFault), result
    return result.kind


# --- Ratiometric. ---

@pytest.mark.parametrize(("signal_v", "expected_mpa"), [(0.5, 0.0), (2.5, 35.0), (4.5, 70.0)])
def test_ratiometric_scales_half_to_four_and_a_half_volts(signal_v: float,
                                                          expected_mpa: float) -> None:
    assert mpa(Rig(ain0=signal_v).pressure()) == pytest.approx(expected_mpa, abs=MPA_TOL)


def test_ratiometric_follows_the_measured_supply() -> None:
    rig = Rig(ain0=0.5 * 4.8, ain1=4.8)  # 50 % of a sagging 4.8 V supply
    assert mpa(rig.pressure()) == pytest.approx(35.0, abs=MPA_TOL)


def test_ratiometric_uses_nominal_supply_when_none_is_wired() -> None:
    cfg = replace(RATIO, supply_channel=None, supply_v=5.0)
    assert mpa(Rig(ain0=2.5, ain1=0.0).pressure(cfg)) == pytest.approx(35.0, abs=MPA_TOL)


@pytest.mark.parametrize("signal_v", [0.0, 0.2, 4.8, 5.0])
def test_ratiometric_outside_5_to_95_percent_is_wiring(signal_v: float) -> None:
    assert fault(Rig(ain0=signal_v).pressure()) is FaultKind.WIRING


def test_ratiometric_dead_supply_sense_is_wiring() -> None:
    result = Rig(ain0=2.5, ain1=0.0).pressure()
    assert fault(result) is FaultKind.WIRING and "supply on AIN1" in result.detail


def test_signal_clipped_at_adc_full_scale_is_wiring() -> None:
    cfg = replace(RATIO, fsr_v=4.096)  # too narrow for the 4.5 V top of span
    result = Rig(ain0=4.3).pressure(cfg)
    assert fault(result) is FaultKind.WIRING and "full scale" in result.detail


def test_reading_carries_time_signal_and_counts() -> None:
    rig = Rig(ain0=2.5)
    result = rig.pressure()
    assert isinstance(result, PressureReading)
    assert (result.time_s, result.signal, result.raw_counts) == (
        rig.clock.now(), pytest.approx(2.5, abs=1e-3), 13333)


# --- 4-20 mA. ---

@pytest.mark.parametrize(("current_ma", "expected_mpa"), [(4.0, 0.0), (12.0, 35.0), (20.0, 70.0)])
def test_current_loop_scales_four_to_twenty_ma(current_ma: float, expected_mpa: float) -> None:
    rig = Rig(ain0=current_ma * 0.150)
    assert mpa(rig.pressure(CURRENT)) == pytest.approx(expected_mpa, abs=MPA_TOL)


def test_current_loop_reports_milliamps_as_signal() -> None:
    result = Rig(ain0=1.8).pressure(CURRENT)
    assert isinstance(result, PressureReading) and result.signal == pytest.approx(12.0, abs=1e-3)


@pytest.mark.parametrize("current_ma", [0.0, 3.5, 21.5, 22.0])
def test_current_loop_outside_namur_ne43_is_wiring(current_ma: float) -> None:
    assert fault(Rig(ain0=current_ma * 0.150).pressure(CURRENT)) is FaultKind.WIRING


@pytest.mark.parametrize("current_ma", [3.7, 20.9])
def test_current_loop_inside_namur_ne43_is_a_reading(current_ma: float) -> None:
    assert isinstance(Rig(ain0=current_ma * 0.150).pressure(CURRENT), PressureReading)


# --- Calibration and faults. ---

def test_calibration_subtracts_offset_then_scales_span() -> None:
    cfg = replace(RATIO, zero_offset_mpa=1.0, span_factor=1.1)
    assert mpa(Rig(ain0=2.5).pressure(cfg)) == pytest.approx((35.0 - 1.0) * 1.1, abs=MPA_TOL)


def test_absent_adc_is_bus_error_naming_what_to_check() -> None:
    rig = Rig(ain0=2.5)
    rig.chip.not_answering = True
    result = rig.pressure()
    assert fault(result) is FaultKind.BUS_ERROR and "0x48 on I2C bus 1" in result.detail


def test_closed_bus_is_bus_error() -> None:
    rig = Rig(ain0=2.5)
    rig.bus.close()
    assert fault(rig.pressure()) is FaultKind.BUS_ERROR


def test_stuck_conversion_is_not_ready() -> None:
    rig = Rig(ain0=2.5)
    rig.chip.stuck_converting = True
    assert fault(rig.pressure()) is FaultKind.NOT_READY


def test_fault_is_stamped_when_the_read_began() -> None:
    rig = Rig(ain0=0.0)
    assert rig.pressure().time_s == 10.0


def test_bad_config_fails_at_construction_not_in_read() -> None:
    with pytest.raises(ValueError, match="fsr_v"):
        PressureTransducer(Rig().adc, replace(RATIO, fsr_v=5.0), VirtualClock())


# --- Ram position. ---

def test_ram_position_scales_the_pot() -> None:
    result = Rig(ain2=1.65).position()
    assert isinstance(result, PositionReading)
    assert result.position_mm == pytest.approx(25.0, abs=0.01)


@pytest.mark.parametrize("wiper_v", [-0.25, 3.6, 4.2])
def test_ram_position_beyond_the_pot_ends_is_wiring(wiper_v: float) -> None:
    assert fault(Rig(ain2=wiper_v).position()) is FaultKind.WIRING


def test_ram_position_bus_error() -> None:
    rig = Rig(ain2=1.0)
    rig.chip.not_answering = True
    assert fault(rig.position()) is FaultKind.BUS_ERROR


def test_ram_position_refuses_a_range_that_hides_the_top_of_travel() -> None:
    with pytest.raises(ValueError, match="wider range"):
        Rig().position(fsr_v=2.048)
