"""Densification: the simulated powder compacts as Heckel says, the empty die calibrates against
the plant's own physics, and a run's records carry the pellet's thickness and relative density
that the plant really has."""

import dataclasses
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from firmware.cli import main
from firmware.cli_calibrate import run_calibration
from firmware.config.bundle import load_bundle
from firmware.config.load import parse_config_text
from firmware.config.model import RamPositionConfig, SimSampleConfig
from firmware.errors import ConfigError
from firmware.presets import reference_sim_config, reference_sim_path
from firmware.run import journal as jr
from firmware.run.calibrate_die import (
    CalibrationError,
    DieCalibration,
    config_text_with,
    fit_calibration,
)
from firmware.run.density import densification, pellet_thickness_mm
from firmware.sim.compaction import Powder
from firmware.sim.hydraulics import (
    RAM_DRAG_N,
    STACK_HEATED_LENGTH_M,
    STEEL_EXPANSION_PER_K,
    HydraulicPlant,
)
from tests.helpers import run_recipe, sim_daemon

LGPS = Path(__file__).resolve().parent.parent / "recipes" / "lgps_hotpress_150c.toml"
LGPS_POWDER = "\n[backend.sim.sample]\npowder_mass_g = 0.15\ntheoretical_density_g_cm3 = 2.0\n"
EMPTY_DIE = "\n[backend.sim.sample]\npowder_mass_g = 0\n"


def _config_text(root: Path, extra: str) -> str:
    text = reference_sim_path().read_text()
    return text.replace('journal_dir = "var/journal"', f'journal_dir = "{root}"') + extra


# ---- the powder ---------------------------------------------------------------------------------
def test_heckel_powder_starts_at_fill_density_and_packs_monotonically():
    powder = Powder(0.15, 2.0, 10.0, fill_density_frac=0.5, heckel_k_per_mpa=0.003)
    assert powder.density_at(0.0) == pytest.approx(0.5)
    densities = [powder.density_at(p * 1e6) for p in (0, 50, 100, 375, 625, 2000)]
    assert densities == sorted(densities) and densities[-1] < 1.0
    # ln(1/(1-D)) is linear in P with slope K: the Heckel plot.
    k = (math.log(1 / (1 - powder.density_at(375e6))) - math.log(2.0)) / 375.0
    assert k == pytest.approx(0.003)
    # 0.15 g at 2 g/cm3 over 78.5 mm2 is 0.955 mm at full density.
    assert powder.full_density_thickness_m * 1e3 == pytest.approx(0.955, abs=1e-3)


def test_compliance_is_the_derivative_of_thickness():
    powder = Powder(0.15, 2.0, 10.0)
    for p_pa in (1e6, 50e6, 300e6):
        dp = 1e3
        numeric = -(powder.thickness_m(p_pa + dp) - powder.thickness_m(p_pa - dp)) / (2 * dp)
        assert powder.compliance_m_per_pa(p_pa) == pytest.approx(numeric, rel=1e-5)


def _press(plant: HydraulicPlant, t_s: float, until_mpa: float, slow: bool = False) -> float:
    """Pump to `until_mpa` and lock it in; returns the time it took from first contact."""
    plant.command(t_s, True, not slow, slow, True)
    contact_s = t_s if plant.in_contact else None
    while plant.line_pressure_mpa < until_mpa:
        t_s += 0.01
        plant.advance_to(t_s, 25.0)
        contact_s = t_s if contact_s is None and plant.in_contact else contact_s
    plant.command(t_s, False, False, False, True)
    plant.advance_to(t_s + 1.0, 25.0)
    return t_s - contact_s


def test_powder_takes_oil_to_compact_and_stays_compacted_after_release():
    cfg = reference_sim_config()
    stiff = HydraulicPlant(cfg.backend.sim, cfg.ram_area_m2)
    sim = dataclasses.replace(cfg.backend.sim, sample=SimSampleConfig())
    powder = HydraulicPlant(sim, cfg.ram_area_m2)
    stiff_s, powder_s = _press(stiff, 0.0, 9.3, slow=True), _press(powder, 0.0, 9.3, slow=True)
    assert powder_s > stiff_s + 2.0  # ~1 mm of compaction is ~3 cm3 of oil on the slow path
    packed = powder.true_state()
    assert packed["relative_density"] == pytest.approx(
        Powder(0.15, 2.0, 10.0).density_at(packed["force_kn"] * 1e3 / (math.pi * 25e-6)),
        abs=0.01)
    # Release to a light load and press again below the old maximum: elastic, no more packing.
    t_s = powder.time_s
    powder.command(t_s, False, False, False, False)
    while powder.line_pressure_mpa > 3.0:
        t_s += 0.01
        powder.advance_to(t_s, 25.0)
    powder.command(t_s, False, False, False, True)
    assert powder.true_state()["relative_density"] == pytest.approx(packed["relative_density"],
                                                                    abs=1e-4)  # cold creep only
    _press(powder, powder.time_s, 8.0, slow=True)
    assert powder.true_state()["relative_density"] == pytest.approx(packed["relative_density"],
                                                                    abs=1e-4)  # cold creep only


