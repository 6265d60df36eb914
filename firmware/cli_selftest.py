"""`hotpressd selftest` (commissioning) and `hotpressd safe` (every output safe, then exit).

`safe` is what systemd runs before the daemon starts and after it stops, however it stopped: it
opens only the outputs (not the sensor buses, which may be what is broken), drives each to its
safe state and releases the pins, whose pull resistors then hold them de-energised.

`selftest` opens the whole press, runs `firmware.selftest`, prints a table (what to check under
every line that is not PASS), prints the `zero_offset_mpa` line to paste into the config and
saves everything as JSON under the journal directory. On the simulator (`--sim`) it runs in
virtual time, and `--inject FAULT[:TARGET]` wires a fault in first, to see what a FAIL looks
like. Exit status: 0 nothing failed, 1 a check failed, 2 the press could not be opened at all.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from firmware import __version__
from firmware.cli import load_press, main
from firmware.clock import Clock, RealClock, VirtualClock
from firmware.config.bundle import PressBundle
from firmware.config.model import PressConfig
from firmware.errors import HotpressError
from firmware.hal import diagnose
from firmware.selftest import CheckResult, Outcome, Selftest, Status
from firmware.sim.faults import SimFault

ZONE_FAULTS = {SimFault.TC_OPEN, SimFault.TC_SHORT_GND, SimFault.TC_SHORT_VCC,
               SimFault.TC_SPORADIC, SimFault.TC_FROZEN, SimFault.HEATER_OPEN,
               SimFault.SSR_WELDED}
VALVE_FAULTS = {SimFault.VALVE_STUCK_OPEN, SimFault.VALVE_STUCK_CLOSED}
VALVES = ("advance", "press", "release")
OPEN_CHECK = "open the press"
RESULTS_SUBDIR = "selftest"  # under the journal dir: commissioning records live with the runs


def _press(ctx: click.Context, config: str | None, sim: bool) -> PressBundle:
    """The press named here, or on the group (`hotpressd --sim selftest` works too)."""
    obj = ctx.obj or {}
    return load_press(config or obj.get("config"), sim or bool(obj.get("sim")))


def parse_injection(text: str, cfg: PressConfig) -> tuple[SimFault, str | None]:
    """`tc_open:top` -> (SimFault.TC_OPEN, "top"), checking the target exists on this press."""
    name, _, target = text.partition(":")
    try:
        fault = SimFault(name)
    except ValueError:
        known = ", ".join(f.value for f in SimFault)
        raise click.BadParameter(f"unknown fault {name!r}; known: {known}",
                                 param_hint="--inject") from None
    zones = [z.name for z in cfg.zones] + (["sample"] if cfg.sample_tc_cs_pin else [])
    choices = zones if fault in ZONE_FAULTS else VALVES if fault in VALVE_FAULTS else None
    if choices is None:
        return fault, None
    if target not in choices:
        raise click.BadParameter(f"{name} needs a target, one of {', '.join(choices)} "
                                 f"(e.g. {name}:{choices[0]})", param_hint="--inject")
    return fault, target


def _clock_for(cfg: PressConfig) -> Clock:
    """Virtual time for a simulated press (fast), real time for a real one."""
    return VirtualClock() if cfg.backend.kind == "sim" else RealClock()


@click.command("safe")
@click.option("--config", "config", type=click.Path(dir_okay=False), help="press config (TOML)")
@click.option("--sim", is_flag=True, help="the built-in reference simulated press")
@click.pass_context
def safe(ctx: click.Context, config: str | None, sim: bool) -> None:
    """Drive every output safe, release the pins and exit (systemd's boot and stop step)."""
    from firmware.hal.outputs import PressOutputs

    cfg = _press(ctx, config, sim).press
    pin_factory = None  # gpiozero's default on a Pi: the outputs only, no sensor buses
    if cfg.backend.kind == "sim":
        from firmware.sim.press import SimPress
        pin_factory = SimPress(cfg, VirtualClock()).pin_factory
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # gpiozero's factory fall-back chatter
            outputs = PressOutputs(cfg, pin_factory)  # each output is driven safe as it opens
    except Exception as exc:  # noqa: BLE001 - any failure here is reported as one actionable line
        click.echo(f"hotpressd safe: could not drive the outputs safe: "
                   f"{diagnose.explain_open_error(exc, cfg)}", err=True)
        sys.exit(2)
    outputs.all_safe()
    names = ", ".join(sorted(outputs.snapshot()))
    outputs.close()
    click.echo(f"hotpressd safe: press {cfg.id!r}: every output safe ({names}); pins released")
    held = [n for n, o in _switched(cfg) if o.safe_energised]
    if held:
        click.echo(f"hotpressd safe: warning: {', '.join(held)} is safe only while energised, "
                   "and nothing holds it once this exits: wire it so de-energised is safe",
                   err=True)


def _switched(cfg: PressConfig) -> list[tuple[str, Any]]:
    hyd = cfg.hydraulics
    outs = [("pump", hyd.pump), ("advance_valve", hyd.advance_valve),
            ("release_valve", hyd.release_valve), ("press_valve", hyd.press_valve)]
    return [(n, o) for n, o in outs if o is not None]


@click.command("selftest")
@click.option("--config", "config", type=click.Path(dir_okay=False), help="press config (TOML)")
@click.option("--sim", is_flag=True, help="the built-in reference simulated press")
@click.option("--yes", is_flag=True, help="switch the outputs without asking")
@click.option("--inject", "injections", multiple=True, metavar="FAULT[:TARGET]",
              help="simulator only: wire this fault in first (repeatable), e.g. tc_open:top")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help=f"where to save the JSON results (default: JOURNAL_DIR/{RESULTS_SUBDIR})")
@click.pass_context
def selftest(ctx: click.Context, config: str | None, sim: bool, yes: bool,
             injections: tuple[str, ...], out_dir: str | None) -> None:
    """Commissioning: judge every sensor, switch every output, calibrate the transducer zero."""
    try:
        bundle = _press(ctx, config, sim)
    except HotpressError as exc:
        click.echo(f"hotpressd: {exc}", err=True)
        sys.exit(2)
    cfg = bundle.press
    faults = [parse_injection(text, cfg) for text in injections]
    if faults and cfg.backend.kind != "sim":
        raise click.UsageError("--inject is for simulated presses only")
    started = datetime.now(UTC)
    click.echo(f"hotpressd {__version__} selftest: press {cfg.id!r} ({cfg.backend.kind}), "
               f"{bundle.source}")
    outcome = _run(cfg, yes, faults)
    click.echo(format_table(outcome.results))
    if outcome.results and outcome.results[0].name == OPEN_CHECK:
        sys.exit(2)  # nothing could be judged: the same status as any other unusable press
    if outcome.zero_offset_mpa is not None:
        click.echo(f"\ntransducer zero: put this in [transducer] of {bundle.source}:\n"
                   f"  {zero_offset_line(outcome.zero_offset_mpa, started)}")
    saved = save_results(bundle, outcome, faults, started, out_dir)
    click.echo(f"\n{'PASS' if outcome.passed else 'FAIL'}: {_summary(outcome)}"
               + (f"; saved {saved}" if saved else ""))
    sys.exit(0 if outcome.passed else 1)


def _run(cfg: PressConfig, yes: bool, faults: list[tuple[SimFault, str | None]]) -> Outcome:
    """Open the press, run the test, close it (outputs safe) whatever happens."""
    from firmware.hal.backend import make_backend
    from firmware.hal.press_io import PressIO

    clock = _clock_for(cfg)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            backend = make_backend(cfg, clock)
            io = PressIO(cfg, backend, clock)
    except Exception as exc:  # noqa: BLE001 - the press could not be opened: say why, once
        outcome = Outcome()
        outcome.results.append(CheckResult(OPEN_CHECK, Status.FAIL, type(exc).__name__,
                                           "buses and pins open",
                                           diagnose.explain_open_error(exc, cfg)))
        return outcome
    for fault, target in faults:
        backend.inject(fault, target)  # type: ignore[attr-defined]  # sim only, checked above
    confirm = (lambda _q: True) if yes else (lambda q: click.confirm(q, default=False))
    try:
        return Selftest(cfg, io, clock, confirm, progress=lambda s: click.echo(f"  ... {s}")).run()
    finally:
        io.close()


def format_table(results: list[CheckResult]) -> str:
    """Fixed-width lines (they go to a terminal and to the journal alike); advice indented."""
    width = max((len(r.name) for r in results), default=10)
    lines = [f"\n{'RESULT':<6}  {'CHECK':<{width}}  MEASURED  [EXPECTED]"]
    for r in results:
        expected = f"  [{r.expected}]" if r.expected else ""
        lines.append(f"{r.status.value:<6}  {r.name:<{width}}  {r.measured}{expected}")
        if r.advice and r.status is not Status.PASS:
            lines.append(f"{'':<6}  {'':<{width}}  -> {r.advice}")
    return "\n".join(lines)


def zero_offset_line(offset_mpa: float, when: datetime) -> str:
    """The config line for the calibrated zero, dated so a later reader knows where it came from."""
    return (f"zero_offset_mpa = {offset_mpa:.4f}   # hotpressd selftest "
            f"{when:%Y-%m-%d %H:%M} UTC, release valve open")


def _summary(outcome: Outcome) -> str:
    counts = {s: sum(r.status is s for r in outcome.results) for s in Status}
    return ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)


def save_results(bundle: PressBundle, outcome: Outcome,
                 faults: list[tuple[SimFault, str | None]], started: datetime,
                 out_dir: str | None) -> Path | None:
    """Write the results as JSON; a directory we cannot write is reported, not fatal."""
    cfg = bundle.press
    folder = Path(out_dir) if out_dir else Path(cfg.journal_dir) / RESULTS_SUBDIR
    record = {"type": "selftest", "version": __version__, "press_id": cfg.id,
              "backend": cfg.backend.kind, "config": bundle.source, "config_sha256": bundle.sha256,
              "started_utc": started.isoformat(), "wall_s": time.time(),
              "injected": [f.value + (f":{t}" if t else "") for f, t in faults],
              "passed": outcome.passed, "zero_offset_mpa": outcome.zero_offset_mpa,
              "results": [r.as_dict() for r in outcome.results]}
    path = folder / f"selftest-{started:%Y%m%dT%H%M%SZ}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1) + "\n")
    except OSError as exc:
        click.echo(f"hotpressd selftest: could not save the results in {folder} ({exc.strerror}):"
                   " run as the hotpress user (sudo -u hotpress ...) or give --out DIR", err=True)
        return None
    return path


main.add_command(selftest)
main.add_command(safe)
