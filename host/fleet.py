"""What the host sees of the presses on a broker: retained status and state, latest telemetry.

`Session` is one short-lived CLI connection: a `FleetView` fed by the network thread and a
`CommandChannel` for commands. Retained messages (status, state) arrive right after the SUBACK;
`settle()` waits for them, so "is this press online?" is answered from what the broker holds, not
from a guess.
"""

from __future__ import annotations

import collections
import copy
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from firmware.link.protocol import TOPIC_ROOT, parse_topic
from host.commands import CommandChannel
from host.connection import BrokerSettings, connect, disconnect
from host.errors import HostError, PressOfflineError
from host.records import decode

SETTLE_QUIET_S = 0.25  # retained messages come back-to-back; this long a silence means "all in"
SETTLE_MAX_S = 2.0  # ... but never wait longer than this for them
EVENTS_KEPT = 20
LEAVES = (("status", 1), ("state", 1), ("telemetry", 0), ("event", 1))


@dataclass
class PressView:
    """The latest of everything one press published; None until seen."""

    press_id: str
    online: bool | None = None
    status: dict[str, Any] | None = None
    state: dict[str, Any] | None = None
    telemetry: dict[str, Any] | None = None
    telemetry_at_s: float | None = None  # monotonic time it arrived, for "seen 2 s ago"
    events: collections.deque[dict[str, Any]] = field(
        default_factory=lambda: collections.deque(maxlen=EVENTS_KEPT))


class FleetView:
    """Keeps a PressView per press from the messages of one client (thread-safe snapshots)."""

    def __init__(self, on_event: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self._presses: dict[str, PressView] = {}
        self._lock = threading.Lock()
        self._last_message_s = time.monotonic()
        self.subscribed = threading.Event()
        self.on_event = on_event

    def handle(self, topic: str, payload: bytes) -> None:
        """Take in one message (called from the network thread)."""
        parsed = parse_topic(topic)
        if parsed is None:
            return
        press_id, leaf = parsed
        msg = decode(payload)
        with self._lock:
            self._last_message_s = time.monotonic()
            view = self._presses.setdefault(press_id, PressView(press_id))
            if leaf == "status":
                view.status = msg
                view.online = (msg or {}).get("status") == "online" or payload == b"online"
            elif msg is None:
                return
            elif leaf == "state":
                view.state = msg
            elif leaf == "telemetry":
                view.telemetry, view.telemetry_at_s = msg, time.monotonic()
            elif leaf == "event":
                view.events.append(msg)
        if leaf == "event" and msg is not None and self.on_event is not None:
            self.on_event(press_id, msg)

    def settle(self, max_s: float = SETTLE_MAX_S, quiet_s: float = SETTLE_QUIET_S) -> None:
        """Wait for the SUBACK, then for the retained messages to stop arriving."""
        deadline = time.monotonic() + max_s
        self.subscribed.wait(max_s)
        with self._lock:
            self._last_message_s = max(self._last_message_s, time.monotonic())
        while time.monotonic() < deadline:
            with self._lock:
                quiet_for = time.monotonic() - self._last_message_s
            if quiet_for >= quiet_s:
                return
            time.sleep(min(quiet_s - quiet_for, 0.05) + 0.001)

    def press_ids(self) -> list[str]:
        """Every press seen, sorted."""
        with self._lock:
            return sorted(self._presses)

    def snapshot(self, press_id: str) -> PressView:
        """A copy of the press's view (an empty one if never seen)."""
        with self._lock:
            view = self._presses.get(press_id)
            return copy.deepcopy(view) if view is not None else PressView(press_id)

    def online_ids(self) -> list[str]:
        """Presses whose retained status says online."""
        with self._lock:
            return sorted(p for p, v in self._presses.items() if v.online)


def _client_id(kind: str) -> str:
    return f"hotpress-{kind}-{os.getpid()}-{os.urandom(3).hex()}"


class Session:
    """One CLI connection: a FleetView of `press` (or every press) and a command channel."""

    def __init__(self, settings: BrokerSettings, press: str | None = None, kind: str = "cli",
                 on_event: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.settings = settings
        self.client_id = _client_id(kind)
        self.view = FleetView(on_event)
        self._filter = press or "+"
        self.client = connect(settings, self.client_id, on_connect=self._subscribe,
                              prepare=self._prepare)
        self.commands = CommandChannel(self.client, self.client_id)

    def _prepare(self, client: mqtt.Client) -> None:
        client.on_message = lambda _c, _u, m: self.view.handle(m.topic, m.payload)
        client.on_subscribe = lambda *_: self.view.subscribed.set()

    def _subscribe(self, client: mqtt.Client) -> None:
        client.subscribe([(f"{TOPIC_ROOT}/{self._filter}/{leaf}", qos) for leaf, qos in LEAVES])

    def pick_press(self, press_id: str | None) -> str:
        """`press_id`, or the only online press; PressOfflineError / HostError otherwise."""
        self.view.settle()
        if press_id is None:
            online = self.view.online_ids()
            if len(online) == 1:
                return online[0]
            if not online:
                raise PressOfflineError(
                    f"no press is online on {self.settings.host}:{self.settings.port}: start "
                    f"hotpressd on the press, or check it uses this broker")
            raise HostError(f"several presses are online ({', '.join(online)}): choose one "
                            f"with --press")
        if not self.view.snapshot(press_id).online:
            raise PressOfflineError(
                f"press {press_id} is offline (no retained 'online' status on "
                f"{self.settings.host}:{self.settings.port}): check that hotpressd runs on it "
                f"and uses this broker; `hotpress status` lists the presses seen")
        return press_id

    def close(self) -> None:
        """Disconnect cleanly."""
        disconnect(self.client)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
