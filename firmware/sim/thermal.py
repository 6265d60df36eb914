"""Thermal plant of the simulated press: heater cores, platens, the die between them, thermocouples.

Per heated platen (reference/plant.md, "Thermal, per platen"):

    heater core  C_h dT_h/dt = P u - (T_h - T_p)/R_hp
    platen       C_p dT_p/dt = (T_h - T_p)/R_hp - UA (T_p - T_a)(1 + (T_p - T_a)/300)
                               + G_d (T_d - T_p)
    probe        T_p -> 3 first-order lags of d_lag/3 -> the junction's own lag tau_tc

and one die/sample lump between the platens (what the sample sees):

    die          C_d dT_d/dt = sum_i G_d,i (T_p,i - T_d) - G_air (T_d - T_a)

Closed press: each platen touches the die through 2 G_tb, so platen to platen is G_tb in series, as
plant.md defines it. Open press: the die rests on the bottom platen only, through a contact
conductance; that is also where a cold die lands (`place_mass`), as the Q_load of plant.md.

Integration: each lump is advanced by an exact exponential toward its neighbours, taken as their
predicted means over the substep; the lag chain uses the ramp-invariant form (exact for an input
that changes linearly over the substep). Every update is unconditionally stable, so a stiff die
(tau ~0.1-0.4 s between closed platens) costs nothing, and substeps of up to MAX_SUBSTEP_S keep
the error to thousandths of a kelvin. Pure floats: a numpy call costs more than this whole step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from firmware.config.model import SimConfig

MAX_SUBSTEP_S = 0.5  # second-order scheme: <= 0.001 K off a 1 ms reference (0.015 K at G_tb 500)
RADIATION_SCALE_K = 300.0  # plant.md: the loss factor (1 + dT/300) stands in for radiation
LAG_STAGES = 3  # plant.md: heater-to-probe conduction as 3 cascaded first-order lags
STEEL_SPECIFIC_HEAT_J_PER_KG_K = 490.0  # carbon/tool steel near room temperature
# Estimates (plant.md names the die but gives no numbers for it):
DIE_HEAT_CAPACITY_J_PER_K = 150.0  # a small steel pellet die, ~0.3 kg x 490 J/(kg K)
# Die resting on the open bottom platen: ~3e-3 m^2 of dry ground-steel contact at a few kPa
# (h ~1-2 kW/(m^2 K)) in series with conduction into the die body: a few W/K. It makes a cold
# 0.6 kg die settle in about a minute and draw ~600 W from the platen at first.
DIE_CONTACT_W_PER_K = 5.0
DIE_AIR_LOSS_W_PER_K = 0.1  # ~0.01 m^2 of die surface at ~10 W/(m^2 K) (convection + radiation)
SERIES_SIDES = 2.0  # two platen-die contacts in series make G_tb: each side is 2 G_tb


def _ramp_lag(y0: float, u0: float, u1: float, decay: float, tau_s: float, h_s: float) -> float:
    """First-order lag `y` after `h_s` when its input ramps from u0 to u1 (exact for a ramp);
    `decay` is exp(-h_s / tau_s)."""
    slope_tau = (u1 - u0) / h_s * tau_s
    return u1 - slope_tau + (y0 - u0 + slope_tau) * decay


def _ramp_lag_mean(y0: float, u0: float, u1: float, decay: float, tau_s: float,
                   h_s: float) -> float:
    """Mean of that lag's output over the `h_s` (exact for a ramp input)."""
    slope_tau = (u1 - u0) / h_s * tau_s
    return 0.5 * (u0 + u1) - slope_tau + (y0 - u0 + slope_tau) * (1.0 - decay) * tau_s / h_s


class _Zone:
    """One heated platen's state; plain attributes because the substep loop reads them hot."""

    __slots__ = ("die_w_per_k", "heater_c", "heater_open", "heater_w", "lags_c", "name",
                 "platen_c", "probe_c")

    def __init__(self, name: str, heater_w: float, ambient_c: float) -> None:
        self.name = name
        self.heater_w = heater_w
        self.heater_open = False
        self.heater_c = ambient_c
        self.platen_c = ambient_c
        self.lags_c = [ambient_c] * LAG_STAGES
        self.probe_c = ambient_c
        self.die_w_per_k = 0.0  # conductance platen <-> die, set by open/closed state


