"""Home Assistant MQTT discovery: the press shows up in Home Assistant as one device with sensors.

Why: many labs already run Home Assistant for their rooms and gloveboxes. With discovery on
(`[mqtt] homeassistant_discovery = true`), the press's platen temperatures, pressures, force and
mode appear there with no YAML to write, and go `unavailable` when the press goes offline.

What is published: one retained config message per sensor, QoS 1, at
`<prefix>/sensor/<press_id>/<thing>/config`. Nothing else: every sensor reads the press's own
`telemetry` or `state` topic through a value template, so discovery adds no traffic per tick.

- Topic form: Home Assistant's `<component>/<node_id>/<object_id>` with node id = press id. The
  broker ACL can then confine each press to its own configs with one pattern line
  (`pattern write homeassistant/sensor/%u/+/config`); a flat `<press_id>_<thing>` object id cannot
  be matched per press (mosquitto has no `%u_+`), so it would need a line per press or a wildcard
  that lets any press overwrite another's entities.
- Pressures are sent in bar: Home Assistant's `pressure` device class has no MPa, and with a unit
  it knows, a person can pick psi or kPa in its UI. Force (kN) has no device class there.
- Values are rounded (0.1 C, 0.1 bar, 0.1 kN): Home Assistant records every change, and the
  fourth decimal of a 10 Hz stream is noise that would fill its database.
- A null reading (thermocouple fault, no run) renders as `None`, which Home Assistant shows as
  `unknown` rather than a false number.
- Availability is the press's retained `status` (JSON), read through `availability_template`.
- Re-publication: on every (re)connect, and whenever Home Assistant announces itself with
  `online` on `<prefix>/status` (its birth message), since a Home Assistant that lost its
  retained configs (a broker without persistence, a cleared topic) would otherwise never see the
  press again until the daemon restarts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.subscribeoptions import SubscribeOptions

from firmware import __version__
from firmware.config.model import PressConfig
from firmware.link import protocol
from firmware.link.config import HOMEASSISTANT_PREFIX, LinkConfig
from firmware.link.schema import MODES

BIRTH_TOPIC_LEAF = "status"  # `<prefix>/status`: Home Assistant's birth and last-will topic
BIRTH_ONLINE = b"online"
CONFIG_QOS = 1  # a retained config lost on the way would leave a sensor missing until restart
MPA_TO_BAR = 10.0
# Every mode the daemon reports (firmware.run.core_support.control_mode): an `enum` sensor refuses
# a value outside its options; dict.fromkeys keeps any extra modes listed here de-duplicated.
MODE_OPTIONS = tuple(dict.fromkeys((*MODES, "manual", "autotune")))
OBJECT_ID = re.compile(r"[^A-Za-z0-9_-]")  # characters Home Assistant refuses in an object id


@dataclass(frozen=True)
class Sensor:
    """One Home Assistant sensor read from a press topic (`leaf`) by a value template."""

    thing: str  # object id under the press's node id; also the tail of unique_id
    name: str  # shown after the device name in Home Assistant
    leaf: str  # `telemetry` or `state`
    template: str
    unit: str | None = None
    device_class: str | None = None
    options: tuple[str, ...] = ()  # for device_class enum

    def config(self, press_id: str, software: str) -> dict[str, Any]:
        """The discovery payload (Home Assistant's full key names, no abbreviations)."""
        body: dict[str, Any] = {
            "name": self.name,
            "unique_id": f"hotpress_{press_id}_{self.thing}",
            "state_topic": protocol.press_topic(press_id, self.leaf),
            "value_template": self.template,
            "availability_topic": protocol.press_topic(press_id, "status"),
            "availability_template": "{{ value_json.status }}",
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": device(press_id, software),
            "origin": {"name": "hotpress", "sw_version": software},
        }
        if self.unit is not None:
            body["unit_of_measurement"] = self.unit
            body["state_class"] = "measurement"
        if self.device_class is not None:
            body["device_class"] = self.device_class
        if self.options:
            body["options"] = list(self.options)
        return body


def device(press_id: str, software: str) -> dict[str, Any]:
    """The one Home Assistant device every sensor of this press belongs to."""
    return {"identifiers": [f"hotpress_{press_id}"], "name": f"hotpress {press_id}",
            "manufacturer": "hotpress", "model": "heated hydraulic lab press",
            "sw_version": software}


def _number(expr: str, scale: float = 1.0) -> str:
    """A template giving `expr` (times `scale`) to 0.1, or None when it is null or missing."""
    value = "v" if scale == 1.0 else f"v * {scale:g}"
    return f"{{% set v = {expr} %}}{{{{ ({value}) | round(1) if v is number else None }}}}"


def sensors(temp_channels: Sequence[str]) -> list[Sensor]:
    """Every sensor of a press with these thermocouple channels (platens, then the sample)."""
    temps = [Sensor(f"temp_{OBJECT_ID.sub('_', ch)}", f"{ch.capitalize()} temperature",
                    "telemetry", _number(f"value_json.temps_c[{json.dumps(ch)}]"), "°C",
                    "temperature") for ch in temp_channels]
    return [
        *temps,
        Sensor("sample_pressure", "Sample pressure", "telemetry",
               _number("value_json.sample_mpa", MPA_TO_BAR), "bar", "pressure"),
        Sensor("line_pressure", "Line pressure", "telemetry",
               _number("value_json.line_mpa", MPA_TO_BAR), "bar", "pressure"),
        Sensor("force", "Force", "telemetry", _number("value_json.force_kn"), "kN"),
        Sensor("mode", "Mode", "state", "{{ value_json.mode }}", device_class="enum",
               options=MODE_OPTIONS),
    ]


class HomeAssistantDiscovery:
    """The discovery messages of one press, and when to (re)publish them.

    The Link calls `on_connect(client)` from its paho `on_connect` callback and offers every
    incoming message to `on_message(client, msg)` first; both run on paho's network thread and
    only hand messages to paho, so they never touch the control loop.
    """

    def __init__(self, press_id: str, temp_channels: Sequence[str],
                 prefix: str = HOMEASSISTANT_PREFIX, software: str = __version__) -> None:
        self.press_id = press_id
        self.prefix = prefix
        self.software = software
        self.sensors = sensors(temp_channels)
        self.published_rounds = 0  # how many times the full set went out (for tests and logs)

    @classmethod
    def for_press(cls, press: PressConfig, link: LinkConfig,
                  software: str = __version__) -> HomeAssistantDiscovery | None:
        """The discovery for `press`, or None when `link.homeassistant_discovery` is off."""
        if not link.homeassistant_discovery:
            return None
        channels = [z.name for z in press.zones]
        if press.sample_tc_cs_pin is not None:
            channels.append("sample")  # PressIO names the sample thermocouple so
        return cls(press.id, channels, link.homeassistant_prefix, software)

    @property
    def birth_topic(self) -> str:
        """Where Home Assistant announces itself (`online`) and its last will (`offline`)."""
        return f"{self.prefix}/{BIRTH_TOPIC_LEAF}"

    def config_topic(self, sensor: Sensor) -> str:
        """`<prefix>/sensor/<press_id>/<thing>/config`."""
        return f"{self.prefix}/sensor/{self.press_id}/{sensor.thing}/config"

    def messages(self) -> list[tuple[str, bytes]]:
        """(topic, payload) of every config message, to publish retained at QoS 1."""
        return [(self.config_topic(s), json.dumps(s.config(self.press_id, self.software),
                                                  separators=(",", ":")).encode())
                for s in self.sensors]

    def publish(self, client: mqtt.Client) -> list[int]:
        """Hand every config to paho (queued by paho while the connection is down); their mids."""
        mids = [client.publish(topic, payload, CONFIG_QOS, True).mid
                for topic, payload in self.messages()]
        self.published_rounds += 1
        return mids

    def on_connect(self, client: mqtt.Client) -> None:
        """On every (re)connect: publish the configs and listen for Home Assistant's birth.

        The retained birth (if Home Assistant's is retained) is not asked for: the configs were
        just published, so it would only trigger a second identical round.
        """
        self.publish(client)
        client.subscribe(self.birth_topic, options=SubscribeOptions(
            qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND))

    def on_message(self, client: mqtt.Client, msg: mqtt.MQTTMessage) -> bool:
        """True if `msg` was Home Assistant's (handled: `online` republishes); False otherwise."""
        if msg.topic != self.birth_topic:
            return False
        if msg.payload.strip() == BIRTH_ONLINE:
            self.publish(client)
        return True
