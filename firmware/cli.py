"""`hotpressd`: the Pi-side daemon's command line.

`hotpressd --sim` runs the built-in reference simulated press; `hotpressd --config FILE` runs the
press the file describes (real or simulated, as its `backend` says). Errors a person can act on
(bad config, missing hardware) print one line and exit 2, never a traceback.
"""

from __future__ import annotations

import sys

import click

from firmware import __version__
from firmware.clock import Clock, RealClock, ScaledClock, VirtualClock
from firmware.config.load import load_config
from firmware.config.model import PressConfig
from firmware.errors import HotpressError


def make_clock(speed: float) -> Clock:
    """Real time at speed 1, faster virtual time above it, as fast as possible at 0."""
    if speed == 0:
        return VirtualClock()
    if speed == 1:
        return RealClock()
    return ScaledClock(speed)


def load_press(config: str | None, sim: bool) -> PressConfig:
    """The press to run: the given file, or the reference simulated press with `--sim`."""
    if config is None:
        if not sim:
            raise click.UsageError("give --config FILE, or --sim for the reference simulated press")
        from firmware.presets import reference_sim_path
        config = str(reference_sim_path())
    cfg = load_config(config)
    if sim and cfg.backend.kind != "sim":
        raise click.UsageError(f"{config} describes a real press; drop --sim to run it")
    return cfg


@click.group(invoke_without_command=True)
@click.option("--config", "config", type=click.Path(dir_okay=False), help="press config (TOML)")
@click.option("--sim", is_flag=True, help="run the built-in reference simulated press")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="simulated time per real second (0 = as fast as possible; sim only)")
@click.option("--duration", type=float, default=None, help="stop after this many seconds")
@click.option("--heat", type=float, default=0.0, show_default=True,
              help="hold every heater at this duty (0..1) with no control (demo/commissioning)")
@click.version_option(__version__)
@click.pass_context
def main(ctx: click.Context, config: str | None, sim: bool, speed: float,
         duration: float | None, heat: float) -> None:
    """Run the hotpress daemon."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"config": config, "sim": sim, "speed": speed}
        return
    try:
        _run(config, sim, speed, duration, heat)
    except HotpressError as exc:
        click.echo(f"hotpressd: {exc}", err=True)
        sys.exit(2)


def _run(config: str | None, sim: bool, speed: float, duration: float | None,
         heat: float) -> None:
    from firmware.daemon import Daemon, ManualOutputs
    from firmware.hal.outputs import OutputCommands

    cfg = load_press(config, sim)
    if speed != 1 and cfg.backend.kind != "sim":
        raise click.UsageError("--speed is for simulated presses only")
    if not 0.0 <= heat <= 1.0:
        raise click.UsageError("--heat is a duty between 0 and 1")
    logic = ManualOutputs()
    logic.set(OutputCommands(heater_duty={z.name: heat for z in cfg.zones}))
    click.echo(f"hotpressd {__version__}: press {cfg.id!r} ({cfg.backend.kind}), "
               f"speed {speed or 'max'}x; Ctrl-C leaves every output safe")
    daemon = Daemon(cfg, make_clock(speed), logic, log=click.echo)
    daemon.run(duration)
    click.echo("hotpressd: stopped; every output is in its safe state")


if __name__ == "__main__":
    main()
