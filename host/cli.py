"""`hotpress`: the operator's command line (status, watch, run, commands, logger; runs, recipe).

Every error a person can act on (broker unreachable, wrong credentials, press offline, recipe
invalid, command rejected) is printed as `hotpress: <what happened>: <what to do>` on stderr with
a non-zero exit code, never as a traceback. Exit codes: 1 error or run not completed, 2 usage,
3 broker, 4 press offline, 5 command rejected or unanswered, 130 interrupted.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from firmware.errors import HotpressError
from host.connection import BrokerSettings, load_settings
from host.errors import (
    BrokerError,
    CommandRejectedError,
    CommandTimeoutError,
    HostError,
    PressOfflineError,
)
from host.fleet import PressView, Session
from host.watch import num, watch, zone_rows

EXIT_ERROR, EXIT_BROKER, EXIT_OFFLINE, EXIT_REJECTED, EXIT_INTERRUPTED = 1, 3, 4, 5, 130
RUN_ID_WAIT_S = 5.0  # after `start` is accepted, the press's state names the new run within this
SIMPLE_VERBS = ("pause", "resume", "skip", "reset")


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code of an error."""
    if isinstance(exc, BrokerError):
        return EXIT_BROKER
    if isinstance(exc, PressOfflineError):
        return EXIT_OFFLINE
    if isinstance(exc, CommandRejectedError | CommandTimeoutError):
        return EXIT_REJECTED
    return EXIT_ERROR


