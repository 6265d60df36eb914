"""Where a pressure hold tops up and where it bleeds, and how long a bleed is (pressure.py).

Why a bleed overshot downward: the release valve is normally open, so a pulse of n ticks of
command holds the needle open for n ticks PLUS the valve's on-less-off delay (it opens an off delay
after the command, closes an on delay after the next), and the needle passes K sqrt(p). The
shortest bleed is therefore a fixed step r at a given pressure and tick: one 20 ms tick opens the
needle ~30 ms, 0.066 MPa (0.71 % of the 9.3 MPa that 375 MPa on a 10 mm die needs) for the
reference needle at 50 Hz, 0.44 MPa (4.7 %) for one 6.7x coarser. A bleed triggered at a fixed
+0.4 % lands r - 0.4 % below target, past the top-up trigger once r > 0.7 %: with that coarse
needle a -4.3 % dip, refilled only once it had settled and been measured (~0.5 s), a pump start.

So the hold centres that unavoidable step on the target: it bleeds once the line is r/2 above
target (never inside the band) and aims to land r/2 below it; while the stack heats fast enough
to bring it back within HEAT_RETURN_S it leaves the line there (the floor for a top-up is the
landing less the bleed's uncertainty): each bleed is then one shortest pulse, with no refill and
no pump start. A needle so coarse that even that would dip past BLEED_MAX_DIP_FRAC is not used,
unless the line is URGENT_HIGH_FRAC over. A proportional relief valve has no step: it trims to
the aim, a little over the band so that it does not chase noise.
"""

from __future__ import annotations

from typing import NamedTuple

from firmware.control.pressure_parts import PathModel

BLEED_MAX_DIP_FRAC = 0.06  # a bleed never takes the line more than this below target, unless
URGENT_HIGH_FRAC = 0.05  # it is more than this above target;
BLEED_WAIT_S = 30.0  # nor if a droop brings it back within band in this long
BLEED_STEP_UNCERTAINTY_FRAC = 0.15  # a learnt one-tick bleed is known to ~15 %, and the level
LAND_SIGMAS = 2.0  # it starts from to this many sigma: the heating floor sits that much lower
AIM_FRAC = 0.5  # aims go this share of the band past target, against the drift
HEAT_RETURN_S = 60.0  # "heating": the drift brings a bleed's landing back within this long
DOUBT_SIGMAS = 3.0  # after a bleed, top up only this many excess sigma below the floor
PROP_TRIM_FRAC = 0.004  # a proportional relief trims from this far over, plus twice its crack
PROP_CRACK_MARGIN_FRAC = 0.002  # margin (pressure.PROP_CAP_FRAC): it never chases noise


class HoldLimits(NamedTuple):
    """Offsets from target (MPa, >= 0): top up below target - low, bleed above target + high,
    a bleed aims at target - land. (Immutable, and a tuple: built 50 times a second in a hold,
    far cheaper than a frozen dataclass.)"""

    low_mpa: float
    high_mpa: float
    land_mpa: float


class Bleed(NamedTuple):
    """A bleed to make now: `ticks` of release pulse (0: none), landing (MPa) below the top-up
    trigger (`refill`: have the pump ready first), and the level it aims at (MPa). (A tuple,
    like HoldLimits: planned on every tick of a hold.)"""

    ticks: int
    refill: bool
    goal_mpa: float


def hold_limits(release: PathModel | None, p_mpa: float, dt_s: float, target_mpa: float,
                band_mpa: float, sigma_mpa: float, drift_mpa_per_s: float,
                bled_sigma_mpa: float = 0.0) -> HoldLimits:
    """The hold's limits at level `p_mpa` for a top-up trigger `band_mpa`, an estimate good to
    `sigma_mpa` once averaged, ticks of `dt_s` and the locked line's drift; `release` None: a
    proportional relief trims the line instead of the needle. `bled_sigma_mpa`: the estimate's
    error now, when it rests on a bleed's predicted step (a small bleed at low pressure is known
    to ~30 %, as large as the noise): no refill on a guess, so the floor is lower by its excess."""
    if release is None:
        high = max(band_mpa, PROP_TRIM_FRAC * target_mpa) + PROP_CRACK_MARGIN_FRAC * target_mpa
        return HoldLimits(band_mpa, high, AIM_FRAC * band_mpa if drift_mpa_per_s > 0 else 0.0)
    step = release.resolution(p_mpa, dt_s)  # the shortest bleed, centred on the target:
    high = max(band_mpa, step / 2.0)
    heating = drift_mpa_per_s * HEAT_RETURN_S >= step / 2.0
    land = max(step - high, AIM_FRAC * band_mpa if heating else 0.0)
    margin = BLEED_STEP_UNCERTAINTY_FRAC * step + LAND_SIGMAS * sigma_mpa
    low = max(band_mpa, land + margin) if heating else band_mpa
    return HoldLimits(low + DOUBT_SIGMAS * max(0.0, bled_sigma_mpa - sigma_mpa), high, land)


def plan_bleed(release: PathModel | None, p_mpa: float, target_mpa: float, limits: HoldLimits,
               drift_mpa_per_s: float, dt_s: float) -> Bleed:
    """The bleed to make at level `p_mpa` (none if a droop of `drift_mpa_per_s` will do it, or
    if it would dip too far); `release` None: a proportional relief trims instead (one tick)."""
    urgent = p_mpa >= target_mpa * (1.0 + URGENT_HIGH_FRAC)
    later = p_mpa + min(0.0, drift_mpa_per_s) * BLEED_WAIT_S
    goal = target_mpa - limits.land_mpa
    if later <= target_mpa + limits.high_mpa and not urgent:
        return Bleed(0, False, goal)
    if release is None:
        return Bleed(1, False, goal)
    ticks = max(release.min_ticks(dt_s), release.ticks_for(p_mpa - goal, p_mpa, dt_s, True))
    landing = p_mpa - release.step(ticks * dt_s, p_mpa)
    if landing < target_mpa * (1.0 - BLEED_MAX_DIP_FRAC) and not urgent:
        return Bleed(0, False, goal)
    return Bleed(ticks, landing < target_mpa - limits.low_mpa, goal)