class ThermalPlant:
    """Heated platens, the die/sample between them and the thermocouples, in virtual time.

    The probe is driven by the *platen* temperature, not the heater's. The platen lump is the
    platen's mean temperature and responds to heater power at once; the real junction sits in a
    drilled hole some way from the cartridges, so heat reaches it by diffusion through the steel,
    which the lumped model has lost: that delay is what the d_lag cascade puts back. Driving the
    cascade from the heater core instead would make the probe read the core's ~P R_hp (50 K at
    full power) excess and settle on the wrong temperature whenever heat flows; driven by the
    platen, the probe settles exactly on the platen temperature, which is what the loop regulates
    and what the die sees, and a full-power start from 25 C reads 150 C after ~370 s (plant.md).
    """

    def __init__(self, cfg: SimConfig, zones: Sequence[tuple[str, float]], *,
                 die_heat_capacity_j_per_k: float = DIE_HEAT_CAPACITY_J_PER_K,
                 die_contact_w_per_k: float = DIE_CONTACT_W_PER_K,
                 die_air_loss_w_per_k: float = DIE_AIR_LOSS_W_PER_K,
                 max_substep_s: float = MAX_SUBSTEP_S) -> None:
        """`zones`: (name, heater watts) of each heated platen; the die rests on "bottom" (or the
        first zone if none is called that) while the press is open."""
        if not zones:
            raise ValueError("a thermal plant needs at least one heated zone")
        self._ambient_c = cfg.ambient_c
        self._c_platen = cfg.platen_heat_capacity_j_per_k
        self._r_hp = cfg.heater_to_platen_k_per_w
        self._ua = cfg.ua_w_per_k
        self._tau_heater_s = cfg.heater_heat_capacity_j_per_k * cfg.heater_to_platen_k_per_w
        self._tau_lag_s = cfg.conduction_lag_s / LAG_STAGES
        self._tau_tc_s = cfg.tc_tau_s
        self._coupling_w_per_k = cfg.die_coupling_w_per_k
        self._zones = {name: _Zone(name, heater_w, cfg.ambient_c) for name, heater_w in zones}
        self._zone_list = list(self._zones.values())
        self._zone_names = tuple(self._zones)
        self.revision = 0
        """Counts changes of any temperature (`step`, `place_mass`): a caller deriving a figure
        from the temperatures recomputes it only when this has moved."""
        self._bottom = "bottom" if "bottom" in self._zones else zones[0][0]
        self._die_c = cfg.ambient_c
        self._c_die = die_heat_capacity_j_per_k
        self._die_contact_w_per_k = die_contact_w_per_k
        self._die_air_w_per_k = die_air_loss_w_per_k
        self._max_substep_s = max_substep_s
        self._closed = False
        self._decay_h_s = -1.0  # the substep the cached decay factors below belong to
        self._decay_heater = self._decay_lag = self._decay_tc = 0.0
        self._apply_contacts()

    # ---- readings --------------------------------------------------------------------------
    @property
    def zone_names(self) -> tuple[str, ...]:
        """Names of the heated zones, in construction order."""
        return self._zone_names

    def platen_temp_c(self, name: str) -> float:
        """Mean temperature of platen `name` (C): what the die and the loop care about."""
        return self._zones[name].platen_c

    def probe_temp_c(self, name: str) -> float:
        """Temperature of the thermocouple junction in platen `name` (C), before sensor noise."""
        return self._zones[name].probe_c

    def heater_temp_c(self, name: str) -> float:
        """Temperature of the heater cartridges' core in platen `name` (C)."""
        return self._zones[name].heater_c

    def sample_temp_c(self) -> float:
        """Temperature of the die/sample lump between the platens (C)."""
        return self._die_c

    def die_heat_capacity_j_per_k(self) -> float:
        """Heat capacity of the die lump (J/K), including any mass placed on it."""
        return self._c_die

    # ---- actions and faults ----------------------------------------------------------------
    def set_closed(self, closed: bool, coupling_w_per_k: float | None = None) -> None:
        """Close (die clamped between the platens, platen-to-platen `coupling_w_per_k`, default
        the config's G_tb) or open the press (die resting on the bottom platen)."""
        if coupling_w_per_k is not None:
            self._coupling_w_per_k = coupling_w_per_k
        if closed != self._closed or coupling_w_per_k is not None:
            self._closed = closed
            self._apply_contacts()

    def place_mass(self, mass_kg: float, temp_c: float,
                   specific_heat_j_per_kg_k: float = STEEL_SPECIFIC_HEAT_J_PER_KG_K,
                   contact_w_per_k: float | None = None) -> None:
        """Put a body (a cold die, say) of `mass_kg` at `temp_c` on the bottom platen: it merges
        with the die lump, which mixes to the energy-weighted temperature. `contact_w_per_k`
        replaces the open-press die-to-platen contact conductance (default unchanged)."""
        added_j_per_k = mass_kg * specific_heat_j_per_kg_k
        total_j_per_k = self._c_die + added_j_per_k
        self._die_c = (self._c_die * self._die_c + added_j_per_k * temp_c) / total_j_per_k
        self._c_die = total_j_per_k
        self.revision += 1
        if contact_w_per_k is not None:
            self._die_contact_w_per_k = contact_w_per_k
            self._apply_contacts()

    def set_heater_open(self, name: str, broken: bool) -> None:
        """Fault hook: the heater element of `name` is broken (no power whatever the SSR does)."""
        self._zones[name].heater_open = broken

    def _apply_contacts(self) -> None:
        for zone in self._zones.values():
            if self._closed:
                zone.die_w_per_k = SERIES_SIDES * self._coupling_w_per_k
            else:
                zone.die_w_per_k = self._die_contact_w_per_k if zone.name == self._bottom else 0.0
        # The die's total conductance (W/K) changes only here: summed once, in the same order
        # (air, then each zone) as the equilibrium sums its heat flows.
        self._g_die = self._die_air_w_per_k
        for zone in self._zone_list:
            self._g_die += zone.die_w_per_k

    # ---- integration -----------------------------------------------------------------------
    def step(self, dt_s: float, duty: Mapping[str, float]) -> None:
        """Advance `dt_s` seconds with each zone's SSR duty (0..1, held over dt; a zone missing
        from `duty` is off). Any dt is accurate: it is cut into substeps of <= MAX_SUBSTEP_S."""
        if dt_s < 0:
            raise ValueError(f"cannot step back in time ({dt_s} s)")
        if dt_s == 0:
            return
        n = max(1, math.ceil(dt_s / self._max_substep_s - 1e-9))
        h_s = dt_s / n
        self._cache_decays(h_s)
        powers_w = [self._power_w(z, duty) for z in self._zones.values()]
        for _ in range(n):
            self._substep(h_s, powers_w)
        self.revision += 1

    def _power_w(self, zone: _Zone, duty: Mapping[str, float]) -> float:
        if zone.heater_open:
            return 0.0
        return zone.heater_w * min(1.0, max(0.0, duty.get(zone.name, 0.0)))

    def _cache_decays(self, h_s: float) -> None:
        """exp(-h/tau) of the fixed time constants; a loop stepping at one dt reuses them."""
        if h_s != self._decay_h_s:
            self._decay_h_s = h_s
            self._decay_heater = math.exp(-h_s / self._tau_heater_s)
            self._decay_lag = math.exp(-h_s / self._tau_lag_s)
            self._decay_tc = math.exp(-h_s / self._tau_tc_s)

    def _substep(self, h_s: float, powers_w: Sequence[float]) -> None:
        """Predict, then advance heaters and platens, the die and the probes exactly.

        Each lump is an exact exponential (ramp-invariant where its driver moves) toward its
        neighbours, and each neighbour enters as its predicted *mean* over the substep, from the
        platen rates at its start: second order in h, and stable however fast the die is
        (0.1-0.4 s between closed platens), so 0.5 s substeps stay within ~0.01-0.05 K.
        """
        zones = self._zone_list
        rates = [self._platen_rate_k_per_s(z) for z in zones]
        old_platens_c = [z.platen_c for z in zones]
        g_die = self._g_die
        die_mean_c = self._die_c
        if g_die > 0.0:
            die_eq0_c = self._die_equilibrium_c(old_platens_c)
            tau_die_s = self._c_die / g_die
            decay_die = math.exp(-h_s / tau_die_s)
            predicted = self._die_equilibrium_c([p + r * h_s for p, r in
                                                 zip(old_platens_c, rates, strict=True)])
            die_mean_c = _ramp_lag_mean(self._die_c, die_eq0_c, predicted, decay_die, tau_die_s,
                                        h_s)
        for zone, power_w, rate in zip(zones, powers_w, rates, strict=True):
            self._advance_heater_and_platen(zone, power_w, rate, die_mean_c, h_s)
        if g_die > 0.0:
            die_eq1_c = self._die_equilibrium_c([z.platen_c for z in zones])
            self._die_c = _ramp_lag(self._die_c, die_eq0_c, die_eq1_c, decay_die, tau_die_s, h_s)
        for zone, old_c in zip(zones, old_platens_c, strict=True):
            self._advance_probe(zone, old_c, h_s)

    def _platen_rate_k_per_s(self, zone: _Zone) -> float:
        """dT_p/dt now, from plant.md's platen balance."""
        rise_k = zone.platen_c - self._ambient_c
        loss_w = self._ua * (1.0 + rise_k / RADIATION_SCALE_K) * rise_k
        net_w = ((zone.heater_c - zone.platen_c) / self._r_hp - loss_w
                 + zone.die_w_per_k * (self._die_c - zone.platen_c))
        return net_w / self._c_platen

    def _advance_heater_and_platen(self, zone: _Zone, power_w: float, platen_rate_k_per_s: float,
                                   die_mean_c: float, h_s: float) -> None:
        """The heater follows the platen's predicted ramp (ramp-invariant); the platen relaxes
        toward the heater's and the die's means over the substep."""
        u0 = zone.platen_c + power_w * self._r_hp
        u1 = u0 + platen_rate_k_per_s * h_s
        mean_heater_c = _ramp_lag_mean(zone.heater_c, u0, u1, self._decay_heater,
                                       self._tau_heater_s, h_s)
        zone.heater_c = _ramp_lag(zone.heater_c, u0, u1, self._decay_heater, self._tau_heater_s,
                                  h_s)
        ua_w_per_k = self._ua * (1.0 + (zone.platen_c - self._ambient_c) / RADIATION_SCALE_K)
        g_total = 1.0 / self._r_hp + ua_w_per_k + zone.die_w_per_k
        platen_eq_c = (mean_heater_c / self._r_hp + ua_w_per_k * self._ambient_c
                       + zone.die_w_per_k * die_mean_c) / g_total
        decay_platen = math.exp(-h_s * g_total / self._c_platen)
        zone.platen_c = platen_eq_c + (zone.platen_c - platen_eq_c) * decay_platen

    def _die_equilibrium_c(self, platens_c: Sequence[float]) -> float:
        """The temperature the die tends to with the platens at `platens_c` (`_g_die` > 0)."""
        heat_in = self._die_air_w_per_k * self._ambient_c
        for zone, platen_c in zip(self._zone_list, platens_c, strict=True):
            heat_in += zone.die_w_per_k * platen_c
        return heat_in / self._g_die

    def _advance_probe(self, zone: _Zone, old_platen_c: float, h_s: float) -> None:
        u0, u1 = old_platen_c, zone.platen_c
        lags = zone.lags_c
        decay, tau_s = self._decay_lag, self._tau_lag_s
        for i, y0 in enumerate(lags):
            y1 = lags[i] = _ramp_lag(y0, u0, u1, decay, tau_s, h_s)
            u0, u1 = y0, y1
        zone.probe_c = _ramp_lag(zone.probe_c, u0, u1, self._decay_tc, self._tau_tc_s, h_s)
