"""`hotpressd selftest` and `hotpressd safe` on the simulated press (virtual time), with wiring
faults injected, plus the advice text for absent hardware. Nothing here sleeps."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from firmware.cli import main
from firmware.clock import VirtualClock
from firmware.config.model import TransducerConfig
from firmware.errors import HardwareError
from firmware.hal import diagnose
from firmware.hal.ads1115 import ADS1115
from firmware.hal.press_io import PressIO
from firmware.hal.types import FaultKind, SensorFault
from firmware.presets import reference_sim_config
from firmware.selftest import Selftest, Status
from firmware.sim.press import SimPress

REPO = Path(__file__).resolve().parent.parent
REAL_CONFIG = REPO / "configs" / "example-real.toml"
off_pi = pytest.mark.skipif(diagnose.is_raspberry_pi(), reason="expects a machine without GPIO")


def run(args: Sequence[str], tmp_path: Path, input: str | None = None) -> Result:
    """`hotpressd ARGS`, results saved under tmp_path."""
    extra = ["--out", str(tmp_path)] if args and args[0] == "selftest" else []
    return CliRunner().invoke(main, [*args, *extra], input=input, catch_exceptions=False)


def line(result: Result, check: str) -> str:
    """The report line of `check`, with the advice line under it when there is one."""
    lines = result.output.splitlines()
    i = next(i for i, text in enumerate(lines) if text[8:].startswith(check + " "))
    advice = lines[i + 1] if i + 1 < len(lines) and "->" in lines[i + 1] else ""
    return lines[i] + "\n" + advice


def saved(tmp_path: Path) -> dict:
    (path,) = tmp_path.glob("selftest-*.json")
    return json.loads(path.read_text())


def test_healthy_simulated_press_passes_every_check(tmp_path: Path) -> None:
    result = run(["selftest", "--sim", "--yes"], tmp_path)
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output and "\nPASS: 14 PASS" in result.output


def test_every_output_is_exercised(tmp_path: Path) -> None:
    result = run(["selftest", "--sim", "--yes"], tmp_path)
    for check in ("heater top", "heater bottom", "pump + advance valve", "release valve"):
        assert line(result, check).startswith("PASS"), check


def test_zero_offset_line_is_printed_for_the_config(tmp_path: Path) -> None:
    result = run(["selftest", "--sim", "--yes"], tmp_path)
    assert "\n  zero_offset_mpa = " in result.output


def test_results_are_saved_as_json(tmp_path: Path) -> None:
    run(["selftest", "--sim", "--yes"], tmp_path)
    record = saved(tmp_path)
    assert record["passed"] and record["press_id"] == "reference-sim"
    assert {r["status"] for r in record["results"]} == {"PASS"}


@pytest.mark.parametrize(("fault", "check", "advice"), [
    ("tc_open:top", "thermocouple top", "T+/T- screw terminals"),
    ("transducer_wiring", "line pressure at rest", "check the signal wire to AIN0"),
    ("i2c_not_answering", "ADC", "no ADS1115 at 0x48 on I2C bus 1: check the wiring"),
    ("heater_open:bottom", "heater bottom", "no heat: check the SSR on GPIO27"),
    ("pump_failed", "pump + advance valve", "check the pump contactor on GPIO22"),
    ("valve_stuck_closed:release", "release valve", "release valve coil on GPIO25"),
    ("estop_pressed", "e-stop", "release the e-stop"),
])
def test_injected_fault_fails_its_check_with_advice(tmp_path: Path, fault: str, check: str,
                                                    advice: str) -> None:
    result = run(["selftest", "--sim", "--yes", "--inject", fault], tmp_path)
    assert result.exit_code == 1
    assert line(result, check).startswith("FAIL") and advice in line(result, check)


def test_a_fault_fails_only_its_own_part(tmp_path: Path) -> None:
    result = run(["selftest", "--sim", "--yes", "--inject", "heater_open:bottom"], tmp_path)
    assert line(result, "heater top").startswith("PASS")
    assert result.output.count("\nFAIL ") == 1


def test_checks_that_need_a_broken_sensor_are_skipped_not_failed(tmp_path: Path) -> None:
    result = run(["selftest", "--sim", "--yes", "--inject", "tc_open:top"], tmp_path)
    assert line(result, "heater top").startswith("SKIP")


def test_without_confirmation_no_output_moves(tmp_path: Path) -> None:
    result = run(["selftest", "--sim"], tmp_path, input="n\n")
    assert result.exit_code == 0 and "Continue?" in result.output
    assert line(result, "pump + advance valve").startswith("SKIP")


def test_the_question_names_every_output_it_will_switch(tmp_path: Path) -> None:
    result = run(["selftest", "--sim"], tmp_path, input="n\n")
    assert ("The next checks switch outputs: each heater (top, bottom) at full power until it "
            "warms 3 C (at most 120 s), then the pump closes the platens to 2 MPa line pressure "
            "and the release valve drops it. Keep hands clear of the platens. Continue?"
            ) in result.output


class CrossedThermocouples:
    """The simulated press with the two thermocouple chip-select wires swapped at the Pi."""

    def __init__(self, press: SimPress) -> None:
        self.press = press

    def chip_select(self, pin: int) -> object:
        return self.press.chip_select({5: 6, 6: 5}.get(pin, pin))

    def __getattr__(self, name: str) -> object:
        return getattr(self.press, name)


def test_crossed_thermocouples_are_called_crossed_wiring() -> None:
    cfg, clock = reference_sim_config(), VirtualClock()
    io = PressIO(cfg, CrossedThermocouples(SimPress(cfg, clock)), clock)  # type: ignore[arg-type]
    outcome = Selftest(cfg, io, clock, confirm=lambda _q: True, progress=lambda _s: None).run()
    io.close()
    heater_top = next(r for r in outcome.results if r.name == "heater top")
    assert heater_top.status is Status.FAIL and "crossed wiring" in heater_top.advice


def test_unknown_fault_is_a_usage_error(tmp_path: Path) -> None:
    result = run(["selftest", "--sim", "--inject", "gremlins"], tmp_path)
    assert result.exit_code == 2 and "known: tc_open" in result.output


def test_zone_fault_needs_a_target(tmp_path: Path) -> None:
    result = run(["selftest", "--sim", "--inject", "tc_open"], tmp_path)
    assert result.exit_code == 2 and "tc_open:top" in result.output


def test_inject_is_refused_on_a_real_press(tmp_path: Path) -> None:
    result = run(["selftest", "--config", str(REAL_CONFIG), "--inject", "pump_failed"], tmp_path)
    assert result.exit_code == 2 and "simulated presses only" in result.output


@off_pi
def test_real_press_off_a_pi_says_so_in_one_line(tmp_path: Path) -> None:
    result = run(["selftest", "--config", str(REAL_CONFIG), "--yes"], tmp_path)
    assert result.exit_code == 2 and "this machine is not a Raspberry Pi" in result.output


def test_safe_drives_every_simulated_output_safe(tmp_path: Path) -> None:
    result = run(["safe", "--sim"], tmp_path)
    assert result.exit_code == 0 and "every output safe" in result.output


def test_safe_takes_the_press_from_the_group_options(tmp_path: Path) -> None:
    assert run(["--sim", "safe"], tmp_path).exit_code == 0


@off_pi
def test_safe_without_gpio_fails_with_a_reason(tmp_path: Path) -> None:
    result = run(["safe", "--config", str(REAL_CONFIG)], tmp_path)
    assert result.exit_code == 2 and "not a Raspberry Pi" in result.output


class AbsentBus:
    """An I2C bus with nothing on it: every transfer is not acknowledged (errno 121)."""

    def write_i2c_block_data(self, addr: int, reg: int, data: Sequence[int]) -> None:
        raise OSError(121, "Remote I/O error")

    def read_i2c_block_data(self, addr: int, reg: int, n: int) -> list[int]:
        raise OSError(121, "Remote I/O error")


def test_absent_ads1115_is_named_with_bus_and_address() -> None:
    with pytest.raises(HardwareError) as caught:
        ADS1115(AbsentBus(), 0x48, VirtualClock()).read_voltage(1, 6.144, 860)
    text = diagnose.explain_adc_error(caught.value, TransducerConfig(i2c_bus=1, address=0x48))
    assert text.startswith("no ADS1115 at 0x48 on I2C bus 1: check the wiring")
    assert "that I2C is enabled" in text


def test_missing_i2c_bus_says_enable_i2c() -> None:
    text = diagnose.explain_adc_error(FileNotFoundError(2, "No such file"), TransducerConfig())
    assert "enable I2C (raspi-config nonint do_i2c 0)" in text


def test_thermocouple_bus_error_names_the_chip_select() -> None:
    fault = SensorFault(0.0, FaultKind.BUS_ERROR, "all-zero frame")
    assert "CS wire to GPIO5" in diagnose.explain_tc_fault(fault, "top", 5)


def test_pi_detection_reads_the_device_tree(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.write_text("Raspberry Pi 5 Model B Rev 1.0\0")
    assert diagnose.is_raspberry_pi(model) and not diagnose.is_raspberry_pi(tmp_path / "none")
