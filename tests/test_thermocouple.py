"""Thermocouple.read over the emulated bus: readings with their time, every fault as a value."""

from __future__ import annotations

import random

import pytest

from firmware.clock import VirtualClock
from firmware.hal.thermocouple import Thermocouple
from firmware.hal.types import FaultKind, SensorFault, TempReading
from firmware.sim.spi_max31855 import (
    CONVERSION_TIME_S,
    SimMax31855,
    SimSPIBus,
    TcFault,
    chip_reported_c,
)


def make_tc(
    hot_c: float = 200.0, *, bus: SimSPIBus | None = None, fault_rate: float = 0.0
) -> tuple[Thermocouple, SimMax31855, VirtualClock]:
    clock = VirtualClock(start_s=5.0)
    chip = SimMax31855(
        clock, lambda: hot_c, lambda: 25.0, random.Random(1), 0.0, fault_rate, flicker_rate=0.0
    )
    bus = bus or SimSPIBus()
    return Thermocouple(bus, bus.chip_select(chip), clock, "top"), chip, clock


class FailingBus(SimSPIBus):
    """A bus whose transfers fail the way a given exception says."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def readinto(self, buf, start=0, end=None, write_value=0) -> None:  # type: ignore[override]
        raise self.error


def test_read_returns_nist_corrected_temperature_with_its_time() -> None:
    tc, _, clock = make_tc(hot_c=200.0)
    reading = tc.read()
    assert isinstance(reading, TempReading)
    assert reading.temp_c == pytest.approx(200.0, abs=0.2)
    assert (reading.time_s, reading.cold_junction_c) == (clock.now(), 25.0)


def test_raw_temp_is_the_chips_own_linearised_value() -> None:
    tc, _, _ = make_tc(hot_c=300.0)
    reading = tc.read()
    assert isinstance(reading, TempReading)
    assert reading.raw_temp_c == pytest.approx(chip_reported_c(300.0, 25.0), abs=0.125)


def test_nist_correction_matches_the_drivers_own_property() -> None:
    tc, _, _ = make_tc(hot_c=250.0)
    reading = tc.read()
    assert isinstance(reading, TempReading)
    assert reading.temp_c == tc._driver.temperature_NIST  # type: ignore[union-attr]


def test_one_read_is_one_spi_transaction() -> None:
    tc, chip, _ = make_tc()
    tc.read()
    assert chip.reads == 1


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (TcFault.OPEN, FaultKind.TC_OPEN),
        (TcFault.SHORT_GND, FaultKind.TC_SHORT_GND),
        (TcFault.SHORT_VCC, FaultKind.TC_SHORT_VCC),
        (TcFault.FAULT_FLAG_ONLY, FaultKind.TC_FAULTY),
        (TcFault.BUS_DEAD, FaultKind.BUS_ERROR),
    ],
)
def test_each_chip_fault_maps_to_its_kind(fault: TcFault, kind: FaultKind) -> None:
    tc, chip, clock = make_tc()
    chip.inject(fault)
    clock.advance(CONVERSION_TIME_S)
    result = tc.read()
    assert isinstance(result, SensorFault) and result.kind is kind
    assert result.time_s == clock.now() and result.detail.startswith("top: ")


def test_dead_bus_with_pull_up_is_a_bus_error_not_an_open_thermocouple() -> None:
    tc, chip, _ = make_tc(bus=SimSPIBus(miso_idle_byte=0xFF))
    chip.inject(TcFault.BUS_DEAD)
    result = tc.read()
    assert isinstance(result, SensorFault) and result.kind is FaultKind.BUS_ERROR


@pytest.mark.parametrize(
    "error", [OSError(5, "Input/output error"), ValueError("bad"), RuntimeError("SPI gone")]
)
def test_a_raising_bus_is_a_bus_error(error: Exception) -> None:
    tc, _, _ = make_tc(bus=FailingBus(error))
    result = tc.read()
    assert isinstance(result, SensorFault) and result.kind is FaultKind.BUS_ERROR
    assert type(error).__name__ in result.detail


def test_emf_outside_the_type_k_tables_is_a_faulty_reading() -> None:
    tc, _, _ = make_tc(hot_c=-260.0)  # what a reversed thermocouple can look like
    result = tc.read()
    assert isinstance(result, SensorFault) and result.kind is FaultKind.TC_FAULTY


def test_sporadic_faults_come_back_as_values_never_exceptions() -> None:
    tc, _, clock = make_tc(fault_rate=0.05)
    results = [tc.read() for _ in range(2000) if not clock.advance(0.1)]
    kinds = {r.kind for r in results if isinstance(r, SensorFault)}
    assert kinds == {FaultKind.TC_SHORT_GND, FaultKind.TC_SHORT_VCC}


def test_read_after_close_is_a_bus_error() -> None:
    tc, _, _ = make_tc()
    tc.close()
    result = tc.read()
    assert isinstance(result, SensorFault) and result.kind is FaultKind.BUS_ERROR


def test_context_manager_closes() -> None:
    tc, _, _ = make_tc()
    with tc as entered:
        assert isinstance(entered.read(), TempReading)
    assert tc.closed


def test_close_leaves_chip_select_high() -> None:
    clock, bus = VirtualClock(), SimSPIBus()
    chip = SimMax31855(clock, lambda: 100.0, lambda: 25.0, random.Random(1))
    cs = bus.chip_select(chip)
    Thermocouple(bus, cs, clock, "top").close()
    assert cs.value is True