# ---- thickness from position ------------------------------------------------------------------
CAL = RamPositionConfig(empty_die_closed_mm=5.0, compliance_mm_per_kn=0.03,
                        growth_mm_per_c=0.001, calibrated_at_c=25.0)


def test_thickness_corrects_for_frame_stretch_and_thermal_growth():
    # Cold, 10 kN: the frame gave 0.3 mm, so a ram at 4.0 mm holds a 1.3 mm pellet.
    assert pellet_thickness_mm(CAL, 4.0, 10.0, 25.0) == pytest.approx(1.3)
    # At 125 C the stack grew 0.1 mm towards the ram: the same reading is a 1.2 mm pellet.
    assert pellet_thickness_mm(CAL, 4.0, 10.0, 125.0) == pytest.approx(1.2)
    assert pellet_thickness_mm(CAL, 4.0, 0.5, 25.0) is None  # the ram may not bear on it
    uncalibrated = RamPositionConfig()
    assert pellet_thickness_mm(uncalibrated, 4.0, 10.0, 25.0) is None
    assert pellet_thickness_mm(CAL, 6.0, 10.0, 25.0) is None  # past the empty die: nonsense


def test_density_needs_every_input_and_shows_an_impossible_value_as_computed():
    dens = densification(CAL, 4.0, 10.0, [25.0, 25.0], 1.1)
    assert dens is not None and dens.relative_density == pytest.approx(1.1 / 1.3)
    assert densification(CAL, 4.0, 10.0, [25.0], None).relative_density is None
    assert densification(None, 4.0, 10.0, [25.0], 1.0) is None
    assert densification(CAL, None, 10.0, [25.0], 1.0) is None
    assert densification(CAL, 4.0, 10.0, [], 1.0) is None
    # A wrong mass in the recipe gives a density above 1: shown, so someone looks.
    assert densification(CAL, 4.0, 10.0, [25.0], 1.5).relative_density > 1.0


def test_calibration_keys_are_checked():
    text = reference_sim_path().read_text().replace(
        "[inputs.ram_position]\n", "[inputs.ram_position]\nempty_die_closed_mm = 80\n"
        "growth_mm_per_c = 0.5\n")
    with pytest.raises(ConfigError) as err:
        parse_config_text(text, "press.toml")
    assert "inputs.ram_position.growth_mm_per_c" in str(err.value)
    text = text.replace("growth_mm_per_c = 0.5\n", "")
    with pytest.raises(ConfigError, match="empty_die_closed_mm: 80 mm is beyond"):
        parse_config_text(text, "press.toml")


# ---- calibration ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def calibration(tmp_path_factory) -> DieCalibration:
    root = tmp_path_factory.mktemp("cal")
    bundle = load_bundle_text(root, EMPTY_DIE)
    cal, _ = run_calibration(bundle, root / "journal")
    return cal


def load_bundle_text(root: Path, extra: str):  # type: ignore[no-untyped-def]
    path = root / "press.toml"
    path.write_text(_config_text(root, extra))
    return load_bundle(path)


def test_empty_die_calibration_measures_the_plant_physics(calibration):
    sim = reference_sim_config().backend.sim
    k_stack = 1 / (1 / sim.frame_stiffness_n_per_m + 1 / sim.sample_stiffness_n_per_m)
    compliance = 1e6 / k_stack  # mm per kN
    assert calibration.compliance_mm_per_kn == pytest.approx(compliance, rel=0.02)
    # The reading uses line force, which includes the ram drag the frame never feels.
    drag_kn = RAM_DRAG_N / 1e3
    assert calibration.empty_die_closed_mm == pytest.approx(
        sim.ram_gap_mm - drag_kn * compliance, abs=0.005)
    # Growth per C of the platen reading: the whole 80 mm steel stack.
    growth = STACK_HEATED_LENGTH_M * STEEL_EXPANSION_PER_K * 1e3
    assert calibration.growth_mm_per_c == pytest.approx(growth, rel=0.1)
    assert calibration.residual_mm < 0.002
    # The free ram's line pressure is its drag: 300 N in the plant, seen through 0.035 MPa noise.
    assert calibration.ram_drag_kn == pytest.approx(drag_kn, abs=0.03)


