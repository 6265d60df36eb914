"""The emulated MAX31855 as the real adafruit driver sees it: frames, timing, noise and faults."""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass

import pytest
from adafruit_max31855 import MAX31855

from firmware.clock import VirtualClock
from firmware.sim.spi_max31855 import (
    CONVERSION_TIME_S,
    SimMax31855,
    SimSPIBus,
    TcFault,
    chip_reported_c,
    type_k_emf_mv,
)


@dataclass
class Rig:
    clock: VirtualClock
    temps: dict[str, float]
    chip: SimMax31855
    bus: SimSPIBus
    driver: MAX31855


def make_rig(
    hot_c: float = 100.0,
    cold_c: float = 25.0,
    *,
    noise_c_rms: float = 0.0,
    fault_rate: float = 0.0,
    flicker_rate: float = 0.0,
    seed: int = 1,
    bus: SimSPIBus | None = None,
) -> Rig:
    clock, temps = VirtualClock(), {"hot": hot_c, "cold": cold_c}
    chip = SimMax31855(
        clock, lambda: temps["hot"], lambda: temps["cold"], random.Random(seed),
        noise_c_rms, fault_rate, flicker_rate=flicker_rate,
    )  # fmt: skip
    bus = bus or SimSPIBus()
    return Rig(clock, temps, chip, bus, MAX31855(bus, bus.chip_select(chip)))


def try_read(driver: MAX31855) -> float | str:
    try:
        return driver.temperature
    except RuntimeError as err:
        return str(err)


@pytest.mark.parametrize(("temp_c", "emf_mv"), [(-100, -3.554), (100, 4.096), (500, 20.644)])
def test_type_k_emf_matches_nist_table(temp_c: float, emf_mv: float) -> None:
    assert type_k_emf_mv(temp_c) == pytest.approx(emf_mv, abs=0.001)


def test_positive_temperature_is_the_chips_linearised_value() -> None:
    rig = make_rig(hot_c=300.0)
    assert rig.driver.temperature == pytest.approx(chip_reported_c(300.0, 25.0), abs=0.125)
    assert rig.driver.temperature < 297.0  # the chip's real K-type linearisation error


def test_negative_temperature_decodes() -> None:
    rig = make_rig(hot_c=-100.0)
    assert rig.driver.temperature == pytest.approx(chip_reported_c(-100.0, 25.0), abs=0.125)


@pytest.mark.parametrize(("cold_c", "expected_c"), [(23.3, 23.3125), (-10.3, -10.3125)])
def test_cold_junction_decodes_at_one_sixteenth_degree(cold_c: float, expected_c: float) -> None:
    rig = make_rig(cold_c=cold_c)
    assert rig.driver.reference_temperature == expected_c


def test_readings_are_quantised_to_quarter_degrees() -> None:
    rig = make_rig(hot_c=123.4, noise_c_rms=0.3, flicker_rate=0.1)
    readings = [try_read(rig.driver) for _ in range(50) if not rig.clock.advance(0.1)]
    assert all(r % 0.25 == 0 for r in readings)


def test_driver_asks_for_spi_mode_0_at_100_khz() -> None:
    rig = make_rig()
    _ = rig.driver.temperature
    assert (rig.bus.baudrate, rig.bus.polarity, rig.bus.phase) == (100_000, 0, 0)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (TcFault.OPEN, "thermocouple not connected"),
        (TcFault.SHORT_GND, "short circuit to ground"),
        (TcFault.SHORT_VCC, "short circuit to power"),
        (TcFault.FAULT_FLAG_ONLY, "faulty reading"),
    ],
)
def test_injected_fault_raises_the_drivers_error(fault: TcFault, message: str) -> None:
    rig = make_rig()
    rig.chip.inject(fault)
    rig.clock.advance(CONVERSION_TIME_S)
    assert try_read(rig.driver) == message


def test_injected_fault_shows_from_the_next_conversion() -> None:
    rig = make_rig()
    rig.chip.inject(TcFault.OPEN)
    assert try_read(rig.driver) == pytest.approx(chip_reported_c(100.0, 25.0), abs=0.125)


def test_reference_temperature_survives_a_fault() -> None:
    rig = make_rig(cold_c=30.0)
    rig.chip.inject(TcFault.OPEN)
    rig.clock.advance(CONVERSION_TIME_S)
    assert rig.driver.reference_temperature == 30.0


def test_clear_restores_good_frames() -> None:
    rig = make_rig()
    rig.chip.inject(TcFault.SHORT_GND)
    rig.clock.advance(CONVERSION_TIME_S)
    rig.chip.clear()
    rig.clock.advance(CONVERSION_TIME_S)
    assert isinstance(try_read(rig.driver), float)


def test_read_within_conversion_time_returns_the_same_frame() -> None:
    rig = make_rig(hot_c=100.0)
    first = rig.driver.temperature
    rig.temps["hot"] = 200.0
    rig.clock.advance(0.05)
    assert rig.driver.temperature == first


def test_read_after_conversion_time_returns_a_new_conversion() -> None:
    rig = make_rig(hot_c=100.0)
    _ = rig.driver.temperature
    rig.temps["hot"] = 200.0
    rig.clock.advance(CONVERSION_TIME_S)
    assert rig.driver.temperature == pytest.approx(chip_reported_c(200.0, 25.0), abs=0.125)


def test_polling_faster_than_conversions_never_sees_new_data() -> None:
    rig = make_rig(hot_c=100.0)
    first = rig.driver.temperature
    rig.temps["hot"] = 200.0
    readings = [rig.driver.temperature for _ in range(40) if not rig.clock.advance(0.09)]
    assert set(readings) == {first}


