"""A run the daemon died in: marked interrupted, never resumed by itself, resumable by an
operator only soon enough and with the platens still in band."""

import dataclasses
import os

from firmware.daemon import Daemon
from firmware.run import journal as jr
from firmware.run.engine import RunState
from tests.helpers import sim_bundle, sim_daemon

RECIPE = """name = "t"
die_diameter_mm = 10.0
materials = ["LGPS"]
[[steps]]
kind = "heat"
temp_c = 120
until = "target"
[[steps]]
kind = "hold"
duration_min = 30
"""


def crashed_mid_hold(tmp_path):
    """A daemon that dies (no clean close) 5 minutes into the hold; returns what survives."""
    daemon, press, clock = sim_daemon(tmp_path)
    daemon.submit("start", {"recipe_toml": RECIPE, "sample_id": "s1", "operator": "ana"})
    while daemon.core.engine.step_index != 1 or daemon.core.engine.step_elapsed_s < 300:
        daemon.scheduler.run_once(daemon.tick)
    os.close(daemon.journal._fd)  # the process is gone: no end record, pins released
    daemon.journal = None
    daemon.io.outputs.close()
    return press, clock


def restart(tmp_path, press, clock):
    """A new daemon on the same (still warm) press and journal, as systemd would start it."""
    daemon = Daemon(sim_bundle(), clock, backend=press, log=lambda s: None,
                    journal_root=tmp_path)
    for _ in range(5):
        daemon.scheduler.run_once(daemon.tick)
    return daemon


def resume(daemon):
    replies = []
    daemon.submit("resume", {}, replies.append)
    daemon.scheduler.run_once(daemon.tick)
    return replies[0]


def test_restart_marks_the_run_interrupted_and_does_not_resume_it(tmp_path):
    press, clock = crashed_mid_hold(tmp_path)
    daemon = restart(tmp_path, press, clock)
    [run_id] = jr.list_runs(tmp_path)
    assert jr.summarize(tmp_path, run_id).outcome == "interrupted"
    assert daemon.core.engine.state is RunState.IDLE
    assert daemon.last_result.commands.pump_on is False
    daemon.close()


def test_operator_resumes_in_band_at_the_step_it_stopped_in(tmp_path):
    press, clock = crashed_mid_hold(tmp_path)
    daemon = restart(tmp_path, press, clock)
    reply = resume(daemon)
    assert reply.status == "accepted", reply.reason
    assert daemon.core.engine.step_index == 1 and reply.header["resumed_from"]
    daemon.close()


def test_too_long_an_interruption_is_not_resumed(tmp_path):
    press, clock = crashed_mid_hold(tmp_path)
    daemon = restart(tmp_path, press, clock)
    lost = daemon.core.interrupted
    daemon.core.interrupted = dataclasses.replace(lost, stopped_wall_s=lost.stopped_wall_s - 3600)
    reply = resume(daemon)
    assert reply.status == "rejected" and "cannot be resumed" in reply.reason
    daemon.close()


def test_platens_out_of_band_are_not_resumed(tmp_path):
    press, clock = crashed_mid_hold(tmp_path)
    clock.advance(1800.0)  # half an hour with the heaters off: the platens have cooled
    daemon = restart(tmp_path, press, clock)
    reply = resume(daemon)
    assert reply.status == "rejected" and "not within" in reply.reason
    daemon.close()
