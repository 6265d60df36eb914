"""Press config loading: the shipped configs load, and every kind of mistake gets one clear line.

Each error case edits one key of the reference preset and checks the whole message, so a change in
wording is a deliberate change to what operators read.
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.config.load import config_hash, load_config, parse_config, parse_config_text
from firmware.config.model import PressConfig, SimConfig
from firmware.errors import ConfigError
from firmware.presets import reference_sim_config, reference_sim_path

EXAMPLE_REAL = Path(__file__).resolve().parents[1] / "configs" / "example-real.toml"
DELETE = object()  # marks a key to remove
PRESET: dict[str, Any] = tomllib.loads(reference_sim_path().read_text(encoding="utf-8"))


def edited(*edits: tuple[str, object]) -> dict[str, Any]:
    """The preset document with `("zones[1].max_temp_c", 900)`-style edits applied."""
    doc = copy.deepcopy(PRESET)
    for path, value in edits:
        *parents, last = re.findall(r"[^.\[\]]+", path)
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        key: Any = int(last) if last.isdigit() else last
        if value is DELETE:
            node.pop(key)
        elif isinstance(node, list) and key == len(node):
            node.append(value)
        else:
            node[key] = value
    return doc


def error_of(*edits: tuple[str, object]) -> str:
    """The ConfigError message the edited preset gives (as if read from press.toml)."""
    with pytest.raises(ConfigError) as info:
        parse_config(edited(*edits), "press.toml")
    return str(info.value)


def test_reference_preset_loads_with_plant_defaults() -> None:
    cfg = reference_sim_config()
    assert [z.name for z in cfg.zones] == ["top", "bottom"]
    assert cfg.backend.kind == "sim" and cfg.backend.sim == SimConfig()
    assert cfg.ram_area_m2 == pytest.approx(31.67e-4, rel=1e-3)


def test_example_real_is_the_preset_wired_to_a_pi() -> None:
    real, sim = load_config(EXAMPLE_REAL), reference_sim_config()
    assert real.backend.kind == "real"
    same = ("zones", "transducer", "hydraulics", "inputs", "limits", "loop", "ram_bore_mm")
    assert all(getattr(real, k) == getattr(sim, k) for k in same)


def test_leaving_out_ssr_pin_makes_a_monitor_only_zone() -> None:
    monitor = {"name": "sample", "tc_cs_pin": 13, "heater_w": 0, "max_temp_c": 300}
    doc = edited(("zones[2]", monitor))
    cfg = parse_config(doc, "press.toml")
    assert cfg.zone("sample").ssr_pin is None


@pytest.mark.parametrize(("path", "value", "message"), [
    ("zones[0].heter_w", 2000, "unknown key (did you mean heater_w?)"),
    ("tick_hz", 20, "unknown key here; it belongs in the [loop] table"),
    ("zones[1].max_temp_f", 572,
     "unknown key: hotpress uses SI units, write max_temp_c in C (572 F = 300 C)"),
    ("bore_in", 2.5,
     "unknown key: hotpress uses SI units, write ram_bore_mm in mm (2.5 in = 63.5 mm)"),
    ("transducer.range_bar", 700,
     "unknown key: hotpress uses SI units, write range_mpa in MPa (700 bar = 70 MPa)"),
    ("transducer.range_psi", 10000,
     "unknown key: hotpress uses SI units, write range_mpa in MPa (10000 psi = 68.95 MPa)"),
], ids=["typo", "wrong-table", "fahrenheit", "inches", "bar", "psi"])
def test_unknown_key_names_the_key_to_use(path: str, value: object, message: str) -> None:
    assert error_of((path, value)) == f"press.toml: {path}: {message}"


@pytest.mark.parametrize(("path", "message"), [
    ("id", "missing required key"),
    ("zones", "missing; add at least one [[zones]] table"),
    ("ram_bore_mm", "missing required key"),
    ("transducer", "missing required table [transducer]"),
    ("zones[0].max_temp_c", "missing required key"),
    ("hydraulics.pump", "missing required table [hydraulics.pump]"),
    ("hydraulics.release_valve", "missing required table [hydraulics.release_valve]"),
    ("inputs.estop", "missing required table [inputs.estop]"),
])
def test_missing_required_key(path: str, message: str) -> None:
    assert error_of((path, DELETE)) == f"press.toml: {path}: {message}"


@pytest.mark.parametrize(("path", "value", "message"), [
    ("zones[0].tc_cs_pin", "5", 'expected an integer, got string "5"'),
    ("zones[0].ssr_pin", True, "expected an integer, got boolean true"),
    ("zones[0].heater_w", "2000", 'expected a number, got string "2000"'),
    ("zones[0].ssr_active_high", 1, "expected true or false, got integer 1"),
    ("zones[0].max_temp_c", float("nan"), "expected a finite number, got float nan"),
    ("zones", {"name": "top"},
     "expected an array of tables (write each as [[zones]]), got a table"),
    ("hydraulics.pump", 22, "expected a table such as { pin = 22 }, got integer 22"),
    ("backend.kind", "simulated",
     'string "simulated" is not one of "real", "sim" (did you mean "sim"?)'),
])
def test_wrong_type(path: str, value: object, message: str) -> None:
    assert error_of((path, value)) == f"press.toml: {path}: {message}"


@pytest.mark.parametrize(("path", "value", "message"), [
    ("zones[1].max_temp_c", 900, "900 is out of range 20..400 C"),
    ("zones[0].heater_w", 20000, "20000 is out of range 0..10000 W"),
    ("zones[0].heater_w", 10, "10 W is below 50 W for a zone with an ssr_pin "
     "(omit ssr_pin for a monitor-only thermocouple)"),
    ("zones[0].ssr_window_s", 0.05, "0.05 is out of range 0.1..10 s"),
    ("ram_bore_mm", 2.5, "2.5 is out of range 10..300 mm"),
    ("transducer.fsr_v", 5.0, "5 is not one of 6.144, 4.096, 2.048, 1.024, 0.512, 0.256 V"),
    ("transducer.data_rate_sps", 900, "900 is not one of 8, 16, 32, 64, 128, 250, 475, 860 SPS"),
    ("transducer.address", 0x50,
     "0x50 is out of range 0x48..0x4B (ADS1115 ADDR to GND, VDD, SDA or SCL)"),
    ("transducer.channel", 4, "4 is out of range 0..3"),
    ("loop.tick_hz", 500, "500 is out of range 1..200 Hz"),
    ("loop.tc_period_s", 0.05, "0.05 is out of range 0.1..10 s"),
    ("hydraulics.pump.pin", 28, "GPIO 28 is out of range 0..27 (BCM numbering)"),
    ("backend.sim.ua_w_per_k", 0, "0 must be > 0 W/K"),
    ("id", "press/1",
     '"press/1" may use only letters, digits, "_" and "-" (it is an MQTT topic segment)'),
])
def test_value_out_of_range(path: str, value: object, message: str) -> None:
    assert error_of((path, value)) == f"press.toml: {path}: {message}"


@pytest.mark.parametrize(("path", "value", "message"), [
    ("hydraulics.pump.pin", 17, "GPIO 17 is also used by zones[0].ssr_pin"),
    ("inputs.guard.pin", 5, "GPIO 5 is also used by zones[0].tc_cs_pin"),
    ("zones[1].tc_cs_pin", 9, "GPIO 9 is SPI0 MISO, owned by the bus; pick a free GPIO"),
    ("inputs.estop.pin", 3, "GPIO 3 is I2C1 SCL, owned by the bus; pick a free GPIO"),
], ids=["ssr-and-pump", "cs-and-guard", "spi-pin", "i2c-pin"])
def test_pin_conflict_names_both_uses(path: str, value: int, message: str) -> None:
    assert error_of((path, value)) == f"press.toml: {path}: {message}"


@pytest.mark.parametrize(("edits", "path", "message"), [
    ((("transducer.supply_channel", 0),), "transducer.supply_channel",
     "channel 0 is also transducer.channel; the supply needs its own ADC input"),
    ((("inputs.ram_position.channel", 1),), "inputs.ram_position.channel",
     "channel 1 is also transducer.supply_channel"),
    ((("transducer.fsr_v", 4.096),), "transducer.fsr_v",
     "4.096 V cannot read the 5 V supply on supply_channel 1; use 6.144"),
    ((("transducer.kind", "current"), ("transducer.fsr_v", 2.048)), "transducer.fsr_v",
     "2.048 V cannot read 21 mA through shunt_ohm 150 (3.15 V); use 4.096"),
    ((("zones[1].name", "top"),), "zones[1].name", '"top" is also zones[0].name'),
    ((("limits.max_temp_c", 250),), "zones[0].max_temp_c",
     "300 C is above limits.max_temp_c 250 C"),
    ((("limits.max_line_pressure_mpa", 100),), "limits.max_line_pressure_mpa",
     "100 MPa is above transducer.range_mpa 70 MPa, so the over-pressure trip could never see it"),
    ((("limits.max_force_kn", 300),), "limits.max_force_kn",
     "300 kN is more than the ram can make: 70 MPa on a 63.5 mm bore is 221.7 kN; "
     "check ram_bore_mm and limits.max_line_pressure_mpa"),
    ((("zones", []),), "zones", "no zones; add at least one [[zones]] table with an ssr_pin"),
    ((("zones[0].ssr_pin", DELETE), ("zones[1].ssr_pin", DELETE)), "zones",
     "no zone has an ssr_pin; at least one heated zone is needed"),
])
def test_inconsistent_config(edits: tuple, path: str, message: str) -> None:
    assert f"press.toml: {path}: {message}" in error_of(*edits).splitlines()


@pytest.mark.parametrize(("path", "value", "message"), [
    ("hydraulics.release_valve.normally_open", False,
     "its safe state is closed, so a trip would lock pressure in; "
     "set normally_open = true (or safe_energised = true)"),
    ("hydraulics.advance_valve.normally_open", True,
     "its safe state is open; a feed valve must close on a trip"),
    ("hydraulics.pump.safe_energised", True, "true would run the pump on every trip"),
])
def test_outputs_must_be_safe_on_a_trip(path: str, value: bool, message: str) -> None:
    where = path if path.endswith("safe_energised") else path.rsplit(".", 1)[0]
    assert error_of((path, value)) == f"press.toml: {where}: {message}"


def test_all_problems_are_reported_at_once() -> None:
    edits = (("id", DELETE), ("zones[0].heater_w", "2kW"), ("loop.tick_hz", 0))
    lines = error_of(*edits).splitlines()
    assert lines[0] == "press.toml: 3 problems"
    assert [line.split(": ")[1] for line in lines[1:]] == [path for path, _ in edits]


def test_error_from_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "press.toml"
    text = reference_sim_path().read_text(encoding="utf-8")
    path.write_text(text.replace("ram_bore_mm = 63.5", "ram_bore_mm = 0"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^\S+press\.toml: ram_bore_mm: 0 is out of range"):
        load_config(path)


@pytest.mark.parametrize(("text", "where"), [
    ("id = \n", "line 1, column 6"),
    ('id = "a"\nid = "b"\n', "line 2, column 9"),
    ("[[zones]\n", "line 1, column 8"),
], ids=["no-value", "duplicate-key", "unclosed-table"])
def test_broken_toml_gives_line_and_column(text: str, where: str) -> None:
    with pytest.raises(ConfigError, match=rf"^press\.toml: invalid TOML: .*\(at {where}\)$"):
        parse_config_text(text, "press.toml")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read config: No such file"):
        load_config(path)


def test_config_hash_is_sha256_of_the_file_text() -> None:
    text = reference_sim_path().read_bytes().decode("utf-8")
    assert config_hash(reference_sim_path()) == config_hash(text)
    assert config_hash(text + "\n") != config_hash(text) and len(config_hash(text)) == 64
    with pytest.raises(TypeError, match="Path"):
        config_hash("press.toml")


_toml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3),
    max_leaves=6,
)


def _leaf_paths(node: Any, prefix: str = "") -> list[str]:
    """Every key path in a document, tables and leaves alike."""
    items = enumerate(node) if isinstance(node, list) else node.items() if isinstance(
        node, dict) else []
    paths = []
    for key, child in items:
        path = f"{prefix}[{key}]" if isinstance(key, int) else f"{prefix}.{key}".lstrip(".")
        paths += [path, *_leaf_paths(child, path)]
    return paths


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(_leaf_paths(PRESET)), value=_toml_values | st.just(DELETE))
def test_any_single_edit_loads_or_raises_config_error(path: str, value: object) -> None:
    try:
        assert isinstance(parse_config(edited((path, value)), "press.toml"), PressConfig)
    except ConfigError as e:
        assert all(line.startswith("press.toml: ") for line in str(e).splitlines())
