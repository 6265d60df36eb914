"""Sign-in and sign-out: the person's broker account is the dashboard's account.

Signing in opens an MQTT connection with the given user name and password; the broker's CONNACK
is the whole check (the dashboard keeps no user list and no password hashes of its own). The
password field is never echoed back into the form, never logged, and held only by the MQTT client.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, session, url_for

from host.errors import BrokerAuthError, BrokerError
from host.web.app import registry, web_config

bp = Blueprint("auth", __name__)
USERNAME_MAX_CHARS = 64  # mosquitto user names are short; a longer one is a paste accident


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path on this server (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("live.fleet")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """The sign-in form; on POST, connect to the broker as that person."""
    broker = web_config().broker
    where = f"{broker.host}:{broker.port}"
    if request.method == "GET":
        return render_template("login.html", where=where, error=None, username="",
                               next=request.args.get("next", ""))
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    target = request.form.get("next", "")
    error = None
    if not username or len(username) > USERNAME_MAX_CHARS or not password:
        error = "Enter your broker user name and password."
    else:
        try:
            user_session = registry().sign_in(username, password)
        except BrokerAuthError:
            error = (f"The broker at {where} refused user '{username}': check the user name "
                     f"and password.")
        except BrokerError:
            error = (f"The dashboard cannot reach the MQTT broker at {where}: is it running? "
                     f"Try again in a moment.")
        else:
            registry().sign_out(session.get("sid"))  # a second sign-in replaces the first
            session.clear()
            session["sid"] = user_session.token
            return redirect(safe_next(target))
    return render_template("login.html", where=where, error=error, username=username,
                           next=target), 401


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Disconnect this person's MQTT session and forget the cookie."""
    registry().sign_out(session.get("sid"))
    session.clear()
    return redirect(url_for("auth.login"))
