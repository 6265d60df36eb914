"""The outputs phase for zones an existing controller heats: the box heats, the permit cuts it.

Why: on a retrofit press the one output hotpress switches for heat is the heater permit relay,
whose contact sits in series with the old PID boxes' outputs; it is the cut that still works when
the RS-485 line is dead. A relay that never closes means no recipe can heat; one that does not
open (welded, or wired across the output instead of in series) means a trip cannot stop a box
that no longer listens. So, per zone, as the reference press's heater check does with an SSR:

1. the zone's box gets a setpoint BOX_TEST_DELTA_C above the platen through the daemon's own
   path (`io.apply`: the permit closes because a setpoint is sent) until the zone warms
   HEATER_RISE_C (and no other zone warms first: crossed wiring);
2. once every platen has stopped coasting, every box that heated gets the same step again with
   the relay held open, for PERMIT_CUT_FACTOR times the slowest heat-up: none may warm.

Every step ends with the safe setpoints sent and the relay open (`io.safe()`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from firmware.config.model import ZoneConfig
from firmware.hal.outputs import SAFE_COMMANDS, OutputCommands
from firmware.hal.press_io import Sample
from firmware.hal.types import SensorFault
from firmware.selftest import (
    BOX_TEST_DELTA_C,
    HEATER_FALL_C,
    HEATER_MAX_S,
    HEATER_RISE_C,
    Status,
)
from firmware.selftest_outputs import heater_done, rises_from, temps_of

if TYPE_CHECKING:
    from firmware.selftest_outputs import OutputChecks

# A relay that does not cut lets the box heat as fast as in step 1, which showed +3 C in the
# measured time: 1.5x that leaves room for the probe lag without doubling the test.
PERMIT_CUT_FACTOR = 1.5
INTERRUPTED_ADVICE = "run the self-test again with the e-stop released and the guard closed"


class BoxChecks:
    """Heats each controller zone through its box and the permit, then checks the permit cuts."""

    def __init__(self, outputs: OutputChecks) -> None:
        self.outputs = outputs
        self.test = outputs.test
        self.cfg = outputs.cfg
        self.tick_s = outputs.tick_s
        self.permit = self.cfg.heater_permit

    def run(self, zones: list[str], heated: list[str]) -> None:
        """Each zone in turn (waiting for every platen in `heated` to coast), then the permit."""
        took: dict[str, float] = {}
        for zone in zones:
            took_s = self.heat(self.cfg.zone(zone))
            if took_s is not None:
                took[zone] = took_s
            self.outputs.wait_for_coast(heated)
        self.permit_cuts(took)

    def _setpoint_c(self, zone: ZoneConfig, start_c: float) -> float:
        """The test step: BOX_TEST_DELTA_C up, never past the zone's or the press's limit."""
        return min(start_c + BOX_TEST_DELTA_C, zone.max_temp_c, self.cfg.limits.max_temp_c)

    def _relay(self) -> str:
        return f"heater permit GPIO{self.permit.pin}" if self.permit is not None else "no permit"

    # ---- 1. the box heats its platen -------------------------------------------------------
    def heat(self, zone: ZoneConfig) -> float | None:
        """Step 1 for `zone`; returns the seconds to +HEATER_RISE_C when it passed."""
        name, box = f"heater {zone.name}", zone.controller
        start = temps_of(self.test.io.read())
        why_not = (f"needs {box} to take setpoints: fix the setpoint {box} line above first"
                   if zone.name not in self.test.boxes_ok else
                   f"needs a working temperature reading of {zone.name}: fix that line above "
                   "first" if zone.name not in start else None)
        if why_not is not None:
            self.test.add(name, Status.SKIP, "not run", advice=why_not)
            return None
        sp_c = self._setpoint_c(zone, start[zone.name])
        self.test.progress(f"heating {zone.name} through {box} (setpoint {sp_c:.0f} C, "
                           f"{self._relay()})")
        cmd = OutputCommands(controller_setpoints_c={zone.name: sp_c})
        why, sample, took_s = self.test.drive(cmd, self.tick_s, HEATER_MAX_S,
                                              heater_done(zone.name, start))
        self.test.io.safe()
        return self._judge_heat(name, zone, sp_c, why, sample, rises_from(start, sample), took_s)

    def _judge_heat(self, name: str, zone: ZoneConfig, sp_c: float, why: str, sample: Sample,
                    rises: dict[str, float], took_s: float) -> float | None:
        own, box = rises.get(zone.name), zone.controller
        expected = f"+{HEATER_RISE_C:g} C within {HEATER_MAX_S:g} s"
        others = {n: v for n, v in rises.items() if n not in (zone.name, "sample")}
        hotter = [n for n, v in others.items() if v >= HEATER_RISE_C and (own or 0.0) < v]
        if why not in ("done", "timeout"):
            self.test.add(name, Status.FAIL, f"interrupted after {took_s:.1f} s: {why}",
                          expected, INTERRUPTED_ADVICE)
        elif own is None:
            fault = sample.temps.get(zone.name)
            self.test.add(name, Status.FAIL, "the reading failed while heating", expected,
                          fault.detail if isinstance(fault, SensorFault) else "")
        elif hotter:
            self.test.add(name, Status.FAIL, f"{zone.name} {own:+.1f} C but {hotter[0]} "
                          f"{others[hotter[0]]:+.1f} C in {took_s:.0f} s", expected,
                          f"crossed wiring: {box} heats the {hotter[0]} platen, or its "
                          "thermocouple sits in it: swap the boxes' output or thermocouple "
                          "wires (or their controller names in the config)")
        elif own <= -HEATER_FALL_C:
            self.test.add(name, Status.FAIL, f"{own:+.1f} C in {took_s:.0f} s at a setpoint "
                          f"of {sp_c:.0f} C", expected, f"the reading falls as {box} heats: its "
                          "thermocouple is wired reversed (K type: the magnetic leg is -)")
        elif own >= HEATER_RISE_C:
            self.test.add(name, Status.PASS, f"{own:+.1f} C in {took_s:.1f} s ({box} at "
                          f"{sp_c:.0f} C, {self._relay()})", expected)
            return took_s
        else:
            self.test.add(name, Status.FAIL, f"{own:+.1f} C in {took_s:.0f} s at a setpoint "
                          f"of {sp_c:.0f} C", expected, self._no_heat_advice(box))
        return None

    def _no_heat_advice(self, box: str | None) -> str:
        relay = (f"that the heater permit relay on GPIO{self.permit.pin} closes (it clicks; its "
                 "NO contact in series with the box's output), " if self.permit else "")
        return (f"no heat from {box}: check {relay}that the box is in RUN with its output lamp "
                "lit (resume_writes), its output wiring to the SSR or heater contactor, the "
                "high-limit cutout, and the heater fuse")

    # ---- 2. the permit relay cuts it -------------------------------------------------------
    def permit_cuts(self, took: dict[str, float]) -> None:
        """Step 2: the boxes that heated get the step again with the relay open: none warms."""
        if self.permit is None:
            return  # nothing to switch: the at-rest checks gave the WARN (selftest_serial)
        start = temps_of(self.test.io.read())
        zones = [z for z in took if z in start]
        if not zones:
            self.test.add("heater permit", Status.SKIP, "not run", advice="needs a controller "
                          "that heats: fix the heater lines above first")
            return
        setpoints = {z: self._setpoint_c(self.cfg.zone(z), start[z]) for z in zones}
        cut_s = PERMIT_CUT_FACTOR * max(took[z] for z in zones)
        self.test.progress(f"heater permit relay on GPIO{self.permit.pin} held open with the "
                           f"controllers at their test setpoints, for {cut_s:.0f} s")

        def open_relay(_cmd: OutputCommands) -> None:
            self.test.io.outputs.apply(SAFE_COMMANDS)  # the relay stays de-energised...
            assert self.test.io.serial is not None
            self.test.io.serial.set_setpoints(setpoints)  # ...while the boxes are told to heat

        def warmed(sample: Sample) -> bool:
            r = rises_from(start, sample)
            return any(z not in r or r[z] >= HEATER_RISE_C for z in zones)

        why, sample, took_s = self.test.drive(SAFE_COMMANDS, self.tick_s, cut_s, warmed,
                                              apply=open_relay)
        self.test.io.safe()
        self._judge_cut(zones, why, rises_from(start, sample), took_s, cut_s)

    def _judge_cut(self, zones: list[str], why: str, rises: dict[str, float], took_s: float,
                   cut_s: float) -> None:
        assert self.permit is not None
        expected = f"< +{HEATER_RISE_C:g} C in {cut_s:.0f} s with the relay open"
        lost = [z for z in zones if z not in rises]
        warm = max(zones, key=lambda z: rises.get(z, 0.0))
        if why not in ("done", "timeout"):
            self.test.add("heater permit", Status.FAIL, f"interrupted after {took_s:.1f} s: "
                          f"{why}", expected, INTERRUPTED_ADVICE)
        elif lost:
            self.test.add("heater permit", Status.FAIL, f"the {lost[0]} reading failed",
                          expected, "fix that reading and run the self-test again")
        elif rises[warm] >= HEATER_RISE_C:
            box = self.cfg.zone(warm).controller
            self.test.add("heater permit", Status.FAIL, f"{warm} {rises[warm]:+.1f} C in "
                          f"{took_s:.0f} s with the relay open", expected,
                          f"the heater permit relay on GPIO{self.permit.pin} does not cut "
                          f"{box}: check that its NO contact is in series with the box's SSR "
                          "drive or heater contactor coil (not across it), that the relay is "
                          "not welded, and active_high = "
                          f"{str(self.permit.active_high).lower()} against its driver")
        else:
            self.test.add("heater permit", Status.PASS, f"at most {rises[warm]:+.1f} C in "
                          f"{took_s:.0f} s with the relay open (GPIO{self.permit.pin})", expected)
