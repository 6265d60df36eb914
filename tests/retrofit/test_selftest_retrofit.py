"""`hotpressd selftest` and `hotpressd safe` on simulated RETROFIT presses (virtual time): old PID
boxes on RS-485, a Modbus line gauge, a dial indicator, the heater permit relay, no hydraulics;
and a manual press that kept SSR heating with a load-cell indicator. Faults are wired into the
emulated serial devices (silent, corrupt, garbage, unplugged) or into the config the hardware
layer reads while the simulator keeps the true one (wrong decimals, a gauge offset)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from firmware.cli import main
from firmware.clock import VirtualClock
from firmware.hal.press_io import PressIO
from firmware.selftest import CheckResult, Outcome, Selftest, Status
from firmware.sim.faults import SimFault
from firmware.sim.press import SimPress
from firmware.sim.serial_devices import SimModbusDevice
from tests.retrofit.support import MANUAL_SSR, example_sim_text, sim_bundle

PERMIT_PIN = 17  # configs/example-retrofit.toml [heater_permit]
OMRON_STOP = 0x0101  # the E5CC's operation command for STOP, at address 0x0000
GAUGE_OFFSET_BAR = "full_scale = 700.0\noffset = 50.0"  # the config says +5 MPa the gauge lacks


def cli(tmp_path: Path, text: str, *args: str, input: str | None = None) -> Result:
    """`hotpressd --config FILE selftest ARGS` (or `safe`) on the press `text` describes."""
    config = tmp_path / "press.toml"
    config.write_text(text)
    command = args[0] if args else "selftest"
    extra = ["--out", str(tmp_path / "out")] if command == "selftest" else []
    return CliRunner().invoke(main, ["--config", str(config), command, *args[1:], *extra],
                              input=input, catch_exceptions=False)


def line(result: Result, check: str) -> str:
    """The report line of `check`, with the advice line under it when there is one."""
    lines = result.output.splitlines()
    i = next(i for i, text in enumerate(lines) if text[8:].startswith(check + " "))
    advice = lines[i + 1] if i + 1 < len(lines) and "->" in lines[i + 1] else ""
    return lines[i] + "\n" + advice


def check(outcome: Outcome, name: str) -> CheckResult:
    """The result called `name`."""
    return next(r for r in outcome.results if r.name == name)


def selftest(io_text: str, sim_text: str | None = None, confirm: bool = True,
             tweak: Callable[[SimPress], None] | None = None) -> tuple[Outcome, SimPress]:
    """Run the self-test on the press `io_text` describes; the simulator follows `sim_text`
    (default: the same), so a config mistake is the difference between the two."""
    clock = VirtualClock()
    press = SimPress(sim_bundle(sim_text or io_text).press, clock)
    if tweak is not None:
        tweak(press)
    cfg = sim_bundle(io_text).press
    io = PressIO(cfg, press, clock)
    try:
        outcome = Selftest(cfg, io, clock, confirm=lambda _q: confirm,
                           progress=lambda _s: None).run()
    finally:
        io.close()
    return outcome, press


@pytest.fixture(scope="module")
def healthy() -> tuple[Outcome, SimPress]:
    """configs/example-retrofit.toml, simulated, every output switched."""
    return selftest(example_sim_text())


def test_a_healthy_retrofit_press_passes(healthy) -> None:  # type: ignore[no-untyped-def]
    outcome, press = healthy
    assert outcome.passed, [r for r in outcome.results if r.status is Status.FAIL]
    assert outcome.zero_offset_mpa is None  # no ADS1115 transducer: no zero line to print


@pytest.mark.parametrize("name", ["top_pid on rs485", "bottom_pid on rs485",
                                  "line_gauge on rs485", "ram_dial on dial"])
def test_every_instrument_is_judged_by_name_and_port(healthy, name: str) -> None:  # type: ignore[no-untyped-def]
    assert check(healthy[0], name).status is Status.PASS


def test_the_controllers_take_a_setpoint_and_give_it_back(healthy) -> None:  # type: ignore[no-untyped-def]
    result = check(healthy[0], "setpoint top_pid")
    assert result.status is Status.PASS
    assert result.measured == "wrote 5 C, read 5 C; safe 0 C restored, read 0 C"


@pytest.mark.parametrize("name", ["heater top", "heater bottom", "heater permit"])
def test_the_boxes_heat_through_the_permit_and_the_permit_cuts(healthy, name: str) -> None:  # type: ignore[no-untyped-def]
    assert check(healthy[0], name).status is Status.PASS


def test_checks_that_do_not_apply_are_skipped_saying_why(healthy) -> None:  # type: ignore[no-untyped-def]
    outcome, _ = healthy
    assert check(outcome, "ADC").status is Status.SKIP
    assert "line_gauge" in check(outcome, "ADC").advice
    pumps = check(outcome, "pump and valves")
    assert pumps.status is Status.SKIP and "manual" in pumps.advice
    names = {r.name for r in outcome.results}
    assert not names & {"line pressure at rest", "pump + advance valve", "release valve"}


def test_afterwards_the_boxes_are_safe_and_the_permit_open(healthy) -> None:  # type: ignore[no-untyped-def]
    _, press = healthy
    assert {z: b.setpoint_c for z, b in press.serial.boxes.items()} == {"top": 0.0, "bottom": 0.0}
    assert press.serial.devices["top_pid"].stored[0x0000] == OMRON_STOP
    assert press.pin_factory.level(PERMIT_PIN) == 0.0


@pytest.fixture(scope="module")
def broken() -> Outcome:
    """The example press with the top box's heater open, and a permit relay whose contact is
    bypassed (the simulator's press has no permit, so the boxes heat whatever pin 17 does)."""
    text = example_sim_text()
    no_permit = text.replace("[heater_permit]\npin = 17\nactive_high = true\n", "")
    assert no_permit != text
    outcome, _ = selftest(text, no_permit,
                          tweak=lambda press: press.inject(SimFault.HEATER_OPEN, "top"))
    return outcome


def test_a_box_that_does_not_heat_fails_naming_it_and_the_relay(broken: Outcome) -> None:
    result = check(broken, "heater top")
    assert result.status is Status.FAIL
    assert "no heat from top_pid" in result.advice and "GPIO17" in result.advice
    assert check(broken, "heater bottom").status is Status.PASS


def test_a_permit_relay_that_does_not_cut_fails(broken: Outcome) -> None:
    result = check(broken, "heater permit")
    assert result.status is Status.FAIL
    assert "does not cut bottom_pid" in result.advice and "in series" in result.advice


def test_a_box_that_clamps_the_setpoint_fails_its_read_back() -> None:
    def clamp_top_at_20_c(press: SimPress) -> None:
        device = press.serial.devices["top_pid"]
        assert isinstance(device, SimModbusDevice) and device.box is not None
        box, write = device.box, device.write

        def clamped(address: int, words: list[int]) -> None:
            write(address, words)
            box.setpoint_c = max(20.0, box.setpoint_c or 0.0)
        device.write = clamped  # type: ignore[method-assign]

    outcome, _ = selftest(example_sim_text(), confirm=False, tweak=clamp_top_at_20_c)
    result = check(outcome, "setpoint top_pid")
    assert result.status is Status.FAIL and result.measured.startswith("wrote 5 C, read 20 C")
    assert "setpoint limits" in result.advice
    assert check(outcome, "setpoint bottom_pid").status is Status.PASS


def test_wrong_decimals_make_a_cold_platen_implausible() -> None:
    text = example_sim_text()
    wrong = text.replace("device_id = 1\nunit = \"C\"\nscale = 0.1", "device_id = 1\nunit = "
                         "\"C\"\nscale = 0.01")
    assert wrong != text
    outcome, _ = selftest(wrong, text, confirm=False)
    result = check(outcome, "top_pid on rs485")
    assert result.status is Status.FAIL and result.measured == "2.5 C"
    assert "scale (0.01: 0.1 for a display with one decimal)" in result.advice


def test_a_gauge_reading_a_load_at_rest_fails() -> None:
    text = example_sim_text()
    outcome, _ = selftest(text.replace("full_scale = 700.0", GAUGE_OFFSET_BAR), text,
                          confirm=False)
    result = check(outcome, "line_gauge on rs485")
    assert result.status is Status.FAIL
    assert float(result.measured.split()[0]) == pytest.approx(5.0, abs=0.1)  # 50 bar
    assert "open the release valve" in result.advice


def test_a_press_without_a_heater_permit_is_warned_at_rest() -> None:
    text = example_sim_text().replace("[heater_permit]\npin = 17\nactive_high = true\n", "")
    outcome, _ = selftest(text, confirm=False)
    permit = [r for r in outcome.results if r.name == "heater permit"]
    assert [r.status for r in permit] == [Status.WARN] and "serial line" in permit[0].advice
    assert outcome.passed


# ---- the command line ----------------------------------------------------------------------
def test_the_command_runs_on_the_example_retrofit_config(tmp_path: Path) -> None:
    result = cli(tmp_path, example_sim_text(), input="n\n")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "FAIL" not in result.output
    assert "top_pid, bottom_pid" in result.output  # the question names the boxes it will drive
    assert line(result, "heater permit").startswith("SKIP")


@pytest.mark.parametrize(("fault", "check_name", "advice"), [
    ("silent:top_pid", "top_pid on rs485", "(Modbus id 1) on port rs485"),
    ("corrupt:line_gauge", "line_gauge on rs485", "two devices at address 3"),
    ("garbage:ram_dial", "ram_dial on dial", "paste one of its real lines into `example`"),
    ("unplugged:dial", "ram_dial on dial", "port dial (sim-unused, 9600 8N1) cannot be opened"),
])
def test_a_broken_instrument_fails_naming_it_and_its_port(tmp_path: Path, fault: str,
                                                          check_name: str, advice: str) -> None:
    text = example_sim_text().replace(
        "/dev/serial/by-id/usb-Prolific_USB-Serial_Controller-if00-port0", "sim-unused")
    result = cli(tmp_path, text, "selftest", "--inject", fault, input="n\n")
    assert result.exit_code == 1
    assert line(result, check_name).startswith("FAIL") and advice in line(result, check_name)
    assert result.output.count("\nFAIL ") == 1  # the rest of the press still passes


def test_a_silent_box_skips_its_setpoint_and_heater(tmp_path: Path) -> None:
    result = cli(tmp_path, example_sim_text(), "selftest", "--inject", "silent:top_pid",
                 "--yes")
    assert "swap A and B" in line(result, "top_pid on rs485")
    assert line(result, "setpoint top_pid").startswith("SKIP")
    assert line(result, "heater top").startswith("SKIP")


def test_a_zone_fault_needs_a_target_this_press_has(tmp_path: Path) -> None:
    result = cli(tmp_path, example_sim_text(), "selftest", "--inject", "tc_open:top")
    assert result.exit_code == 2 and "nothing it applies to" in result.output


def test_an_unexpected_error_is_one_line_not_a_traceback(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("firmware.selftest_serial.SerialChecks.judge_rest", boom)
    result = cli(tmp_path, example_sim_text(), "selftest", "--yes")
    assert result.exit_code == 2
    assert line(result, "self-test stopped").startswith("FAIL    self-test stopped  RuntimeError")


def test_a_manual_press_with_ssr_heating_and_a_load_cell_passes(tmp_path: Path) -> None:
    result = cli(tmp_path, MANUAL_SSR, "selftest", "--yes")
    assert result.exit_code == 0, result.output
    assert "kN" in line(result, "load_cell on indicator")
    for name in ("heater top", "heater bottom"):
        assert line(result, name).startswith("PASS"), name
    assert line(result, "pump and valves").startswith("SKIP")


@pytest.mark.parametrize(("text", "names"), [
    (example_sim_text(), "(heater_permit)"),
    (MANUAL_SSR, "(duty_bottom, duty_top, ssr_bottom, ssr_top)"),
])
def test_safe_drives_a_retrofit_press_safe(tmp_path: Path, text: str, names: str) -> None:
    result = cli(tmp_path, text, "safe")
    assert result.exit_code == 0, result.output
    assert f"every output safe {names}; pins released" in result.output
