"""Link test helpers: a probe MQTT client (operator, viewer or nobody) and a Link factory.

The probe plays the host: it subscribes, sends commands with a response topic and correlation
data, and waits (with generous timeouts, never fixed sleeps) for what the press publishes.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from firmware.clock import Clock, RealClock
from firmware.link import protocol
from firmware.link.config import LinkConfig
from firmware.link.mqtt import Link

if TYPE_CHECKING:
    from tests.conftest import Broker

WAIT_S = 10.0  # generous: these are "it happens at all" checks, not timing checks


class Probe:
    """A test MQTT v5 client that records every message and every PUBACK reason code."""

    def __init__(self, broker: Broker, user: str | None, tls: bool = False) -> None:
        self.broker = broker
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                                  client_id=f"probe-{uuid.uuid4().hex[:8]}")
        if user is not None:
            self.client.username_pw_set(user, broker.passwords[user])
        if tls:
            self.client.tls_set(ca_certs=str(broker.ca_file))
        self.messages: list[mqtt.MQTTMessage] = []
        self.pubacks: dict[int, int] = {}
        self.subacks: set[int] = set()
        self.connack: Any = None
        self._cond = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.reply_topic = f"{protocol.reply_topic(broker.press_id)}/{uuid.uuid4().hex[:8]}"

    def connect(self, host: str = "127.0.0.1", port: int | None = None) -> Any:
        """Connect and wait for the CONNACK; returns its reason code."""
        self.client.connect(host, port or self.broker.port)
        self.client.loop_start()
        self.wait(lambda: self.connack is not None, "CONNACK")
        return self.connack

    def subscribe(self, *topics: str) -> None:
        """Subscribe to `topics` and to this probe's reply topic; waits for every SUBACK."""
        mids = [self.client.subscribe(t, qos=1)[1] for t in (*topics, self.reply_topic)]
        self.wait(lambda: all(m in self.subacks for m in mids), "SUBACK")

    def command(self, verb: str, body: dict[str, Any] | bytes, expiry_s: int | None = None,
                correlation: bytes | None = None, retain: bool = False) -> int:
        """Publish a command at QoS 1; returns the message id (see `puback`)."""
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.reply_topic
        props.CorrelationData = correlation or uuid.uuid4().bytes
        if expiry_s is not None:
            props.MessageExpiryInterval = expiry_s
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        topic = protocol.command_topic(self.broker.press_id, verb)
        return self.client.publish(topic, payload, qos=1, retain=retain, properties=props).mid

    def puback(self, mid: int) -> int:
        """The PUBACK reason code of message `mid` (0 success, 135 not authorized)."""
        self.wait(lambda: mid in self.pubacks, f"PUBACK {mid}")
        return self.pubacks[mid]

    def replies(self, cmd_id: str | None = None) -> list[dict[str, Any]]:
        """Replies seen so far (optionally for one command id), oldest first."""
        with self._cond:
            out = [json.loads(m.payload) for m in self.messages
                   if m.topic.startswith(protocol.reply_topic(self.broker.press_id))]
        return [r for r in out if cmd_id is None or r["id"] == cmd_id]

    def wait_reply(self, cmd_id: str, status: str) -> dict[str, Any]:
        """The first reply to `cmd_id` with `status`, waiting for it."""
        self.wait(lambda: any(r["status"] == status for r in self.replies(cmd_id)),
                  f"{status} reply to {cmd_id}")
        return next(r for r in self.replies(cmd_id) if r["status"] == status)

    def on_topic(self, topic: str) -> list[mqtt.MQTTMessage]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def wait(self, predicate: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
        with self._cond:
            if not self._cond.wait_for(predicate, timeout_s):
                pytest.fail(f"timed out after {timeout_s} s waiting for {what}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, rcs: Any, props: Any) -> None:
        with self._cond:
            self.subacks.add(mid)
            self._cond.notify_all()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        with self._cond:
            self.connack = rc
            self._cond.notify_all()

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def _on_publish(self, client: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        with self._cond:
            self.pubacks[mid] = rc.value
            self._cond.notify_all()


@pytest.fixture
def probe(broker: Broker) -> Iterator[Callable[..., Probe]]:
    """`probe(user, tls=False)`: a connected-on-demand test client, closed at teardown."""
    made: list[Probe] = []

    def make(user: str | None, tls: bool = False) -> Probe:
        p = Probe(broker, user, tls)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def link_config(broker: Broker, tmp_path: Path, **overrides: Any) -> LinkConfig:
    """The press's `[mqtt]` settings for the test broker (fast reconnect)."""
    values: dict[str, Any] = {
        "host": "127.0.0.1", "port": broker.port, "username": broker.press_id,
        "password_file": str(broker.password_file(broker.press_id, tmp_path)),
        "reconnect_min_s": 1, "reconnect_max_s": 2, "keepalive_s": 5}
    values.update(overrides)
    return LinkConfig(**values)


@pytest.fixture
def make_link(broker: Broker, tmp_path: Path) -> Iterator[Callable[..., Link]]:
    """`make_link(clock=None, replay_source=None, **cfg)`: a started Link, stopped at teardown."""
    links: list[Link] = []

    def make(clock: Clock | None = None, replay_source: Any = None, connect: bool = True,
             **overrides: Any) -> Link:
        link = Link(link_config(broker, tmp_path, **overrides), broker.press_id,
                    replay_source or (lambda run_id, lo, hi: []), clock or RealClock())
        links.append(link)
        link.start()
        if connect:
            assert link.wait_connected(WAIT_S), f"link did not connect:\n{broker.log()}"
        return link

    yield make
    for link in links:
        link.stop()


def serve(link: Link, stop: threading.Event, executed: list[Any]) -> None:
    """The daemon's part in miniature: poll once a tick, accept, act, complete."""
    while not stop.is_set():
        for cmd in link.poll_commands(8):
            executed.append(cmd)
            link.reply(cmd, "accepted")
            link.reply(cmd, "completed", data={"verb": cmd.verb})
        time.sleep(0.01)


@pytest.fixture
def daemon_loop() -> Iterator[Callable[[Link], list[Any]]]:
    """`daemon_loop(link)` runs `serve` on a thread; returns the list of executed commands."""
    stops: list[tuple[threading.Event, threading.Thread]] = []

    def run(link: Link) -> list[Any]:
        executed: list[Any] = []
        stop = threading.Event()
        thread = threading.Thread(target=serve, args=(link, stop, executed), daemon=True)
        thread.start()
        stops.append((stop, thread))
        return executed

    yield run
    for stop, thread in stops:
        stop.set()
        thread.join(5)
