"""The rig and the control laws of bench/control.py: one plant, one bus path, four controllers.

Every law runs on a fresh reference press (`SimPress`, benchmark noise and faults as configured)
read through `PressIO` (the real MAX31855 driver over the emulated SPI bus) at the daemon's tick,
its duty time-proportioned by the real `TimeProportionedSsr`. A law sees only the readings; the
rig records the truth beside them for the figures.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

import simple_pid

from firmware.clock import VirtualClock
from firmware.config.model import PressConfig
from firmware.control.temperature import ZoneController
from firmware.hal.outputs import OutputCommands
from firmware.hal.press_io import PressIO
from firmware.hal.thermocouple import Thermocouple
from firmware.hal.types import TempReading
from firmware.presets import reference_sim_config
from firmware.run.core_support import zone_model
from firmware.sim.press import BOARD_PICKUP_PER_C, BOARD_WARMUP_C, SimPress
from firmware.sim.spi_max31855 import SimMax31855, SimSPIBus

FIGURE_ZONE = "bottom"  # the platen a cold die lands on; every figure is for it

# Klipper's PID_CALIBRATE (klippy/extras/pid_calibrate.py): full power until the reading reaches
# the target, off until it is TUNE_PID_DELTA below, 12 peaks, the median cycle, then
# Ku = 4 max_power / (pi a) (a: half the peak-to-peak; max_power 1) and ZN: Kp 0.6 Ku,
# Ti 0.5 Tu, Td 0.125 Tu.
TUNE_PID_DELTA_C = 5.0
TUNE_PEAKS = 12
TUNE_MAX_S = 6000.0
ZN_KP_PER_KU, ZN_TI_PER_TU, ZN_TD_PER_TU = 0.6, 0.5, 0.125

ONOFF_HYSTERESIS_C = 0.5  # on below target - 0.5 C, off above target + 0.5 C
FLOOR_SEEDS = 5  # noise seeds the display's sensor floor is the median of

Law = Callable[[str, float | None, float, float], float]
"""A controller: (zone, reading C or None on a fault frame, target C, dt s) -> duty 0..1."""


@dataclass
class Trace:
    """What one run recorded: per tick truth and duty; per fresh read the reading."""

    tick_s: list[float] = field(default_factory=list)
    true_c: list[float] = field(default_factory=list)
    duty: list[float] = field(default_factory=list)
    switches: list[int] = field(default_factory=list)
    read_s: list[float] = field(default_factory=list)
    read_c: list[float] = field(default_factory=list)
    chip_c: list[float] = field(default_factory=list)  # MAX31855's own value before NIST
    faults: int = 0


class Rig:
    """The reference press on a virtual clock with the real hardware layer on top."""

    def __init__(self, cfg: PressConfig | None = None) -> None:
        self.cfg = cfg or reference_sim_config()
        self.clock = VirtualClock()
        self.press = SimPress(self.cfg, self.clock)
        self.io = PressIO(self.cfg, self.press, self.clock)
        self.tick_s = 1.0 / self.cfg.loop.tick_hz
        self.zones = tuple(z.name for z in self.cfg.zones if z.ssr_pin is not None)
        self.trace = Trace()
        self._ticks = 0

    @property
    def tick_time_s(self) -> float:
        """Start time of the current tick (the loop's deadline grid, as the daemon keeps it)."""
        return self._ticks * self.tick_s

    def next_tick(self) -> None:
        """Sleep to the next deadline: reads that took bus time do not stretch the tick."""
        self._ticks += 1
        self.clock.sleep_until(self.tick_time_s)

    def run(self, law: Law, target_c: Callable[[float], float], until_s: float,
            events: dict[float, Callable[[Rig], None]] | None = None) -> Trace:
        """Close the loop tick by tick until `until_s`; `events` fire once at their time (s)."""
        pending = sorted((events or {}).items())
        ssr = self.io.outputs.ssrs[FIGURE_ZONE]
        while self.tick_time_s < until_s - 1e-9:
            now_s = self.tick_time_s
            while pending and pending[0][0] <= now_s + 1e-9:
                pending.pop(0)[1](self)
            sample = self.io.read()
            duties = {}
            for zone in self.zones:
                result = sample.temps[zone]
                reading = result.temp_c if isinstance(result, TempReading) else None
                duties[zone] = law(zone, reading, target_c(now_s), self.tick_s)
                if zone == FIGURE_ZONE and zone in sample.fresh_temps:
                    self._record_read(now_s, result)
            self.io.apply(OutputCommands(heater_duty=duties))
            self.next_tick()
            trace = self.trace
            trace.tick_s.append(self.tick_time_s)
            trace.true_c.append(self.press.truth()[f"platen_{FIGURE_ZONE}_c"])
            trace.duty.append(duties[FIGURE_ZONE])
            trace.switches.append(ssr.switch_count)
        return self.trace

    def _record_read(self, now_s: float, result: object) -> None:
        if isinstance(result, TempReading):
            self.trace.read_s.append(now_s)
            self.trace.read_c.append(result.temp_c)
            self.trace.chip_c.append(result.raw_temp_c)
        else:
            self.trace.faults += 1

    def close(self) -> None:
        self.io.close()


def place_cold_die(rig: Rig) -> None:
    """The cold_die event: 0.6 kg of steel at ambient put on the bottom platen."""
    rig.press.thermal.place_mass(0.6, rig.cfg.backend.sim.ambient_c)


def _last_valid(state: dict[str, float], zone: str, reading: float | None) -> float | None:
    """Every law treats a fault frame alike: it reuses the zone's last valid reading."""
    if reading is not None:
        state[zone] = reading
    return state.get(zone)


def hotpress_law(rig: Rig) -> Law:
    """`ZoneController` per zone, built from config exactly as the daemon's core builds it."""
    zcs = {z.name: ZoneController(zone_model(rig.cfg, z), tick_s=rig.tick_s)
           for z in rig.cfg.zones if z.ssr_pin is not None}
    return lambda zone, reading, target, dt: zcs[zone].update(reading, target, None, dt)


def simple_pid_law(rig: Rig, gains: tuple[float, float, float]) -> Law:
    """simple-pid on the virtual clock, output 0..1, computing once per thermocouple reading
    (`sample_time`: between readings it returns its last output, as it would in a 10 Hz loop)."""
    pids: dict[str, simple_pid.PID] = {}
    last: dict[str, float] = {}

    def law(zone: str, reading: float | None, target: float, dt: float) -> float:
        value = _last_valid(last, zone, reading)
        if value is None:
            return 0.0
        pid = pids.get(zone)
        if pid is None:
            pid = pids[zone] = simple_pid.PID(*gains, setpoint=target,
                                              sample_time=rig.cfg.loop.tc_period_s,
                                              output_limits=(0.0, 1.0), time_fn=rig.clock.now)
        pid.setpoint = target
        return float(pid(value))

    return law


def onoff_law() -> Law:
    """Bang-bang with +-ONOFF_HYSTERESIS_C about the target."""
    heating: dict[str, bool] = {}
    last: dict[str, float] = {}

    def law(zone: str, reading: float | None, target: float, dt: float) -> float:
        value = _last_valid(last, zone, reading)
        if value is None:
            return 0.0
        if value <= target - ONOFF_HYSTERESIS_C:
            heating[zone] = True
        elif value >= target + ONOFF_HYSTERESIS_C:
            heating[zone] = False
        return 1.0 if heating.get(zone, False) else 0.0

    return law


def full_power_law(after: Law, from_s: float, rig: Rig) -> Law:
    """`after` until `from_s`, then full power (the physical limit from that moment)."""
    return lambda zone, reading, target, dt: (1.0 if rig.tick_time_s >= from_s - 1e-9
                                              else after(zone, reading, target, dt))


@dataclass(frozen=True)
class KlipperTune:
    """What the relay found and the gains it gives (duty per C, duty per C s, duty s per C)."""

    ku: float
    tu_s: float
    amplitude_c: float
    kp: float
    ki: float
    kd: float


class _KlipperRelay:
    """klippy/extras/pid_calibrate.py ControlAutoTune, on the bottom zone (others held off)."""

    def __init__(self, target_c: float) -> None:
        self.target_c = target_c
        self.heating = False
        self.peak_c, self.peak_s = 0.0, 0.0
        self.peaks: list[tuple[float, float]] = []
        self.now_s = 0.0

    def __call__(self, zone: str, reading: float | None, target: float, dt: float) -> float:
        if zone != FIGURE_ZONE:
            return 0.0
        self.now_s += dt  # Klipper stamps peaks with the reading's time
        if reading is None:
            return 1.0 if self.heating else 0.0
        switch_c = self.target_c if self.heating else self.target_c - TUNE_PID_DELTA_C
        if self.heating and reading >= switch_c:
            self._check_peaks(heating=False)
        elif not self.heating and reading <= switch_c:
            self._check_peaks(heating=True)
        if (reading < self.peak_c) if self.heating else (reading > self.peak_c):
            self.peak_c, self.peak_s = reading, self.now_s
        return 1.0 if self.heating else 0.0

    def _check_peaks(self, heating: bool) -> None:
        self.peaks.append((self.peak_c, self.peak_s))
        self.heating = heating
        self.peak_c = math.inf if heating else -math.inf

    @property
    def done(self) -> bool:
        return not self.heating and len(self.peaks) >= TUNE_PEAKS

    def tune(self) -> KlipperTune:
        cycles = [(self.peaks[p][1] - self.peaks[p - 2][1], p) for p in range(4, len(self.peaks))]
        pos = sorted(cycles)[len(cycles) // 2][1]
        amplitude_c = 0.5 * abs(self.peaks[pos][0] - self.peaks[pos - 1][0])
        ku = 4.0 / (math.pi * amplitude_c)
        tu_s = self.peaks[pos][1] - self.peaks[pos - 2][1]
        kp = ZN_KP_PER_KU * ku
        return KlipperTune(ku, tu_s, amplitude_c, kp, kp / (ZN_TI_PER_TU * tu_s),
                           kp * ZN_TD_PER_TU * tu_s)


def klipper_tune(target_c: float) -> KlipperTune:
    """Run Klipper's relay calibration at `target_c` on a fresh rig; ZN gains from its result."""
    rig = Rig()
    relay = _KlipperRelay(target_c)
    chunk_s = 60.0
    while not relay.done and rig.tick_time_s < TUNE_MAX_S:
        rig.run(relay, lambda _t: target_c, rig.tick_time_s + chunk_s)
    rig.close()
    if not relay.done:
        raise RuntimeError(f"relay tune at {target_c} C did not finish in {TUNE_MAX_S} s")
    return relay.tune()


def display_floor_pp_c(temp_c: float, seconds: float, seeds: int = FLOOR_SEEDS) -> float:
    """Peak-to-peak of the 1 s displayed mean over `seconds` of a platen held perfectly still at
    `temp_c`: the sensor's share of pp_display_c (same chip model, noise and driver), the median
    over `seeds` noise seeds (one seed's figure swings by +-0.06 C)."""
    seed = reference_sim_config().backend.sim.seed
    return median([_still_display_pp_c(temp_c, seconds, seed + k) for k in range(seeds)])


def _still_display_pp_c(temp_c: float, seconds: float, seed: int) -> float:
    cfg = reference_sim_config()
    sim = cfg.backend.sim
    clock, bus = VirtualClock(), SimSPIBus()
    cold_c = sim.ambient_c + BOARD_WARMUP_C + BOARD_PICKUP_PER_C * (temp_c - sim.ambient_c)
    chip = SimMax31855(clock, lambda: temp_c, lambda: cold_c, random.Random(seed),
                       noise_c_rms=sim.tc_noise_c_rms,
                       sporadic_fault_rate=sim.tc_sporadic_fault_rate)
    tc = Thermocouple(bus, bus.chip_select(chip), clock, FIGURE_ZONE)
    per_s = round(1.0 / cfg.loop.tc_period_s)
    means = []
    for _ in range(round(seconds)):
        reads = []
        for _ in range(per_s):
            result = tc.read()
            if isinstance(result, TempReading):
                reads.append(result.temp_c)
            clock.advance(cfg.loop.tc_period_s)
        if reads:
            means.append(sum(reads) / len(reads))
    return spread_c(means)


def spread_c(values: list[float]) -> float:
    """Peak-to-peak of a list (0 for fewer than two values)."""
    return max(values) - min(values) if len(values) > 1 else 0.0


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan
