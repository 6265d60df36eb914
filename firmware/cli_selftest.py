"""`hotpressd selftest` (commissioning) and `hotpressd safe` (every output safe, then exit).

`safe` is what systemd runs before the daemon starts and after it stops, however it stopped: it
opens only the outputs (not the sensor buses, which may be what is broken), drives each to its
safe state and releases the pins, whose pull resistors then hold them de-energised.

`selftest` opens the whole press, runs `firmware.selftest`, prints a table (what to check under
every line that is not PASS), prints the `zero_offset_mpa` line to paste into the config and
saves everything as JSON under the journal directory. On the simulator (`--sim`) it runs in
virtual time, and `--inject FAULT[:TARGET]` wires a fault in first, to see what a FAIL looks
like: a `SimFault`, or on a retrofit press a serial one (an instrument `silent`, `corrupt`
replies, `garbage` lines, a port `unplugged`). Exit status: 0 nothing failed, 1 a check failed,
2 the press could not be opened at all (or the test stopped on an unexpected error).
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
from firmware.config.model import OutputConfig, PressConfig
from firmware.errors import HotpressError
from firmware.hal import diagnose
from firmware.selftest import CheckResult, Outcome, Selftest, Status
from firmware.sim.faults import SimFault

TC_FAULTS = {SimFault.TC_OPEN, SimFault.TC_SHORT_GND, SimFault.TC_SHORT_VCC,
             SimFault.TC_SPORADIC, SimFault.TC_FROZEN}
# Serial faults of the emulated instruments (sim/serial_devices.py): the flag each one sets.
SERIAL_FAULTS = {"silent": "an instrument that never answers",
                 "corrupt": "a Modbus instrument whose replies fail their CRC",
                 "garbage": "an ASCII instrument printing unreadable lines",
                 "unplugged": "a serial port whose adapter is unplugged"}
Injection = tuple[SimFault | str, str | None]
VALVE_FAULTS = {SimFault.VALVE_STUCK_OPEN, SimFault.VALVE_STUCK_CLOSED}
VALVES = ("advance", "press", "release")
OPEN_CHECK = "open the press"
STOPPED_CHECK = "self-test stopped"  # an unexpected error: reported as a line, not a traceback
RESULTS_SUBDIR = "selftest"  # under the journal dir: commissioning records live with the runs


def _press(ctx: click.Context, config: str | None, sim: bool) -> PressBundle:
    """The press named here, or on the group (`hotpressd --sim selftest` works too)."""
    obj = ctx.obj or {}
    return load_press(config or obj.get("config"), sim or bool(obj.get("sim")))


def parse_injection(text: str, cfg: PressConfig) -> Injection:
    """`tc_open:top` -> (SimFault.TC_OPEN, "top"), `silent:top_pid` -> ("silent", "top_pid"),
    checking the target exists on this press."""
    name, _, target = text.partition(":")
    fault: SimFault | str
    if name in SERIAL_FAULTS:
        fault = name
    else:
        try:
            fault = SimFault(name)
        except ValueError:
            known = ", ".join([*(f.value for f in SimFault), *SERIAL_FAULTS])
            raise click.BadParameter(f"unknown fault {name!r}; known: {known}",
                                     param_hint="--inject") from None
    choices = _targets(fault, cfg)
    if choices is None:
        return fault, None
    if not choices:
        raise click.BadParameter(f"{name}: this press has nothing it applies to",
                                 param_hint="--inject")
    if target not in choices:
        raise click.BadParameter(f"{name} needs a target, one of {', '.join(choices)} "
                                 f"(e.g. {name}:{choices[0]})", param_hint="--inject")
    return fault, target


def _targets(fault: SimFault | str, cfg: PressConfig) -> list[str] | None:
    """What `fault` may be aimed at on this press; None when it takes no target."""
    if fault == "unplugged":
        return [p.name for p in cfg.serial_ports]
    if isinstance(fault, str):  # silent: any instrument; corrupt: Modbus; garbage: ASCII
        protocol = {"corrupt": "modbus_rtu", "garbage": "ascii"}.get(fault)
        return [i.name for i in cfg.instruments if protocol in (None, i.protocol)]
    if fault in TC_FAULTS:
        return ([z.name for z in cfg.zones if z.tc_cs_pin is not None]
                + (["sample"] if cfg.sample_tc_cs_pin is not None else []))
    if fault is SimFault.HEATER_OPEN:
        return [z.name for z in cfg.zones if z.heated]
    if fault is SimFault.SSR_WELDED:
        return [z.name for z in cfg.zones if z.ssr_pin is not None]
    return list(VALVES) if fault in VALVE_FAULTS else None


def inject(backend: Any, fault: SimFault | str, target: str | None) -> None:
    """Wire `fault` into the simulated press `backend` (its emulated serial lines for the
    serial faults)."""
    if isinstance(fault, SimFault):
        backend.inject(fault, target)
    elif fault == "unplugged":
        backend.serial.ports[target].unplugged = True
    else:
        setattr(backend.serial.devices[target], fault, True)


def injection_text(fault: SimFault | str, target: str | None) -> str:
    """An injection as typed: `tc_open:top`."""
    name = fault.value if isinstance(fault, SimFault) else fault
    return name + (f":{target}" if target else "")


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
    # The snapshot lists SSRs, pump and valves; the heater permit relay is driven safe with
    # them (PressOutputs.all_safe) but is not in the telemetry snapshot.
    names = ", ".join([*sorted(outputs.snapshot()),
                       *(["heater_permit"] if cfg.heater_permit is not None else [])])
    outputs.close()
    click.echo(f"hotpressd safe: press {cfg.id!r}: every output safe ({names}); pins released")
    held = [n for n, o in _switched(cfg) if o.safe_energised]
    if held:
        click.echo(f"hotpressd safe: warning: {', '.join(held)} is safe only while energised, "
                   "and nothing holds it once this exits: wire it so de-energised is safe",
                   err=True)
    boxes = [z.controller for z in cfg.zones if z.controller is not None]
    if boxes and cfg.heater_permit is None:
        click.echo(f"hotpressd safe: warning: {', '.join(boxes)} keep their last setpoint "
                   "(this touches pins only, not serial lines): fit a heater permit relay",
                   err=True)


def _switched(cfg: PressConfig) -> list[tuple[str, OutputConfig]]:
    """The on/off outputs of the press by name: pump and valves, and the heater permit relay
    of a retrofit press (a manual press has no hydraulics at all)."""
    hyd = cfg.hydraulics
    outs: list[tuple[str, OutputConfig | None]] = []
    if hyd is not None:
        outs += [("pump", hyd.pump), ("advance_valve", hyd.advance_valve),
                 ("release_valve", hyd.release_valve), ("press_valve", hyd.press_valve)]
    outs.append(("heater_permit", cfg.heater_permit))
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
    stopped = bool(outcome.results) and outcome.results[-1].name == STOPPED_CHECK
    if outcome.zero_offset_mpa is not None:
        click.echo(f"\ntransducer zero: put this in [transducer] of {bundle.source}:\n"
                   f"  {zero_offset_line(outcome.zero_offset_mpa, started)}")
    saved = save_results(bundle, outcome, faults, started, out_dir)
    click.echo(f"\n{'PASS' if outcome.passed else 'FAIL'}: {_summary(outcome)}"
               + (f"; saved {saved}" if saved else ""))
    sys.exit(2 if stopped else 0 if outcome.passed else 1)


def _run(cfg: PressConfig, yes: bool, faults: list[Injection]) -> Outcome:
    """Open the press, run the test, close it (outputs safe) whatever happens.

    The serial lines are polled from the test's own loop (`InlineSerial`): the test needs them
    to itself for its read-backs, and has no tick for a slow instrument to delay.
    """
    from firmware.hal.backend import make_backend
    from firmware.hal.press_io import PressIO
    from firmware.selftest_serial import InlineSerial

    clock = _clock_for(cfg)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            backend = make_backend(cfg, clock)
            io = PressIO(cfg, InlineSerial(backend), clock)
    except Exception as exc:  # noqa: BLE001 - the press could not be opened: say why, once
        outcome = Outcome()
        outcome.results.append(CheckResult(OPEN_CHECK, Status.FAIL, type(exc).__name__,
                                           "buses and pins open",
                                           diagnose.explain_open_error(exc, cfg)))
        return outcome
    for fault, target in faults:
        inject(backend, fault, target)  # sim only, checked by the caller
    confirm = (lambda _q: True) if yes else (lambda q: click.confirm(q, default=False))
    test = Selftest(cfg, io, clock, confirm, progress=lambda s: click.echo(f"  ... {s}"))
    try:
        return test.run()
    except click.Abort:
        raise  # Ctrl-C or end of input at the question: click says "Aborted!"
    except Exception as exc:  # noqa: BLE001 - one line and the results so far, not a traceback
        test.outcome.results.append(CheckResult(
            STOPPED_CHECK, Status.FAIL, f"{type(exc).__name__}: {exc}", "",
            "every output was left safe; the lines above were judged before it stopped: "
            "report this error with the saved results"))
        return test.outcome
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
                 faults: list[Injection], started: datetime,
                 out_dir: str | None) -> Path | None:
    """Write the results as JSON; a directory we cannot write is reported, not fatal."""
    cfg = bundle.press
    folder = Path(out_dir) if out_dir else Path(cfg.journal_dir) / RESULTS_SUBDIR
    record = {"type": "selftest", "version": __version__, "press_id": cfg.id,
              "backend": cfg.backend.kind, "config": bundle.source, "config_sha256": bundle.sha256,
              "started_utc": started.isoformat(), "wall_s": time.time(),
              "injected": [injection_text(f, t) for f, t in faults],
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
