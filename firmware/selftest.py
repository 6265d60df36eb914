"""Commissioning self-test: judge every sensor at rest, then switch each output and watch it act.

Why: the first power-up of a newly wired press is where crossed wires, reversed thermocouples, a
transducer on the wrong channel and a dead pump turn up; PASS/FAIL lines that name the pin to check
beat an operator reading raw numbers. Two phases:

1. at rest (outputs safe, nothing moves): the ADC answers; the transducer supply; each MAX31855's
   cold junction against room temperature; each thermocouple against its cold junction; the line
   pressure at rest (and the zero offset to write into the config); every serial instrument and
   existing controller of a retrofit press (`firmware.selftest_serial`); e-stop and guard.
2. outputs (after confirmation, e-stop released, guard closed): each heater at full duty until its
   own thermocouple rises (and no other rises first: crossed wiring); each existing controller
   heating through the heater permit relay, and the relay cutting it (`firmware.selftest_boxes`);
   pump + advance valve up to a low test pressure; a short hold with every valve closed; the
   release valve dropping it.

A check that does not apply to the press (no ADS1115, no pump and valves on a manual press) is a
SKIP line that says why, so the table shows what was left out rather than hiding it.

Each active step stops at once on the e-stop, the guard, a sensor fault or its own bound, and
leaves the outputs safe; the caller closes the hardware (safe again) whatever happens. Time passes
only on the injected clock, so on the simulator the whole test takes well under a second.
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from firmware.clock import Clock
from firmware.config.model import PressConfig
from firmware.hal import diagnose
from firmware.hal.outputs import SAFE_COMMANDS, OutputCommands
from firmware.hal.press_io import PressIO, Sample
from firmware.hal.transducer import SUPPLY_FSR_V
from firmware.hal.types import PressureReading, SensorFault, TempReading, TempResult

ROOM_MIN_C, ROOM_MAX_C = 10.0, 40.0  # a MAX31855 board in a lab; outside this it misreads or cooks
REST_S = 2.0  # readings at rest: ~8 thermocouple polls and ~20 pressure reads, for mean and noise
TC_REST_BAND_C = 10.0  # at rest hot and cold junction agree within a few C (the board runs warm)
ZERO_TOLERANCE_FRAC = 0.02  # of range: a zero error within 2 % FS is calibrated out; beyond, wrong
NOISE_WARN_FRAC = 0.005  # of range, rms: above this the pressure loop chases noise
SUPPLY_WARN_FRAC = 0.05  # of nominal: PASS within 5 %; the transducer faults beyond 10 %
SUPPLY_FAIL_FRAC = 0.10
HEATER_RISE_C = 3.0  # clear of the 0.25 C resolution and noise: the heater is surely working
HEATER_FALL_C = 1.0  # falling while heated at full power: the thermocouple is reversed
HEATER_MAX_S = 120.0  # a 2 kW steel platen shows +3 C in ~25 s; allows 4x heavier or weaker
PUMP_TEST_MPA = 2.0  # low: ~6 kN on a 63.5 mm ram, harmless to empty platens or a spacer
PUMP_TEST_LIMIT_FRAC = 0.2  # and never above a fifth of the press's line-pressure limit
PUMP_MAX_S = 20.0  # ram travel (~5-25 mm at 0.8 l/min) plus the rise
PUMP_PERIOD_S = 0.01  # 100 Hz: in contact the line rises ~30 MPa/s; 10 Hz would overshoot
PUMP_ABORT_FACTOR = 3.0  # stop at once beyond 3x the test pressure, whatever else happens
HOLD_S = 2.0  # every valve closed, pump off: the pressure should stay
HOLD_MAX_LOSS_FRAC = 0.2  # more loss than this in 2 s: release valve not closing, or a leak
RELEASE_MAX_S = 30.0  # a needle set to release full pressure in ~10 s drops 2 MPa in a few
RELEASE_DONE_FRAC = 0.25  # pressure below a quarter of the held value: the release valve opened
MIN_RELEASE_TEST_MPA = 0.5  # below this the pump test built too little to judge a release
# An existing controller is asked for this much above its reading: past any PID box's proportional
# band (a few % of span), so it drives full power like our SSR check, yet the check stops at +3 C.
BOX_TEST_DELTA_C = 30.0
HYDRAULIC_CHECKS = ("pump + advance valve", "hold (valves closed)", "release valve")


class Status(enum.Enum):
    """A check's verdict; WARN passes the test but deserves a look, SKIP could not be judged."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class CheckResult:
    """One line of the report: what was checked, the verdict, and what to check when not PASS."""

    name: str
    status: Status
    measured: str
    expected: str = ""
    advice: str = ""

    def as_dict(self) -> dict[str, str]:
        """JSON-ready, the status as its text."""
        return {**asdict(self), "status": self.status.value}


