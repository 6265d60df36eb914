"""Sending commands to a press and waiting for its replies (MQTT 5 request/response).

A command is published QoS 1 to `hotpress/<press>/cmd/<verb>` with a JSON body `{"schema", "id",
...args}`, a response topic, the command id as correlation data, and a message expiry so a command
that sat in a broker queue during an outage is dropped rather than executed late. The press
answers on the response topic: `accepted` or `rejected` (with a reason), later `completed`.

The response topic is `hotpress/<press>/reply/<client_id>`: the press uses a response topic only
under its own `reply/` (protocol.reply_topic), which the broker ACL lets it write and operators
read. Every command is first checked here with the press's own validator
(`firmware.link.commands.parse_command`), so a malformed one is refused at the operator's desk
with the same reason the press would give, and nothing is sent.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from firmware.link.commands import Rejection, parse_command
from firmware.link.protocol import SCHEMA_VERSION, TOPIC_ROOT, command_topic, press_topic
from host.errors import CommandRejectedError, CommandTimeoutError, HostError
from host.records import decode

COMMAND_EXPIRY_S = 30  # a command not delivered within this is stale: the operator has moved on
REPLY_TIMEOUT_S = 10.0  # a live press answers in ms; 10 s covers a slow Wi-Fi link
FIRST_REPLIES = ("accepted", "rejected")


@dataclass(frozen=True)
class Reply:
    """One reply from a press: status is accepted, rejected or completed."""

    id: str
    verb: str
    status: str
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def reply_topic(press_id: str, client_id: str) -> str:
    """Where `press_id` sends replies meant for `client_id`."""
    return press_topic(press_id, f"reply/{client_id}")


def reply_filter(client_id: str) -> str:
    """The subscription that catches replies from every press to `client_id`."""
    return f"{TOPIC_ROOT}/+/reply/{client_id}"


def build_command(press_id: str, verb: str, args: dict[str, Any], client_id: str,
                  expiry_s: int = COMMAND_EXPIRY_S) -> tuple[str, bytes, Properties, str]:
    """(topic, payload, properties, command id) for one command."""
    cmd_id = uuid.uuid4().hex
    body = json.dumps({"schema": SCHEMA_VERSION, "id": cmd_id, **args}).encode()
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = reply_topic(press_id, client_id)
    props.CorrelationData = cmd_id.encode()
    props.MessageExpiryInterval = expiry_s
    return command_topic(press_id, verb), body, props, cmd_id


def parse_reply(payload: bytes, correlation: bytes | None = None) -> Reply | None:
    """A Reply from a response payload; the id falls back to the correlation data."""
    msg = decode(payload)
    if msg is None:
        return None
    cmd_id = msg.get("id") or (correlation.decode(errors="replace") if correlation else "")
    data = msg.get("data") if isinstance(msg.get("data"), dict) else {}
    return Reply(str(cmd_id), str(msg.get("verb") or ""), str(msg.get("status") or ""),
                 str(msg.get("reason") or ""), data)


def check_locally(verb: str, body: bytes) -> None:
    """Refuse, before sending, a command the press would refuse for its form (same validator).

    Whether the press can do it now (interlocks, mode) is still the press's call.
    """
    result = parse_command(verb, body)
    if isinstance(result, Rejection):
        raise HostError(f"{verb} not sent: {result.reason}")


def correlation_of(message: mqtt.MQTTMessage) -> bytes | None:
    """The correlation data of a received message, if any."""
    props = getattr(message, "properties", None)
    return getattr(props, "CorrelationData", None) if props is not None else None


class CommandChannel:
    """Send commands over a connected client and wait for the replies that match them."""

    def __init__(self, client: mqtt.Client, client_id: str) -> None:
        self.client = client
        self.client_id = client_id
        self._waiting: dict[str, queue.Queue[Reply]] = {}
        self._lock = threading.Lock()
        client.message_callback_add(reply_filter(client_id), self._on_reply)
        client.subscribe(reply_filter(client_id), qos=1)

    def _on_reply(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        reply = parse_reply(message.payload, correlation_of(message))
        if reply is None:
            return
        with self._lock:
            box = self._waiting.get(reply.id)
        if box is not None:
            box.put(reply)

    def send(self, press_id: str, verb: str, args: dict[str, Any] | None = None) -> str:
        """Check the command as the press will, then publish it (QoS 1); returns its id.

        Raises HostError when the command is malformed (nothing is sent) or cannot be sent.
        """
        topic, body, props, cmd_id = build_command(press_id, verb, args or {}, self.client_id)
        check_locally(verb, body)
        with self._lock:
            self._waiting[cmd_id] = queue.Queue()
        info = self.client.publish(topic, body, qos=1, properties=props)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise HostError(f"could not send {verb} to {press_id} ({mqtt.error_string(info.rc)})"
                            ": check the broker connection")
        return cmd_id

    def wait(self, cmd_id: str, statuses: Iterable[str] = FIRST_REPLIES,
             timeout_s: float = REPLY_TIMEOUT_S) -> Reply:
        """The next reply to `cmd_id` whose status is in `statuses`; raises on reject/timeout."""
        wanted = set(statuses) | {"rejected"}
        with self._lock:
            box = self._waiting[cmd_id]
        while True:
            try:
                reply = box.get(timeout=timeout_s)
            except queue.Empty:
                raise CommandTimeoutError(
                    f"no reply from the press within {timeout_s:.0f} s: check that the press "
                    f"daemon is running (hotpress status)") from None
            if reply.status == "rejected":
                raise CommandRejectedError(f"{reply.verb or 'command'} rejected by the press: "
                                      f"{reply.reason or 'no reason given'}")
            if reply.status in wanted:
                return reply

    def request(self, press_id: str, verb: str, args: dict[str, Any] | None = None,
                timeout_s: float = REPLY_TIMEOUT_S) -> Reply:
        """Send and wait for accepted (or raise CommandRejectedError/CommandTimeoutError)."""
        return self.wait(self.send(press_id, verb, args), FIRST_REPLIES, timeout_s)

    def forget(self, cmd_id: str) -> None:
        """Stop routing replies for `cmd_id`."""
        with self._lock:
            self._waiting.pop(cmd_id, None)
