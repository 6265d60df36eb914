"""Thermal checks: over-temperature, heating stall, runaway (welded SSR), platen disagreement.

All trend checks judge over windows derived from the press (see `thresholds.py`) and average the
window's ends (`history.ENDPOINT_AVERAGE_S`), so MAX31855 quantisation and noise cannot trip
them. Heater duty is the duty applied last tick (`SupervisorContext.last_outputs`): what the
hardware was told, which is what the platen answers to.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from firmware.config.model import PressConfig
from firmware.safety.faults import Fault, FaultCode, Finding
from firmware.safety.history import Series
from firmware.safety.observation import Observation, rounded
from firmware.safety.thresholds import SafetyConfig, ZoneSafety

# Memory kept behind the longest window, so a window's first endpoint average is complete.
MEMORY_MARGIN_S = 5.0


class ThermalMemory:
    """Valid new temperature readings of every thermocouple, and the duty of every heated zone."""

    def __init__(self, tc_names: tuple[str, ...], cfg: SafetyConfig) -> None:
        heated = [z for z in cfg.zones if z.heated]
        windows = [cfg.platen_steady_window_s]
        windows += [w for z in heated for w in (z.stall_window_s, z.runaway_window_s)]
        keep_s = max(windows) + MEMORY_MARGIN_S
        self.temps = {name: Series(keep_s) for name in tc_names}
        self.duty = {z.name: Series(keep_s) for z in heated}

    def update(self, obs: Observation) -> None:
        """Add this tick's new valid readings and the duty applied over the tick."""
        for name, series in self.temps.items():
            reading = obs.reading(name)
            if name in obs.new_temps and reading is not None:
                series.add(reading.time_s, reading.temp_c)
        for name, series in self.duty.items():
            series.add(obs.now_s, obs.ctx.duty(name))

    def now_c(self, name: str, now_s: float) -> float | None:
        """A zone's current temperature, averaged over the last endpoint span (C), or None."""
        series = self.temps.get(name)
        return series.end_value(now_s) if series is not None else None


# A material's limit is the highest *setpoint* a recipe may use (Li: 170 C, 10.5 C under its
# melting point); the trip sits this far above it, as the press limits sit 2 C above the highest
# setpoint the recipe validator allows, so a hold at the limit does not trip on sensor noise.
MATERIAL_TRIP_ABOVE_LIMIT_C = 2.0


