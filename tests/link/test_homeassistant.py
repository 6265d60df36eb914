"""Home Assistant discovery: config content, the [mqtt] keys, and the real broker with the ACL."""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import secrets
import subprocess
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware.errors import ConfigError
from firmware.link.config import LinkConfig, parse_link_config
from firmware.link.homeassistant import MODE_OPTIONS, HomeAssistantDiscovery
from tests.conftest import TEMPLATES, Broker
from tests.helpers import sim_config, sim_daemon

NOT_AUTHORIZED = 135  # MQTT 5 PUBACK reason code
HA_USER = "homeassistant"  # the account name the ACL template's example uses
THINGS = ["temp_top", "temp_bottom", "sample_pressure", "line_pressure", "force", "mode"]
WAIT_S = 10.0


def discovery(press_id: str = "press-t1") -> HomeAssistantDiscovery:
    return HomeAssistantDiscovery(press_id, ["top", "bottom"], software="9.9")


def configs(d: HomeAssistantDiscovery) -> dict[str, dict[str, Any]]:
    """Thing -> decoded config payload."""
    return {topic.split("/")[3]: json.loads(payload) for topic, payload in d.messages()}


# -- content -------------------------------------------------------------------------------------
def test_one_config_per_sensor_under_the_press_node_id():
    topics = [topic for topic, _ in discovery().messages()]
    assert topics == [f"homeassistant/sensor/press-t1/{t}/config" for t in THINGS]


def test_temperature_config_reads_telemetry_in_celsius():
    top = configs(discovery())["temp_top"]
    assert (top["device_class"], top["unit_of_measurement"]) == ("temperature", "°C")
    assert top["state_topic"] == "hotpress/press-t1/telemetry"
    assert top["unique_id"] == "hotpress_press-t1_temp_top"
    assert top["availability_topic"] == "hotpress/press-t1/status"


def test_pressures_in_bar_force_without_device_class_mode_as_enum():
    c = configs(discovery())
    assert c["sample_pressure"]["unit_of_measurement"] == c["line_pressure"]["unit_of_measurement"]
    assert c["line_pressure"]["device_class"] == "pressure"
    assert "device_class" not in c["force"] and c["force"]["unit_of_measurement"] == "kN"
    assert c["mode"]["state_topic"] == "hotpress/press-t1/state"
    assert set(c["mode"]["options"]) >= {"idle", "manual", "running", "fault", "estop"}


def test_every_sensor_belongs_to_one_device():
    devices = [c["device"] for c in configs(discovery()).values()]
    assert all(d == devices[0] for d in devices)
    assert devices[0]["identifiers"] == ["hotpress_press-t1"] and devices[0]["sw_version"] == "9.9"


def test_templates_render_real_telemetry_and_state(tmp_path):
    jinja2 = pytest.importorskip("jinja2")
    daemon, _, _ = sim_daemon(tmp_path)
    daemon.tick(daemon.clock.now())
    telemetry = {"wall_s": 0.0, **daemon.last_result.record}
    env = jinja2.Environment()

    def render(thing: str, body: dict[str, Any]) -> str:
        return env.from_string(configs(discovery())[thing]["value_template"]).render(
            value_json=body)

    assert render("temp_top", telemetry) == str(round(telemetry["temps_c"]["top"], 1))
    assert render("line_pressure", telemetry) == str(round(telemetry["line_mpa"] * 10, 1))
    assert render("sample_pressure", telemetry) == "None"  # no run: no die area, no value
    assert render("mode", daemon.state()) in MODE_OPTIONS


def test_offline_birth_republishes_nothing_and_other_topics_are_not_taken():
    class Client:
        def __init__(self) -> None:
            self.published: list[str] = []

        def publish(self, topic: str, *args: Any) -> Any:
            self.published.append(topic)
            return mqtt.MQTTMessageInfo(1)

    d, client = discovery(), Client()
    assert d.on_message(client, message("homeassistant/status", b"offline"))
    assert not d.on_message(client, message("hotpress/press-t1/cmd/ping", b"online"))
    assert client.published == [] and d.published_rounds == 0


def message(topic: str, payload: bytes) -> mqtt.MQTTMessage:
    msg = mqtt.MQTTMessage(topic=topic.encode())
    msg.payload = payload
    return msg


# -- config --------------------------------------------------------------------------------------
def test_mqtt_table_switches_discovery_on_with_a_prefix():
    cfg = parse_link_config({"homeassistant_discovery": True, "homeassistant_prefix": "ha/lab"},
                            "press.toml")
    d = HomeAssistantDiscovery.for_press(sim_config(), cfg)
    assert d is not None and d.birth_topic == "ha/lab/status"
    assert HomeAssistantDiscovery.for_press(sim_config(), LinkConfig()) is None


