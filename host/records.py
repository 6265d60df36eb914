"""Turn what a press publishes (telemetry, events, state, replayed journal records) into rows.

Live telemetry and replayed journal records describe the same thing, so both land in the same
tables under the same (press_id, run_id, seq) key, and whichever arrives second is ignored.
Journal records and messages name their times differently (`t`/`wall` on the Pi, `t_s`/`wall_s`
on the wire); both are accepted. A journal record that is neither a sample nor the end record is
kept as an event of its own `type`, so every seq has a home and the run record has no holes.
A run event published without its seq is not stored as a row (its journal copy, with the seq,
arrives by replay); what it says about the run (start, end, outcome) is still used at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from host.store import IDLE_RUN_ID, EventRow, RunInfo, SampleRow

# Event kinds for a run's start and end (firmware.run.events says run_started / run_ended; the
# others are accepted so a renamed kind does not silently stop run records from closing).
START_KINDS = frozenset({"start", "run_start", "run_started"})
END_KINDS = frozenset({"end", "run_end", "run_ended"})
# The journal's last record of a run (type "end"): its seq is the run's last. The run_ended event
# comes a record or two earlier (the tick's sample follows it), so it gives the outcome, not that.
END_RECORD = "end"
SAMPLE_TYPES = frozenset({"sample", "telemetry"})


@dataclass(frozen=True)
class Rows:
    """What one message or record adds to the store."""

    samples: tuple[SampleRow, ...] = ()
    events: tuple[EventRow, ...] = ()
    runs: tuple[RunInfo, ...] = ()


def decode(payload: bytes) -> dict[str, Any] | None:
    """The JSON object in a payload, or None (not JSON, or not an object)."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _seq(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _times(rec: dict[str, Any]) -> tuple[float | None, float | None]:
    t_s = rec.get("t_s", rec.get("t"))
    wall_s = rec.get("wall_s", rec.get("wall"))
    return _num(t_s), _num(wall_s)


def from_telemetry(press_id: str, msg: dict[str, Any]) -> SampleRow | None:
    """A sample row for telemetry taken during a run; None when idle or malformed."""
    run_id, seq = msg.get("run_id"), _seq(msg.get("seq"))
    if not isinstance(run_id, str) or not run_id or seq is None:
        return None
    t_s, wall_s = _times(msg)
    return SampleRow(press_id, run_id, seq, t_s, wall_s, msg)


def from_event(press_id: str, msg: dict[str, Any]) -> Rows:
    """An event row (an idle one when no run), plus run facts for start and end events."""
    run_id = msg.get("run_id")
    in_run = isinstance(run_id, str) and bool(run_id)
    seq = _seq(msg.get("seq")) if in_run else None
    kind = str(msg.get("kind") or "event")
    data = msg.get("data") if isinstance(msg.get("data"), dict) else None
    t_s, wall_s = _times(msg)
    row = EventRow(press_id, run_id if in_run else IDLE_RUN_ID, seq, t_s, wall_s, kind,
                   str(msg.get("message") or ""), data)
    if not in_run:
        return Rows(events=(row,))
    facts = _run_facts(press_id, run_id, kind, seq, wall_s, data or {})
    if seq is None:  # its journal copy (with the seq) comes by replay: storing both would double
        return Rows(runs=facts)
    return Rows(events=(row,), runs=facts)


def _run_facts(press_id: str, run_id: str, kind: str, seq: int | None, wall_s: float | None,
               data: dict[str, Any]) -> tuple[RunInfo, ...]:
    if kind in START_KINDS:
        header = data.get("header") if isinstance(data.get("header"), dict) else None
        return (RunInfo(press_id, run_id, header=header, started=wall_s,
                        recipe=_text(data.get("recipe")), sample_id=_text(data.get("sample_id")),
                        operator=_text(data.get("operator"))),)
    if kind in END_KINDS:  # only the end record itself tells the last seq
        outcome = _text(data.get("outcome")) or "ended"
        return (RunInfo(press_id, run_id, ended=wall_s, outcome=outcome,
                        end_seq=seq if kind == END_RECORD else None),)
    return ()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def from_journal(press_id: str, run_id: str, rec: dict[str, Any]) -> Rows:
    """Rows for one replayed journal record (`{"seq", "type", ...}`)."""
    seq = _seq(rec.get("seq"))
    if seq is None:
        return Rows()
    kind = str(rec.get("type") or "record")
    t_s, wall_s = _times(rec)
    if kind in SAMPLE_TYPES:
        return Rows(samples=(SampleRow(press_id, run_id, seq, t_s, wall_s, rec),))
    if kind == "event":
        return from_event(press_id, {**rec, "run_id": run_id,
                                     "kind": rec.get("kind") or "event"})
    if kind == "end":
        data = {k: v for k, v in rec.items() if k not in ("seq", "type")}
        end = EventRow(press_id, run_id, seq, t_s, wall_s, "end",
                       str(rec.get("reason") or rec.get("outcome") or ""), data)
        info = RunInfo(press_id, run_id, ended=wall_s, end_seq=seq,
                       outcome=_text(rec.get("outcome")) or "ended")
        return Rows(events=(end,), runs=(info,))
    data = {k: v for k, v in rec.items() if k not in ("seq", "type")}
    return Rows(events=(EventRow(press_id, run_id, seq, t_s, wall_s, kind, "", data),))


def from_state(press_id: str, state: dict[str, Any]) -> RunInfo | None:
    """Run facts the retained state carries (recipe, sample, operator) while a run is active."""
    run_id = state.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        return None
    return RunInfo(press_id, run_id, recipe=_text(state.get("recipe")),
                   sample_id=_text(state.get("sample_id")), operator=_text(state.get("operator")))


def status_online(payload: bytes) -> bool:
    """Whether a `status` payload says online (JSON form, or the bare word)."""
    msg = decode(payload)
    if msg is not None:
        return msg.get("status") == "online"
    return payload.strip() == b"online"
