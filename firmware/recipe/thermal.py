"""Back-of-envelope platen thermal model: how fast a zone can heat and how fast it cools by itself.

Used by the validator (is a ramp rate deliverable?) and the planner (how long will this take?).
It is the lumped platen of reference/plant.md without the lags:

    C dT/dt = P u - UA (T - Ta) (1 + (T - Ta) / 300)

with C = platen + heater-core heat capacity (plant.md's "max ramp ~0.41 K/s" is 2 kW / 4.9 kJ/K)
and the last factor standing in for radiation. The numbers come from the press config: heater
power from the zone, the rest from its physical figures (`PressConfig.physics`: `[plant]`, else
the simulated plant's, else the reference steel platen's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from firmware.config.model import PlantConfig, PressConfig, ZoneConfig

RADIATION_SCALE_K = 300.0  # plant.md: loss factor (1 + dT/300) stands in for radiation
REFERENCE_HEATER_W = 2000.0  # reference press zone: used when a plan has no press config
HEAT_UP_SLICES = 400  # integration steps for a full-power heat-up estimate: error well under 1 %


@dataclass(frozen=True)
class PlatenThermal:
    """The numbers that decide one zone's heating and natural cooling."""

    heater_w: float
    heat_capacity_j_per_k: float  # platen + heater core
    ua_w_per_k: float
    ambient_c: float

    @classmethod
    def for_zone(cls, zone: ZoneConfig, sim: PlantConfig) -> PlatenThermal:
        """Zone heater power with the platen numbers of the press's sim parameters."""
        capacity = sim.platen_heat_capacity_j_per_k + sim.heater_heat_capacity_j_per_k
        return cls(zone.heater_w, capacity, sim.ua_w_per_k, sim.ambient_c)

    @classmethod
    def reference(cls) -> PlatenThermal:
        """The reference steel platen (2 kW, plant.md defaults): for plans without a press."""
        return cls.for_zone(ZoneConfig("reference", 0, 0, REFERENCE_HEATER_W, 300.0), PlantConfig())

    def loss_w(self, temp_c: float) -> float:
        """Heat lost to the room at `temp_c` (W): convection with the radiation factor."""
        rise_k = max(temp_c - self.ambient_c, 0.0)
        return self.ua_w_per_k * rise_k * (1.0 + rise_k / RADIATION_SCALE_K)

    def max_heating_rate_c_per_min(self, temp_c: float) -> float:
        """Fastest rise at `temp_c` (C/min) with the heater full on: lowest at the hottest point."""
        return (self.heater_w - self.loss_w(temp_c)) / self.heat_capacity_j_per_k * 60.0

    def full_power_time_s(self, start_c: float, end_c: float) -> float:
        """Time to heat from `start_c` to `end_c` at full power (s); inf if it cannot get there."""
        if end_c <= start_c:
            return 0.0
        if self.max_heating_rate_c_per_min(end_c) <= 0:
            return math.inf
        step_c = (end_c - start_c) / HEAT_UP_SLICES
        temps = (start_c + (i + 0.5) * step_c for i in range(HEAT_UP_SLICES))
        return sum(step_c * 60.0 / self.max_heating_rate_c_per_min(t) for t in temps)

    def natural_cooling_time_s(self, start_c: float, end_c: float) -> float:
        """Time to cool from `start_c` to `end_c` with the heater off (s); inf at or below ambient.

        Closed form of C dx/dt = -UA x (1 + x/s) with x = T - Ta:
        t = C/UA ln(x0 (s + x1) / (x1 (s + x0))).
        """
        x0, x1 = start_c - self.ambient_c, end_c - self.ambient_c
        if end_c >= start_c:
            return 0.0
        if x1 <= 0:
            return math.inf
        s = RADIATION_SCALE_K
        tau_s = self.heat_capacity_j_per_k / self.ua_w_per_k
        return tau_s * math.log(x0 * (s + x1) / (x1 * (s + x0)))

    def natural_cooling_rate_c_per_min(self, temp_c: float) -> float:
        """How fast the platen cools by itself at `temp_c` (C/min, positive)."""
        return self.loss_w(temp_c) / self.heat_capacity_j_per_k * 60.0


def zone_thermals(press: PressConfig) -> dict[str, PlatenThermal]:
    """Thermal numbers for every heated zone of `press` (zones without an SSR are monitors)."""
    return {z.name: PlatenThermal.for_zone(z, press.physics) for z in heated_zones(press)}


def heated_zones(press: PressConfig) -> tuple[ZoneConfig, ...]:
    """Zones with a heater: the ones a temperature setpoint drives (our SSR, or a retrofit
    press's existing controller that takes the setpoint over Modbus)."""
    return tuple(z for z in press.zones if z.heated)