def test_calibration_refuses_a_die_with_powder_in_it(tmp_path):
    path = tmp_path / "press.toml"
    path.write_text(_config_text(tmp_path, LGPS_POWDER))
    result = CliRunner().invoke(main, ["--config", str(path), "calibrate-die"])
    assert result.exit_code == 2
    assert "load the simulated die empty" in result.output


def test_fit_needs_two_cold_holds_with_positions():
    with pytest.raises(CalibrationError, match="need at least 2"):
        fit_calibration([{"t_s": 0.0, "step_index": 1, "line_mpa": 1.5, "position_mm": None,
                          "temps_c": {"top": 25.0}}], {1: "calibrate 5 kN"}, 3.17e-3)


def test_the_drag_goes_next_to_the_bore_and_the_die_under_its_table():
    cal = DieCalibration(4.99, 0.03, 0.001, 25.0, 0.0, ram_drag_kn=0.3)
    text = config_text_with(reference_sim_path().read_text(), cal)
    cfg = parse_config_text(text, "press.toml")
    assert cfg.ram_drag_kn == 0.3 and cfg.inputs.ram_position.empty_die_closed_mm == 4.99
    # 29.45 kN on the sample needs the drag on top in the line; the reading gives it back.
    line = cfg.line_mpa_for_force(29.45)
    assert line * cfg.ram_area_m2 * 1e3 == pytest.approx(29.75)
    assert cfg.force_kn_at_line(line) == pytest.approx(29.45)
    assert cfg.force_kn_at_line(0.05) == 0.0  # a free ram presses nothing
    assert cfg.line_mpa_for_force(0.0) == 0.0  # released means released


def test_a_manual_press_refuses_a_drag_setting(tmp_path):
    retrofit = Path(__file__).resolve().parents[1] / "configs" / "example-retrofit.toml"
    path = tmp_path / "retrofit.toml"
    text = retrofit.read_text().replace("ram_bore_mm", "ram_drag_kn = 0.3\nram_bore_mm", 1)
    path.write_text(text)
    with pytest.raises(ConfigError, match="ram_drag_kn: not used on a manual press"):
        load_bundle(path)


# ---- end to end -------------------------------------------------------------------------------
def test_a_run_records_the_density_the_pellet_really_has(tmp_path, calibration):
    text = config_text_with(_config_text(tmp_path, LGPS_POWDER), calibration)
    path = tmp_path / "press.toml"
    path.write_text(text)
    bundle = load_bundle(path)
    daemon, press, clock = sim_daemon(tmp_path / "journal", bundle)
    assert bundle.press.ram_drag_kn == pytest.approx(calibration.ram_drag_kn, abs=1e-3)
    truth: dict[float, dict] = {}
    worst_force = [0.0]

    def watch(d):  # type: ignore[no-untyped-def]
        if d.scheduler.ticks % 20 == 0:
            truth[round(clock.now(), 1)] = state = press.hydraulics.true_state()
            targets = d.core._targets
            if d.core.pressure.phase.value == "hold" and targets.force_kn > 20.0:
                # With the drag calibrated, the force ON THE SAMPLE is what follows the target.
                worst_force[0] = max(worst_force[0],
                                     abs(state["force_kn"] / targets.force_kn - 1.0))

    replies = run_recipe(daemon, LGPS.read_text(), on_tick=watch)
    run_id = replies[0].data["run_id"]
    assert jr.summarize(tmp_path / "journal", run_id).outcome == "completed"
    errors, thickness_errors = [], []
    for rec in jr.iter_records(tmp_path / "journal", run_id):
        state = truth.get(round(rec.get("t_s", -1.0), 1))
        if rec.get("type") != "sample" or state is None or rec["relative_density"] is None:
            continue
        errors.append(rec["relative_density"] - state["relative_density"])
        thickness_errors.append(rec["thickness_mm"] - state["sample_thickness_mm"])
    assert len(errors) > 100
    # The transducer's noise (0.11 kN rms x 0.03 mm/kN of frame stretch) sets the scatter.
    assert max(map(abs, errors)) < 0.015
    assert abs(sum(errors) / len(errors)) < 0.003
    assert max(map(abs, thickness_errors)) < 0.02
    assert worst_force[0] < 0.01
    final = max(truth.items())[1]["relative_density"]
    assert 0.85 < final < 0.97  # hot pressed LGPS: denser than the ~0.84 of a cold press
    daemon.close()