class OverTempCheck:
    """OVER_TEMP: a reading above the lowest of its zone max, the press max and the material
    limit, for `over_temp_confirm_reads` fresh reads. Warns `over_temp_warn_margin_c` below.
    """

    codes = frozenset({FaultCode.OVER_TEMP})

    def __init__(self, press: PressConfig, tc_names: tuple[str, ...], cfg: SafetyConfig) -> None:
        self.press = press
        self.tc_names = tc_names
        self.cfg = cfg
        self._over_reads: dict[str, int] = {}
        # limit() by (thermocouple, material limit): the press and zone limits never change and
        # the material limit only between runs, but the check asks every tick.
        self._limits: dict[tuple[str, float | None], tuple[float, str]] = {}

    def limit(self, name: str, obs: Observation) -> tuple[float, str]:
        """The lowest limit that applies to thermocouple `name` now, and which one it is."""
        key = (name, obs.ctx.material_limit_c)
        found = self._limits.get(key)
        if found is None:
            found = self._limits[key] = self._lowest_limit(name, obs.ctx.material_limit_c)
        return found

    def _lowest_limit(self, name: str, material_limit_c: float | None) -> tuple[float, str]:
        limits = [(self.press.limits.max_temp_c, "press limit")]
        zone = next((z for z in self.press.zones if z.name == name), None)
        if zone is not None:
            limits.append((zone.max_temp_c, "zone max"))
        if material_limit_c is not None:
            limits.append((material_limit_c + MATERIAL_TRIP_ABOVE_LIMIT_C, "material limit"))
        return min(limits)

    def evaluate(self, obs: Observation) -> list[Finding]:
        """Trip after the confirm count of fresh reads above the limit; warn near it."""
        found: list[Finding] = []
        for name in self.tc_names:
            temp_c = obs.temp_c(name)
            if temp_c is None:
                continue  # read health and staleness own a missing reading
            limit_c, which = self.limit(name, obs)
            if name in obs.new_temps:
                over = temp_c > limit_c
                self._over_reads[name] = self._over_reads.get(name, 0) + 1 if over else 0
            if self._over_reads.get(name, 0) >= self.cfg.over_temp_confirm_reads:
                found.append(obs.trip(FaultCode.OVER_TEMP, name,
                                      f"{temp_c:.1f} C is above the {which} {limit_c:g} C",
                                      temp_c=rounded(temp_c), limit_c=limit_c, limit=which))
            elif temp_c >= limit_c - self.cfg.over_temp_warn_margin_c:
                found.append(obs.warn(FaultCode.OVER_TEMP, name,
                                      f"{temp_c:.1f} C is near the {which} {limit_c:g} C",
                                      temp_c=rounded(temp_c), limit_c=limit_c, limit=which))
        return found

    def clearance(self, fault: Fault, obs: Observation) -> str | None:
        """Clear once the reading is `over_temp_reset_hysteresis_c` below the limit that tripped."""
        temp_c = obs.temp_c(fault.subject)
        limit_c = float(fault.values.get("limit_c", self.press.limits.max_temp_c))
        below_c = limit_c - self.cfg.over_temp_reset_hysteresis_c
        if temp_c is None:
            return "no valid reading to confirm it has cooled"
        return None if temp_c <= below_c else f"{temp_c:.1f} C, must be at or below {below_c:g} C"

    def forget(self) -> None:
        """Restart the confirm counts."""
        self._over_reads.clear()


class StallCheck:
    """HEATING_STALL: mean duty at or above `stall_duty_fraction` over the zone's stall window
    with less than `stall_min_rise_c` of rise: a dead heater, an open SSR or fuse, or a
    thermocouple that has come out of its hole (the controller then heats blind).
    """

    codes = frozenset({FaultCode.HEATING_STALL})

    def __init__(self, memory: ThermalMemory, cfg: SafetyConfig) -> None:
        self.memory = memory
        self.cfg = cfg

    def _stalled(self, zone: ZoneSafety, now_s: float) -> tuple[float, float] | None:
        """(mean duty, rise C) when the zone stalled over its window, else None."""
        t0_s = now_s - zone.stall_window_s
        duty = self.memory.duty[zone.name]
        if not duty.covers(t0_s):
            return None
        mean_duty = duty.mean_between(t0_s, now_s)
        if mean_duty is None or mean_duty < self.cfg.stall_duty_fraction:
            return None
        rise_c = self.memory.temps[zone.name].rise(t0_s, now_s)
        if rise_c is None or rise_c >= self.cfg.stall_min_rise_c:
            return None
        return mean_duty, rise_c

    def evaluate(self, obs: Observation) -> list[Finding]:
        """A trip for each heated zone that stalled over its window."""
        found: list[Finding] = []
        for zone in (z for z in self.cfg.zones if z.heated):
            stalled = self._stalled(zone, obs.now_s)
            if stalled is not None:
                mean_duty, rise_c = stalled
                found.append(obs.trip(
                    FaultCode.HEATING_STALL, zone.name,
                    f"{mean_duty:.0%} mean duty for {zone.stall_window_s:.0f} s raised it only "
                    f"{rise_c:.1f} C: heater, SSR, fuse or thermocouple contact?",
                    mean_duty=rounded(mean_duty), rise_c=rounded(rise_c),
                    window_s=rounded(zone.stall_window_s, 1),
                    min_rise_c=self.cfg.stall_min_rise_c))
        return found

    def clearance(self, fault: Fault, obs: Observation) -> str | None:
        """Clear once the zone reads valid (outputs are safe, so it is no longer heating hard)."""
        return None if obs.temp_c(fault.subject) is not None else "no valid reading"

    def forget(self) -> None:
        """Nothing: the safe period since the trip already holds the mean duty low."""


