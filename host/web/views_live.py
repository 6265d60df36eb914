"""The live pages: every press at a glance, one press in detail, and the run commands.

Live data is polled: the page asks for JSON twice a second and draws it. Each answer is built
from the person's own MQTT session (what their account may read), so polling needs no extra
broker traffic, a dropped poll costs nothing, and a restarted broker or web server needs no
reconnect logic in the browser: the next poll simply works again. The chart's points are sent
incrementally (see `LiveSeries.since`), so a 2 Hz poll stays a few hundred bytes.
"""

from __future__ import annotations

import contextlib
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request

from host.errors import StoreError
from host.web import present
from host.web.app import user, web_config
from host.web.commands import Outcome

bp = Blueprint("live", __name__)
POLL_MS = 500  # twice a second: the brief asks for at least one update a second
COMMAND_VERBS = ("pause", "resume", "skip", "abort", "reset")
ABORT_REASON_MAX_CHARS = 200  # firmware.link.commands: abort's reason


def check_press_id(press_id: str) -> str:
    """404 for anything that cannot be a press id (it becomes an MQTT topic segment)."""
    if not present.PRESS_ID.fullmatch(press_id):
        abort(404)
    return press_id


def connection() -> dict[str, Any]:
    """The person's broker connection, for the banner every page shows when it is down."""
    u = user()
    return {"connected": u.connected.is_set(), "username": u.username,
            "broker": f"{u.settings.host}:{u.settings.port}"}


@bp.route("/")
def fleet() -> str:
    """Every press seen on the broker, one card each."""
    return render_template("fleet.html", poll_ms=POLL_MS, initial=fleet_data())


@bp.route("/api/fleet")
def fleet_api() -> Response:
    """The overview cards' data."""
    return jsonify(fleet_data())


def fleet_data() -> dict[str, Any]:
    """Connection state and one summary per press."""
    return {**connection(), "presses": [present.summary(v) for v in user().presses()]}


@bp.route("/press/<press_id>")
def press(press_id: str) -> str:
    """One press live: readings against the plan, step and ETA, outputs, faults, commands."""
    check_press_id(press_id)
    return render_template("press.html", press_id=press_id, poll_ms=POLL_MS,
                           verbs=COMMAND_VERBS, initial=press_data(press_id, None, 0))


@bp.route("/api/press/<press_id>")
def press_api(press_id: str) -> Response:
    """The live page's data; `gen` and `after` say which chart points the page already has."""
    check_press_id(press_id)
    gen = request.args.get("gen", type=int)
    after = request.args.get("after", default=0, type=int)
    return jsonify(press_data(press_id, gen, after))


def press_data(press_id: str, gen: int | None, after: int) -> dict[str, Any]:
    """Summary, recent events and new chart points of one press."""
    u = user()
    view = u.press(press_id)
    info = present.summary(view)
    series = u.series(press_id)
    if series.needs_backfill(info["run_id"]):
        _backfill(press_id, info["run_id"])
    return {**connection(), "press": info, "events": present.events(view),
            "series": series.since(gen, after)}


def _backfill(press_id: str, run_id: str) -> None:
    """Signed in mid-run: fetch the run's start from the logger's store, when it has it."""
    from host.store import DEFAULT_DB_PATH, open_store

    path = web_config().db or DEFAULT_DB_PATH.expanduser()
    series = user().series(press_id)
    if not path.exists():
        series.backfill(run_id, [], None)
        return
    samples: list[tuple[float, dict[str, Any]]] = []
    header = None
    with contextlib.suppress(StoreError), open_store(db=path) as store:
        samples = [(s.t_s, s.payload) for s in store.samples(press_id, run_id)
                   if s.t_s is not None]
        header = next((r.header for r in store.find_runs(run_id) if r.press_id == press_id),
                      None)
    series.backfill(run_id, samples, header)


@bp.route("/api/press/<press_id>/command/<verb>", methods=["POST"])
def command(press_id: str, verb: str) -> Response:
    """Send one run command as the signed-in person; the page made the command id."""
    check_press_id(press_id)
    if verb not in COMMAND_VERBS:
        abort(404)
    body = request.get_json(silent=True) or {}
    args: dict[str, Any] = {}
    reason = str(body.get("reason") or "").strip()
    if verb == "abort" and reason:
        args["reason"] = reason[:ABORT_REASON_MAX_CHARS]
    outcome: Outcome = user().send(press_id, verb, args, str(body.get("id") or ""))
    return jsonify(outcome.as_json())
