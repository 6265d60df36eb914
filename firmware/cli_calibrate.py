"""`hotpressd calibrate-die`: measure the empty die, print the `[inputs.ram_position]` lines.

Runs the calibration recipe (run/calibrate_die.py) through the daemon's own loop, supervisor and
journal (real time on a real press, virtual time on the simulated one), then fits the journalled
samples. Nothing is written to the config: the engineer pastes the lines, so a calibration never
changes a press behind anyone's back, and the config hash in later run records says which one
was in force.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from firmware.cli import main, make_clock, press_or_exit
from firmware.config.bundle import PressBundle
from firmware.recipe import parse_recipe
from firmware.run import journal as jr
from firmware.run.calibrate_die import (
    DEFAULT_FORCES_KN,
    CalibrationError,
    DieCalibration,
    calibration_recipe,
    fit_calibration,
)


def run_calibration(bundle: PressBundle, root: Path, forces_kn: Sequence[float] = (),
                    hot_c: float | None = 150.0) -> tuple[DieCalibration, str]:
    """Run the calibration recipe on the press and fit it; CalibrationError says why not."""
    from firmware.daemon import Daemon

    sim = bundle.press.backend.kind == "sim"
    text = calibration_recipe(forces_kn or DEFAULT_FORCES_KN, hot_c)
    labels = {i: s.label for i, s in enumerate(parse_recipe(text).steps)
              if s.kind.value == "hold"}
    daemon = Daemon(bundle, make_clock(0.0 if sim else 1.0), log=lambda s: None,
                    journal_root=root)
    replies: list[Any] = []
    daemon.submit("start", {"recipe_toml": text, "sample_id": "empty die",
                            "operator": "calibrate-die"}, replies.append)
    daemon.run(until=lambda d: bool(replies) and (
        replies[0].status == "rejected"
        or (d.core.engine.last_outcome is not None and d.journal is None)))
    if not replies or replies[0].status == "rejected":
        raise CalibrationError(f"refused: {replies[0].reason if replies else 'stopped'}")
    run_id = replies[0].data["run_id"]
    outcome = jr.summarize(root, run_id).outcome
    if outcome != "completed":
        raise CalibrationError(f"the run ended {outcome} (journal {root / run_id})")
    samples = (r for r in jr.iter_records(root, run_id) if r.get("type") == "sample")
    return fit_calibration(samples, labels, bundle.press.ram_area_m2), run_id


@main.command("calibrate-die")
@click.option("--force-kn", "forces_kn", type=float, multiple=True,
              help="cold hold force in kN, repeatable (default "
                   + ", ".join(f"{f:g}" for f in DEFAULT_FORCES_KN) + ")")
@click.option("--hot-c", type=float, default=150.0, show_default=True,
              help="hold hot at this platen temperature to measure the thermal growth")
@click.option("--cold-only", is_flag=True, help="skip the hot hold (growth stays 0)")
@click.option("--journal", type=click.Path(file_okay=False), default=None,
              help="journal directory for the calibration run (default: the config's)")
@click.pass_context
def calibrate_die(ctx: click.Context, forces_kn: tuple[float, ...], hot_c: float,
                  cold_only: bool, journal: str | None) -> None:
    """Calibrate the ram position against the EMPTY die (punches touching, no powder)."""
    opts = ctx.obj or {}
    bundle = press_or_exit(ctx)
    press = bundle.press
    if press.inputs.ram_position is None:
        click.echo("hotpressd calibrate-die: this press has no [inputs.ram_position] sensor",
                   err=True)
        sys.exit(2)
    sim = press.backend.kind == "sim"
    sample = press.backend.sim.sample
    if sim and (sample is None or sample.powder_mass_g > 0.0):
        click.echo("hotpressd calibrate-die: load the simulated die empty first: "
                   "[backend.sim.sample] powder_mass_g = 0", err=True)
        sys.exit(2)
    sim_note = "virtual time" if sim else "real time: about 20 min with the hot hold"
    click.echo(f"hotpressd calibrate-die: {press.id!r}, empty die ({sim_note})")
    try:
        cal, run_id = run_calibration(bundle, Path(journal or press.journal_dir), forces_kn,
                                      None if cold_only else hot_c)
    except CalibrationError as exc:
        click.echo(f"hotpressd calibrate-die: {exc}", err=True)
        sys.exit(1)
    click.echo(f"  fit residual {cal.residual_mm * 1e3:.1f} um (worst cold hold from the line)")
    if cold_only:
        click.echo("  no hot hold: growth_mm_per_c = 0, so thickness at temperature reads high")
    where = opts.get("config") or "the config"
    if cal.ram_drag_kn is None:
        click.echo("  the ram was not seen travelling freely: ram_drag_kn not measured")
    else:
        click.echo(f"Put at the top of {where}, next to ram_bore_mm (the ram's seal drag: "
                   "recipes' forces are then on the sample):")
        click.echo(cal.drag_toml(), nl=False)
    click.echo(f"Paste under [inputs.ram_position] in {where} (run {run_id}):")
    click.echo(cal.toml(), nl=False)
