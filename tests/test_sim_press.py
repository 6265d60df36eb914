"""The hardware layer on the bus-level simulated press: gpiozero pins drive the plant."""

import os
import signal

import pytest

from firmware.hal.outputs import OutputCommands
from firmware.hal.types import FaultKind, SensorFault, TempReading
from firmware.sim.faults import SimFault
from tests.helpers import sim_config, sim_daemon, sim_io

HEAT = OutputCommands(heater_duty={"top": 1.0, "bottom": 1.0})
PUMP = OutputCommands(pump_on=True, advance_open=True, release_open=False)


def run(clock, io, cmd, seconds, tick_s=0.1):
    sample = None
    for _ in range(round(seconds / tick_s)):
        sample = io.read()
        io.apply(cmd)
        clock.advance(tick_s)
    return sample


def test_ssr_pins_heat_the_platens_at_the_full_power_rate():
    clock, press, io = sim_io()
    run(clock, io, HEAT, 200)
    t200 = io.read().temps["top"].temp_c
    run(clock, io, HEAT, 100)
    rate_k_per_s = (io.read().temps["top"].temp_c - t200) / 100
    assert 0.33 <= rate_k_per_s <= 0.47


def test_heater_off_leaves_the_platen_at_ambient():
    clock, press, io = sim_io()
    sample = run(clock, io, OutputCommands(), 60)
    assert abs(sample.temps["top"].temp_c - 25.0) < 1.5


def test_pump_and_advance_valve_close_the_ram_then_build_pressure():
    clock, press, io = sim_io()
    sample = run(clock, io, PUMP, 2.0)
    assert sample.position.position_mm > 0.5
    run(clock, io, PUMP, 3.0)
    assert io.read().pressure.pressure_mpa > 5.0


def test_release_valve_safe_state_dumps_pressure():
    clock, press, io = sim_io()
    run(clock, io, PUMP, 4.0)
    run(clock, io, OutputCommands(), 40.0)  # the needle empties the relief-capped line in ~25 s
    assert io.read().pressure.pressure_mpa < 0.5


def test_estop_and_guard_reach_the_inputs():
    clock, press, io = sim_io()
    press.inject(SimFault.ESTOP_PRESSED)
    press.inject(SimFault.GUARD_OPEN)
    sample = io.read()
    assert sample.estop and sample.guard_open


def test_i2c_device_not_answering_is_a_bus_fault_value():
    clock, press, io = sim_io()
    press.inject(SimFault.I2C_NOT_ANSWERING)
    result = io.read().pressure
    assert isinstance(result, SensorFault) and result.kind is FaultKind.BUS_ERROR


@pytest.mark.parametrize("fault, kind", [
    (SimFault.TC_OPEN, FaultKind.TC_OPEN), (SimFault.TC_SHORT_GND, FaultKind.TC_SHORT_GND),
    (SimFault.TC_SHORT_VCC, FaultKind.TC_SHORT_VCC)])
def test_thermocouple_faults_arrive_as_values(fault, kind):
    clock, press, io = sim_io()
    press.inject(fault, "bottom")
    sample = run(clock, io, OutputCommands(), 1.0)
    assert sample.temps["bottom"].kind is kind and isinstance(sample.temps["top"], TempReading)


def test_transducer_wiring_fault_is_detected():
    clock, press, io = sim_io()
    press.inject(SimFault.TRANSDUCER_WIRING)
    assert io.read().pressure.kind is FaultKind.WIRING


def ssr_levels(press, cfg):
    return [press.pin_factory.level(z.ssr_pin) for z in cfg.zones]


def test_outputs_are_safe_after_an_exception_in_the_core(tmp_path):
    daemon, press, clock = sim_daemon(tmp_path)
    daemon.submit("set", {"setpoints_c": {"top": 150.0, "bottom": 150.0}})
    real_tick = daemon.core.tick

    def tick(sample, now_s, overruns=0):
        if now_s > 5.0:
            raise RuntimeError("controller bug")
        return real_tick(sample, now_s, overruns)
    daemon.core.tick = tick
    with pytest.raises(RuntimeError):
        daemon.run(60.0)
    assert ssr_levels(press, daemon.cfg) == [0.0, 0.0]


def test_sigterm_stops_the_daemon_with_outputs_safe(tmp_path):
    daemon, press, clock = sim_daemon(tmp_path)
    daemon.submit("set", {"setpoints_c": {"top": 150.0, "bottom": 150.0}})

    def until(d):
        if d.clock.now() > 2.0:
            os.kill(os.getpid(), signal.SIGTERM)
        return False
    daemon.run(60.0, until=until)
    assert clock.now() < 3.0 and ssr_levels(press, daemon.cfg) == [0.0, 0.0]


def test_release_valve_pin_is_de_energised_when_safe():
    cfg = sim_config()
    clock, press, io = sim_io(cfg)
    run(clock, io, PUMP, 1.0)
    io.close()
    assert press.pin_factory.level(cfg.hydraulics.release_valve.pin) == 0.0