def test_nist_correction_within_0_2_c_from_0_to_300_c() -> None:
    rig = make_rig(cold_c=23.7)
    for true_c in range(0, 301, 5):
        rig.temps["hot"] = float(true_c)
        rig.clock.advance(CONVERSION_TIME_S)
        assert rig.driver.temperature_NIST == pytest.approx(true_c, abs=0.2)


def test_noise_is_about_the_configured_rms() -> None:
    rig = make_rig(hot_c=150.0, noise_c_rms=0.1)
    readings = [rig.driver.temperature for _ in range(2000) if not rig.clock.advance(0.1)]
    assert 0.09 < statistics.stdev(readings) < 0.16  # 0.1 C noise plus 0.25 C quantisation
    assert statistics.mean(readings) == pytest.approx(chip_reported_c(150.0, 25.0), abs=0.02)


def test_flicker_moves_one_lsb_now_and_then() -> None:
    rig = make_rig(hot_c=150.0, flicker_rate=0.05)
    readings = [rig.driver.temperature for _ in range(1000) if not rig.clock.advance(0.1)]
    steady = statistics.mode(readings)
    assert {r - steady for r in readings} == {-0.25, 0.0, 0.25}


def test_sporadic_faults_arrive_at_about_the_configured_rate() -> None:
    rig = make_rig(hot_c=250.0, fault_rate=0.01, seed=7)
    results = [try_read(rig.driver) for _ in range(20_000) if not rig.clock.advance(0.1)]
    faults = [r for r in results if isinstance(r, str)]
    assert 150 <= len(faults) <= 250  # 200 expected, sigma 14
    assert set(faults) == {"short circuit to ground", "short circuit to power"}


def test_same_seed_gives_the_same_readings() -> None:
    def run() -> list[float | str]:
        rig = make_rig(noise_c_rms=0.5, fault_rate=0.05, flicker_rate=0.1, seed=3)
        return [try_read(rig.driver) for _ in range(200) if not rig.clock.advance(0.1)]

    assert run() == run()


def test_frozen_chip_keeps_returning_its_last_frame() -> None:
    rig = make_rig(hot_c=100.0, noise_c_rms=0.5)
    rig.chip.inject(TcFault.FROZEN)
    frame = rig.chip.frame
    rig.temps["hot"] = 300.0
    rig.clock.advance(10.0)
    assert rig.driver.temperature == pytest.approx(chip_reported_c(100.0, 25.0), abs=2.0)
    assert rig.chip.frame == frame


def test_dead_bus_reads_the_pi_miso_pull_down_as_zeros() -> None:
    rig = make_rig(hot_c=200.0)
    rig.chip.inject(TcFault.BUS_DEAD)
    assert (rig.driver.temperature, rig.driver.reference_temperature) == (0.0, 0.0)


def test_dead_bus_with_a_pull_up_reads_all_ones() -> None:
    rig = make_rig(bus=SimSPIBus(miso_idle_byte=0xFF))
    rig.chip.inject(TcFault.BUS_DEAD)
    assert try_read(rig.driver) == "thermocouple not connected"
    assert rig.driver.data == bytearray(b"\xff\xff\xff\xff")


def test_two_chips_on_one_bus_each_get_their_own_frame() -> None:
    clock, bus = VirtualClock(), SimSPIBus()
    a = SimMax31855(clock, lambda: 100.0, lambda: 25.0, random.Random(1), 0.0, 0.0, flicker_rate=0)
    b = SimMax31855(clock, lambda: 200.0, lambda: 25.0, random.Random(2), 0.0, 0.0, flicker_rate=0)
    drv_a, drv_b = MAX31855(bus, bus.chip_select(a)), MAX31855(bus, bus.chip_select(b))
    assert drv_a.temperature_NIST == pytest.approx(100.0, abs=0.2)
    assert drv_b.temperature_NIST == pytest.approx(200.0, abs=0.2)


def test_no_chip_selected_reads_the_idle_level() -> None:
    bus, buf = SimSPIBus(miso_idle_byte=0xFF), bytearray(4)
    bus.try_lock()
    bus.readinto(buf)
    assert buf == bytearray(b"\xff\xff\xff\xff")


def test_two_chips_selected_read_the_and_of_their_frames() -> None:
    clock, bus, buf = VirtualClock(), SimSPIBus(), bytearray(4)
    chips = [SimMax31855(clock, lambda t=t: t, lambda: 25.0, random.Random(0)) for t in (1, 2)]
    expected = chips[0].frame & chips[1].frame
    for pin in [bus.chip_select(c) for c in chips]:
        pin.value = False
    bus.try_lock()
    bus.readinto(buf)
    assert int.from_bytes(buf, "big") == expected


def test_bytes_past_the_frame_read_zero() -> None:
    rig, buf = make_rig(), bytearray(6)
    pin = rig.bus.chip_select(make_rig().chip)
    pin.value = False
    rig.bus.try_lock()
    rig.bus.readinto(buf)
    assert buf[4:] == b"\x00\x00"


def test_bus_refuses_reads_without_the_lock() -> None:
    with pytest.raises(RuntimeError, match="without try_lock"):
        SimSPIBus().readinto(bytearray(4))


def test_a_leaked_lock_raises_instead_of_hanging() -> None:
    rig = make_rig()
    rig.bus.try_lock()
    with pytest.raises(RuntimeError, match="leaked"):
        _ = rig.driver.temperature
