"""Broker settings (file, environment, precedence, secrets) and connect() errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from host_support import free_port, operator_settings

from host.connection import BrokerSettings, Secret, connect, disconnect, load_settings
from host.errors import BrokerAuthError, BrokerUnreachableError, ConfigError

PASSWORD = "s3cret-pw"
Broker = Any  # the suite's broker fixture (tests/conftest.py)


@pytest.fixture(autouse=True)
def no_home_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_defaults() -> None:
    s = load_settings(env={})
    assert (s.host, s.port, s.username, s.password, s.tls) == ("localhost", 1883, None, None,
                                                              False)


def test_environment() -> None:
    s = load_settings(env={"HOTPRESS_MQTT_HOST": "lab", "HOTPRESS_MQTT_PORT": "1999",
                           "HOTPRESS_MQTT_USERNAME": "alice", "HOTPRESS_MQTT_PASSWORD": PASSWORD})
    assert (s.host, s.port, s.username) == ("lab", 1999, "alice")
    assert s.password is not None and s.password.reveal() == PASSWORD


def test_password_file_and_tls_port(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    s = load_settings(env={"HOTPRESS_MQTT_PASSWORD_FILE": str(tmp_path / "pw"),
                           "HOTPRESS_MQTT_TLS": "yes"})
    assert s.password == Secret(PASSWORD) and s.tls and s.port == 8883


def test_explicit_file_beats_environment(tmp_path: Path) -> None:
    conf = tmp_path / "host.toml"
    conf.write_text('[broker]\nhost = "from-file"\nport = 1884\n')
    s = load_settings(conf, env={"HOTPRESS_MQTT_HOST": "from-env"})
    assert (s.host, s.port, s.source) == ("from-file", 1884, str(conf))


def test_environment_beats_default_file(tmp_path: Path) -> None:
    home_conf = tmp_path / "home" / ".config" / "hotpress" / "host.toml"
    home_conf.parent.mkdir(parents=True)
    home_conf.write_text('[broker]\nhost = "from-home"\nusername = "bob"\n')
    s = load_settings(env={"HOTPRESS_MQTT_HOST": "from-env"})
    assert (s.host, s.username) == ("from-env", "bob")


@pytest.mark.parametrize("text, match", [
    ('[broker]\nport = "x"\n', "port must be a whole number"),
    ('[broker]\nport = 70000\n', "out of range"),
    ('[broker]\nhots = "a"\n', "unknown key"),
    ('host = "a"\n', "needs a \\[broker\\] table"),
    ('[broker\n', "not valid TOML"),
])
def test_bad_files_name_the_problem(tmp_path: Path, text: str, match: str) -> None:
    conf = tmp_path / "host.toml"
    conf.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_settings(conf, env={})


def test_secrets_never_show() -> None:
    s = BrokerSettings(username="alice", password=Secret(PASSWORD))
    for text in (repr(s), str(s), f"{s.password}", repr(s.password)):
        assert PASSWORD not in text
    assert "password set" in str(s)


def test_connect_and_disconnect(broker: Broker) -> None:
    client = connect(operator_settings(broker), "t-ok")
    assert client.is_connected()
    disconnect(client)


def test_connect_over_tls_with_the_ca_file(broker: Broker) -> None:
    disconnect(connect(operator_settings(broker, tls=True), "t-tls"))


def test_tls_without_the_right_ca_is_a_clear_error(broker: Broker) -> None:
    settings = BrokerSettings(host="localhost", port=broker.tls_port, tls=True)
    with pytest.raises(BrokerUnreachableError, match="TLS with the MQTT broker"):
        connect(settings, "t-tls-bad")


def test_unreachable_broker_is_one_clear_error() -> None:
    with pytest.raises(BrokerUnreachableError, match="cannot reach the MQTT broker") as info:
        connect(BrokerSettings(host="127.0.0.1", port=free_port()), "t-none")
    assert "\n" not in str(info.value) and "HOTPRESS_MQTT_HOST" in str(info.value)


def test_wrong_password_is_an_auth_error_without_the_password(broker: Broker) -> None:
    wrong = "not-" + broker.passwords[broker.operator]
    settings = BrokerSettings(host="127.0.0.1", port=broker.port, username=broker.operator,
                              password=Secret(wrong))
    with pytest.raises(BrokerAuthError, match=f"refused user '{broker.operator}'") as info:
        connect(settings, "t-auth")
    assert wrong not in str(info.value) and "\n" not in str(info.value)


def test_anonymous_is_refused_with_advice(broker: Broker) -> None:
    with pytest.raises(BrokerAuthError, match="refused an anonymous client"):
        connect(BrokerSettings(host="127.0.0.1", port=broker.port), "t-anon")
