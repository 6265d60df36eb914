"""A recipe as typed, frozen objects: built by `parse.py`, used by runner, validator and planner.

A recipe is a die geometry, the materials in the die and ordered steps. Setpoints persist from
step to step until a step changes them: a heat step leaves the pressure where a press step put it,
a hold keeps both. Units are SI and in the names; pressure is always on the sample (MPa), with the
force (kN) beside it, both computed once from the die area at parse time.

Step kinds, what they set and how they end:

    heat     temperature (+ ramp)        target | soak | time | operator
    press    pressure (+ rate)           target | time | operator
    hold     nothing: keeps setpoints    time | soak | operator
    breathe  release/re-press cycles     after its cycles
    cool     lower temperature           target | time | operator
    release  pressure to zero (+ rate)   once released
    wait     nothing: keeps setpoints    operator | time
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from firmware.errors import ConfigError
from firmware.recipe.materials import Material
from firmware.recipe.units import tf_from_kn

# Band around a temperature setpoint that counts as "reached" / "in band" when a step gives no
# band_c: a tuned loop settles within +-1 C (control.md's "settled"), so +-2 C is met reliably by
# both platens at once, yet close enough that a soak at "150 C" is a soak at 150 C.
DEFAULT_BAND_C = 2.0


class StepKind(enum.Enum):
    """What a step does; the value is the `kind` string in the TOML file."""

    HEAT = "heat"
    PRESS = "press"
    HOLD = "hold"
    BREATHE = "breathe"
    COOL = "cool"
    RELEASE = "release"
    WAIT = "wait"


class EndKind(enum.Enum):
    """How a step ends."""

    TIME = "time"  # duration_min / duration_s, counted from the start of the step
    TARGET = "target"  # until = "target": every target of the step reached (within band)
    SOAK = "soak"  # soak_min: the timer starts once every heated zone is within band_c
    OPERATOR = "operator"  # until = "operator": the operator confirms `prompt`
    CYCLES = "cycles"  # breathe: after its cycles
    RELEASED = "released"  # release: once the line pressure is down


class OnTimeout(enum.Enum):
    """What happens when `max_wait` runs out before a target or band is reached."""

    ABORT = "abort"  # end the run safely (the default: a press that cannot reach target is suspect)
    CONTINUE = "continue"  # go on to the next step anyway
    HOLD = "hold"  # keep the setpoints and pause for the operator


class PressureUnit(enum.Enum):
    """Which key the recipe author used for a pressure target (kept for display)."""

    SAMPLE_MPA = "pressure_mpa"
    FORCE_KN = "force_kn"
    FORCE_TF = "force_tf"


@dataclass(frozen=True)
class ZoneTemps:
    """A temperature setpoint: one value for every heated zone, or one per named zone."""

    common_c: float | None = None
    per_zone_c: tuple[tuple[str, float], ...] = ()

    @property
    def values_c(self) -> tuple[float, ...]:
        """Every setpoint given, C."""
        if self.common_c is not None:
            return (self.common_c,)
        return tuple(t for _, t in self.per_zone_c)

    @property
    def max_c(self) -> float:
        """The hottest setpoint, C: what material limits are checked against."""
        return max(self.values_c)

    @property
    def zone_names(self) -> tuple[str, ...]:
        """Zones named explicitly (empty for a common setpoint)."""
        return tuple(z for z, _ in self.per_zone_c)

    def for_zone(self, zone: str) -> float | None:
        """Setpoint of `zone` in C (the common one if set), None if this target does not name it."""
        if self.common_c is not None:
            return self.common_c
        return dict(self.per_zone_c).get(zone)

    def describe(self) -> str:
        """Compact text: '150' or 'top 150 / bottom 148'."""
        if self.common_c is not None:
            return f"{self.common_c:g}"
        return " / ".join(f"{z} {t:g}" for z, t in self.per_zone_c)


@dataclass(frozen=True)
class PressureTarget:
    """A pressure target: on the sample (MPa) and as force (kN), whichever key the author used."""

    pressure_mpa: float  # on the sample: force / die area
    force_kn: float
    given_as: PressureUnit = PressureUnit.SAMPLE_MPA

    @property
    def force_tf(self) -> float:
        """Force in metric tonnes-force, for display."""
        return tf_from_kn(self.force_kn)


@dataclass(frozen=True)
class EndCondition:
    """When a step is over; unused fields stay None."""

    kind: EndKind
    duration_s: float | None = None
    soak_s: float | None = None
    max_wait_s: float | None = None  # TARGET/SOAK: longest wait for the target or band
    on_timeout: OnTimeout = OnTimeout.ABORT
    prompt: str | None = None  # OPERATOR: what the operator confirms


@dataclass(frozen=True)
class BreatheSpec:
    """Release-and-re-press cycles that let trapped gas out of a powder compact."""

    cycles: int
    release_to_mpa: float  # on the sample, at the bottom of each cycle
    dwell_s: float  # time spent at the low and again at the high pressure, each cycle


@dataclass(frozen=True)
class Step:
    """One recipe step; fields a kind does not use stay at their defaults."""

    index: int
    kind: StepKind
    end: EndCondition
    label: str = ""
    temp: ZoneTemps | None = None
    ramp_c_per_min: float | None = None  # None: as fast as the heaters go
    pressure: PressureTarget | None = None
    pressure_rate_mpa_per_s: float | None = None  # on the sample; None: as fast as the pump goes
    band_c: float = DEFAULT_BAND_C
    require_temp_in_band: bool = True  # press: apply pressure only once every zone is in band
    under_pressure: bool = True  # cool: False releases the pressure at the start of cooling
    breathe: BreatheSpec | None = None

    @property
    def ref(self) -> str:
        """How messages name this step: 'steps[3] (press)'."""
        return f"steps[{self.index}] ({self.kind.value})"


@dataclass(frozen=True)
class Geometry:
    """The pressed area: a round die's bore, or an explicit area (a film between sheets)."""

    area_m2: float
    die_diameter_mm: float | None = None

    @property
    def area_mm2(self) -> float:
        """Area in mm^2, for display."""
        return self.area_m2 * 1e6


@dataclass(frozen=True)
class Recipe:
    """A whole recipe as parsed; format-level warnings ride along (release before any press...)."""

    name: str
    steps: tuple[Step, ...]
    materials: tuple[Material, ...]
    geometry: Geometry | None = None
    description: str = ""
    author: str = ""
    powder_mass_g: float | None = None
    theoretical_density_g_cm3: float | None = None
    warnings: tuple[str, ...] = ()
    source: str = "<recipe>"
    custom_materials: tuple[Material, ...] = field(default=())

    @property
    def full_density_thickness_mm(self) -> float | None:
        """Pellet thickness at 100 % density (mm), when mass, density and area are known.

        Compare with the measured thickness for relative density: the number papers report.
        """
        if None in (self.powder_mass_g, self.theoretical_density_g_cm3, self.geometry):
            return None
        volume_mm3 = self.powder_mass_g / self.theoretical_density_g_cm3 * 1000.0
        return volume_mm3 / self.geometry.area_mm2


class RecipeError(ConfigError):
    """A recipe failed parsing or validation; `problems` lists every problem found, not just one."""

    def __init__(self, source: str, problems: list[str] | tuple[str, ...]) -> None:
        self.source = source
        self.problems = tuple(problems)
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        super().__init__(f"{source}: {count}:\n" + "\n".join(f"  - {p}" for p in self.problems))
