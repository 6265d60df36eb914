"""Recorded runs: the list (searchable by sample, recipe or date), one run, its plot and exports.

These pages read the local run store that `hotpress logger` writes (`--db`), never the broker:
what was recorded is the record, whoever is signed in. The store is opened per request (SQLite
in WAL mode lets us read while the logger writes) and closed at once, so the web server never
holds the file. Plots are the same PNGs as `hotpress runs plot` (`host.plots`), cached per run
and record size, so a page reload does not redraw a 40 000-sample run.
"""

from __future__ import annotations

import collections
import datetime as dt
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, Response, abort, render_template, request

from host.export import csv_text, run_document
from host.plots import build_figure
from host.store import DEFAULT_DB_PATH, RunInfo, Store, open_store
from host.watch import hms
from host.web.app import web_config
from host.web.present import PRESS_ID, RUN_ID

bp = Blueprint("runs", __name__)
LIST_LIMIT = 200  # newest matching runs shown; a search narrows it further
SCAN_LIMIT = 5000  # runs searched; a lab makes a few a day, so this is years of work
PLOT_CACHE_SIZE = 16
_plot_cache: collections.OrderedDict[tuple[Any, ...], bytes] = collections.OrderedDict()
_plot_lock = threading.Lock()


@contextmanager
def store() -> Iterator[Store]:
    """The run store for one request."""
    path = web_config().db or DEFAULT_DB_PATH.expanduser()
    with open_store(db=path) as s:
        yield s


def _day(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def matches(run: RunInfo, query: str, day_from: dt.date | None, day_to: dt.date | None) -> bool:
    """Whether `run` fits the search: text in sample, recipe or run id; start date in range."""
    if query:
        haystack = " ".join(x or "" for x in (run.sample_id, run.recipe, run.run_id,
                                               run.operator, run.press_id)).lower()
        if query.lower() not in haystack:
            return False
    if day_from or day_to:
        if run.started is None:
            return False
        day = dt.datetime.fromtimestamp(run.started).date()
        if (day_from and day < day_from) or (day_to and day > day_to):
            return False
    return True


def row(run: RunInfo) -> dict[str, Any]:
    """One line of the runs table."""
    started = (dt.datetime.fromtimestamp(run.started).strftime("%Y-%m-%d %H:%M")
               if run.started else "-")
    duration = hms(run.ended - run.started) if run.ended and run.started else "-"
    return {"press_id": run.press_id, "run_id": run.run_id, "started": started,
            "duration": duration, "recipe": run.recipe or "-", "sample_id": run.sample_id or "-",
            "operator": run.operator or "-", "outcome": run.outcome or "running?"}


@bp.route("/runs")
def runs() -> str:
    """The runs list with its search form."""
    query = request.args.get("q", "").strip()
    day_from, day_to = _day(request.args.get("from")), _day(request.args.get("to"))
    with store() as s:
        found = [r for r in s.runs(limit=SCAN_LIMIT) if matches(r, query, day_from, day_to)]
        location = s.location
    return render_template("runs.html", rows=[row(r) for r in found[:LIST_LIMIT]],
                           total=len(found), shown=min(len(found), LIST_LIMIT), q=query,
                           day_from=request.args.get("from", ""),
                           day_to=request.args.get("to", ""), location=location)


def _one(s: Store, press_id: str, run_id: str) -> RunInfo:
    if not PRESS_ID.fullmatch(press_id) or not RUN_ID.fullmatch(run_id):
        abort(404)
    found = [r for r in s.find_runs(run_id) if r.press_id == press_id]
    if not found:
        abort(404, f"no run {run_id} of {press_id} in the store")
    return found[0]


@bp.route("/runs/<press_id>/<run_id>")
def run(press_id: str, run_id: str) -> str:
    """One run: summary, plot, events, downloads."""
    with store() as s:
        info = _one(s, press_id, run_id)
        events = s.events(press_id, run_id)
        count = s.count_samples(press_id, run_id)
    shown = [{"seq": e.seq, "kind": e.kind, "message": e.message} for e in events
             if e.kind not in ("sample",)]
    return render_template("run.html", run=row(info), info=info, events=shown[:200],
                           samples=count, complete=info.end_seq is not None)


@bp.route("/runs/<press_id>/<run_id>/plot.png")
def plot(press_id: str, run_id: str) -> Response:
    """The run's plot (host.plots), as a PNG."""
    with store() as s:
        info = _one(s, press_id, run_id)
        key = (str(web_config().db), press_id, run_id, s.max_seq(press_id, run_id))
        with _plot_lock:
            png = _plot_cache.get(key)
        if png is None:
            png = _render(info, s)
            with _plot_lock:
                _plot_cache[key] = png
                while len(_plot_cache) > PLOT_CACHE_SIZE:
                    _plot_cache.popitem(last=False)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "no-cache"})


def _render(info: RunInfo, s: Store) -> bytes:
    samples = s.samples(info.press_id, info.run_id)
    events = s.events(info.press_id, info.run_id)
    buf = io.BytesIO()
    build_figure(info, samples, events).savefig(buf, format="png")
    return buf.getvalue()


def _download(body: str, mimetype: str, name: str) -> Response:
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/runs/<press_id>/<run_id>/export.csv")
def export_csv(press_id: str, run_id: str) -> Response:
    """One CSV row per sample (host.export)."""
    with store() as s:
        info = _one(s, press_id, run_id)
        body = csv_text(s.samples(info.press_id, info.run_id))
    return _download(body, "text/csv", f"{press_id}_{run_id}.csv")


@bp.route("/runs/<press_id>/<run_id>/export.json")
def export_json(press_id: str, run_id: str) -> Response:
    """Everything recorded about the run (host.export)."""
    with store() as s:
        info = _one(s, press_id, run_id)
        doc = run_document(info, s.samples(press_id, run_id), s.events(press_id, run_id))
    return _download(json.dumps(doc, indent=1, allow_nan=False) + "\n", "application/json",
                     f"{press_id}_{run_id}.json")
