"""`hotpressd`: the Pi-side daemon's command line.

`hotpressd --sim` runs the built-in reference simulated press; `hotpressd --config FILE` runs the
press the file describes (real or simulated, as its `backend` says). With `--broker` it is run
headless over MQTT; with `--recipe` it runs one recipe itself (commissioning, demos). Errors a
person can act on (bad config, missing hardware) print one line and exit 2, never a traceback.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from firmware import __version__
from firmware.clock import Clock, RealClock, ThrottledClock, VirtualClock
from firmware.config.bundle import PressBundle, load_bundle
from firmware.errors import HotpressError


def make_clock(speed: float) -> Clock:
    """Real time at speed 1; simulated time at up to `speed`x; as fast as possible at 0."""
    if speed == 0:
        return VirtualClock()
    if speed == 1:
        return RealClock()
    return ThrottledClock(speed)


def load_press(config: str | None, sim: bool) -> PressBundle:
    """The press to run: the given file, or the reference simulated press with `--sim`."""
    if config is None:
        if not sim:
            raise click.UsageError("give --config FILE, or --sim for the reference simulated press")
        from firmware.presets import reference_sim_path
        config = str(reference_sim_path())
    bundle = load_bundle(config)
    if sim and bundle.press.backend.kind != "sim":
        raise click.UsageError(f"{config} describes a real press; drop --sim to run it")
    return bundle


def press_or_exit(ctx: click.Context) -> PressBundle:
    """The press named on the group (`--config` / `--sim`) for a subcommand; a config problem
    prints one line and exits 2, never a traceback."""
    opts = ctx.obj or {}
    try:
        return load_press(opts.get("config"), opts.get("sim", False))
    except HotpressError as exc:
        click.echo(f"hotpressd: {exc}", err=True)
        sys.exit(2)


def with_broker(bundle: PressBundle, broker: str | None) -> PressBundle:
    """`--broker HOST:PORT` overrides the config's [mqtt] host and port."""
    if not broker:
        return bundle
    host, _, port = broker.rpartition(":")
    if not host or not port.isdigit():
        raise click.UsageError("--broker is HOST:PORT, e.g. 127.0.0.1:1883")
    link = dataclasses.replace(bundle.link, host=host, port=int(port))
    return dataclasses.replace(bundle, link=link)


@click.group(invoke_without_command=True)
@click.option("--config", "config", type=click.Path(dir_okay=False), help="press config (TOML)")
@click.option("--sim", is_flag=True, help="run the built-in reference simulated press")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="simulated time per real second (0 = as fast as possible; sim only)")
@click.option("--duration", type=float, default=None, help="stop after this many seconds")
@click.option("--broker", default=None, help="MQTT broker HOST:PORT (overrides [mqtt])")
@click.option("--journal", type=click.Path(file_okay=False), default=None,
              help="run journal directory (overrides journal_dir)")
@click.option("--recipes", type=click.Path(file_okay=False), default=None,
              help="recipe library that `start` commands may name")
@click.option("--hold-temp", type=float, default=None,
              help="hold every platen at this temperature (manual setpoint, no recipe)")
@click.option("--recipe", type=click.Path(dir_okay=False, exists=True), default=None,
              help="run this recipe at once, then stop")
@click.option("--sample", "sample_id", default="demo", show_default=True,
              help="sample id for --recipe")
@click.option("--confirm-waits", is_flag=True,
              help="with --recipe: confirm operator prompts at once (unattended demo runs)")
@click.version_option(__version__)
@click.pass_context
def main(ctx: click.Context, config: str | None, sim: bool, speed: float,
         duration: float | None, broker: str | None, journal: str | None, recipes: str | None,
         hold_temp: float | None, recipe: str | None, sample_id: str,
         confirm_waits: bool) -> None:
    """Run the hotpress daemon."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"config": config, "sim": sim, "speed": speed}
        return
    try:
        _run(load_press(config, sim), speed, duration, broker, journal, recipes, hold_temp,
             recipe, sample_id, confirm_waits)
    except HotpressError as exc:
        click.echo(f"hotpressd: {exc}", err=True)
        sys.exit(2)


def _run(bundle: PressBundle, speed: float, duration: float | None, broker: str | None,
         journal: str | None, recipes: str | None, hold_temp: float | None,
         recipe: str | None, sample_id: str, confirm_waits: bool = False) -> None:
    from firmware.daemon import Daemon
    from firmware.link.homeassistant import HomeAssistantDiscovery
    from firmware.link.mqtt import Link
    from firmware.run import journal as jr

    cfg = bundle.press
    if speed != 1 and cfg.backend.kind != "sim":
        raise click.UsageError("--speed is for simulated presses only")
    bundle = with_broker(bundle, broker)
    clock = make_clock(speed)
    journal_root = Path(journal or cfg.journal_dir)
    link = None
    if broker:
        link = Link(bundle.link, cfg.id,
                    lambda run, a, b: jr.iter_records(journal_root, run, a, b), clock,
                    discovery=HomeAssistantDiscovery.for_press(cfg, bundle.link))
    click.echo(f"hotpressd {__version__}: press {cfg.id!r} ({cfg.backend.kind}), "
               f"speed {speed or 'max'}x; Ctrl-C leaves every output safe")
    daemon = Daemon(bundle, clock, link=link, log=click.echo, journal_root=journal_root,
                    recipes_dir=Path(recipes) if recipes else None)
    if link is not None:
        link.start()
    until = None
    if hold_temp is not None:
        daemon.submit("set", {"setpoints_c": {n: hold_temp for n in daemon.core.zones}},
                      _echo_reply("hold"))
    if recipe is not None:
        daemon.submit("start", {"recipe_toml": Path(recipe).read_text(), "sample_id": sample_id,
                                "operator": "hotpressd"}, _echo_reply("start"))
        until = _finished_confirming if confirm_waits else _run_finished
    try:
        daemon.run(duration, until=until)
    finally:
        if link is not None:
            link.stop()
    click.echo("hotpressd: stopped; every output is in its safe state")


def _echo_reply(what: str):  # type: ignore[no-untyped-def]
    def echo(reply) -> None:  # type: ignore[no-untyped-def]
        if reply.status == "rejected":
            raise click.ClickException(f"{what} refused: {reply.reason}")
        click.echo(f"hotpressd: {what} {reply.status} {reply.data or ''}")
    return echo


def _run_finished(daemon) -> bool:  # type: ignore[no-untyped-def]
    """True once the run started by --recipe has ended (a completed or failed start)."""
    return daemon.core.engine.last_outcome is not None and daemon.journal is None


def _finished_confirming(daemon) -> bool:  # type: ignore[no-untyped-def]
    """As `_run_finished`, confirming each operator prompt like a scripted operator would."""
    from firmware.recipe.model import EndKind

    step = daemon.core.engine.current_step
    if step is not None and step.end.kind is EndKind.OPERATOR and not daemon.local_commands:
        daemon.submit("skip", {}, None)
    return _run_finished(daemon)


import firmware.cli_autotune  # noqa: E402 - registers `autotune` on main
import firmware.cli_calibrate  # noqa: E402 - registers `calibrate-die` on main
import firmware.cli_selftest  # noqa: E402, F401 - registers `selftest` and `safe` on main

if __name__ == "__main__":
    main()