@pytest.mark.parametrize(("table", "expected"), [
    ({"homeassistant_discovery": True, "homeassistant_prefix": "ha/+"}, "must not contain '+'"),
    ({"homeassistant_discovery": True, "homeassistant_prefix": "ha/"}, "single '/'"),
    ({"homeassistant_prefix": "ha"}, "is set but homeassistant_discovery = false"),
])
def test_bad_prefix_is_refused_naming_the_key(table, expected):
    with pytest.raises(ConfigError) as err:
        parse_link_config(table, "press.toml")
    assert "mqtt.homeassistant_prefix" in str(err.value) and expected in str(err.value)


def test_sample_thermocouple_gets_a_sensor():
    press = dataclasses.replace(sim_config(), sample_tc_cs_pin=13)
    d = HomeAssistantDiscovery.for_press(press, LinkConfig(homeassistant_discovery=True))
    assert d is not None and "temp_sample" in configs(d)


# -- the real broker, with the shipped ACL -------------------------------------------------------
@pytest.fixture
def ha_broker(broker: Broker) -> Broker:
    """The broker plus a Home Assistant account made exactly as the ACL template's example says."""
    text = (TEMPLATES / "hotpress.acl").read_text()
    example = text.split("# --- Home Assistant", 1)[1].split("\n\n", 1)[0]
    block = [line[4:] for line in example.splitlines() if line.startswith("#   ")]
    acl = broker.dir / "hotpress.acl"
    acl.write_text(acl.read_text() + "\n" + "\n".join(block) + "\n")
    broker.passwords[HA_USER] = secrets.token_hex(12)
    subprocess.run(["mosquitto_passwd", "-b", str(broker.dir / "passwd"), HA_USER,
                    broker.passwords[HA_USER]], check=True, capture_output=True)
    if os.geteuid() == 0:  # mosquitto reads its files as its own user
        owner = pwd.getpwnam("mosquitto")
        for path in (acl, broker.dir / "passwd"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    broker.stop()
    broker.start()
    return broker


class PressSide:
    """A paho client as the press's Link wires discovery: on_connect, then on_message first."""

    def __init__(self, broker: Broker, d: HomeAssistantDiscovery) -> None:
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                                  client_id=f"press-{uuid.uuid4().hex[:8]}")
        self.client.username_pw_set(broker.press_id, broker.passwords[broker.press_id])
        self.client.on_connect = lambda c, *a: d.on_connect(c)
        self.client.on_message = lambda c, u, msg: d.on_message(c, msg)
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self.subscribed.wait(WAIT_S), "no SUBACK for the birth topic"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def press_side(ha_broker: Broker) -> Iterator[PressSide]:
    side = PressSide(ha_broker, discovery(ha_broker.press_id))
    yield side
    side.close()


def test_configs_are_retained_with_their_content(press_side, ha_broker, probe):
    ha = probe(HA_USER)
    ha.connect()
    ha.subscribe("homeassistant/sensor/#")
    ha.wait(lambda: len(ha.messages) >= len(THINGS), "every retained config")
    assert all(m.retain for m in ha.messages)
    got = {m.topic: json.loads(m.payload) for m in ha.messages}
    assert got == {t: json.loads(p) for t, p in discovery(ha_broker.press_id).messages()}


def test_republished_when_home_assistant_comes_online(press_side, probe):
    ha = probe(HA_USER)
    ha.connect()
    ha.subscribe("homeassistant/sensor/#")
    ha.wait(lambda: len(ha.messages) >= len(THINGS), "the retained configs")
    ha.client.publish("homeassistant/status", b"online", qos=1)
    ha.wait(lambda: len(ha.messages) >= 2 * len(THINGS), "the configs again after the birth")
    first, again = ha.messages[:len(THINGS)], ha.messages[len(THINGS):]
    assert [m.payload for m in again] == [m.payload for m in first]


def test_press_writes_only_its_own_discovery_topics(ha_broker, probe):
    press = probe(ha_broker.press_id)
    press.connect()
    pid = ha_broker.press_id
    own = press.client.publish(f"homeassistant/sensor/{pid}/x/config", b"{}", qos=1)
    other = press.client.publish("homeassistant/sensor/press-other/x/config", b"{}", qos=1)
    flat = press.client.publish(f"homeassistant/sensor/{pid}_x/config", b"{}", qos=1)
    assert press.puback(own.mid) < 128  # accepted (0, or 16: no subscribers)
    assert press.puback(other.mid) == press.puback(flat.mid) == NOT_AUTHORIZED
