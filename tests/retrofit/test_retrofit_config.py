"""The retrofit parts of the press config: the example loads, and each wrong combination is
refused at load with the key and the fix."""

from __future__ import annotations

import pytest

from firmware.config.bundle import parse_bundle
from firmware.errors import ConfigError
from tests.retrofit.support import EXAMPLE, MANUAL_SSR, example_sim_text, sim_bundle


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        parse_bundle(text, "press.toml")
    return str(err.value)


def test_the_example_is_a_manual_press_on_serial_instruments() -> None:
    bundle = sim_bundle(EXAMPLE.read_text())
    cfg = bundle.press
    assert cfg.is_manual and cfg.hydraulics is None and cfg.transducer is None
    assert [z.controller for z in cfg.zones] == ["top_pid", "bottom_pid"]
    assert cfg.pressure_instrument.name == "line_gauge"
    assert cfg.pressure_range_mpa == pytest.approx(70.0)
    assert bundle.safety.pressure_stale_s == 0.5


def test_the_example_runs_on_the_simulator_unchanged_but_for_the_backend() -> None:
    assert sim_bundle(example_sim_text()).press.backend.kind == "sim"


def test_a_force_indicator_sets_the_pressure_range_through_the_ram() -> None:
    cfg = sim_bundle(MANUAL_SSR).press
    assert cfg.pressure_range_mpa == pytest.approx(222.0 / (cfg.ram_area_m2 * 1e3))


@pytest.mark.parametrize(("old", "new", "message"), [
    ('pressure_mode = "manual"', 'pressure_mode = "automatic"',
     "hydraulics: missing required table [hydraulics]"),
    ('pressure_mode = "manual"', 'pressure_mode = "automatic"',
     "a serial pressure reading is too slow for the pump and valve loop"),
    ('controller = "top_pid"', 'controller = "top_pdi"', 'no [[instruments]] named "top_pdi"'),
    ('controller = "top_pid"', "tc_cs_pin = 5\nssr_pin = 17\ncontroller = \"top_pid\"",
     "heated by our SSR or by a controller, not both"),
    ('example = "01A+00012.345"', 'example = "01B+00012.345"',
     "instruments[3].example: the pattern does not match this line"),
    ('unit = "bar"', 'unit = "lbf"', '"lbf" is not a unit of line_pressure'),
    ('full_scale = 700.0', 'full_scale = 300.0', "over-pressure trip could never see it"),
    ('port = "dial"', 'port = "dail"', 'no [[serial_ports]] named "dail"'),
    ("band_fraction = 0.02", "band_fraction = 0.1", "0.1 is out of range 0.002..0.05"),
    ("pv = { address = 1, kind = \"int16\" }", "", "pv: missing"),
    ("period_s = 0.5", "period_s = 2.0", "the zone would read stale between polls"),
], ids=["no-hydraulics", "serial-too-slow", "typo", "ssr-and-controller", "example",
        "unit", "range", "port", "band", "pv", "slow-poll"])
def test_a_wrong_retrofit_config_names_the_key(old: str, new: str, message: str) -> None:
    text = EXAMPLE.read_text()
    assert old in text
    assert message in problems(text.replace(old, new, 1))


def test_a_manual_press_refuses_pump_and_valves() -> None:
    text = MANUAL_SSR + "\n[hydraulics.pump]\npin = 22\n[hydraulics.advance_valve]\npin = 23\n" \
                        "[hydraulics.release_valve]\npin = 25\nnormally_open = true\n"
    assert "a manual press has no pump or valves to drive" in problems(text)


def test_a_manual_press_needs_some_pressure_source() -> None:
    start = MANUAL_SSR.index("[[serial_ports]]")
    end = MANUAL_SSR.index("[inputs.estop]")
    text = MANUAL_SSR[:start] + MANUAL_SSR[end:]
    assert "missing required table [transducer] (or a serial instrument" in problems(text)


def test_a_heater_permit_must_open_on_a_trip() -> None:
    text = EXAMPLE.read_text().replace("pin = 17\nactive_high = true",
                                       "pin = 17\nsafe_energised = true")
    assert "heater_permit.safe_energised: true would permit heating on every trip" in problems(text)


def test_the_heater_permit_pin_is_checked_like_any_other() -> None:
    text = EXAMPLE.read_text().replace("pin = 17\nactive_high = true", "pin = 26")
    assert "heater_permit.pin: GPIO 26 is also used by" in problems(text) or \
        "inputs.estop.pin: GPIO 26 is also used by heater_permit.pin" in problems(text)
