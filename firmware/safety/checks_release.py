"""RELEASE_STUCK: the release valve is commanded open and the line does not come down.

The release valve is normally open and dumps to tank through a needle orifice, so it is the
safe state's only way to unload the ram: every release step, abort and trip relies on it. Stuck
closed (a jammed spool, a wiring fault that keeps the coil energised, a needle screwed shut), a
release step would wait for ever and a trip would leave the platens loaded while the press looks
safe. Nothing else notices: the other hydraulic checks judge a line that should rise or hold.

The rule. While the release is commanded open with the pump off and both feed valves closed
("releasing"), and the line reads above `release_stuck_min_pressure_mpa`, it must fall by
`release_stuck_min_fall_mpa` within `release_stuck_window_s` of releasing: the window is what a
needle twenty times slower than the configured one needs (thresholds.release_window_s), so a
careful operator's nearly closed needle does not trip it, while a stuck valve (leakage only,
~200x slower still) does.

"Sustained", not every bleed: the time counts like PUMP_NO_RISE's, filling at `dt / window`
while releasing and draining at the same rate while the valve is shut, so the hold's one-tick
bleeds (tens of ms, seconds apart) never add up, while a release that pulses the valve at a
rising duty (the controller's release ramp answering a line that does not move) or holds it
open (a dump, an abort, the safe state after any trip) does. Each fall of the minimum starts
the count over; so does pumping into the cylinder, where the line is meant to rise.

Only new transducer readings are judged: a hung reader is STALE_SENSOR's fault, and a frozen
value must not be taken for a line that does not fall.
"""

from __future__ import annotations

from firmware.hal.outputs import OutputCommands
from firmware.safety.checks_hydraulic import released
from firmware.safety.faults import Fault, FaultCode, Finding
from firmware.safety.observation import Observation, rounded
from firmware.safety.thresholds import SafetyConfig

SAFE_OUTPUTS_TEXT = ("the outputs are safe: heaters and pump off, feed valves closed, release "
                     "commanded open")


def releasing(out: OutputCommands) -> bool:
    """Release commanded open with the pump off and both feed valves closed: the line can only
    fall, and the needle sets how fast."""
    return out.release_open and not (out.pump_on or out.advance_open or out.press_open)


def feeding(out: OutputCommands) -> bool:
    """Pump on with a feed valve open: the line is meant to rise, whatever the release does."""
    return out.pump_on and (out.advance_open or out.press_open)


class ReleaseStuckCheck:
    """RELEASE_STUCK: releasing for a window's worth without the line falling the minimum (see
    the module docstring). The trip tells the operator the pressure is locked in and how to
    relieve it; it resets once the line reads released, i.e. once it has been relieved by hand.
    """

    codes = frozenset({FaultCode.RELEASE_STUCK})

    def __init__(self, cfg: SafetyConfig) -> None:
        self.cfg = cfg
        self._progress = 0.0
        self._released_s = 0.0  # time released in this count, for the message
        self._high_mpa: float | None = None  # highest reading since the count began

    def _restart(self) -> None:
        self._progress = self._released_s = 0.0
        self._high_mpa = None

    def _fell(self, p_mpa: float) -> bool:
        """Track the highest reading; True once the line is the minimum fall below it."""
        self._high_mpa = p_mpa if self._high_mpa is None else max(self._high_mpa, p_mpa)
        return self._high_mpa - p_mpa >= self.cfg.release_stuck_min_fall_mpa

    def evaluate(self, obs: Observation) -> list[Finding]:
        """Fill while releasing, drain while not; trip at 1 if the line has not fallen."""
        out, p_mpa = obs.ctx.last_outputs, obs.pressure_mpa
        if feeding(out):
            self._restart()
            return []
        if p_mpa is None or not obs.new_pressure:
            return []
        if p_mpa < self.cfg.release_stuck_min_pressure_mpa or self._fell(p_mpa):
            self._restart()
            return []
        step = obs.dt_s / self.cfg.release_stuck_window_s
        if releasing(out):
            self._progress += step
            self._released_s += obs.dt_s
        else:
            self._progress = max(0.0, self._progress - step)
            if self._progress == 0.0:
                self._restart()
        if self._progress < 1.0:
            return []
        return [self._trip(obs, p_mpa)]

    def _trip(self, obs: Observation, p_mpa: float) -> Fault:
        """The trip, in words an operator at the press acts on."""
        high = self._high_mpa if self._high_mpa is not None else p_mpa
        fall, cfg = high - p_mpa, self.cfg
        return obs.trip(
            FaultCode.RELEASE_STUCK, "release",
            f"the line stays at {p_mpa:.1f} MPa after {self._released_s:.1f} s of release "
            f"commanded open (fell {fall:.2f} MPa; even a nearly closed needle takes it down "
            f"{cfg.release_stuck_min_fall_mpa:g} MPa within {cfg.release_stuck_window_s:.1f} s): "
            "PRESSURE IS LOCKED IN, the release valve is not releasing. Do not open the press "
            "or take out the die. Relieve the pressure by hand with the manual release on the "
            f"press, then reset; {SAFE_OUTPUTS_TEXT}",
            pressure_mpa=rounded(p_mpa), fall_mpa=rounded(fall),
            released_s=rounded(self._released_s, 2),
            window_s=rounded(cfg.release_stuck_window_s, 2),
            min_fall_mpa=cfg.release_stuck_min_fall_mpa)

    def clearance(self, fault: Fault, obs: Observation) -> str | None:
        """Clear once the line reads released; until then say again how to relieve it."""
        why = released(self.cfg, obs)
        p_mpa = obs.pressure_mpa
        if why is None or p_mpa is None:
            return why
        return (f"line still at {p_mpa:.1f} MPa (reset at or below "
                f"{self.cfg.hydraulic_reset_max_mpa:.1f} MPa): the pressure is locked in; "
                "relieve it by hand with the manual release on the press")

    def forget(self) -> None:
        """Start the count over."""
        self._restart()