class RunawayCheck:
    """RUNAWAY (WELDED_SSR): rising by `runaway_min_rise_c` over the runaway window while the
    zone's SSR has been off for `runaway_settle_s` + that window.

    Benign look-alikes it must not trip on: the heat soak just after full power stops (the settle
    time covers the heater core and the lag chain), a platen cooling (a fall is not a rise), and
    heat flowing in through a die from a neighbour that is or was recently heating and reads no
    more than `runaway_neighbour_band_c` below this zone (it could in fact be hotter). When every
    heater has been off past its settle time, no neighbour excuses a rise.
    """

    codes = frozenset({FaultCode.RUNAWAY})

    def __init__(self, memory: ThermalMemory, cfg: SafetyConfig) -> None:
        self.memory = memory
        self.cfg = cfg
        self._off_since_s: dict[str, float | None] = {z.name: None for z in cfg.zones if z.heated}

    def _update_off(self, obs: Observation) -> None:
        """Track since when each SSR has been commanded off (duty applied over the last tick)."""
        for name, since in self._off_since_s.items():
            if obs.ctx.duty(name) > self.cfg.runaway_off_duty_fraction:
                self._off_since_s[name] = None
            elif since is None:
                self._off_since_s[name] = obs.now_s - obs.dt_s

    def _settled_off(self, zone: ZoneSafety, now_s: float) -> bool:
        since = self._off_since_s.get(zone.name)
        return since is not None and now_s - since >= zone.runaway_settle_s

    def _excused(self, zone: ZoneSafety, now_s: float) -> bool:
        """A neighbour that may be hotter and is (or recently was) heating explains the rise."""
        mine = self.memory.now_c(zone.name, now_s)
        for other in self.cfg.zones:
            theirs = self.memory.now_c(other.name, now_s)
            if (other.heated and other.name != zone.name and mine is not None
                    and theirs is not None
                    and theirs >= mine - self.cfg.runaway_neighbour_band_c
                    and not self._settled_off(other, now_s)):
                return True
        return False

    def evaluate(self, obs: Observation) -> list[Finding]:
        """A trip for each heated zone rising with its SSR settled off and no excuse."""
        self._update_off(obs)
        found: list[Finding] = []
        for zone in (z for z in self.cfg.zones if z.heated):
            since = self._off_since_s[zone.name]
            if since is None or obs.now_s - since < zone.runaway_settle_s + zone.runaway_window_s:
                continue
            rise_c = self.memory.temps[zone.name].rise(obs.now_s - zone.runaway_window_s,
                                                       obs.now_s)
            if rise_c is None or rise_c < self.cfg.runaway_min_rise_c:
                continue
            if self._excused(zone, obs.now_s):
                continue
            found.append(obs.trip(
                FaultCode.RUNAWAY, zone.name,
                f"rose {rise_c:.1f} C in {zone.runaway_window_s:.0f} s with its SSR off for "
                f"{obs.now_s - since:.0f} s: welded SSR?",
                rise_c=rounded(rise_c), window_s=rounded(zone.runaway_window_s, 1),
                off_s=rounded(obs.now_s - since, 1), min_rise_c=self.cfg.runaway_min_rise_c))
        return found

    def clearance(self, fault: Fault, obs: Observation) -> str | None:
        """Clear once the zone has stopped rising over a full runaway window (SSR off)."""
        zone = self.cfg.zone(fault.subject)
        if zone is None:
            return None
        rise_c = self.memory.temps[zone.name].rise(obs.now_s - zone.runaway_window_s, obs.now_s)
        if rise_c is None:
            return "not enough readings yet to see it has stopped rising"
        if rise_c >= self.cfg.runaway_min_rise_c:
            return (f"still rising {rise_c:.1f} C per {zone.runaway_window_s:.0f} s with its SSR "
                    "off: cut power and replace the SSR")
        return None

    def forget(self) -> None:
        """Keep the off timers: outputs stayed safe, so the SSRs really have been off."""


