"""The [mqtt] table: parsed once with errors naming the key; the password file guarded."""

from __future__ import annotations

import os

import pytest

from firmware.clock import VirtualClock
from firmware.errors import ConfigError
from firmware.link.config import LinkConfig, parse_link_config, read_password
from firmware.link.mqtt import Link


def test_defaults_and_a_full_table():
    assert parse_link_config({}, "press.toml") == LinkConfig()
    cfg = parse_link_config({"host": "lab", "port": 8883, "tls": True, "tls_ca_file": "/ca.crt",
                             "telemetry_running_hz": 5, "max_queue": 500}, "press.toml")
    assert (cfg.port, cfg.tls, cfg.telemetry_running_hz, cfg.max_queue) == (8883, True, 5.0, 500)


@pytest.mark.parametrize(("table", "expected"), [
    ({"port": "1883"}, 'press.toml: mqtt.port: expected an integer, got string "1883"'),
    ({"port": 70000}, "mqtt.port: 70000 is out of range 1..65535"),
    ({"keepalive_s": True}, "mqtt.keepalive_s: expected an integer, got boolean true"),
    ({"telemetry_idle_hz": 0}, "mqtt.telemetry_idle_hz: 0 is out of range"),
    ({"hots": "x"}, "mqtt.hots: unknown key (did you mean host?)"),
    ({"host": "mqtt://lab:1883"}, "mqtt.host: give the bare host name"),
    ({"tls_ca_file": "/ca.crt"}, "mqtt.tls_ca_file: is set but tls = false"),
    ({"tls": True, "tls_cert_file": "/c.crt"}, "mqtt.tls_key_file: a client certificate needs"),
    ({"reconnect_min_s": 60, "reconnect_max_s": 30}, "mqtt.reconnect_min_s: 60 s is more than"),
    ({"command_max_bytes": 10**9}, "mqtt.command_max_bytes: 1000000000 is out of range"),
])
def test_problems_name_file_and_key(table, expected):
    with pytest.raises(ConfigError, match=None) as err:
        parse_link_config(table, "press.toml")
    assert expected in str(err.value)


def test_password_file_must_not_be_world_readable(tmp_path):
    path = tmp_path / "pw"
    path.write_text("s3cret\n")
    path.chmod(0o644)
    cfg = LinkConfig(password_file=str(path))
    with pytest.raises(ConfigError, match=r"readable by every user .* chmod 600"):
        read_password(cfg)
    path.chmod(0o600)
    assert read_password(cfg) == "s3cret"


@pytest.mark.parametrize("content", [None, ""])
def test_password_file_missing_or_empty(tmp_path, content):
    path = tmp_path / "pw"
    if content is not None:
        path.write_text(content)
        os.chmod(path, 0o600)
    with pytest.raises(ConfigError, match=r"mqtt\.password_file"):
        read_password(LinkConfig(password_file=str(path)))


def test_link_refuses_to_start_with_a_world_readable_password(tmp_path):
    path = tmp_path / "pw"
    path.write_text("x")
    path.chmod(0o604)
    link = Link(LinkConfig(password_file=str(path)), "press-1", lambda *a: [], VirtualClock())
    with pytest.raises(ConfigError, match="refusing"):
        link.start()
    link.stop()  # never started: a no-op


def test_press_id_must_be_a_topic_segment():
    with pytest.raises(ConfigError, match="press id"):
        Link(LinkConfig(), "press/1", lambda *a: [], VirtualClock())
