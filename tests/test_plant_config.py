"""A press's physical figures (`[plant]`): what the zone model, the recipe checks and the derived
safety windows assume, for a real press (which has no simulator to borrow them from) and for a
simulated one whose software should believe something other than the truth."""

from pathlib import Path

import pytest

from firmware.config.load import parse_config_text
from firmware.config.model import PlantConfig
from firmware.errors import ConfigError
from firmware.presets import reference_sim_path
from firmware.recipe import check_recipe, parse_recipe
from firmware.recipe.thermal import zone_thermals
from firmware.run.core_support import zone_model
from firmware.safety.thresholds import derive_safety_config

REAL = Path(__file__).resolve().parents[1] / "configs" / "example-real.toml"
HEAVY = "\n[plant]\nplaten_heat_capacity_j_per_k = 9200.0\nconduction_lag_s = 20.0\n"
RAMP_RECIPE = """
name = "fast ramp"
die_diameter_mm = 10.0
materials = ["LGPS"]
[[steps]]
kind = "heat"
temp_c = 150
ramp_c_per_min = 15
until = "target"
"""


def test_a_real_press_without_plant_figures_assumes_the_reference_press():
    cfg = parse_config_text(REAL.read_text(), "real.toml")
    assert cfg.backend.kind == "real" and cfg.plant is None
    assert cfg.physics == PlantConfig()


def test_plant_figures_drive_the_model_the_recipe_check_and_the_safety_windows():
    light = parse_config_text(REAL.read_text(), "real.toml")
    heavy = parse_config_text(REAL.read_text() + HEAVY, "real.toml")
    assert heavy.physics.platen_heat_capacity_j_per_k == 9200.0
    zone = heavy.zones[0]
    # A platen twice as heavy heats about half as fast, on every path that predicts it.
    light_rate = zone_thermals(light)[zone.name].max_heating_rate_c_per_min(25.0)
    heavy_rate = zone_thermals(heavy)[zone.name].max_heating_rate_c_per_min(25.0)
    assert heavy_rate == pytest.approx(light_rate * 4900 / 9500, rel=1e-3)
    assert zone_model(heavy, zone).heat_capacity_j_per_k == pytest.approx(9500.0)
    light_zone = derive_safety_config(light).zones[0]
    heavy_zone = derive_safety_config(heavy).zones[0]
    assert heavy_zone.full_power_rate_c_per_s < light_zone.full_power_rate_c_per_s
    assert heavy_zone.stall_window_s > light_zone.stall_window_s  # slower, laggier: waits longer
    # 15 C/min near 150 C: the reference platen can (about 19), the heavy one cannot (about 10).
    assert check_recipe(parse_recipe(RAMP_RECIPE), light).ok
    errors = check_recipe(parse_recipe(RAMP_RECIPE), heavy).errors
    assert any("ramp_c_per_min" in e and "9.5 kJ/K" in e for e in errors)


def test_a_simulated_press_may_believe_other_figures_than_its_plant():
    cfg = parse_config_text(reference_sim_path().read_text() + HEAVY, "sim.toml")
    assert cfg.physics.platen_heat_capacity_j_per_k == 9200.0  # what the software assumes
    assert cfg.backend.sim.platen_heat_capacity_j_per_k == 4600.0  # what the simulator does


def test_plant_figures_are_checked_like_the_simulators():
    with pytest.raises(ConfigError) as err:
        parse_config_text(REAL.read_text() + "\n[plant]\nua_w_per_k = -1\ntc_noise_c_rms = 0\n",
                          "real.toml")
    assert "plant.ua_w_per_k: -1 must be > 0 W/K" in str(err.value)
    assert "plant.tc_noise_c_rms: unknown key" in str(err.value)
