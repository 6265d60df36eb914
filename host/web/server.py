"""`hotpress web`: serve the dashboard with waitress, a pure-Python production WSGI server.

Flask's own server is for development (it says so at start); waitress is small, pure Python
(installs on a Raspberry Pi as is), and serves each request on a thread of a fixed pool, which
suits the per-request blocking work here (waiting for a press's reply, drawing a plot).

The broker address, port and TLS come from the same place as for every `hotpress` command
(`--broker-config`, HOTPRESS_MQTT_*, ~/.config/hotpress/host.toml); the user name and password do
not: each person signs in with their own.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from host.connection import BrokerSettings
from host.errors import HostError

if TYPE_CHECKING:  # Flask and paho load only when the dashboard runs
    from host.web.sessions import SessionRegistry

THREADS = 16  # polls are quick; a command waits up to 10 s for its reply and a plot takes ~1 s
LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """True when `host` is only reachable from this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_server(settings: BrokerSettings, host: str, port: int, db: Path | None,
                recipes: Path | None) -> tuple[Any, SessionRegistry]:
    """A bound waitress server and the app's session registry (for a clean shutdown)."""
    from waitress.server import create_server

    from host.web.app import WebConfig, create_app
    from host.web.sessions import SessionRegistry

    base = dataclasses.replace(settings, username=None, password=None)
    registry = SessionRegistry(base)
    app = create_app(WebConfig(base, db, recipes), registry)
    try:
        server = create_server(app, host=host, port=port, threads=THREADS, ident="hotpress",
                               clear_untrusted_proxy_headers=True)
    except (OSError, socket.gaierror) as exc:
        raise HostError(f"cannot serve on {host}:{port} ({exc.strerror or exc}): choose "
                        f"another --port, or stop what uses it") from None
    return server, registry


def serve(settings: BrokerSettings, host: str, port: int, db: Path | None,
          recipes: Path | None, echo: Callable[[str], None] = click.echo) -> None:
    """Serve until interrupted; every signed-in person's MQTT session is closed on the way out."""
    if recipes is not None and not recipes.is_dir():
        raise HostError(f"--recipes {recipes} is not a directory")
    server, registry = make_server(settings, host, port, db, recipes)
    echo(f"hotpress web: http://{host}:{port}/  (broker {settings.host}:{settings.port}; "
         f"each person signs in with their own broker account)")
    if not is_loopback(host):
        echo("hotpress web: warning: serving beyond this machine over plain HTTP: passwords "
             "cross the network in clear text; put it behind an HTTPS reverse proxy")
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)  # systemd stops with SIGTERM
    try:
        server.run()  # returns on Ctrl-C or SIGTERM (waitress catches the exit)
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
        registry.close_all()
        echo("hotpress web: stopped; every signed-in session disconnected")


def _stop_on_sigterm(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


class BackgroundServer:
    """The dashboard on a thread of this process, for tests and scripts: `url`, then `stop()`."""

    def __init__(self, settings: BrokerSettings, host: str = "127.0.0.1", port: int = 0,
                 db: Path | None = None, recipes: Path | None = None) -> None:
        self.server, self.registry = make_server(settings, host, port, db, recipes)
        self.url = f"http://{host}:{self.server.effective_port}"
        self._thread = threading.Thread(target=self.server.run, name="hotpress-web",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close the listener, every open connection and the workers; end every MQTT session."""
        from waitress import wasyncore

        self.server.close()
        wasyncore.close_all(self.server._map)  # keep-alive connections would keep it running
        self.server.task_dispatcher.shutdown()
        self._thread.join(5)
        self.registry.close_all()


@click.command("web")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface; see the warning).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              help="Run store the logger writes (default ~/.local/share/hotpress/runs.sqlite).")
@click.option("--recipes", type=click.Path(file_okay=False, path_type=Path),
              help="Recipe library people may choose from (uploads work without one).")
@click.pass_context
def web(ctx: click.Context, host: str, port: int, db: Path | None, recipes: Path | None) -> None:
    """Serve the dashboard: live presses, run control and recorded runs, in a browser.

    People sign in with their own broker user name and password; the broker's ACL decides what
    each may do (a viewer sees everything and commands nothing).
    """
    from host.cli import settings_of

    serve(settings_of(ctx), host, port, db, recipes)
