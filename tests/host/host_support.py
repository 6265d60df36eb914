"""Helpers the host tests share: broker settings for the suite's accounts, and waiting."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from host.connection import BrokerSettings, Secret


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def operator_settings(broker: Any, tls: bool = False) -> BrokerSettings:
    """Settings of the operator account on the suite's broker (plain or TLS listener)."""
    return BrokerSettings(host="localhost" if tls else "127.0.0.1",
                          port=broker.tls_port if tls else broker.port,
                          username=broker.operator,
                          password=Secret(broker.passwords[broker.operator]), tls=tls,
                          ca_file=broker.ca_file if tls else None)


def operator_env(broker: Any) -> dict[str, str]:
    """The same as HOTPRESS_MQTT_* variables, for the CLI."""
    return {"HOTPRESS_MQTT_HOST": "127.0.0.1", "HOTPRESS_MQTT_PORT": str(broker.port),
            "HOTPRESS_MQTT_USERNAME": broker.operator,
            "HOTPRESS_MQTT_PASSWORD": broker.passwords[broker.operator]}


def wait_for(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll `predicate` until true; fail the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