class HotpressGroup(click.Group):
    """A click group that turns our errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HotpressError as exc:
            click.echo(f"hotpress: {exc}", err=True)
            raise click.exceptions.Exit(exit_code_for(exc)) from None
        except KeyboardInterrupt:
            click.echo("hotpress: interrupted", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None


def console() -> Console:
    """A console on the current stdout (so tests' captured output sees it)."""
    return Console(highlight=False)


def settings_of(ctx: click.Context) -> BrokerSettings:
    """Broker settings, loaded once per command line from the config/env."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = load_settings(obj.get("broker_config"))
    return obj["settings"]


@click.group(cls=HotpressGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--broker-config", type=click.Path(dir_okay=False), envvar="HOTPRESS_BROKER_CONFIG",
              help="Broker settings file (TOML [broker] table); default "
                   "~/.config/hotpress/host.toml, overridden by HOTPRESS_MQTT_* variables.")
@click.pass_context
def cli(ctx: click.Context, broker_config: str | None) -> None:
    """Operate hotpress presses over MQTT and work with the recorded runs."""
    ctx.ensure_object(dict)["broker_config"] = broker_config


# -- status and watch --------------------------------------------------------------------------
@cli.command()
@click.option("--wait", "wait_s", type=float, default=1.5, show_default=True,
              help="Seconds to listen for telemetry after the retained messages.")
@click.pass_context
def status(ctx: click.Context, wait_s: float) -> None:
    """Every press seen on the broker: status, state and last readings."""
    settings = settings_of(ctx)
    with Session(settings) as session:
        session.view.settle()
        time.sleep(max(0.0, wait_s))
        views = [session.view.snapshot(p) for p in session.view.press_ids()]
    out = console()
    if not views:
        out.print(f"no presses seen on {settings.host}:{settings.port}")
        return
    rows = [_status_row(v) for v in views]
    if not out.is_terminal:  # piped: one plain line per press, easy to grep
        for row in rows:
            out.print("  ".join(f"{k}={v}" for k, v in zip(STATUS_COLUMNS, row, strict=True)),
                      soft_wrap=True)
        return
    table = Table(title="presses", header_style="bold")
    for col in STATUS_COLUMNS:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    out.print(table)


STATUS_COLUMNS = ("press", "status", "mode", "run", "step", "temps_c", "sample_mpa", "force_kn",
                  "faults")


def _status_row(v: PressView) -> tuple[str, ...]:
    state, tele = v.state or {}, v.telemetry or {}
    online = {True: "online", False: "offline", None: "?"}[v.online]
    step = state.get("step_index")
    step_txt = f"{step + 1}/{state.get('step_count', '?')}" if isinstance(step, int) else "-"
    temps = ",".join(f"{z}:{t}" for z, t, _, _ in zone_rows(v)) or "-"
    return (v.press_id, online, str(state.get("mode", "-")), str(state.get("run_id") or "-"),
            step_txt, temps, num(tele.get("sample_mpa")), num(tele.get("force_kn"), ".2f"),
            str(len(state.get("faults") or [])))


@cli.command("watch")
@click.argument("press", required=False)
@click.option("--seconds", type=float, default=None, help="Stop after this long (default: Ctrl-C).")
@click.pass_context
def watch_cmd(ctx: click.Context, press: str | None, seconds: float | None) -> None:
    """Live view of PRESS (or of the only online press)."""
    with Session(settings_of(ctx), press) as session:
        press_id = session.pick_press(press)
        watch(session, press_id, console(), duration_s=seconds)


# -- run and commands --------------------------------------------------------------------------
@cli.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--sample", "sample_id", required=True, help="Sample id, as in the lab notebook.")
@click.option("--operator", required=True, help="Who runs it (recorded with the run).")
@click.option("--press", envvar="HOTPRESS_PRESS", help="Press id (default: the only one online).")
@click.option("--press-config", type=click.Path(dir_okay=False),
              help="Also check the recipe against this press config before sending it.")
@click.option("--no-watch", is_flag=True, help="Return once the press accepted the run.")
@click.pass_context
def run(ctx: click.Context, recipe: str, sample_id: str, operator: str, press: str | None,
        press_config: str | None, no_watch: bool) -> None:
    """Check RECIPE locally, start it on the press, and watch it to the end."""
    from host.recipes import check_recipe_file

    checked = check_recipe_file(recipe, press_config)
    out = console()
    for warning in checked.warnings:
        out.print(f"warning: {warning}")
    with Session(settings_of(ctx), press) as session:
        press_id = session.pick_press(press)
        before = (session.view.snapshot(press_id).state or {}).get("run_id")
        args = {"recipe_toml": checked.text, "sample_id": sample_id, "operator": operator}
        reply = session.commands.request(press_id, "start", args)
        run_id = reply.data.get("run_id") or _new_run_id(session, press_id, before)
        out.print(f"{press_id}: run {run_id or '?'} started ({checked.recipe.name}, "
                  f"sample {sample_id})")
        if no_watch or run_id is None:
            return
        outcome = watch(session, press_id, out, run_id=run_id)
    out.print(f"{press_id}: run {run_id} ended: {outcome}")
    if outcome != "completed":
        raise click.exceptions.Exit(EXIT_ERROR)


def _new_run_id(session: Session, press_id: str, before: str | None) -> str | None:
    deadline = time.monotonic() + RUN_ID_WAIT_S
    while time.monotonic() < deadline:
        run_id = (session.view.snapshot(press_id).state or {}).get("run_id")
        if run_id and run_id != before:
            return str(run_id)
        time.sleep(0.05)
    return None


def _command(ctx: click.Context, press: str | None, verb: str,
             args: dict[str, Any] | None = None) -> None:
    with Session(settings_of(ctx), press) as session:
        press_id = session.pick_press(press)
        reply = session.commands.request(press_id, verb, args)
    detail = f": {reply.reason}" if reply.reason else ""
    console().print(f"{press_id}: {verb} {reply.status}{detail}")


def _simple(verb: str, help_text: str) -> None:
    @cli.command(verb, help=help_text)
    @click.option("--press", envvar="HOTPRESS_PRESS", help="Press id (default: the only one).")
    @click.pass_context
    def command(ctx: click.Context, press: str | None) -> None:
        _command(ctx, press, verb)


_simple("pause", "Pause the run (setpoints held, step timer stopped).")
_simple("resume", "Resume a paused run.")
_simple("skip", "End the current step now and go on to the next.")
_simple("reset", "Clear latched faults (only those whose cause has cleared).")


@cli.command()
@click.option("--press", envvar="HOTPRESS_PRESS", help="Press id (default: the only one).")
@click.option("--reason", help="Why, for the run record.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def abort(ctx: click.Context, press: str | None, reason: str | None, yes: bool) -> None:
    """Abort the run: heaters off, pressure released, run ended as aborted."""
    if not yes:
        click.confirm(f"Abort the run on {press or 'the press'}?", abort=True)
    _command(ctx, press, "abort", {"reason": reason} if reason else None)


@cli.command()
@click.option("--zone", required=True, help="Heated zone to tune (e.g. top).")
@click.option("--at", "at_c", type=float, required=True, help="Temperature to tune at (C).")
@click.option("--press", envvar="HOTPRESS_PRESS", help="Press id (default: the only one).")
@click.pass_context
def autotune(ctx: click.Context, zone: str, at_c: float, press: str | None) -> None:
    """Relay-autotune one zone's PID at a temperature; follow it with `hotpress watch`."""
    _command(ctx, press, "autotune", {"zone": zone, "at_c": at_c})


# -- the fleet logger --------------------------------------------------------------------------
@cli.command("logger")
@click.option("--db", type=click.Path(dir_okay=False), help="SQLite store (default "
              "~/.local/share/hotpress/runs.sqlite).")
@click.option("--postgres", metavar="DSN", envvar="HOTPRESS_POSTGRES",
              help="PostgreSQL store instead, e.g. 'host=lab-db dbname=hotpress user=logger'.")
@click.pass_context
def logger_cmd(ctx: click.Context, db: str | None, postgres: str | None) -> None:
    """Record every press's runs into the store, filling gaps from the presses' journals."""
    from host.logger import FleetLogger
    from host.store import open_store

    if db and postgres:
        raise HostError("give --db or --postgres, not both")
    out = console()

    def log(line: str) -> None:
        out.print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}", soft_wrap=True)

    store = open_store(db=db, postgres=postgres)
    stop = threading.Event()
    logger = FleetLogger(store, settings_of(ctx), log=log)
    previous = _stop_on_signals(stop)
    try:
        logger.start()
        log(f"recording into {store.location}")
        logger.run(stop)
    finally:
        logger.close()
        store.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log(f"stopped: {logger.stats.messages} messages, {logger.stats.replay_requests} replays")


def _stop_on_signals(stop: threading.Event) -> dict[int, Any]:
    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    except ValueError:
        pass  # not the main thread (tests): the caller stops it
    return previous


def _add_store_commands() -> None:
    from host.cli_runs import recipe, runs

    cli.add_command(runs)
    cli.add_command(recipe)


_add_store_commands()


def _add_web_command() -> None:
    from host.web.server import web

    cli.add_command(web)


_add_web_command()


def main() -> None:
    """Console-script entry point (`hotpress`)."""
    cli(prog_name="hotpress")
