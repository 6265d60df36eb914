"""Operator commands applied to the core: each is accepted (and done) or refused with a reason.

Validation of the payload's shape happens at the link; here every command meets the press's own
state and limits, which have the last word: a start while a fault is latched, a setpoint above a
zone's limit, a pause with nothing running, each is refused and nothing changes.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware import __version__
from firmware.errors import ConfigError
from firmware.recipe import check_recipe, parse_recipe, plan_recipe
from firmware.recipe.materials import limiting_material
from firmware.run.core import PressCore, RunInfo
from firmware.run.engine import RunState, Targets
from firmware.run.events import Event

RESUME_BAND_C = 5.0  # an interrupted run resumes only with every platen this close to setpoint
SETPOINT_MARGIN_C = 2.0  # manual setpoints stay this far below a zone's trip, as recipes do
SAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Reply:
    status: str  # accepted | rejected | completed
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    events: tuple[Event, ...] = ()
    header: dict[str, Any] | None = None  # start: the run header the shell journals first


def rejected(reason: str) -> Reply:
    return Reply("rejected", reason)


def handle(core: PressCore, verb: str, args: dict[str, Any], now_s: float,
           recipes_dir: Path | None = None) -> Reply:
    """Apply one command; never raises for anything an operator can send."""
    fn = HANDLERS.get(verb)
    if fn is None:
        return rejected(f"unknown command {verb!r}")
    try:
        return fn(core, args, now_s, recipes_dir)
    except ValueError as exc:
        return rejected(str(exc))


def _start(core: PressCore, args: dict[str, Any], now_s: float,
           recipes_dir: Path | None) -> Reply:
    if core.engine.state is not RunState.IDLE or core.autotune is not None:
        return rejected(f"the press is busy ({core.mode}); abort or wait first")
    if core.last_verdict.latched:
        return rejected("a fault is latched: fix the cause, then reset")
    if not core.journal_ok:
        return rejected("the run journal is unwritable: free disk space, then restart hotpressd")
    sample = core.last_sample
    if sample is not None and sample.estop:
        return rejected("the e-stop is pressed")
    text, source = _recipe_text(args, recipes_dir)
    return _begin(core, text, source, args, now_s)


def _begin(core: PressCore, text: str, source: str, args: dict[str, Any], now_s: float,
           first_step: int = 0, resumed_from: str | None = None) -> Reply:
    """Parse, validate against this press, and start `text` at `first_step`."""
    try:
        recipe = parse_recipe(text, source=source)
    except ConfigError as exc:
        return rejected(f"invalid recipe: {exc}")
    report = check_recipe(recipe, core.cfg)
    if report.errors:
        return rejected("recipe not valid for this press: " + "; ".join(report.errors))
    plan = plan_recipe(recipe, core.cfg)
    wall_s = time.time()
    sample_id = str(args["sample_id"])
    run_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime(wall_s)) + "-" + SAFE_ID.sub("_",
                                                                                     sample_id)
    limit = limiting_material(recipe.materials + recipe.custom_materials)
    max_force = max((s.pressure.force_kn for s in recipe.steps if s.pressure), default=None)
    area = recipe.geometry.area_m2 if recipe.geometry else None
    core.run = RunInfo(run_id, recipe.name, sample_id, str(args.get("operator", "")),
                       limit.max_temp_c if limit else None, max_force, area,
                       full_density_thickness_mm=recipe.full_density_thickness_mm)
    core.manual = None
    events = core.engine.start(recipe, plan, run_id, first_step)
    header = {
        "run_id": run_id, "press_id": core.cfg.id, "recipe_name": recipe.name,
        "recipe_text": text, "recipe_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "press_config_text": core.bundle.text, "press_config_sha256": core.bundle.sha256,
        "software": f"hotpress {__version__}", "operator": core.run.operator,
        "sample_id": sample_id, "started_wall_s": wall_s, "started_t_s": now_s,
        "plan": plan.to_dict(), "warnings": list(report.warnings),
        "die_area_m2": area, "powder_mass_g": recipe.powder_mass_g,
        "theoretical_density_g_cm3": recipe.theoretical_density_g_cm3,
        "first_step": first_step, "resumed_from": resumed_from,
    }
    return Reply("accepted", "", {"run_id": run_id, "steps": len(recipe.steps),
                                  "estimated_s": plan.total_s}, tuple(events), header)


def _recipe_text(args: dict[str, Any], recipes_dir: Path | None) -> tuple[str, str]:
    if "recipe_toml" in args:
        return str(args["recipe_toml"]), "<recipe from command>"
    name = str(args.get("recipe", ""))
    if not recipes_dir or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise ValueError("give recipe_toml, or the name of a recipe in the press's library")
    path = recipes_dir / (name if name.endswith(".toml") else name + ".toml")
    try:
        return path.read_text(), str(path.name)
    except OSError as exc:
        raise ValueError(f"no recipe {name!r} in the library ({exc.strerror})") from None


def _simple(action: str):  # type: ignore[no-untyped-def]
    def run(core: PressCore, args: dict[str, Any], now_s: float, _dir: Path | None) -> Reply:
        engine = core.engine
        if action == "resume" and engine.state is RunState.IDLE:
            return _resume_interrupted(core, now_s)
        if action == "abort" and core.autotune is not None:
            core.autotune[1].abort("aborted by the operator")
            return Reply("accepted", data={"aborted": "autotune"})
        if action == "abort" and engine.state is RunState.IDLE and core.manual is not None:
            core.manual = None
            return Reply("accepted", data={"aborted": "manual setpoints"})
        events = {"pause": engine.pause, "resume": engine.resume, "skip": engine.skip,
                  "abort": lambda: engine.abort(str(args.get("reason", "")))}[action]()
        if engine.state is RunState.IDLE:
            core.run = None
        return Reply("accepted", events=tuple(events))
    return run


def _resume_interrupted(core: PressCore, now_s: float) -> Reply:
    """Resume a run the daemon died in: only soon enough and with the platens still in band.

    Never automatic: an operator asks. Otherwise the press stays idle (heaters off, no load),
    which is the safe cool-down, and the reply says why."""
    lost = core.interrupted
    if lost is None:
        return rejected("nothing to resume: no run is paused or interrupted")
    if core.last_verdict.latched:
        return rejected("a fault is latched: reset first")
    away_s = time.time() - lost.stopped_wall_s
    if away_s > core.cfg.resume_window_s:
        return rejected(f"run {lost.run_id} stopped {away_s / 60:.0f} min ago, more than the "
                        f"{core.cfg.resume_window_s / 60:g} min allowed: it cannot be resumed; "
                        "the press stays idle and cools (heaters off, no load)")
    sample = core.last_sample
    temps = core._observed(sample).temps_c if sample is not None else {}
    for zone, setpoint_c in lost.setpoints_c.items():
        temp_c = temps.get(zone)
        if temp_c is None or abs(temp_c - setpoint_c) > RESUME_BAND_C:
            return rejected(f"run {lost.run_id}: {zone} is at {temp_c} C, not within "
                            f"{RESUME_BAND_C:g} C of its {setpoint_c:g} C: it cannot be resumed; "
                            "the press stays idle and cools (heaters off, no load)")
    args = {"sample_id": lost.sample_id, "operator": lost.operator}
    reply = _begin(core, lost.recipe_text, f"<resumed {lost.run_id}>", args, now_s,
                   first_step=lost.step_index, resumed_from=lost.run_id)
    if reply.status == "accepted":
        core.interrupted = None
    return reply


def _reset(core: PressCore, args: dict[str, Any], now_s: float, _dir: Path | None) -> Reply:
    if core.last_sample is None:
        return rejected("no sensor reading yet")
    ok, reason = core.supervisor.reset(now_s, core.last_sample)
    if not ok:
        return rejected(reason)
    return Reply("accepted", events=(Event("fault_reset", "faults reset by the operator"),))


def _set(core: PressCore, args: dict[str, Any], now_s: float, _dir: Path | None) -> Reply:
    if core.engine.state is not RunState.IDLE or core.autotune is not None:
        return rejected(f"manual setpoints only while idle (the press is {core.mode})")
    if core.last_verdict.latched:
        return rejected("a fault is latched: reset first")
    if args.get("heaters_off"):
        core.manual = None
        return Reply("accepted")
    temps: dict[str, float] = {}
    for zone, value in dict(args.get("setpoints_c") or {}).items():
        if zone not in core.zones:
            return rejected(f"no heated zone {zone!r}; zones are {sorted(core.zones)}")
        limit_c = min(core.cfg.zone(zone).max_temp_c, core.cfg.limits.max_temp_c)
        if not 0.0 <= float(value) <= limit_c - SETPOINT_MARGIN_C:
            return rejected(f"setpoints_c.{zone}: {value} C is outside 0..{limit_c - 2:g} C")
        temps[zone] = float(value)
    force = args.get("force_kn")
    if force is not None and not 0.0 <= float(force) <= core.cfg.limits.max_force_kn:
        return rejected(f"force_kn: {force} is outside 0..{core.cfg.limits.max_force_kn:g} kN")
    core.manual = Targets(temps_c=temps, force_kn=float(force or 0.0),
                          release=not force)
    return Reply("accepted")


def _autotune(core: PressCore, args: dict[str, Any], now_s: float, _dir: Path | None) -> Reply:
    zone = str(args.get("zone"))
    if zone not in core.zones:
        return rejected(f"no heated zone {zone!r}; zones are {sorted(core.zones)}")
    if core.engine.state is not RunState.IDLE or core.autotune is not None:
        return rejected(f"autotune only while idle (the press is {core.mode})")
    if core.last_verdict.latched:
        return rejected("a fault is latched: reset first")
    at_c = float(args["at_c"])
    limit_c = min(core.cfg.zone(zone).max_temp_c, core.cfg.limits.max_temp_c)
    if at_c > limit_c - 10.0:
        return rejected(f"at_c {at_c:g} C leaves less than 10 C below the zone limit {limit_c:g} C")
    core.manual = None
    core.start_autotune(zone, at_c)
    return Reply("accepted", events=(Event("autotune", f"autotune of {zone} at {at_c:g} C "
                                           "started", {"zone": zone, "at_c": at_c}),))


def _ping(core: PressCore, args: dict[str, Any], now_s: float, _dir: Path | None) -> Reply:
    return Reply("completed", data={"mode": core.mode})


HANDLERS = {"start": _start, "pause": _simple("pause"), "resume": _simple("resume"),
            "skip": _simple("skip"), "abort": _simple("abort"), "reset": _reset, "set": _set,
            "autotune": _autotune, "ping": _ping}
