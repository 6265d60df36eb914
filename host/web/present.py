"""What the pages show of a press, as JSON: one shape for the overview cards and the live page.

Built from a `PressView` (retained status and state, the latest telemetry, recent events), so the
page's script only formats; every rule about what a reading means lives here, in Python, where it
is tested. A missing reading stays `null` (shown as "-"), never 0: a faulted thermocouple must not
look like a cold platen.
"""

from __future__ import annotations

import re
import time
from typing import Any

from host.fleet import PressView
from host.watch import band_text

STALE_TELEMETRY_S = 5.0  # older telemetry is shown greyed: the press or its link is in trouble
EVENTS_SHOWN = 12
PRESS_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # a topic segment, as press ids are (hotpress.acl)
RUN_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")  # firmware.link.commands.NAME_PATTERN
OUTPUT_LABELS = {"pump": "pump", "advance_open": "advance valve", "press_open": "press valve",
                 "release_open": "release valve"}


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return float(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def zones(state: dict[str, Any], tele: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per zone: reading, setpoint (telemetry's, else the state's), fault, heater duty."""
    temps, faults = _dict(tele.get("temps_c")), _dict(tele.get("temp_faults"))
    setpoints = {**_dict(state.get("setpoints_c")), **{
        k: v for k, v in _dict(tele.get("setpoints_c")).items() if v is not None}}
    duty = _dict(tele.get("duty"))
    names = list(dict.fromkeys([*temps, *setpoints]))
    return [{"zone": z, "temp_c": _num(temps.get(z)), "setpoint_c": _num(setpoints.get(z)),
             "fault": faults.get(z), "duty": _num(duty.get(z))} for z in names]


def faults(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Latched faults with their cause, as the press states them."""
    out = []
    for f in state.get("faults") or []:
        if isinstance(f, dict):
            out.append({"code": str(f.get("code") or "fault"),
                        "message": str(f.get("message") or ""), "values": _dict(f.get("values"))})
    return out


def outputs(tele: dict[str, Any]) -> list[dict[str, Any]]:
    """Each output with a person's name and whether it is on (open)."""
    raw = _dict(tele.get("outputs"))
    return [{"name": OUTPUT_LABELS.get(k, k), "on": bool(v)} for k, v in raw.items()
            if isinstance(v, bool)]


def step(state: dict[str, Any]) -> dict[str, Any] | None:
    """Step k of n with its kind, label and time left (press seconds), or None when no run."""
    index = state.get("step_index")
    if not state.get("run_id") or not isinstance(index, int):
        return None
    count = state.get("step_count")
    return {"number": index + 1, "count": count if isinstance(count, int) else None,
            "kind": state.get("step_kind") or "", "label": state.get("step_label") or "",
            "eta_s": _num(state.get("step_eta_s")), "elapsed_s": _num(state.get("step_elapsed_s")),
            "run_eta_s": _num(state.get("run_eta_s"))}


def summary(view: PressView, now: float | None = None) -> dict[str, Any]:
    """Everything the overview card and the live page's header need about one press."""
    state, tele = view.state or {}, view.telemetry or {}
    now = time.monotonic() if now is None else now
    age = None if view.telemetry_at_s is None else max(0.0, now - view.telemetry_at_s)
    interlocks = _dict(state.get("interlocks"))
    return {
        "press_id": view.press_id,
        "online": view.online,
        "mode": state.get("mode") or ("offline" if view.online is False else "unknown"),
        "run_id": state.get("run_id"), "recipe": state.get("recipe"),
        "sample_id": state.get("sample_id"), "operator": state.get("operator"),
        "step": step(state), "last_outcome": state.get("last_outcome"),
        "zones": zones(state, tele),
        "sample_mpa": _num(tele.get("sample_mpa")),
        "target_mpa": _num(tele.get("target_sample_mpa"))
        if tele.get("target_sample_mpa") is not None else _num(state.get("target_sample_mpa")),
        "force_kn": _num(tele.get("force_kn")), "line_mpa": _num(tele.get("line_mpa")),
        "relative_density": _num(tele.get("relative_density")),
        "thickness_mm": _num(tele.get("thickness_mm")),
        # A manual (retrofit) press: the band to pump into and what to do now.
        "guide": band_text(state) or None, "in_band": state.get("pressure_in_band") is True,
        "position_mm": _num(tele.get("position_mm")),
        "outputs": outputs(tele), "faults": faults(state),
        "warnings": [str(w) for w in state.get("warnings") or []],
        "estop": bool(interlocks.get("estop")), "guard_open": bool(interlocks.get("guard_open")),
        "telemetry_age_s": age, "stale": age is None or age > STALE_TELEMETRY_S,
        "seq": tele.get("seq"),
    }


def events(view: PressView) -> list[dict[str, Any]]:
    """The newest events first, for the live page's log."""
    out = []
    for e in list(view.events)[-EVENTS_SHOWN:][::-1]:
        out.append({"kind": str(e.get("kind") or "event"), "message": str(e.get("message") or ""),
                    "wall_s": _num(e.get("wall_s"))})
    return out
