"""The Flask application: configuration, sign-in, and the guard every request passes.

Why Flask: the host side is synchronous and threaded already (paho's network thread, the SQLite
store, matplotlib on its Agg canvas), and Flask's request-per-thread model uses all of it as it is;
an async framework would need a thread bridge around each of them. Pages are server-rendered
Jinja templates (autoescaped) with a small script each; live data is polled as JSON (see
views_live), which survives a broker or server restart with no reconnect logic in the browser.

Every page except the sign-in form needs a session (`SessionRegistry`); every POST must carry the
session's CSRF token (form field `csrf` or header `X-CSRF-Token`), and the session cookie is
HttpOnly and SameSite=Strict, so another site cannot drive a press through a signed-in browser.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import (
    Flask,
    Response,
    abort,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException

from host.connection import BrokerSettings
from host.web.sessions import SessionRegistry, UserSession

PUBLIC_ENDPOINTS = frozenset({"auth.login", "static"})


@dataclass
class WebConfig:
    """How `hotpress web` was started: the broker (no user: each person signs in), the run store
    the logger writes, and the recipe library people may choose from."""

    broker: BrokerSettings
    db: Path | None = None  # SQLite run store; None: the default ~/.local/share/hotpress/...
    recipes_dir: Path | None = None
    secret_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))


def create_app(config: WebConfig, registry: SessionRegistry | None = None) -> Flask:
    """The dashboard as a WSGI app; `registry` may be given by tests to look inside."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY=config.secret_key, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", MAX_CONTENT_LENGTH=1024 * 1024,
                      SEND_FILE_MAX_AGE_DEFAULT=0, TEMPLATES_AUTO_RELOAD=False)
    app.extensions["hotpress"] = config
    app.extensions["hotpress.sessions"] = registry or SessionRegistry(config.broker)
    from host.web.auth import bp as auth_bp
    from host.web.views_live import bp as live_bp
    from host.web.views_runs import bp as runs_bp
    from host.web.views_start import bp as start_bp

    for blueprint in (auth_bp, live_bp, start_bp, runs_bp):
        app.register_blueprint(blueprint)
    app.before_request(_guard)
    app.context_processor(_template_globals)
    app.after_request(_headers)
    app.register_error_handler(HTTPException, _error_page)
    return app


def web_config() -> WebConfig:
    """The running app's configuration."""
    from flask import current_app

    return current_app.extensions["hotpress"]


def registry() -> SessionRegistry:
    """The running app's session registry."""
    from flask import current_app

    return current_app.extensions["hotpress.sessions"]


def user() -> UserSession:
    """The signed-in person of this request (the guard has made sure there is one)."""
    return g.user


def _guard() -> Response | None:
    """Find the session; send strangers to sign in; refuse POSTs without the CSRF token."""
    g.user = registry().get(session.get("sid"))
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if g.user is None:
        if request.path.startswith("/api/"):
            return _json_error(401, "signed out: sign in again")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if request.method == "POST":
        token = request.form.get("csrf") or request.headers.get("X-CSRF-Token")
        if not token or not secrets.compare_digest(token, g.user.csrf):
            if request.path.startswith("/api/"):
                return _json_error(400, "the page is out of date: reload it")
            abort(400, "the form is out of date: go back, reload the page and try again")
    return None


def _json_error(status: int, message: str) -> Response:
    response = jsonify({"ok": False, "kind": "error", "message": message})
    response.status_code = status
    return response


def _error_page(exc: HTTPException) -> tuple[str | Response, int]:
    """Errors in the dashboard's own look (JSON for the scripts), never a bare server page."""
    code = exc.code or 500
    if request.path.startswith("/api/"):
        return _json_error(code, exc.description or exc.name), code
    return render_template("error.html", code=code, name=exc.name,
                           description=exc.description), code


def _template_globals() -> dict[str, Any]:
    current = getattr(g, "user", None)
    return {"user": current, "csrf": current.csrf if current else ""}


def _headers(response: Response) -> Response:
    """Everything is served from here: a strict CSP makes that a rule, not a habit."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response
