"""The daemon's MQTT link: telemetry, state and events out; commands in; replies; journal replay.

Threads: paho's network thread (connect, reconnect, incoming commands), a publisher thread that
drains the `Outbox` into paho, and a replay worker that reads the journal. The control loop only
calls the non-blocking methods (`publish_*`, `poll_commands`, `reply`): none waits on the network,
the broker or the disk, and none raises because the broker is away.

Commands: malformed ones are rejected on the network thread and never reach the loop; `ping` and
`replay` are answered by the link itself; the rest wait in the `Inbox` for `poll_commands`, which
rejects any whose MQTT 5 message expiry ran out first ('expired': a stale command is never run).
Ids are idempotent (see `inbox.py`). The loop replies `accepted`/`rejected`, then `completed`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from firmware import __version__
from firmware.clock import Clock
from firmware.config.validate import SAFE_ID
from firmware.errors import ConfigError
from firmware.link import protocol
from firmware.link.commands import Command, Rejection, ReplyRoute, parse_command
from firmware.link.config import LinkConfig, read_password
from firmware.link.homeassistant import HomeAssistantDiscovery
from firmware.link.inbox import Admission, Inbox
from firmware.link.outbox import Kind, Outbox, Outgoing
from firmware.link.replay import Replayer, ReplaySource
from firmware.link.schema import REPLY_STATUSES

LOG = logging.getLogger(__name__)

INBOX_MAX_COMMANDS = 64  # the loop drains every tick (10 Hz): 64 waiting means stuck or flooded
RECENT_IDS_MAX = 1024  # ids remembered for idempotency: hours of normal operator traffic
REPLAY_QUEUE_SLOTS = 8  # outbox places replay may use, so events still fit during an outage
PUBLISHER_POLL_S = 0.2  # how often an idle publisher looks at the stop flag
CLIENT_FULL_RETRY_S = 0.01  # back-off when paho's own queue is full
STOP_TIMEOUT_S = 2.0  # stop(): time to flush the queue and to see `offline` acknowledged
SESSION_EXPIRY_S = 300  # the broker keeps our session (queued commands) across short outages
MAX_INFLIGHT = 100  # QoS 1 messages awaiting PUBACK; paho's default 20 throttles replay
# A tick this early still publishes: the loop's jitter on a Pi is a few ms, and without slack a
# 10 Hz stream from a 10 Hz loop would lose every tick that ran a little earlier than the first.
# Well under the 100 ms tick, so a 1 Hz stream never publishes twice a second.
TELEMETRY_EARLY_S = 0.02
MAX_CORRELATION_BYTES = 1024
LINK_VERBS = frozenset({"ping", "replay"})
RUN_MODES = frozenset({"running", "paused"})


@dataclass(frozen=True)
class LinkStats:
    """Counters for telemetry and the benchmark; `dropped` excludes telemetry."""

    connected: bool
    connects: int
    published: int
    dropped_telemetry: int
    dropped: int
    throttled_telemetry: int
    rejected: int
    queue_depth: int
    inbox_depth: int


class Link:
    """One press's MQTT connection. `start()`, then the loop's calls, then `stop()`."""

    def __init__(self, cfg: LinkConfig, press_id: str, replay_source: ReplaySource,
                 clock: Clock, software: str = __version__,
                 discovery: HomeAssistantDiscovery | None = None) -> None:
        self._discovery = discovery  # Home Assistant MQTT discovery, when configured
        if not SAFE_ID.fullmatch(press_id):
            raise ConfigError(f"press id {press_id!r}: only letters, digits, '_' and '-' "
                              "(it is an MQTT topic segment and the broker username)")
        self.cfg = cfg
        self.press_id = press_id
        self.clock = clock
        self.software = software
        self._outbox = Outbox(cfg.max_queue, REPLAY_QUEUE_SLOTS)
        self._inbox = Inbox(INBOX_MAX_COMMANDS, RECENT_IDS_MAX)
        self._replayer = Replayer(press_id, replay_source, self._outbox, self.reply)
        self._client: mqtt.Client | None = None
        self._publisher_thread = threading.Thread(target=self._publisher, daemon=True,
                                                  name="hotpress-link-publisher")
        self._ready = threading.Event()
        self._stopping = False
        self._last_state: Outgoing | None = None
        self._next_telemetry_s = -float("inf")
        self._last_in_run: bool | None = None
        self._connects = self._rejected = self._throttled = 0
        self._counter_lock = threading.Lock()
        self._cmd_prefix = protocol.command_topic(press_id, "")

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background and keep reconnecting; returns at once.

        Raises ConfigError for a bad password file or TLS file: those need a person, not retries.
        A Link starts once; make a new one to start again.
        """
        if self._client is not None:
            raise RuntimeError("Link.start() called twice")
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                             client_id=self.cfg.client_id or f"hotpressd-{self.press_id}")
        client.username_pw_set(self.cfg.username or self.press_id, read_password(self.cfg))
        if self.cfg.tls:
            self._set_tls(client)
        client.will_set(self._topic("status"), self._status("offline"), qos=1, retain=True)
        client.reconnect_delay_set(self.cfg.reconnect_min_s, self.cfg.reconnect_max_s)
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.max_queued_messages_set(self.cfg.max_queue)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        client.connect_async(self.cfg.host, self.cfg.port, self.cfg.keepalive_s,
                             clean_start=mqtt.MQTT_CLEAN_START_FIRST_ONLY, properties=props)
        self._client = client
        self._publisher_thread.start()
        self._replayer.start()
        client.loop_start()

    def _set_tls(self, client: mqtt.Client) -> None:
        try:
            client.tls_set(ca_certs=self.cfg.tls_ca_file, certfile=self.cfg.tls_cert_file,
                           keyfile=self.cfg.tls_key_file)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise ConfigError(f"mqtt: cannot set up TLS: {exc}") from None

    def stop(self) -> None:
        """Flush what is queued (briefly), publish `offline`, disconnect cleanly; idempotent."""
        client = self._client
        if client is None or self._stopping:
            return
        self._stopping = True
        self._outbox.wait_empty(STOP_TIMEOUT_S)
        if self._outbox.connected:
            info = client.publish(self._topic("status"), self._status("offline"), 1, True)
            try:
                info.wait_for_publish(STOP_TIMEOUT_S)
            except (RuntimeError, ValueError):
                LOG.warning("could not publish offline status before disconnecting")
        client.disconnect()
        client.loop_stop()
        self._outbox.close()
        self._replayer.stop(STOP_TIMEOUT_S)
        self._publisher_thread.join(STOP_TIMEOUT_S)

    def wait_connected(self, timeout_s: float) -> bool:
        """Block up to `timeout_s` until connected and subscribed to commands; not for the loop."""
        return self._ready.wait(timeout_s)

    @property
    def connected(self) -> bool:
        """True while connected and subscribed to commands."""
        return self._ready.is_set()

    def stats(self) -> LinkStats:
        """Counters since start."""
        out = self._outbox
        return LinkStats(
            connected=self.connected, connects=self._connects,
            published=sum(out.published.values()),
            dropped_telemetry=out.dropped[Kind.TELEMETRY],
            dropped=sum(n for k, n in out.dropped.items() if k is not Kind.TELEMETRY),
            throttled_telemetry=self._throttled, rejected=self._rejected,
            queue_depth=out.depth, inbox_depth=self._inbox.depth)

    # -- the loop's side: never blocks ------------------------------------------------------

    def publish_telemetry(self, payload: Mapping[str, Any]) -> bool:
        """Queue one telemetry sample, at the running rate during a run (`run_id` set, or mode
        running/paused: its seq is the journal's, and gaps make loggers ask for replays) and
        at the idle rate otherwise; False if skipped by the rate or dropped."""
        now_s = self.clock.now()
        in_run = payload.get("mode") in RUN_MODES or payload.get("run_id") is not None
        hz = self.cfg.telemetry_running_hz if in_run else self.cfg.telemetry_idle_hz
        period_s = 1.0 / hz
        early_s = min(TELEMETRY_EARLY_S, period_s / 4)
        if in_run == self._last_in_run and now_s < self._next_telemetry_s - early_s:
            self._throttled += 1
            return False
        on_schedule = in_run == self._last_in_run and now_s - self._next_telemetry_s < period_s
        self._next_telemetry_s = (self._next_telemetry_s if on_schedule else now_s) + period_s
        self._last_in_run = in_run
        data = self._encode(payload, "telemetry")
        return data is not None and self._outbox.put(
            Outgoing(Kind.TELEMETRY, self._topic("telemetry"), data, qos=0))

    def publish_state(self, payload: Mapping[str, Any]) -> bool:
        """Publish the retained state if it changed; True when it did. Latest wins if queued."""
        data = self._encode(payload, "state")
        if data is None or (self._last_state is not None and self._last_state.payload == data):
            return False
        self._last_state = Outgoing(Kind.STATE, self._topic("state"), data, qos=1, retain=True)
        self._outbox.put_state(self._last_state)
        return True

    def publish_event(self, payload: Mapping[str, Any]) -> bool:
        """Queue an event (QoS 1; kept while the broker is away, up to the bound)."""
        data = self._encode(payload, "event")
        return data is not None and self._outbox.put(
            Outgoing(Kind.EVENT, self._topic("event"), data, qos=1))

    def poll_commands(self, max_n: int = 8) -> list[Command]:
        """Commands for the loop to act on now; expired ones are rejected here, never returned."""
        ready, expired = self._inbox.take(max_n, self.clock.now())
        for cmd in expired:
            self._count_rejected()
            self.reply(cmd, "rejected", "expired: the command's message expiry ran out before "
                                        "the press could act on it")
        return ready

    def reply(self, cmd: Command, status: str, reason: str | None = None,
              data: Any = None) -> bool:
        """Answer `cmd` (`accepted`, `rejected` with a reason, `completed` with data).

        A wrong `status` is a programming error and raises ValueError.
        """
        if status not in REPLY_STATUSES:
            raise ValueError(f"reply status {status!r} is not one of {REPLY_STATUSES}")
        body = {"schema": protocol.SCHEMA_VERSION, "id": cmd.id, "verb": cmd.verb,
                "status": status, "reason": reason, "data": data}
        payload = self._encode(body, "reply", header=False)
        if payload is None:
            return False
        routes = self._inbox.record_reply(cmd, payload)
        return all([self._send_reply(route, payload) for route in routes])

    # -- internals ---------------------------------------------------------------------------

    def _topic(self, leaf: str) -> str:
        return protocol.press_topic(self.press_id, leaf)

    def _status(self, status: str) -> bytes:
        return json.dumps({"schema": protocol.SCHEMA_VERSION, "status": status,
                           "software": self.software}).encode()

    def _encode(self, payload: Mapping[str, Any], what: str, header: bool = True) -> bytes | None:
        """Compact JSON with schema and press_id first; None (logged) if it cannot be encoded."""
        body = {"schema": protocol.SCHEMA_VERSION, "press_id": self.press_id, **payload} \
            if header else payload
        try:
            return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as exc:  # NaN, or an object JSON cannot hold: a bug
            LOG.error("%s payload not published: %s", what, exc)
            return None

    def _count_rejected(self) -> None:
        with self._counter_lock:  # the network thread and the loop both reject
            self._rejected += 1

    def _send_reply(self, route: ReplyRoute, payload: bytes) -> bool:
        props = Properties(PacketTypes.PUBLISH)
        if route.correlation is not None:
            props.CorrelationData = route.correlation
        return self._outbox.put(Outgoing(Kind.REPLY, route.topic, payload, 1, False, props))

    def _reject(self, route: ReplyRoute, verb: str, cmd_id: str | None, reason: str) -> None:
        """Refuse a command nothing has acted on; not cached, so a corrected retry may run."""
        self._count_rejected()
        LOG.debug("rejected %s %r: %s", verb, cmd_id, reason)
        body = {"schema": protocol.SCHEMA_VERSION, "id": cmd_id, "verb": verb,
                "status": "rejected", "reason": reason, "data": None}
        self._send_reply(route, json.dumps(body).encode())

    def _route(self, props: Any) -> ReplyRoute:
        """Reply route from MQTT 5 properties; a response topic outside reply/ is not used."""
        default = protocol.reply_topic(self.press_id)
        topic = getattr(props, "ResponseTopic", None)
        ok = isinstance(topic, str) and (topic == default or topic.startswith(default + "/")) \
            and "+" not in topic and "#" not in topic and len(topic) <= 512
        corr = getattr(props, "CorrelationData", None)
        if not isinstance(corr, bytes) or len(corr) > MAX_CORRELATION_BYTES:
            corr = None
        return ReplyRoute(topic if ok else default, corr)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        if reason_code.is_failure:
            LOG.error("broker %s:%s refused the connection: %s", self.cfg.host, self.cfg.port,
                      reason_code)
            return
        self._connects += 1
        client.publish(self._topic("status"), self._status("online"), 1, True)
        # Retain as published, so a command sent with retain is seen as such and refused; never
        # the retained store, so a stale retained command is not even offered on reconnect.
        client.subscribe(protocol.command_topic(self.press_id, "+"), options=SubscribeOptions(
            qos=1, retainAsPublished=True, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND))
        if self._discovery is not None:
            self._discovery.on_connect(client)
        self._outbox.set_connected(True, state=self._last_state)
        LOG.info("connected to %s:%s", self.cfg.host, self.cfg.port)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any,
                      properties: Any) -> None:
        """Commands flow from the SUBACK on: only then is the link ready (`wait_connected`)."""
        if any(rc.is_failure for rc in reason_codes):
            LOG.error("broker refused the command subscription (%s): check the ACL",
                      ", ".join(str(rc) for rc in reason_codes))
        self._ready.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        self._outbox.set_connected(False)
        self._ready.clear()
        if not self._stopping:
            LOG.warning("disconnected from broker (%s); reconnecting", reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:  # an exception here would end paho's network thread: contain every one
            if self._discovery is not None and self._discovery.on_message(client, msg):
                return
            self._handle_command(msg)
        except Exception:
            LOG.exception("command on %r not handled", msg.topic)

    def _handle_command(self, msg: mqtt.MQTTMessage) -> None:
        if not msg.topic.startswith(self._cmd_prefix):
            return
        verb = msg.topic[len(self._cmd_prefix):]
        route = self._route(msg.properties)
        if msg.retain:
            self._reject(route, verb, None, "retained commands are refused: a retained command "
                         "would run again on every reconnect; publish with retain false")
            return
        result = parse_command(verb, msg.payload, max_bytes=self.cfg.command_max_bytes)
        if isinstance(result, Rejection):
            self._reject(route, result.verb, result.id, result.reason)
            return
        expiry_s = getattr(msg.properties, "MessageExpiryInterval", None)
        cmd = replace(result, reply_to=route, expires_at_s=None if expiry_s is None
                      else self.clock.now() + expiry_s)
        admission, earlier = self._inbox.admit(cmd, for_loop=cmd.verb not in LINK_VERBS)
        if admission is Admission.DUPLICATE:
            for payload in earlier:
                self._send_reply(route, payload)
        elif admission is Admission.CONFLICT:
            self._reject(route, cmd.verb, cmd.id, "id already used for another verb")
        elif admission is Admission.BUSY:
            self._reject(route, cmd.verb, cmd.id, "busy: the press has too many commands "
                         "waiting; try again shortly")
        elif cmd.verb == "ping":
            self.reply(cmd, "completed", data={"t_s": self.clock.now(), "wall_s": time.time(),
                                               "software": self.software})
        elif cmd.verb == "replay" and self._replayer.full:  # only this thread submits: no race
            self._inbox.forget(cmd.id)
            self._reject(route, cmd.verb, cmd.id, "busy: too many replays waiting; ask again")
        elif cmd.verb == "replay":
            self.reply(cmd, "accepted")  # before the worker can reply `completed`
            self._replayer.submit(cmd)

    def _publisher(self) -> None:
        """Hand queued messages to paho, in order, while connected."""
        while not self._outbox.closed:
            item = self._outbox.take(PUBLISHER_POLL_S)
            if item is not None and self._client is not None:
                self._publish(self._client, item)

    def _publish(self, client: mqtt.Client, item: Outgoing) -> None:
        try:
            info = client.publish(item.topic, item.payload, item.qos, item.retain,
                                  item.properties)
        except (ValueError, TypeError) as exc:  # a topic or payload paho refuses: a bug
            LOG.error("cannot publish to %r: %s", item.topic, exc)
            self._outbox.mark_lost(item)
            return
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            self._outbox.requeue(item)
            time.sleep(CLIENT_FULL_RETRY_S)
        elif info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS or item.qos > 0:
            self._outbox.mark_published(item)  # QoS 1 without a connection: paho resends it
        else:
            self._outbox.mark_lost(item)
