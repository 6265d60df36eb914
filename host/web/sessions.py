"""One MQTT session per signed-in person, with their own broker credentials.

The dashboard holds no broker account of its own: a person signs in with their broker user name
and password, the server opens an MQTT connection as them (`host.connection.connect`, which waits
for the CONNACK, so a wrong password is refused at the sign-in form), and every page they see and
every command they send goes through that connection. What they may do is what the broker's ACL
lets their account do, exactly as with the CLI: a viewer reads everything and commands nothing.

The password lives only inside the MQTT client (paho needs it to reconnect after a broker
restart); the browser holds a random session token in a signed cookie, never the password.
Sessions end on sign-out, after `IDLE_TIMEOUT_S` without a request, or when `MAX_SESSIONS` is
reached (the least recently used goes first), so an abandoned browser cannot pin a connection.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt

from firmware.link.protocol import TOPIC_ROOT, parse_topic
from host.commands import reply_filter
from host.connection import BrokerSettings, Secret, connect, disconnect
from host.fleet import LEAVES, FleetView, PressView
from host.records import decode
from host.web.commands import Outcome, WebCommander
from host.web.series import LiveSeries

IDLE_TIMEOUT_S = 12 * 3600.0  # a lab shift and then some: a kiosk stays signed in all day
MAX_SESSIONS = 32  # a lab's worth of people and screens; each costs a connection and its traffic
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 3  # a screen on the wall should recover within seconds
DRAFTS_KEPT = 8  # checked recipes waiting for "start" per session


class UserSession:
    """A signed-in person: their MQTT client, what it has seen, and their command channel."""

    def __init__(self, settings: BrokerSettings) -> None:
        self.settings = settings
        self.username = settings.username or ""
        self.token = secrets.token_urlsafe(32)
        self.csrf = secrets.token_urlsafe(32)
        self.client_id = f"hotpress-web-{os.getpid()}-{secrets.token_hex(4)}"
        self.view = FleetView()
        self.connected = threading.Event()
        self.last_seen = time.monotonic()
        self.drafts: dict[str, Any] = {}
        self._series: dict[str, LiveSeries] = {}
        self._lock = threading.Lock()
        self.client: mqtt.Client | None = None
        self.commander: WebCommander | None = None

    def open(self) -> UserSession:
        """Connect as this person (BrokerAuthError or BrokerUnreachableError if refused)."""
        self.client = connect(self.settings, self.client_id, on_connect=self._on_connect,
                              prepare=self._prepare)
        return self

    # -- network-thread side --------------------------------------------------------------------
    def _prepare(self, client: mqtt.Client) -> None:
        self.commander = WebCommander(client, self.client_id)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        # One odd message must not end this person's network thread (and with it their live
        # view and reconnects): paho logs a callback's exception and goes on.
        client.suppress_exceptions = True
        client.on_message = self._on_message
        client.on_publish = lambda _c, _u, mid, rc, _p: self._commander().on_publish(mid, rc)
        client.on_disconnect = self._on_disconnect

    def _on_connect(self, client: mqtt.Client) -> None:
        """Subscribe on every (re)connect: a restarted broker has forgotten our subscriptions."""
        client.subscribe([(f"{TOPIC_ROOT}/+/{leaf}", qos) for leaf, qos in LEAVES]
                         + [(reply_filter(self.client_id), 1)])
        self.connected.set()

    def _on_disconnect(self, *_args: Any) -> None:
        """The pages show a banner until paho has reconnected and we have resubscribed."""
        self.connected.clear()

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        parsed = parse_topic(message.topic)
        if parsed is None:
            return
        press_id, leaf = parsed
        if leaf.startswith("reply/"):
            self._commander().on_reply(message)
            return
        self.view.handle(message.topic, message.payload)
        if leaf == "telemetry":
            msg = decode(message.payload)
            if msg is not None:
                self.series(press_id).add(msg)
        elif leaf == "event":
            self._on_event(press_id, decode(message.payload) or {})

    def _on_event(self, press_id: str, msg: dict[str, Any]) -> None:
        if msg.get("kind") != "run_started" or not isinstance(msg.get("run_id"), str):
            return
        data = msg.get("data") if isinstance(msg.get("data"), dict) else {}
        header = data.get("header") if isinstance(data.get("header"), dict) else None
        self.series(press_id).run_started(msg["run_id"], header)

    def _commander(self) -> WebCommander:
        assert self.commander is not None, "open() first"
        return self.commander

    # -- request side ---------------------------------------------------------------------------
    def series(self, press_id: str) -> LiveSeries:
        """The live chart data of `press_id` (made on first use)."""
        with self._lock:
            found = self._series.get(press_id)
            if found is None:
                found = self._series[press_id] = LiveSeries()
            return found

    def press(self, press_id: str) -> PressView:
        """A snapshot of everything seen from `press_id`."""
        return self.view.snapshot(press_id)

    def presses(self) -> list[PressView]:
        """Snapshots of every press seen, sorted by id."""
        return [self.view.snapshot(p) for p in self.view.press_ids()]

    def send(self, press_id: str, verb: str, args: dict[str, Any], cmd_id: str) -> Outcome:
        """Send a command as this person (see WebCommander.send)."""
        return self._commander().send(press_id, verb, args, cmd_id, self.connected.is_set())

    def keep_draft(self, draft_id: str, draft: Any) -> None:
        """Hold a checked recipe until its start form is sent (the newest DRAFTS_KEPT)."""
        with self._lock:
            self.drafts[draft_id] = draft
            while len(self.drafts) > DRAFTS_KEPT:
                self.drafts.pop(next(iter(self.drafts)))

    def close(self) -> None:
        """Disconnect (cleanly: no last will is involved for people)."""
        if self.client is not None:
            disconnect(self.client)
            self.client = None


class SessionRegistry:
    """Token -> UserSession, with idle expiry and a cap (thread-safe)."""

    def __init__(self, base: BrokerSettings, idle_timeout_s: float = IDLE_TIMEOUT_S,
                 max_sessions: int = MAX_SESSIONS) -> None:
        self.base = base
        self.idle_timeout_s = idle_timeout_s
        self.max_sessions = max_sessions
        self._sessions: dict[str, UserSession] = {}
        self._lock = threading.Lock()

    def sign_in(self, username: str, password: str) -> UserSession:
        """Open a session as `username` (raises BrokerError when the broker refuses)."""
        settings = dataclasses.replace(self.base, username=username, password=Secret(password),
                                       source="the sign-in form")
        session = UserSession(settings).open()
        evicted: list[UserSession] = []
        with self._lock:
            self._sessions[session.token] = session
            while len(self._sessions) > self.max_sessions:
                oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
                evicted.append(self._sessions.pop(oldest.token))
        for old in evicted:
            old.close()
        return session

    def get(self, token: str | None) -> UserSession | None:
        """The live session for `token` (touching it), or None; expires idle ones on the way."""
        self.expire()
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is not None:
                session.last_seen = time.monotonic()
            return session

    def sign_out(self, token: str | None) -> None:
        """End the session for `token`, if any."""
        with self._lock:
            session = self._sessions.pop(token or "", None)
        if session is not None:
            session.close()

    def expire(self) -> None:
        """Close sessions idle for longer than the timeout."""
        now = time.monotonic()
        with self._lock:
            stale = [t for t, s in self._sessions.items()
                     if now - s.last_seen > self.idle_timeout_s]
            closing = [self._sessions.pop(t) for t in stale]
        for session in closing:
            session.close()

    def close_all(self) -> None:
        """Close every session (server shutdown)."""
        with self._lock:
            closing = list(self._sessions.values())
            self._sessions.clear()
        for session in closing:
            session.close()

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)
