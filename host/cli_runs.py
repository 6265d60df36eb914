"""`hotpress runs ...` (the local run store) and `hotpress recipe check` (no press needed).

These commands never touch the broker: they work on a laptop with only the store file, e.g. one
copied from the lab server, or on a recipe being written.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from host.errors import HostError
from host.store import RunInfo, Store, open_store
from host.watch import hms

LIST_LIMIT = 50  # newest runs shown by `runs list` unless --limit says otherwise


def _console() -> Console:
    return Console(highlight=False)


def _when(wall_s: float | None) -> str:
    if wall_s is None:
        return "-"
    return dt.datetime.fromtimestamp(wall_s).strftime("%Y-%m-%d %H:%M")


@click.group()
@click.option("--db", type=click.Path(dir_okay=False),
              help="SQLite store (default ~/.local/share/hotpress/runs.sqlite).")
@click.option("--postgres", metavar="DSN", envvar="HOTPRESS_POSTGRES",
              help="Read a PostgreSQL store instead.")
@click.pass_context
def runs(ctx: click.Context, db: str | None, postgres: str | None) -> None:
    """Recorded runs in the local store (written by `hotpress logger`)."""
    if db and postgres:
        raise HostError("give --db or --postgres, not both")
    ctx.ensure_object(dict)["store_args"] = {"db": db, "postgres": postgres}


def _store(ctx: click.Context) -> Store:
    store = open_store(**ctx.obj["store_args"])
    ctx.call_on_close(store.close)
    return store


def _one_run(store: Store, run_id: str, press: str | None) -> RunInfo:
    found = [r for r in store.find_runs(run_id) if press is None or r.press_id == press]
    if not found:
        raise HostError(f"no run {run_id} in {store.location}: `hotpress runs list` shows the "
                        f"runs recorded there")
    if len(found) > 1:
        presses = ", ".join(r.press_id for r in found)
        raise HostError(f"run {run_id} exists on several presses ({presses}): add --press")
    return found[0]


@runs.command("list")
@click.option("--press", help="Only this press's runs.")
@click.option("--limit", type=int, default=LIST_LIMIT, show_default=True)
@click.pass_context
def list_runs(ctx: click.Context, press: str | None, limit: int) -> None:
    """The newest runs, one line each."""
    store = _store(ctx)
    rows = store.runs(press, limit=limit)
    if not rows:
        _console().print(f"no runs in {store.location}")
        return
    lines = [_list_row(store, r) for r in rows]
    out = _console()
    if not out.is_terminal:  # piped: tab-separated with a header, for scripts and spreadsheets
        for line in (LIST_COLUMNS, *lines):
            out.print("\t".join(line), soft_wrap=True)
        return
    table = Table(header_style="bold")
    for col in LIST_COLUMNS:
        table.add_column(col)
    for line in lines:
        table.add_row(*line)
    out.print(table)


LIST_COLUMNS = ("run", "press", "started", "duration", "recipe", "sample", "operator", "outcome",
                "samples")


def _list_row(store: Store, r: RunInfo) -> tuple[str, ...]:
    duration = hms(r.ended - r.started) if r.ended and r.started else "-"
    return (r.run_id, r.press_id, _when(r.started), duration, r.recipe or "-",
            r.sample_id or "-", r.operator or "-", r.outcome or "running?",
            str(store.count_samples(r.press_id, r.run_id)))


@runs.command("show")
@click.argument("run_id")
@click.option("--press", help="Needed only if two presses used the same run id.")
@click.pass_context
def show(ctx: click.Context, run_id: str, press: str | None) -> None:
    """One run: who, what, when, how it ended, whether the record is complete, its events."""
    store = _store(ctx)
    run = _one_run(store, run_id, press)
    out = _console()
    for label, value in _summary(store, run):
        out.print(f"{label:>10}: {value}", soft_wrap=True)
    for e in store.events(run.press_id, run.run_id):
        t = "-" if e.t_s is None else f"{e.t_s:9.1f}s"
        out.print(f"  {t}  seq {e.seq}  {e.kind:<12} {e.message}", soft_wrap=True)


def _summary(store: Store, run: RunInfo) -> list[tuple[str, Any]]:
    samples = store.count_samples(run.press_id, run.run_id)
    if run.end_seq is None:
        record = "run not ended (or its end not yet recorded)"
    else:
        holes = store.missing_seqs(run.press_id, run.run_id, run.end_seq)
        missing = sum(b - a + 1 for a, b in holes)
        record = "complete" if not holes else f"{missing} record(s) missing (logger will fetch)"
    header = run.header or {}
    return [("run", run.run_id), ("press", run.press_id), ("recipe", run.recipe or "-"),
            ("sample", run.sample_id or "-"), ("operator", run.operator or "-"),
            ("started", _when(run.started)), ("ended", _when(run.ended)),
            ("outcome", run.outcome or "-"), ("samples", samples), ("record", record),
            *((k, header[k]) for k in ("recipe_hash", "software", "config_hash") if k in header)]


@runs.command("export")
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File (default: stdout).")
@click.option("--press", help="Needed only if two presses used the same run id.")
@click.pass_context
def export(ctx: click.Context, run_id: str, fmt: str, output: str | None,
           press: str | None) -> None:
    """Write the run as CSV (one row per sample) or JSON (header, samples, events)."""
    from host.export import write_csv, write_json

    store = _store(ctx)
    run = _one_run(store, run_id, press)
    samples = store.samples(run.press_id, run.run_id)
    with (open(output, "w", newline="", encoding="utf-8") if output else _stdout()) as out:
        if fmt == "csv":
            write_csv(samples, out)
        else:
            write_json(run, samples, store.events(run.press_id, run.run_id), out)
    if output:
        click.echo(f"wrote {output} ({len(samples)} samples)", err=True)


class _stdout:  # noqa: N801  (a context manager that leaves stdout open)
    def __enter__(self) -> Any:
        return sys.stdout

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()


@runs.command("plot")
@click.argument("run_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="PNG file (default: RUN_ID.png in the current directory).")
@click.option("--press", help="Needed only if two presses used the same run id.")
@click.pass_context
def plot(ctx: click.Context, run_id: str, output: str | None, press: str | None) -> None:
    """Plot temperatures, pressure, steps and events of the run to a PNG."""
    from host.plots import plot_run

    store = _store(ctx)
    run = _one_run(store, run_id, press)
    samples = store.samples(run.press_id, run.run_id)
    if not samples:
        raise HostError(f"run {run_id} has no samples yet: nothing to plot")
    path = plot_run(run, samples, store.events(run.press_id, run.run_id),
                    output or Path(f"{run_id}.png"))
    click.echo(f"wrote {path}")


@click.group()
def recipe() -> None:
    """Recipe files."""


@recipe.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--press", "press_config", type=click.Path(dir_okay=False),
              help="Press config to check the limits against (default: materials only).")
def check(file: str, press_config: str | None) -> None:
    """Validate FILE and print its plan; exit 1 with every problem if invalid."""
    from host.recipes import check_recipe_file

    checked = check_recipe_file(file, press_config)
    out = _console()
    for warning in checked.warnings:
        out.print(f"warning: {warning}")
    out.print(checked.plan_text, soft_wrap=True)
