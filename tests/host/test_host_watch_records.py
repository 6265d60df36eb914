"""The live view's rendering, and how messages and journal records become rows."""

from __future__ import annotations

import time

from rich.console import Console

from host.fleet import PressView
from host.records import from_event, from_journal, from_telemetry
from host.watch import hms, render_line, render_panel, run_outcome, step_fraction

STATE = {"mode": "running", "run_id": "r1", "recipe": "LPSCl", "step_index": 1,
         "step_count": 6, "step_kind": "heat", "step_label": "to 150", "step_elapsed_s": 300,
         "step_eta_s": 600, "run_eta_s": 3600, "interlocks": {"estop": False, "guard_open": True},
         "faults": [{"code": "TC_OPEN", "message": "top thermocouple open"}]}
TELE = {"temps_c": {"top": 0.0, "bottom": None}, "temp_faults": {"bottom": "OPEN"},
        "setpoints_c": {"top": 150.0, "bottom": 150.0}, "sample_mpa": 0.0, "force_kn": 0.0,
        "target_sample_mpa": 375.0, "duty": {"top": 0.5}, "outputs": {"pump": True}}


def view() -> PressView:
    return PressView("press-a", online=True, state=dict(STATE), telemetry=dict(TELE),
                     telemetry_at_s=time.monotonic())


def test_line_shows_zero_readings_as_zero_and_faults_by_name() -> None:
    line = render_line(view())
    assert "top 0.0/150.0C" in line and "bottom OPEN/150.0C" in line
    assert "0.0/375.0 MPa 0.00 kN" in line and "step 2 of 6: heat (to 150) 33%" in line
    assert "TC_OPEN: top thermocouple open; interlock guard_open" in line


def test_line_and_panel_show_the_pellet_when_the_press_measures_it() -> None:
    assert "pellet" not in render_line(view())
    v = view()
    assert v.telemetry is not None
    v.telemetry.update(thickness_mm=1.0412, relative_density=0.9172)
    assert "pellet 1.041 mm (91.7 % dense)" in render_line(v)
    console = Console(width=140, record=True, force_terminal=True, color_system=None)
    console.print(render_panel(v))
    assert "pellet 1.041 mm (91.7 % dense)" in console.export_text()
    v.telemetry.update(relative_density="junk")  # no powder data: thickness only, no crash
    assert render_line(v).count("pellet 1.041 mm |") == 1


def test_a_manual_press_shows_its_band_on_the_gauge_and_the_hint() -> None:
    v = view()
    assert v.state is not None
    v.state.update(operator_hint="pump slower", hold_band_mpa=[371.25, 378.75],
                   hold_band_kn=[29.16, 29.74], hold_band_line_mpa=[9.2, 9.39],
                   pressure_in_band=False, step_timer_running=False)
    line = render_line(v)
    assert ("band 371-379 MPa sample, 29.2-29.7 kN, 9.20-9.39 MPa on the gauge: PUMP SLOWER "
            "(step timer waits)") in line
    console = Console(width=160, record=True, force_terminal=True, color_system=None)
    console.print(render_panel(v))
    assert "PUMP SLOWER" in console.export_text()
    v.state.update(hold_band_mpa=None, step_timer_running=True)  # no die area in the recipe
    assert "band 29.2-29.7 kN, 9.20-9.39 MPa on the gauge: PUMP SLOWER (step timer running)" \
        in render_line(v)


def test_panel_renders_on_a_terminal() -> None:
    console = Console(width=100, record=True, force_terminal=True, color_system=None)
    console.print(render_panel(view()))
    text = console.export_text()
    assert "RUNNING" in text and "step left 0:10:00" in text and "run left 1:00:00" in text
    assert "outputs: pump" in text and "TC_OPEN" in text


def test_helpers() -> None:
    assert hms(3723) == "1:02:03" and hms(None) == "-"
    assert step_fraction({"step_elapsed_s": 1, "step_eta_s": 3}) == 0.25


def test_run_outcome_from_end_event_or_state() -> None:
    v = view()
    assert run_outcome(v, "r1", seen_running=True) is None
    v.events.append({"run_id": "r1", "kind": "run_end", "data": {"outcome": "aborted"}})
    assert run_outcome(v, "r1", True) == "aborted"
    moved_on = PressView("press-a", state={"mode": "idle", "run_id": None,
                                           "last_outcome": "completed"})
    assert run_outcome(moved_on, "r1", seen_running=True) == "completed"
    assert run_outcome(moved_on, "r1", seen_running=False) is None


def test_telemetry_outside_a_run_is_not_a_sample() -> None:
    assert from_telemetry("p", {"seq": 5, "run_id": None}) is None
    assert from_telemetry("p", {"seq": 5, "run_id": "r", "t_s": 1.0}).seq == 5


def test_journal_records_of_any_type_keep_their_seq() -> None:
    sample = from_journal("p", "r", {"seq": 1, "type": "sample", "t": 0.1, "wall": 9.0})
    assert sample.samples[0].t_s == 0.1 and sample.samples[0].wall_s == 9.0
    other = from_journal("p", "r", {"seq": 2, "type": "setpoint_change", "zone": "top"})
    assert other.events[0].kind == "setpoint_change" and other.events[0].seq == 2
    end = from_journal("p", "r", {"seq": 3, "type": "end", "outcome": "interrupted"})
    assert end.runs[0].end_seq == 3 and end.runs[0].outcome == "interrupted"


def test_idle_event_has_no_seq() -> None:
    rows = from_event("p", {"run_id": None, "seq": 7, "kind": "fault", "message": "e-stop"})
    assert rows.events[0].run_id == "" and rows.events[0].seq is None and rows.runs == ()
