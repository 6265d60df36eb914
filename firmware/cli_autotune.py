"""`hotpressd autotune --zone top --at 150`: a relay test on one zone, its result stored and shown.

Runs the daemon's own loop (supervisor included: a trip aborts the test) on a real press in real
time or on the simulated press in virtual time, and saves the identified model where the daemon
loads it at its next start (`<journal_dir>/tuning/<zone>.json`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from firmware.cli import main, make_clock, press_or_exit


@main.command("autotune")
@click.option("--zone", required=True, help="zone to tune (e.g. top)")
@click.option("--at", "at_c", type=float, required=True, help="temperature to tune at, C")
@click.option("--journal", type=click.Path(file_okay=False), default=None,
              help="journal directory (the result goes to its tuning/ folder)")
@click.pass_context
def autotune(ctx: click.Context, zone: str, at_c: float, journal: str | None) -> None:
    """Relay-autotune one zone and store the result (real press: real time; sim: virtual)."""
    from firmware.daemon import Daemon

    bundle = press_or_exit(ctx)
    sim = bundle.press.backend.kind == "sim"
    clock = make_clock(0.0 if sim else 1.0)
    root = Path(journal or bundle.press.journal_dir)
    daemon = Daemon(bundle, clock, log=lambda s: None, journal_root=root)
    replies: list[Any] = []
    daemon.submit("autotune", {"zone": zone, "at_c": at_c}, replies.append)
    click.echo(f"hotpressd autotune: zone {zone} at {at_c:g} C on {bundle.press.id!r} "
               f"({'virtual time' if sim else 'real time: this takes tens of minutes'})")

    def finished(d: Daemon) -> bool:
        if replies and replies[0].status == "rejected":
            return True
        return bool(replies) and d.core.autotune is None and d.scheduler.ticks > 1

    daemon.run(until=finished)
    if replies and replies[0].status == "rejected":
        click.echo(f"hotpressd autotune: refused: {replies[0].reason}", err=True)
        sys.exit(1)
    done = [e for e in daemon.events_seen if e["kind"] == "autotune" and "result" in e["data"]]
    if not done:
        failed = [e["message"] for e in daemon.events_seen if e["kind"] in ("autotune", "fault")]
        click.echo("hotpressd autotune: failed: " + "; ".join(failed[-2:]), err=True)
        sys.exit(1)
    result = done[-1]["data"]["result"]
    for key in ("ku", "tu_s", "slope_c_per_s_per_duty", "dead_time_s", "hold_duty"):
        if key in result:
            click.echo(f"  {key:24s} {result[key]:.4g}")
    click.echo(f"hotpressd autotune: stored in {root / 'tuning' / (zone + '.json')}; "
               "the daemon uses it from its next start")
