"""The `hotpress` CLI through click's CliRunner, against a real broker and the fake press."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from host_fake_press import FakePress
from host_support import free_port, operator_env

from host.cli import cli
from host.store import Batch, EventRow, RunInfo, SampleRow, open_store

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
GOOD_RECIPE = RECIPES / "lgps_hotpress_150c.toml"
Broker = Any  # the suite's broker fixture (tests/conftest.py): shipped config, ACL, accounts


def invoke(args: list[str], home: Path, broker: Broker | None = None, input: str | None = None,
           **env: str) -> Result:
    """Run `hotpress ARGS` as the operator account (HOME isolated from the real one)."""
    environ = {"HOME": str(home), **(operator_env(broker) if broker else {}), **env}
    return CliRunner().invoke(cli, args, env=environ, input=input)


def one_line_error(result: Result) -> str:
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hotpress: ")
    return lines[0]


@pytest.fixture
def press(broker: Broker) -> Iterator[FakePress]:
    p = FakePress(broker).start()
    yield p
    p.stop()


def test_broker_unreachable(tmp_path: Path) -> None:
    result = invoke(["status"], tmp_path, HOTPRESS_MQTT_PORT=str(free_port()))
    assert result.exit_code == 3
    assert "cannot reach the MQTT broker" in one_line_error(result)


def test_wrong_credentials_say_so_without_the_password(tmp_path: Path, broker: Broker) -> None:
    result = invoke(["pause"], tmp_path, broker, HOTPRESS_MQTT_PASSWORD="wrong-horse-battery")
    assert result.exit_code == 3
    line = one_line_error(result)
    assert f"refused user '{broker.operator}'" in line and "password" in line
    assert "wrong-horse-battery" not in result.output


def test_password_from_a_config_file_is_never_printed(tmp_path: Path, broker: Broker) -> None:
    password = broker.passwords[broker.operator]
    conf = tmp_path / "host.toml"
    conf.write_text(f'[broker]\nhost = "127.0.0.1"\nport = {broker.port}\n'
                    f'username = "{broker.operator}"\npassword = "{password}"\n')
    result = invoke(["--broker-config", str(conf), "status", "--wait", "0"], tmp_path)
    assert result.exit_code == 0, result.output
    assert password not in result.output
    refused = invoke(["--broker-config", str(conf), "status", "--wait", "0"], tmp_path,
                     HOTPRESS_MQTT_PORT=str(free_port()))  # the file wins over the environment
    assert refused.exit_code == 0


def test_status_lists_the_press(tmp_path: Path, broker: Broker, press: FakePress) -> None:
    press.sample()
    result = invoke(["status", "--wait", "0.2"], tmp_path, broker)
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert line.startswith("press=press-t1  status=online  mode=running  run=20250101T120000-a")
    assert "temps_c=top:" in line


def test_command_prints_the_reply(tmp_path: Path, broker: Broker, press: FakePress) -> None:
    result = invoke(["pause"], tmp_path, broker)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "press-t1: pause accepted"
    assert press.commands[0][0] == "pause"


def test_rejected_command_exits_5_with_the_reason(tmp_path: Path, broker: Broker) -> None:
    p = FakePress(broker, reject={"reset": "fault still present"}).start()
    result = invoke(["reset", "--press", broker.press_id], tmp_path, broker)
    p.stop()
    assert result.exit_code == 5
    assert "fault still present" in one_line_error(result)


def test_offline_press(tmp_path: Path, broker: Broker) -> None:
    result = invoke(["resume", "--press", "press-z"], tmp_path, broker)
    assert result.exit_code == 4
    assert "press press-z is offline" in one_line_error(result)


def test_abort_asks_first(tmp_path: Path, broker: Broker, press: FakePress) -> None:
    declined = invoke(["abort"], tmp_path, broker, input="n\n")
    assert declined.exit_code == 1 and press.commands == []
    result = invoke(["abort", "--yes"], tmp_path, broker)
    assert result.exit_code == 0 and press.commands[0][0] == "abort"


def test_autotune_sends_zone_and_temperature(tmp_path: Path, broker: Broker,
                                             press: FakePress) -> None:
    result = invoke(["autotune", "--zone", "top", "--at", "150"], tmp_path, broker)
    assert result.exit_code == 0, result.output
    verb, args = press.commands[0]
    assert (verb, args["zone"], args["at_c"]) == ("autotune", "top", 150.0)


def test_run_starts_and_watches_to_the_end(tmp_path: Path, broker: Broker,
                                           press: FakePress) -> None:
    press.finish_after_s = 0.5
    result = invoke(["run", str(GOOD_RECIPE), "--sample", "S-9", "--operator", "ana"],
                    tmp_path, broker)
    assert result.exit_code == 0, result.output
    verb, args = press.commands[0]
    assert verb == "start" and args["sample_id"] == "S-9" and args["operator"] == "ana"
    assert args["recipe_toml"] == GOOD_RECIPE.read_text()
    assert "run run-1 started" in result.stdout and "ended: completed" in result.stdout


def test_run_that_faults_exits_1(tmp_path: Path, broker: Broker, press: FakePress) -> None:
    press.finish_after_s, press.outcome = 0.3, "faulted"
    result = invoke(["run", str(GOOD_RECIPE), "--sample", "S-9", "--operator", "ana"],
                    tmp_path, broker)
    assert result.exit_code == 1 and "ended: faulted" in result.stdout


def test_invalid_recipe_is_refused_before_anything_is_sent(tmp_path: Path, broker: Broker,
                                                            press: FakePress) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[steps]]\nkind = "heat"\n')
    result = invoke(["run", str(bad), "--sample", "S", "--operator", "o"], tmp_path, broker)
    assert result.exit_code == 1 and "problems" in result.stderr
    assert press.commands == []


def test_watch_without_a_tty_prints_lines(tmp_path: Path, broker: Broker,
                                          press: FakePress) -> None:
    press.sample()
    result = invoke(["watch", broker.press_id, "--seconds", "1.5"], tmp_path, broker)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert 1 <= len(lines) <= 3
    assert "press-t1 | running" in lines[0] and "top" in lines[0] and "MPa" in lines[0]


def test_recipe_check(tmp_path: Path) -> None:
    ok = invoke(["recipe", "check", str(GOOD_RECIPE)], tmp_path)
    assert ok.exit_code == 0 and "Plan:" in ok.stdout and "Total" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n')
    failed = invoke(["recipe", "check", str(bad)], tmp_path)
    assert failed.exit_code == 1 and "Traceback" not in failed.output


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "runs.sqlite"
    samples = [SampleRow("press-a", "r1", i, i * 1.0, 1000.0 + i, {
        "temps_c": {"top": 20.0 + i}, "sample_mpa": 10.0 * i, "step_index": 0})
        for i in range(1, 6)]
    end = EventRow("press-a", "r1", 6, 6.0, 1006.0, "run_ended", "run completed",
                   {"outcome": "completed"})
    with open_store(db=path) as store:
        store.write(Batch(runs=[RunInfo("press-a", "r1", recipe="LPSCl", sample_id="S-1",
                                        operator="ana", started=1000.0, ended=1006.0,
                                        outcome="completed", end_seq=6)],
                          samples=samples, events=[end]))
    return path


def test_runs_list_and_show(tmp_path: Path, db: Path) -> None:
    listed = invoke(["runs", "--db", str(db), "list"], tmp_path)
    assert listed.exit_code == 0 and "r1" in listed.stdout and "completed" in listed.stdout
    shown = invoke(["runs", "--db", str(db), "show", "r1"], tmp_path)
    assert shown.exit_code == 0 and "complete" in shown.stdout and "run_ended" in shown.stdout


def test_runs_export_csv_and_json(tmp_path: Path, db: Path) -> None:
    as_csv = invoke(["runs", "--db", str(db), "export", "r1"], tmp_path)
    assert as_csv.stdout.splitlines()[0].startswith("seq,t_s,wall_s,time_iso")
    assert len(as_csv.stdout.splitlines()) == 6
    out = tmp_path / "r1.json"
    as_json = invoke(["runs", "--db", str(db), "export", "r1", "--format", "json", "-o",
                      str(out)], tmp_path)
    assert as_json.exit_code == 0
    assert len(json.loads(out.read_text())["samples"]) == 5


def test_runs_plot_and_unknown_run(tmp_path: Path, db: Path) -> None:
    png = tmp_path / "r1.png"
    result = invoke(["runs", "--db", str(db), "plot", "r1", "-o", str(png)], tmp_path)
    assert result.exit_code == 0 and png.stat().st_size > 5000
    missing = invoke(["runs", "--db", str(db), "show", "nope"], tmp_path)
    assert missing.exit_code == 1 and "runs list" in one_line_error(missing)


def test_malformed_command_is_refused_before_sending(tmp_path: Path, broker: Broker,
                                                     press: FakePress) -> None:
    result = invoke(["run", str(GOOD_RECIPE), "--sample", "S 9/x", "--operator", "ana"],
                    tmp_path, broker)
    assert result.exit_code == 1
    assert "start not sent: sample_id" in one_line_error(result)
    assert press.commands == []
