"""The dashboard's pure parts: the live chart's data, what a page shows of a press, form checks."""

from __future__ import annotations

from typing import Any

from host.fleet import PressView
from host.web import present
from host.web.series import LiveSeries, plan_steps
from host.web.server import is_loopback
from host.web.views_start import form_problem


def tele(t_s: float, run_id: str | None = "r1", top: float | None = 100.0) -> dict[str, Any]:
    return {"t_s": t_s, "run_id": run_id, "temps_c": {"top": top}, "setpoints_c": {"top": 150},
            "sample_mpa": 10.0, "target_sample_mpa": 50.0, "relative_density": None}


def test_points_are_kept_half_a_second_apart() -> None:
    s = LiveSeries()
    for i in range(20):
        s.add(tele(i * 0.1))
    assert [p[0] for p in s.since(None, 0)["points"]] == [0.0, 0.5, 1.0, 1.5]


def test_a_long_run_is_decimated_to_a_bounded_series() -> None:
    s = LiveSeries(max_points=100)
    for i in range(10_000):
        s.add(tele(float(i)))
    data = s.since(None, 0)
    assert 50 <= data["count"] < 100
    assert data["points"][0][0] == 0.0 and data["points"][-1][0] > 9000


def test_a_browser_gets_only_new_points_until_the_generation_changes() -> None:
    s = LiveSeries()
    s.add(tele(0.0))
    first = s.since(None, 0)
    s.add(tele(1.0))
    more = s.since(first["gen"], first["count"])
    assert not more["full"] and [p[0] for p in more["points"]] == [1.0]
    s.add(tele(0.0, run_id="r2"))  # a new run starts a new series
    assert s.since(first["gen"], 2)["full"]


def test_a_missing_reading_is_a_gap_not_zero() -> None:
    s = LiveSeries()
    s.add(tele(0.0, top=None))
    assert s.since(None, 0)["points"][0][1] == {"top": None}


def test_the_finished_runs_curve_stays_until_the_next_run() -> None:
    s = LiveSeries()
    s.add(tele(0.0))
    s.add(tele(1.0, run_id=None))
    s.add(tele(2.0, run_id=None))
    data = s.since(None, 0)
    assert data["frozen"] and data["run_id"] == "r1" and data["count"] == 1


def test_the_run_header_gives_the_start_time_and_the_plan() -> None:
    header = {"started_t_s": 40.0, "plan": {"steps": [
        {"start_s": 0, "end_s": 60, "temps_c": {"top": 150}, "pressure_mpa": 0, "kind": "heat"},
        {"start_s": 60, "end_s": 70, "temps_c": {"top": 150}, "pressure_mpa": 375,
         "kind": "press"}]}}
    s = LiveSeries()
    s.add(tele(41.0))
    s.run_started("r1", header)
    data = s.since(None, 0)
    assert data["t0_s"] == 40.0 and data["count"] == 1
    assert [step["pressure_mpa"] for step in data["plan"]] == [0.0, 375.0]
    assert plan_steps({"plan": "nonsense"}) is None


def test_backfill_puts_the_stored_start_of_the_run_first() -> None:
    s = LiveSeries()
    s.add(tele(100.0))
    assert s.needs_backfill("r1")
    s.backfill("r1", [(float(t), tele(float(t))) for t in range(0, 100, 10)], None)
    assert not s.needs_backfill("r1")
    assert [p[0] for p in s.since(None, 0)["points"]][:2] == [0.0, 10.0]


def test_summary_keeps_a_faulted_zone_and_a_missing_pressure_as_none() -> None:
    view = PressView("press-a", online=True,
                     state={"mode": "running", "run_id": "r1", "step_index": 1, "step_count": 4,
                            "step_kind": "heat", "faults": [{"code": "tc_open",
                                                             "message": "top: open circuit"}]},
                     telemetry={"temps_c": {"top": None, "bottom": 0.0},
                                "temp_faults": {"top": "open"}, "sample_mpa": None,
                                "outputs": {"pump": True, "release_open": False}},
                     telemetry_at_s=100.0)
    info = present.summary(view, now=101.0)
    assert info["zones"][0] == {"zone": "top", "temp_c": None, "setpoint_c": None,
                                "fault": "open", "duty": None}
    assert info["zones"][1]["temp_c"] == 0.0
    assert info["sample_mpa"] is None and not info["stale"]
    assert info["step"]["number"] == 2 and info["step"]["count"] == 4
    assert info["faults"] == [{"code": "tc_open", "message": "top: open circuit", "values": {}}]
    assert info["outputs"] == [{"name": "pump", "on": True},
                               {"name": "release valve", "on": False}]


def test_summary_carries_the_pellet_and_a_manual_press_guide() -> None:
    plain = present.summary(PressView("press-a", telemetry={"thickness_mm": 1.04,
                                                           "relative_density": 0.917}))
    assert plain["thickness_mm"] == 1.04 and plain["relative_density"] == 0.917
    assert plain["guide"] is None and not plain["in_band"]
    manual = present.summary(PressView("press-m", state={
        "operator_hint": "hold", "hold_band_kn": [29.2, 29.7], "pressure_in_band": True,
        "step_timer_running": True}))
    assert manual["guide"] == "band 29.2-29.7 kN: HOLD (step timer running)"
    assert manual["in_band"]


def test_an_unseen_press_is_unknown_and_stale() -> None:
    info = present.summary(PressView("press-b"))
    assert info["mode"] == "unknown" and info["stale"] and info["step"] is None


def test_the_start_form_checks_sample_id_and_operator() -> None:
    assert form_problem("LPS-001_b.2", "ana") == ""
    assert "Sample id 'a b' refused" in form_problem("a b", "ana")
    assert "Enter a sample id" in form_problem("", "ana")
    assert "refused" in form_problem("x" * 65, "ana")
    assert "Enter who runs it" in form_problem("S1", "")
    assert "Enter who runs it" in form_problem("S1", "ana\x07")


def test_press_and_run_ids_are_topic_and_file_safe() -> None:
    assert present.PRESS_ID.fullmatch("press-01")
    assert not present.PRESS_ID.fullmatch("press/+")
    assert present.RUN_ID.fullmatch("20250101-120000-S1.b")
    assert not present.RUN_ID.fullmatch("../etc")


def test_loopback_addresses_are_told_apart() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("lab-pi.local")
