"""Export a stored run: CSV (one row per sample) for spreadsheets, JSON (everything) for programs.

CSV columns are the sample's readings flattened, each name ending in its unit as everywhere in
hotpress: `temps_c.top` becomes `temps_top_c`, `duty.top` becomes `duty_top` (0..1),
`outputs.pump` becomes `outputs_pump` (true/false). The first columns are always `seq`, `t_s`
(press monotonic time), `wall_s` (epoch seconds) and `time_iso` (UTC), so a run can be lined up
with anything else logged in the lab. A missing reading (a faulted thermocouple) is an empty cell,
never 0.

JSON: `{"run": {...}, "header": {...}, "samples": [...], "events": [...]}` with every record as
stored, so nothing is lost on the way to an analysis script.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable
from typing import Any, TextIO

from host.store import EventRow, RunInfo, SampleRow

UNIT_SUFFIXES = ("_c", "_mpa", "_kn", "_s", "_mm", "_pct", "_tf", "_bar")
ENVELOPE_KEYS = frozenset({"schema", "press_id", "run_id", "seq", "type", "t", "t_s", "wall",
                           "wall_s"})
LEAD_COLUMNS = ("seq", "t_s", "wall_s", "time_iso")
# Where the usual readings go, so every export of every run has the same column order.
PREFERRED_ORDER = ("mode", "step_index", "temps_c", "setpoints_c", "temp_faults", "sample_mpa",
                   "target_sample_mpa", "force_kn", "line_mpa", "position_mm",
                   "thickness_mm", "relative_density", "duty", "outputs")


def _split_unit(key: str) -> tuple[str, str]:
    for suffix in UNIT_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)], suffix
    return key, ""


def flatten(payload: dict[str, Any]) -> dict[str, Any]:
    """One level of nesting flattened, unit kept last: {"temps_c": {"top": 1}} -> temps_top_c."""
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if key in ENVELOPE_KEYS:
            continue
        if isinstance(value, dict):
            stem, unit = _split_unit(key)
            for sub, inner in value.items():
                out[f"{stem}_{sub}{unit}"] = inner
        else:
            out[key] = value
    return out


def _order_key(column: str) -> tuple[int, str]:
    for i, key in enumerate(PREFERRED_ORDER):
        stem, unit = _split_unit(key)
        if column == key or (column.startswith(stem + "_") and column.endswith(unit)):
            return i, column
    return len(PREFERRED_ORDER), column


def _iso(wall_s: float | None) -> str:
    if wall_s is None:
        return ""
    return dt.datetime.fromtimestamp(wall_s, dt.UTC).isoformat(timespec="milliseconds")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return value


def write_csv(samples: Iterable[SampleRow], out: TextIO) -> int:
    """Write one CSV row per sample to `out`; returns the number of rows."""
    rows = [(s, flatten(s.payload)) for s in samples]
    columns = sorted({c for _, flat in rows for c in flat}, key=_order_key)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*LEAD_COLUMNS, *columns])
    for s, flat in rows:
        writer.writerow([s.seq, _cell(s.t_s), _cell(s.wall_s), _iso(s.wall_s),
                         *(_cell(flat.get(c)) for c in columns)])
    return len(rows)


def csv_text(samples: Iterable[SampleRow]) -> str:
    """The CSV export as a string."""
    buf = io.StringIO()
    write_csv(samples, buf)
    return buf.getvalue()


def run_document(run: RunInfo, samples: Iterable[SampleRow],
                 events: Iterable[EventRow]) -> dict[str, Any]:
    """The JSON export as a dict: run summary, journal header, samples and events."""
    summary = {k: getattr(run, k) for k in ("press_id", "run_id", "recipe", "sample_id",
                                            "operator", "started", "ended", "outcome",
                                            "end_seq")}
    return {
        "run": summary,
        "header": run.header or {},
        "samples": [{"seq": s.seq, "t_s": s.t_s, "wall_s": s.wall_s,
                     **{k: v for k, v in s.payload.items() if k not in ENVELOPE_KEYS}}
                    for s in samples],
        "events": [{"seq": e.seq, "t_s": e.t_s, "wall_s": e.wall_s, "kind": e.kind,
                    "message": e.message, "data": e.data} for e in events],
    }


def write_json(run: RunInfo, samples: Iterable[SampleRow], events: Iterable[EventRow],
               out: TextIO) -> None:
    """Write the JSON export to `out` (indented: people open these files too)."""
    json.dump(run_document(run, samples, events), out, indent=1, allow_nan=False)
    out.write("\n")
