"""CSV/JSON export content and the run plot."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from host.export import csv_text, flatten, write_json
from host.plots import build_figure, plot_run
from host.store import EventRow, RunInfo, SampleRow

RUN = RunInfo("press-a", "r1", header={"recipe_hash": "ab12"}, recipe="LPSCl", sample_id="S-1",
              operator="ana", started=1000.0, ended=1010.0, outcome="completed", end_seq=12)


def sample(seq: int, step: int = 0, top: float | None = 100.0) -> SampleRow:
    payload = {"schema": 1, "press_id": "press-a", "run_id": "r1", "seq": seq,
               "t_s": seq * 0.5, "wall_s": 1000.0 + seq * 0.5, "mode": "running",
               "step_index": step, "temps_c": {"top": top, "bottom": 99.5},
               "setpoints_c": {"top": 150.0, "bottom": 150.0}, "sample_mpa": 10.0 * seq,
               "target_sample_mpa": 375.0, "force_kn": 0.785 * seq, "relative_density": 0.8,
               "duty": {"top": 0.5}, "outputs": {"pump": True}}
    return SampleRow("press-a", "r1", seq, seq * 0.5, 1000.0 + seq * 0.5, payload)


SAMPLES = [sample(i, step=0 if i < 6 else 1) for i in range(1, 12)]
EVENTS = [EventRow("press-a", "r1", 12, 6.0, 1006.0, "fault", "over-temperature", {"c": 1})]


def test_flatten_keeps_units_last() -> None:
    flat = flatten(sample(1).payload)
    assert flat["temps_top_c"] == 100.0 and flat["setpoints_bottom_c"] == 150.0
    assert flat["duty_top"] == 0.5 and flat["outputs_pump"] is True
    assert "schema" not in flat and "seq" not in flat


def test_csv_has_one_row_per_sample_with_unit_headers() -> None:
    rows = list(csv.DictReader(io.StringIO(csv_text(SAMPLES))))
    assert len(rows) == 11
    assert list(rows[0])[:6] == ["seq", "t_s", "wall_s", "time_iso", "mode", "step_index"]
    assert rows[2]["seq"] == "3" and rows[2]["sample_mpa"] == "30.0"
    assert rows[0]["time_iso"] == "1970-01-01T00:16:40.500+00:00"
    assert rows[0]["outputs_pump"] == "true"


def test_csv_leaves_a_missing_reading_empty() -> None:
    rows = list(csv.DictReader(io.StringIO(csv_text([sample(1, top=None)]))))
    assert rows[0]["temps_top_c"] == ""


def test_json_holds_header_samples_and_events() -> None:
    buf = io.StringIO()
    write_json(RUN, SAMPLES, EVENTS, buf)
    doc = json.loads(buf.getvalue())
    assert doc["header"] == {"recipe_hash": "ab12"}
    assert doc["run"]["outcome"] == "completed" and doc["run"]["sample_id"] == "S-1"
    assert [s["seq"] for s in doc["samples"]] == list(range(1, 12))
    assert doc["samples"][0]["temps_c"] == {"top": 100.0, "bottom": 99.5}
    assert doc["events"][0]["kind"] == "fault"


def test_plot_has_temperature_pressure_and_density_panels() -> None:
    fig = build_figure(RUN, SAMPLES, EVENTS)
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels[:3] == ["temperature (°C)", "sample pressure (MPa)", "relative density"]
    assert "force (kN)" in labels
    steps = [t.get_text() for t in fig.axes[0].texts]
    assert steps == ["step 1", "step 2"]


def test_plot_without_density_has_two_panels() -> None:
    plain = [SampleRow(s.press_id, s.run_id, s.seq, s.t_s, s.wall_s,
                       {k: v for k, v in s.payload.items() if k != "relative_density"})
             for s in SAMPLES]
    labels = [ax.get_ylabel() for ax in build_figure(RUN, plain).axes]
    assert "relative density" not in labels


def test_plot_writes_a_png(tmp_path: Path) -> None:
    path = plot_run(RUN, SAMPLES, EVENTS, tmp_path / "run.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
