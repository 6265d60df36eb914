"""`hotpressd autotune` on the simulated press: the relay test identifies the platen, the result
is stored, and the next daemon start uses it."""

import json

from click.testing import CliRunner

from firmware.cli import main
from tests.helpers import sim_daemon


def test_autotune_identifies_the_platen_and_stores_it(tmp_path):
    result = CliRunner().invoke(main, ["--sim", "autotune", "--zone", "top", "--at", "150",
                                       "--journal", str(tmp_path)])
    assert result.exit_code == 0, result.output
    stored = json.loads((tmp_path / "tuning" / "top.json").read_text())
    assert abs(stored["slope_c_per_s_per_duty"] - 0.408) < 0.05  # heater_w / heat capacity
    assert abs(stored["dead_time_s"] - 22.5) < 4.0  # conduction + probe + heater-core lags


def test_autotune_refuses_a_zone_that_does_not_exist(tmp_path):
    result = CliRunner().invoke(main, ["--sim", "autotune", "--zone", "middle", "--at", "150",
                                       "--journal", str(tmp_path)])
    assert result.exit_code == 1 and "no heated zone 'middle'" in result.output


def test_the_daemon_starts_with_the_stored_model(tmp_path):
    CliRunner().invoke(main, ["--sim", "autotune", "--zone", "top", "--at", "150",
                              "--journal", str(tmp_path)])
    daemon, _, _ = sim_daemon(tmp_path)
    model = daemon.core.zones["top"].model
    assert abs(model.dead_time_s - 22.5) < 4.0 and model is not daemon.core.zones["bottom"].model
    daemon.close()
