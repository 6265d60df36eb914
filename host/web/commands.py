"""Commands from the dashboard: one person's MQTT client, the broker's verdict, the press's reply.

Same wire form as the CLI (`host.commands`: QoS 1, response topic under the press's `reply/`,
correlation data, expiry, checked first with the press's own validator), with two differences
that a web page needs:

- The PUBACK is read. The broker's ACL is what stops a viewer: it answers the viewer's QoS 1
  publish with reason 135 "not authorized" and never forwards it, so no press will ever reply.
  The CLI would wait out its reply timeout; here the refusal is shown at once, in words.
- The command id comes from the page (one per form or dialog, made when it was drawn), and every
  id is sent at most once per session: a double click, a resubmitted form or a reload gets the
  first attempt's outcome back instead of a second command. The press also executes a repeated id
  only once, so even two servers could not start two runs from one form.
"""

from __future__ import annotations

import collections
import json
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from firmware.link.protocol import SCHEMA_VERSION, command_topic
from host.commands import (
    COMMAND_EXPIRY_S,
    REPLY_TIMEOUT_S,
    check_locally,
    correlation_of,
    parse_reply,
    reply_topic,
)
from host.errors import HostError

PUBACK_TIMEOUT_S = 5.0  # the broker answers a QoS 1 publish in ms; 5 s means the link is down
NOT_AUTHORIZED = 135  # MQTT 5 reason code: the ACL refused the publish
REMEMBERED_IDS = 256  # per session: far more forms than a person fills in a sign-in
COMMAND_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")  # what a page may send as its form's command id
REFUSED_TEXT = "refused by the broker: your account may not command this press"


@dataclass(frozen=True)
class Outcome:
    """How a command ended, for a person: `kind` is one of accepted, rejected (by the press),
    refused (by the broker), timeout, offline (no broker), invalid (not sent), pending."""

    kind: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    repeated: bool = False  # this command id was sent before; this is that attempt's outcome

    @property
    def ok(self) -> bool:
        """True when the press accepted the command."""
        return self.kind == "accepted"

    def as_json(self) -> dict[str, Any]:
        """The outcome for the page's script."""
        return {"ok": self.ok, "kind": self.kind, "message": self.message, "data": self.data,
                "repeated": self.repeated}


class WebCommander:
    """Sends one session's commands and routes their PUBACKs and replies back to the sender."""

    def __init__(self, client: mqtt.Client, client_id: str) -> None:
        self.client = client
        self.client_id = client_id
        self._lock = threading.Lock()
        self._pubacks: dict[int, tuple[int, float]] = {}  # mid -> (reason code, when)
        self._puback_cond = threading.Condition(self._lock)
        self._replies: dict[str, queue.Queue[Any]] = {}
        self._sent: collections.OrderedDict[str, Outcome | None] = collections.OrderedDict()

    # -- network-thread callbacks --------------------------------------------------------------
    def on_publish(self, mid: int, reason_code: Any) -> None:
        """Record the broker's verdict on a publish (paho's on_publish)."""
        value = int(getattr(reason_code, "value", reason_code) or 0)
        with self._puback_cond:
            self._pubacks[mid] = (value, time.monotonic())
            self._puback_cond.notify_all()

    def on_reply(self, message: mqtt.MQTTMessage) -> None:
        """Route a press's reply to the request waiting for it."""
        reply = parse_reply(message.payload, correlation_of(message))
        if reply is None:
            return
        with self._lock:
            box = self._replies.get(reply.id)
        if box is not None:
            box.put(reply)

    # -- sending --------------------------------------------------------------------------------
    def send(self, press_id: str, verb: str, args: dict[str, Any], cmd_id: str,
             connected: bool = True) -> Outcome:
        """Send `verb` with the page's `cmd_id` once, and wait for the broker and the press."""
        if not COMMAND_ID.fullmatch(cmd_id):
            return Outcome("invalid", "the page sent no usable command id: reload the page")
        with self._lock:
            if cmd_id in self._sent:
                before = self._sent[cmd_id]
                if before is None:
                    return Outcome("pending", f"{verb} was already sent from this form and is "
                                   "waiting for the press", repeated=True)
                return Outcome(before.kind, before.message, before.data, repeated=True)
            self._sent[cmd_id] = None
            while len(self._sent) > REMEMBERED_IDS:
                self._sent.popitem(last=False)
        outcome = self._send_once(press_id, verb, args, cmd_id, connected)
        with self._lock:
            if outcome.kind in ("offline", "invalid"):
                self._sent.pop(cmd_id, None)  # nothing left this host: the same form may retry
            else:
                self._sent[cmd_id] = outcome
        return outcome

    def _send_once(self, press_id: str, verb: str, args: dict[str, Any], cmd_id: str,
                   connected: bool) -> Outcome:
        body = json.dumps({"schema": SCHEMA_VERSION, "id": cmd_id, **args}).encode()
        try:
            check_locally(verb, body)
        except HostError as exc:
            return Outcome("invalid", str(exc))
        if not connected:
            return Outcome("offline", f"{verb} not sent: the dashboard has lost the broker and "
                           "is reconnecting; try again in a moment")
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = reply_topic(press_id, self.client_id)
        props.CorrelationData = cmd_id.encode()
        props.MessageExpiryInterval = COMMAND_EXPIRY_S
        box: queue.Queue[Any] = queue.Queue()
        with self._lock:
            self._replies[cmd_id] = box
        try:
            return self._publish_and_wait(press_id, verb, body, props, box)
        finally:
            with self._lock:
                self._replies.pop(cmd_id, None)

    def _publish_and_wait(self, press_id: str, verb: str, body: bytes, props: Properties,
                          box: queue.Queue[Any]) -> Outcome:
        sent_at = time.monotonic()
        info = self.client.publish(command_topic(press_id, verb), body, qos=1, properties=props)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return Outcome("offline", f"{verb} not sent ({mqtt.error_string(info.rc)}): the "
                           "dashboard is reconnecting to the broker; try again in a moment")
        code = self._puback(info.mid, sent_at)
        if code is None:
            return Outcome("timeout", f"the broker did not confirm {verb} within "
                           f"{PUBACK_TIMEOUT_S:.0f} s: the connection may be down")
        if code == NOT_AUTHORIZED:
            return Outcome("refused", REFUSED_TEXT)
        if code >= 128:
            return Outcome("refused", f"refused by the broker (reason {code})")
        return self._first_reply(verb, box)

    def _puback(self, mid: int, sent_at: float) -> int | None:
        deadline = sent_at + PUBACK_TIMEOUT_S
        with self._puback_cond:
            while True:
                got = self._pubacks.get(mid)
                if got is not None and got[1] >= sent_at:
                    del self._pubacks[mid]
                    return got[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._puback_cond.wait(left)

    def _first_reply(self, verb: str, box: queue.Queue[Any]) -> Outcome:
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                reply = box.get(timeout=left)
            except queue.Empty:
                break
            if reply.status == "rejected":
                return Outcome("rejected", f"{verb} rejected by the press: "
                               f"{reply.reason or 'no reason given'}", reply.data)
            if reply.status in ("accepted", "completed"):
                return Outcome("accepted", f"{verb} accepted by the press", reply.data)
        return Outcome("timeout", f"no reply from the press to {verb} within "
                       f"{REPLY_TIMEOUT_S:.0f} s: is hotpressd running on it?")