@dataclass
class Outcome:
    """Every result in order, and the calibrated zero offset when the zero could be judged."""

    results: list[CheckResult] = field(default_factory=list)
    zero_offset_mpa: float | None = None

    @property
    def passed(self) -> bool:
        """True when nothing FAILed (WARN and SKIP do not fail a commissioning)."""
        return all(r.status is not Status.FAIL for r in self.results)


@dataclass
class Rest:
    """Readings gathered at rest, outputs safe."""

    temps: dict[str, list[TempResult]]  # MAX31855 channels only (serial zones: selftest_serial)
    pressures: list[PressureReading | SensorFault]
    estop: bool
    guard_open: bool


def valid_temps(results: list[TempResult]) -> list[TempReading]:
    """The readings among `results` (faults dropped)."""
    return [r for r in results if isinstance(r, TempReading)]


class Selftest:
    """Runs both phases on an open `PressIO`; `confirm(question)` gates the outputs phase."""

    def __init__(self, cfg: PressConfig, io: PressIO, clock: Clock,
                 confirm: Callable[[str], bool], progress: Callable[[str], None] = print) -> None:
        self.cfg = cfg
        self.io = io
        self.clock = clock
        self.confirm = confirm
        self.progress = progress
        self.outcome = Outcome()
        # MAX31855 channels by name; a zone read through its existing controller has none.
        self.cs_pins = {z.name: z.tc_cs_pin for z in cfg.zones if z.tc_cs_pin is not None}
        if cfg.sample_tc_cs_pin is not None:
            self.cs_pins["sample"] = cfg.sample_tc_cs_pin
        self.boxes_ok: set[str] = set()  # zones whose controller took and read back a setpoint

    def run(self) -> Outcome:
        """Both phases; the outputs are left safe."""
        from firmware.selftest_serial import SerialChecks

        self.progress(f"reading every sensor for {REST_S:g} s with every output safe")
        adc_ok = self._check_adc()
        serial = SerialChecks(self) if self.io.serial is not None else None
        rest = self._read_at_rest(serial.watch if serial is not None else None)
        for name, results in rest.temps.items():
            self._check_thermocouple(name, results)
        pressure_ok = adc_ok and self._check_zero(rest.pressures)
        if serial is not None:
            serial.judge_rest()
            self.boxes_ok = serial.check_setpoints()
        self._check_switches(rest)
        try:
            self._outputs_phase(rest, pressure_ok)
        finally:
            self.io.safe()
        return self.outcome

    def add(self, name: str, status: Status, measured: str, expected: str = "",
            advice: str = "") -> CheckResult:
        """Record one result (and return it, for callers that branch on it)."""
        result = CheckResult(name, status, measured, expected, advice)
        self.outcome.results.append(result)
        return result

    # ---- at rest ---------------------------------------------------------------------------
    def _check_adc(self) -> bool:
        """The ADS1115 answers; with a supply channel, the transducer supply is in band."""
        t = self.cfg.transducer
        if t is None or self.io.adc is None:
            source = self.cfg.pressure_instrument
            self.add("ADC", Status.SKIP, "no ADS1115 on this press", advice=(
                f"pressure comes from serial instrument {source.name!r}: see its line"
                if source is not None else "no [transducer] in the config"))
            return False
        channel = t.supply_channel if t.kind == "ratiometric" else None
        try:
            volts = self.io.adc.read_voltage(channel if channel is not None else t.channel,
                                             SUPPLY_FSR_V, t.data_rate_sps)
        except (OSError, ValueError) as exc:
            measured = (f"no answer (errno {exc.errno})" if isinstance(exc, OSError) and exc.errno
                        else f"{type(exc).__name__}: {exc}")
            self.add("ADC", Status.FAIL, measured,
                     f"ADS1115 answers at {t.address:#04x}", diagnose.explain_adc_error(exc, t))
            return False
        self.add("ADC", Status.PASS, f"ADS1115 answers at {t.address:#04x} on bus {t.i2c_bus}")
        if channel is not None:
            self._judge_supply(volts, t.supply_v, channel)
        return True

    def _judge_supply(self, volts: float, nominal_v: float, channel: int) -> None:
        error = abs(volts - nominal_v) / nominal_v
        status = (Status.PASS if error <= SUPPLY_WARN_FRAC else
                  Status.WARN if error <= SUPPLY_FAIL_FRAC else Status.FAIL)
        self.add("transducer supply", status, f"{volts:.3f} V on AIN{channel}",
                 f"{nominal_v:g} V +-{SUPPLY_WARN_FRAC:.0%}",
                 "" if status is Status.PASS else
                 f"check the transducer's {nominal_v:g} V feed (a sagging supply, a long thin "
                 f"wire) and its link to AIN{channel}; ratiometric readings follow the supply")

    def _read_at_rest(self, watch: Callable[[], None] | None = None) -> Rest:
        """REST_S of readings, outputs safe; keeps every fresh thermocouple result and calls
        `watch()` after each read (the serial checks collect their instruments' results)."""
        rest = Rest({name: [] for name in self.cs_pins}, [], False, False)
        end_s = self.clock.now() + REST_S
        while self.clock.now() < end_s:
            sample = self.io.read()
            if watch is not None:
                watch()
            for name in sample.fresh_temps & rest.temps.keys():
                rest.temps[name].append(sample.temps[name])
            rest.pressures.append(sample.pressure)
            rest.estop |= sample.estop
            rest.guard_open |= sample.guard_open
            self.clock.sleep(1.0 / self.cfg.loop.tick_hz)
        return rest

    def _check_thermocouple(self, name: str, results: list[TempResult]) -> None:
        """Faults first (they name the wire), then the cold junction, then hot vs cold."""
        faults = [r for r in results if isinstance(r, SensorFault)]
        good = valid_temps(results)
        label = f"thermocouple {name}"
        if faults:
            status = Status.FAIL if len(faults) * 2 >= len(results) else Status.WARN
            self.add(label, status, f"{len(faults)} of {len(results)} reads failed: "
                     f"{faults[-1].kind.value}", "no faults",
                     diagnose.explain_tc_fault(faults[-1], name, self.cs_pins[name]))
            if status is Status.FAIL:
                return
        cold_c = statistics.fmean(r.cold_junction_c for r in good)
        hot_c = statistics.fmean(r.temp_c for r in good)
        self._judge_cold_junction(name, cold_c)
        self._judge_hot_vs_cold(label, hot_c, cold_c)

    def _judge_cold_junction(self, name: str, cold_c: float) -> None:
        ok = ROOM_MIN_C <= cold_c <= ROOM_MAX_C
        self.add(f"cold junction {name}", Status.PASS if ok else Status.FAIL, f"{cold_c:.1f} C",
                 f"{ROOM_MIN_C:g}..{ROOM_MAX_C:g} C (room)", "" if ok else
                 f"the MAX31855 on CS GPIO{self.cs_pins[name]} reads its own die implausibly: "
                 "a damaged board, or mounted on something hot; move it away from heat sources")

    def _judge_hot_vs_cold(self, label: str, hot_c: float, cold_c: float) -> None:
        diff_c = hot_c - cold_c
        measured = f"{hot_c:.1f} C (cold junction {cold_c:.1f} C)"
        expected = f"within {TC_REST_BAND_C:g} C of the cold junction at rest"
        if abs(diff_c) <= TC_REST_BAND_C:
            self.add(label, Status.PASS, measured, expected)
        elif diff_c > 0:
            self.add(label, Status.WARN, measured, expected, "the platen is warm: the at-rest "
                     "check wants a cold press (the heater check below still runs)")
        else:
            self.add(label, Status.FAIL, measured, expected, "reads below the board: a "
                     "reversed thermocouple (K type: the magnetic leg is -) or a thermocouple "
                     "that is not type K on a MAX31855K")

    def _check_zero(self, pressures: list[PressureReading | SensorFault]) -> bool:
        """Line pressure at rest: no faults, near zero, quiet; computes the zero offset."""
        t = self.cfg.transducer
        faults = [p for p in pressures if isinstance(p, SensorFault)]
        if faults:
            self.add("line pressure at rest", Status.FAIL, f"{len(faults)} of {len(pressures)} "
                     f"reads failed: {faults[-1].kind.value}", "no faults",
                     diagnose.explain_pressure_fault(faults[-1], t))
            return False
        values = [p.pressure_mpa for p in pressures if isinstance(p, PressureReading)]
        mean_mpa, noise_mpa = statistics.fmean(values), statistics.pstdev(values)
        tolerance_mpa = ZERO_TOLERANCE_FRAC * t.range_mpa
        measured = f"{mean_mpa:+.3f} MPa (noise {noise_mpa:.3f} MPa rms)"
        if abs(mean_mpa) > tolerance_mpa:
            self.add("line pressure at rest", Status.FAIL, measured, f"0 +-{tolerance_mpa:g} MPa",
                     "pressure with the release valve open: check the release valve opens "
                     "(and its needle valve is not shut), that range_mpa and kind match the "
                     "transducer's label, and the transducer for damage")
            return False
        noisy = noise_mpa > NOISE_WARN_FRAC * t.range_mpa
        self.add("line pressure at rest", Status.WARN if noisy else Status.PASS, measured,
                 f"0 +-{tolerance_mpa:g} MPa", "noisy: ground the transducer at the ADC, use "
                 "shielded cable away from the pump motor and SSR wiring" if noisy else "")
        self.outcome.zero_offset_mpa = t.zero_offset_mpa + mean_mpa / t.span_factor
        return True

    def _check_switches(self, rest: Rest) -> None:
        estop, guard = self.cfg.inputs.estop, self.cfg.inputs.guard
        self.add("e-stop", Status.FAIL if rest.estop else Status.PASS,
                 "pressed (or its circuit is open)" if rest.estop else "released", "released",
                 f"release the e-stop; if it is released, check its NC contact to GPIO{estop.pin} "
                 "and GND (a broken wire reads as pressed)" if rest.estop else "")
        if guard is None:
            self.add("guard", Status.WARN, "no guard input configured", "closed",
                     "the README requires a guard interlock: wire one and add [inputs.guard]")
            return
        self.add("guard", Status.FAIL if rest.guard_open else Status.PASS,
                 "open" if rest.guard_open else "closed", "closed",
                 f"close the guard; if it is closed, check its NC switch to GPIO{guard.pin} and "
                 "GND and the switch's actuator alignment" if rest.guard_open else "")

    # ---- outputs ---------------------------------------------------------------------------
    def _outputs_phase(self, rest: Rest, pressure_ok: bool) -> None:
        heated = [z.name for z in self.cfg.zones if z.ssr_pin is not None]
        boxes = [z.name for z in self.cfg.zones if z.controller is not None]
        question = self._question(heated, boxes)
        why_not = self._outputs_blocked(rest)
        if why_not is None and question and not self.confirm(question):
            why_not = "not confirmed: answer yes, or pass --yes"
        if why_not is not None:
            for name in self._output_checks(heated, boxes):
                self.add(name, Status.SKIP, "not run", advice=why_not)
        else:
            from firmware.selftest_outputs import OutputChecks

            OutputChecks(self).run(heated, pressure_ok, boxes)
        if self.cfg.hydraulics is None:
            self.add("pump and valves", Status.SKIP, "none on this press",
                     advice=f'pressure_mode = "{self.cfg.pressure_mode}": the operator makes '
                            "the pressure with the hand pump")

    def _output_checks(self, heated: list[str], boxes: list[str]) -> list[str]:
        """The names of the outputs phase's lines, in order (for SKIP lines when it cannot run)."""
        names = [f"heater {z}" for z in [*heated, *boxes]]
        if boxes and self.cfg.heater_permit is not None:
            names.append("heater permit")
        return names + (list(HYDRAULIC_CHECKS) if self.cfg.hydraulics is not None else [])

    def _outputs_blocked(self, rest: Rest) -> str | None:
        if rest.estop:
            return "release the e-stop first: the outputs cannot act while it is pressed"
        if rest.guard_open:
            return "close the guard first"
        return None

    def _question(self, heated: list[str], boxes: list[str]) -> str:
        """What the outputs phase will do, to confirm; "" when it has nothing to switch."""
        parts = []
        if heated:
            parts.append(f"each heater ({', '.join(heated)}) at full power until it warms "
                         f"{HEATER_RISE_C:g} C (at most {HEATER_MAX_S:g} s)")
        if boxes:
            names = ", ".join(str(self.cfg.zone(z).controller) for z in boxes)
            permit = self.cfg.heater_permit
            relay = (f" with the heater permit relay (GPIO{permit.pin}) closed"
                     if permit is not None else "")
            parts.append(f"each temperature controller ({names}) gets a setpoint "
                         f"{BOX_TEST_DELTA_C:g} C above its platen{relay} until it warms "
                         f"{HEATER_RISE_C:g} C" + (", then the same with the relay open, to see "
                                                   "it cut the heating" if relay else ""))
        if self.cfg.hydraulics is not None:
            parts.append(f"the pump closes the platens to {self.pump_test_mpa():g} MPa line "
                         "pressure and the release valve drops it")
        if not parts:
            return ""
        return ("The next checks switch outputs: " + ", then ".join(parts)
                + ". Keep hands clear of the platens. Continue?")

    def pump_test_mpa(self) -> float:
        """The pump check's target line pressure: low, and within the press's limit."""
        return min(PUMP_TEST_MPA, PUMP_TEST_LIMIT_FRAC * self.cfg.limits.max_line_pressure_mpa)

    def drive(self, cmd: OutputCommands, period_s: float, max_s: float,
              done: Callable[[Sample], bool],
              apply: Callable[[OutputCommands], None] | None = None,
              ) -> tuple[str, Sample, float]:
        """Hold `cmd` until `done(sample)`; stops on an interlock or after `max_s` seconds.

        `apply` replaces `io.apply` for a step that sets the outputs its own way (the permit
        check: setpoints sent with the relay open). Returns (why it stopped: done / timeout / the
        interlock, the last sample, seconds taken). The caller puts the outputs back to safe.
        """
        apply = apply or self.io.apply
        start_s = self.clock.now()
        while True:
            sample = self.io.read()
            elapsed_s = self.clock.now() - start_s
            if sample.estop or sample.guard_open:
                self.io.safe()
                return ("e-stop pressed" if sample.estop else "guard opened"), sample, elapsed_s
            if done(sample):
                return "done", sample, elapsed_s
            if elapsed_s >= max_s:
                return "timeout", sample, elapsed_s
            apply(cmd)
            self.clock.sleep(period_s)

    def settle(self) -> None:
        """Outputs safe, for one tick, between steps."""
        self.io.apply(SAFE_COMMANDS)
        self.clock.sleep(1.0 / self.cfg.loop.tick_hz)