class PlatenDisagreeCheck:
    """PLATEN_DISAGREE: two heated zones with matching setpoints, both steady, far apart.

    Steady: neither moved more than `platen_steady_rate_c_per_s` x the steady window over that
    window. A displaced or wrong-type thermocouple, or a heater that cannot hold, shows here.
    """

    codes = frozenset({FaultCode.PLATEN_DISAGREE})

    def __init__(self, memory: ThermalMemory, cfg: SafetyConfig) -> None:
        self.memory = memory
        self.cfg = cfg
        heated = [z.name for z in cfg.zones if z.heated]
        self.pairs = list(itertools.combinations(heated, 2))

    def _steady(self, name: str, now_s: float) -> bool:
        window_s = self.cfg.platen_steady_window_s
        rise_c = self.memory.temps[name].rise(now_s - window_s, now_s)
        return rise_c is not None and abs(rise_c) <= self.cfg.platen_steady_rate_c_per_s * window_s

    def _should_agree(self, a: str, b: str, obs: Observation) -> bool:
        set_a, set_b = obs.ctx.zone_setpoints_c.get(a), obs.ctx.zone_setpoints_c.get(b)
        return (set_a is not None and set_b is not None
                and abs(set_a - set_b) <= self.cfg.platen_setpoint_match_c)

    def evaluate(self, obs: Observation) -> list[Finding]:
        """Trip beyond the band, warn beyond the warning band, for each pair that should agree."""
        found: list[Finding] = []
        for a, b in self.pairs:
            if not (self._should_agree(a, b, obs) and self._steady(a, obs.now_s)
                    and self._steady(b, obs.now_s)):
                continue
            ta, tb = self.memory.now_c(a, obs.now_s), self.memory.now_c(b, obs.now_s)
            if ta is None or tb is None:
                continue
            diff_c = abs(ta - tb)
            if diff_c > self.cfg.platen_disagree_band_c:
                found.append(self._finding(obs.trip, a, ta, b, tb))
            elif diff_c > self.cfg.platen_disagree_warn_c:
                found.append(self._finding(obs.warn, a, ta, b, tb))
        return found

    def _finding(self, make: Callable[..., Finding], a: str, ta: float, b: str,
                 tb: float) -> Finding:
        """A trip or warning (`make`) with its text and numbers, built only when found: the
        check runs every tick and steady platens almost always agree."""
        diff_c = abs(ta - tb)
        values = dict(diff_c=rounded(diff_c), band_c=self.cfg.platen_disagree_band_c)
        values[f"{a}_c"], values[f"{b}_c"] = rounded(ta), rounded(tb)
        text = f"{a} {ta:.1f} C and {b} {tb:.1f} C differ by {diff_c:.1f} C, both steady"
        return make(FaultCode.PLATEN_DISAGREE, f"{a}/{b}", text, **values)

    def clearance(self, fault: Fault, obs: Observation) -> str | None:
        """Clear once the two read within the band again."""
        a, _, b = fault.subject.partition("/")
        ta, tb = obs.temp_c(a), obs.temp_c(b)
        if ta is None or tb is None:
            return "no valid reading on both platens"
        diff_c = abs(ta - tb)
        band_c = self.cfg.platen_disagree_band_c
        return None if diff_c <= band_c else f"still {diff_c:.1f} C apart (band {band_c:g} C)"

    def forget(self) -> None:
        """Nothing: steadiness is judged from the readings."""
