"""A manual press in the simulator: a hand pump, a release screw, and an operator who uses them.

The hydraulic plant is the reference one (`sim/hydraulics.py`) with the pump and valves in the
operator's hands: on a manual press config (`pressure_mode = "manual"`) `backend.sim` reads as

    pump_flow_m3_per_s                    the hand pump's flow at a steady pace of full strokes
    press_valve_flow_fraction             the share of it in gentle, short strokes
    release_orifice_m3_per_s_per_sqrt_pa  the release screw cracked open ("release slowly")
    valve_on_delay_s / valve_off_delay_s  how long the hand takes to start or stop

`ScriptedOperator` follows the hints the press shows (the daemon's `state()`), as a careful
person would: it reacts after `reaction_s`, pumps in full strokes while far below the band and
gently near it, pauses when told "pump slower", and cracks the release screw on "release slowly".
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

# A person reads the gauge, decides and moves the lever in about half a second.
REACTION_S = 0.5
# Full strokes until this close below the band (a fraction of the target, at least 2 kN): closer
# than that, one full stroke (~2.4 MPa line on a 63.5 mm ram) would overshoot a 2 % band.
GENTLE_FRACTION = 0.3
GENTLE_MIN_KN = 2.0
# "pump slower": a stroke, then a pause as long, so the mean rate halves.
SLOW_CYCLE_S = 2.0
# Below this the ram still travels freely: the lever meets no resistance, so full strokes.
FREE_TRAVEL_KN = 0.5


class Stroke(enum.Enum):
    """What the operator's pumping hand does."""

    NONE = "none"
    FULL = "full"  # the advance path: the pump's full flow
    GENTLE = "gentle"  # the press path: a fraction of it


@dataclass
class HandPump:
    """The manual hydraulics' state: how the pump is worked and whether the release is open."""

    stroke: Stroke = Stroke.NONE
    release_open: bool = False  # the screw is closed before a press is loaded

    def plant_command(self) -> dict[str, bool]:
        """The same keywords the plant takes from the automatic press's pump and valves."""
        return {"pump": self.stroke is not Stroke.NONE, "advance": self.stroke is Stroke.FULL,
                "press": self.stroke is Stroke.GENTLE, "release_energised": not self.release_open}


class HandOperated(Protocol):
    """What the operator needs of the simulated press."""

    def operate_by_hand(self, stroke: Stroke, release_open: bool) -> None: ...


class ScriptedOperator:
    """Works the hand pump from the press's hints; call `act` every tick."""

    def __init__(self, press: HandOperated, reaction_s: float = REACTION_S) -> None:
        self.press = press
        self.reaction_s = reaction_s
        self._hint = ""
        self._hint_since_s = 0.0
        self._acting_on = ""
        self._slow_since_s = 0.0
        self.actions: list[tuple[float, str]] = []  # (time, what), for tests and plots

    def act(self, state: Mapping[str, Any], force_kn: float | None, now_s: float) -> None:
        """Look at the press (its `state()` and the force gauge) and do what it asks."""
        hint = str(state.get("operator_hint") or "")
        if hint != self._hint:
            self._hint, self._hint_since_s = hint, now_s
        if now_s - self._hint_since_s >= self.reaction_s:
            self._acting_on = hint
        band = state.get("hold_band_kn")
        stroke, release = self._decide(self._acting_on, band, force_kn, now_s)
        self._do(stroke, release, now_s)

    def _decide(self, hint: str, band: Any, force_kn: float | None,
                now_s: float) -> tuple[Stroke, bool]:
        if hint == "release slowly":
            return Stroke.NONE, True
        if hint == "pump":
            self._slow_since_s = now_s
            return self._stroke_for(band, force_kn), False
        if hint == "pump slower":
            phase = (now_s - self._slow_since_s) % SLOW_CYCLE_S
            return (Stroke.GENTLE if phase < SLOW_CYCLE_S / 2 else Stroke.NONE), False
        return Stroke.NONE, False

    @staticmethod
    def _stroke_for(band: Any, force_kn: float | None) -> Stroke:
        """Full strokes far below the band, gentle ones near it."""
        if not band or force_kn is None:
            return Stroke.GENTLE
        low_kn, high_kn = band
        target_kn = (low_kn + high_kn) / 2.0
        margin_kn = max(GENTLE_MIN_KN, GENTLE_FRACTION * target_kn)
        far_kn = max(FREE_TRAVEL_KN, low_kn - margin_kn)
        return Stroke.FULL if force_kn < far_kn else Stroke.GENTLE

    def _do(self, stroke: Stroke, release_open: bool, now_s: float) -> None:
        what = f"{stroke.value}{' release' if release_open else ''}"
        if not self.actions or self.actions[-1][1] != what:
            self.actions.append((now_s, what))
            self.press.operate_by_hand(stroke, release_open)
