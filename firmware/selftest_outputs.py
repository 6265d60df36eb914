"""The outputs phase of the commissioning self-test: heaters, pump, hold and release.

Kept apart from `firmware.selftest` (the at-rest checks and the runner) so each file stays one
concept: this one moves things. Every step here starts from safe outputs, drives one thing
through `Selftest.drive` (which stops on the e-stop, the guard or its bound) and ends safe.
Zones heated by an existing controller (a retrofit press) are checked by `selftest_boxes`, with
the heater permit relay; a manual press has no pump or valves, so no hydraulic checks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from firmware.hal import diagnose
from firmware.hal.outputs import OutputCommands
from firmware.hal.press_io import Sample
from firmware.hal.types import PressureReading, SensorFault, TempReading
from firmware.selftest import (
    HEATER_FALL_C,
    HEATER_MAX_S,
    HEATER_RISE_C,
    HOLD_MAX_LOSS_FRAC,
    HOLD_S,
    HYDRAULIC_CHECKS,
    MIN_RELEASE_TEST_MPA,
    PUMP_ABORT_FACTOR,
    PUMP_MAX_S,
    PUMP_PERIOD_S,
    RELEASE_DONE_FRAC,
    RELEASE_MAX_S,
    Selftest,
    Status,
)

COAST_WINDOW_S = 5.0  # a platen that gained no more than COAST_STILL_C in this long has peaked
COAST_STILL_C = 0.25  # one MAX31855 count
COAST_MAX_S = 90.0  # bound on waiting: the probe lag and the heater's stored heat fade in ~1 min
HOLD_SETTLE_S = 0.3  # after the pump stops: valve off-delay and pump run-down still add oil

PUMP_COMMANDS = OutputCommands(pump_on=True, advance_open=True, release_open=False)
HOLD_COMMANDS = OutputCommands(release_open=False)  # pump off, every valve closed
RELEASE_COMMANDS = OutputCommands()  # the safe state: release valve open


def temps_of(sample: Sample) -> dict[str, float]:
    """Valid temperatures in `sample`, by channel."""
    return {n: r.temp_c for n, r in sample.temps.items() if isinstance(r, TempReading)}


def rises_from(start: dict[str, float], sample: Sample) -> dict[str, float]:
    """How far each channel read in `start` has moved since (C), valid readings only."""
    return {n: t - start[n] for n, t in temps_of(sample).items() if n in start}


def heater_done(zone: str, start: dict[str, float]) -> Callable[[Sample], bool]:
    """The end of a heater check: `zone` rose enough or fell (reversed), another channel rose
    enough first (crossed wiring), or the reading failed."""
    def done(sample: Sample) -> bool:
        r = rises_from(start, sample)
        own = r.get(zone)
        return (own is None or own >= HEATER_RISE_C or own <= -HEATER_FALL_C
                or any(v >= HEATER_RISE_C for v in r.values()))
    return done


def pressure_of(sample: Sample) -> float | None:
    """Line pressure in `sample` (MPa), None when the read failed."""
    p = sample.pressure
    return p.pressure_mpa if isinstance(p, PressureReading) else None


class OutputChecks:
    """Switches each output of the press under test and judges what the sensors saw."""

    def __init__(self, test: Selftest) -> None:
        self.test = test
        self.cfg = test.cfg
        self.tick_s = 1.0 / test.cfg.loop.tick_hz

    def run(self, heated: list[str], pressure_ok: bool, boxes: Sequence[str] = ()) -> None:
        """Every heater in turn, then the zones existing controllers heat (`boxes`) and their
        heater permit, then the hydraulics (only with a working pressure reading)."""
        every = [*heated, *boxes]
        for zone in heated:
            self.heater(zone)
            self.wait_for_coast(every)
        if boxes:
            from firmware.selftest_boxes import BoxChecks

            BoxChecks(self).run(list(boxes), every)
        if self.cfg.hydraulics is None:
            return  # a manual press: the runner says so in one SKIP line
        names = HYDRAULIC_CHECKS
        if not pressure_ok:
            for name in names:
                self.test.add(name, Status.SKIP, "not run",
                              advice="needs a working line-pressure reading: fix the transducer "
                                     "and ADC lines above first")
            return
        held_mpa = self.pump()
        if held_mpa is None or held_mpa < MIN_RELEASE_TEST_MPA:
            for name in names[1:]:
                self.test.add(name, Status.SKIP, "not run",
                              advice="needs pressure from the pump check: fix that first")
            return
        self.release(self.hold(held_mpa))

    # ---- heaters ---------------------------------------------------------------------------
    def heater(self, zone: str) -> None:
        """Full duty on `zone` until its own thermocouple rises HEATER_RISE_C, or not."""
        name, cs_pin = f"heater {zone}", self.test.cs_pins[zone]
        ssr_pin = self.cfg.zone(zone).ssr_pin
        start = temps_of(self.test.io.read())
        if zone not in start:
            self.test.add(name, Status.SKIP, "not run", advice=f"needs a working thermocouple "
                          f"{zone}: fix that line above first")
            return
        self.test.progress(f"heating {zone} at full power (SSR GPIO{ssr_pin})")
        cmd = OutputCommands(heater_duty={zone: 1.0})
        why, sample, took_s = self.test.drive(cmd, self.tick_s, HEATER_MAX_S,
                                              heater_done(zone, start))
        self.test.io.safe()
        self._judge_heater(name, zone, ssr_pin, cs_pin, why, sample, rises_from(start, sample),
                           took_s)

    def _judge_heater(self, name: str, zone: str, ssr_pin: int | None, cs_pin: int, why: str,
                      sample: Sample, rises: dict[str, float], took_s: float) -> None:
        own = rises.get(zone)
        expected = f"+{HEATER_RISE_C:g} C within {HEATER_MAX_S:g} s"
        others = {n: v for n, v in rises.items() if n != zone and n != "sample"}
        hotter = [n for n, v in others.items() if v >= HEATER_RISE_C and (own or 0.0) < v]
        if why not in ("done", "timeout"):
            self.test.add(name, Status.FAIL, f"interrupted after {took_s:.1f} s: {why}", expected,
                          "run the self-test again with the e-stop released and the guard closed")
        elif own is None:
            fault = sample.temps[zone]
            advice = (diagnose.explain_tc_fault(fault, zone, cs_pin)
                      if isinstance(fault, SensorFault) else "")
            self.test.add(name, Status.FAIL, "thermocouple failed while heating", expected,
                          advice)
        elif hotter:
            self.test.add(name, Status.FAIL, f"{zone} {own:+.1f} C but {hotter[0]} "
                          f"{others[hotter[0]]:+.1f} C in {took_s:.0f} s", expected,
                          f"crossed wiring: the SSR on GPIO{ssr_pin} heats the {hotter[0]} "
                          f"platen, or the thermocouple on CS GPIO{cs_pin} sits in it: swap "
                          "the SSR or thermocouple wires (or pins in the config)")
        elif own <= -HEATER_FALL_C:
            self.test.add(name, Status.FAIL, f"{own:+.1f} C in {took_s:.0f} s at full power",
                          expected, f"the reading falls as the platen heats: the thermocouple "
                          f"on CS GPIO{cs_pin} is wired reversed (swap T+ and T-)")
        elif own >= HEATER_RISE_C:
            self.test.add(name, Status.PASS, f"{own:+.1f} C in {took_s:.1f} s", expected)
        else:
            self.test.add(name, Status.FAIL, f"{own:+.1f} C in {took_s:.0f} s at full power",
                          expected, f"no heat: check the SSR on GPIO{ssr_pin} (its LED lights "
                          "when driven), that the heater contactor is in and the high-limit "
                          "cutout reset, the heater fuse, and the cartridge heaters' resistance")

    def wait_for_coast(self, heated: list[str]) -> None:
        """Outputs safe until no platen is still rising (heat stored in the heater and the probe
        lag keep it climbing after the SSR is off), so the next heater's check starts level and
        a coasting neighbour is not taken for crossed wiring. Bounded by COAST_MAX_S."""
        history: list[tuple[float, dict[str, float]]] = []

        def still(sample: Sample) -> bool:
            now_s = self.test.clock.now()
            history.append((now_s, temps_of(sample)))
            old = [t for t_s, t in history if t_s <= now_s - COAST_WINDOW_S]
            if not old:
                return False
            new = history[-1][1]
            return all(new.get(z, 0.0) - old[-1].get(z, 0.0) <= COAST_STILL_C for z in heated)

        self.test.drive(RELEASE_COMMANDS, self.tick_s, COAST_MAX_S, still)

    # ---- hydraulics ------------------------------------------------------------------------
    def pump(self) -> float | None:
        """Pump + advance valve, release closed, up to the test pressure; returns where it got."""
        target = self.test.pump_test_mpa()
        hyd = self.cfg.hydraulics
        assert hyd is not None  # run() checks the hydraulics only on a press that has them
        self.test.progress(f"pump on with the advance valve open, up to {target:g} MPa")
        peak = [0.0]

        def done(sample: Sample) -> bool:
            p = pressure_of(sample)
            if p is not None:
                peak[0] = max(peak[0], p)
            return p is None or p >= target or p >= PUMP_ABORT_FACTOR * target

        why, sample, took_s = self.test.drive(PUMP_COMMANDS, PUMP_PERIOD_S, PUMP_MAX_S, done)
        self.test.io.apply(HOLD_COMMANDS)  # pump off at once, valves shut: hold what it built
        reached = pressure_of(sample)
        expected = f">= {target:g} MPa within {PUMP_MAX_S:g} s"
        pins = (f"the pump contactor on GPIO{hyd.pump.pin}, the advance valve coil on "
                f"GPIO{hyd.advance_valve.pin}, that the release valve on "
                f"GPIO{hyd.release_valve.pin} closes")
        if why not in ("done", "timeout"):
            self.test.add("pump + advance valve", Status.FAIL, f"interrupted: {why}", expected,
                          "run the self-test again with the e-stop released and the guard closed")
            self.test.io.safe()
            return None
        if reached is None:
            fault = sample.pressure
            advice = (diagnose.explain_pressure_fault(fault, self.cfg.transducer)
                      if isinstance(fault, SensorFault) else "")
            self.test.add("pump + advance valve", Status.FAIL, "pressure read failed while "
                          "pumping", expected, advice)
            self.test.io.safe()
            return None
        if why == "done":
            self.test.add("pump + advance valve", Status.PASS,
                          f"{reached:.2f} MPa in {took_s:.1f} s", expected)
            return reached
        self.test.add("pump + advance valve", Status.FAIL,
                      f"only {peak[0]:.2f} MPa after {took_s:.0f} s", expected,
                      f"no pressure: check {pins}, the oil level, the pump's direction and "
                      "coupling, and the mechanical relief valve setting")
        return peak[0]

    def hold(self, pumped_mpa: float) -> float:
        """Pump off, every valve closed, for HOLD_S: the pressure should stay."""
        _, sample, _ = self.test.drive(HOLD_COMMANDS, self.tick_s, HOLD_SETTLE_S, lambda s: False)
        settled = pressure_of(sample)
        start_mpa = settled if settled is not None and settled > 0 else pumped_mpa
        why, sample, _ = self.test.drive(HOLD_COMMANDS, self.tick_s, HOLD_S, lambda s: False)
        end = pressure_of(sample)
        end_mpa = end if end is not None else 0.0
        loss = abs(start_mpa - end_mpa) / start_mpa
        ok = why == "timeout" and loss <= HOLD_MAX_LOSS_FRAC
        self.test.add("hold (valves closed)", Status.PASS if ok else Status.WARN,
                      f"{start_mpa:.2f} -> {end_mpa:.2f} MPa in {HOLD_S:g} s",
                      f"change <= {HOLD_MAX_LOSS_FRAC:.0%}", "" if ok else
                      "pressure changes with every valve shut and the pump off: the release "
                      f"valve on GPIO{self.cfg.hydraulics.release_valve.pin} does not close "
                      "fully, or the check valve or a fitting leaks")
        return end_mpa

    def release(self, start_mpa: float) -> None:
        """Release valve open (the safe state): the pressure must drop."""
        pin = self.cfg.hydraulics.release_valve.pin
        if start_mpa < MIN_RELEASE_TEST_MPA:
            self.test.add("release valve", Status.SKIP, "not run", advice="no pressure left "
                          "to release: see the hold line")
            return
        target = RELEASE_DONE_FRAC * start_mpa
        self.test.progress(f"release valve open (GPIO{pin})")

        def done(sample: Sample) -> bool:
            p = pressure_of(sample)
            return p is not None and p <= target

        why, sample, took_s = self.test.drive(RELEASE_COMMANDS, PUMP_PERIOD_S, RELEASE_MAX_S,
                                              done)
        end = pressure_of(sample)
        expected = f"<= {target:.2f} MPa within {RELEASE_MAX_S:g} s"
        if why == "done":
            self.test.add("release valve", Status.PASS,
                          f"{start_mpa:.2f} -> {end:.2f} MPa in {took_s:.2f} s", expected)
            return
        self.test.add("release valve", Status.FAIL, f"still {end if end is not None else 0:.2f} "
                      f"MPa after {took_s:.1f} s ({why})", expected,
                      f"pressure stays: check the release valve coil on GPIO{pin} and "
                      "normally_open in the config, and that its needle valve is not shut; "
                      "relieve the pressure by hand before working on the press")
