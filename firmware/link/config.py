"""How the daemon reaches its broker: the `[mqtt]` table of the press config, parsed once.

The table is parsed by the same type-driven `Builder` as the rest of the press config, so a wrong
type or an unknown key reads exactly like any other config problem (`press.toml: mqtt.port: ...`)
and, once `PressConfig` grows an `mqtt: LinkConfig` field, it is parsed with no extra code: merge
`FIELD_RULES` and `OBJECT_RULES` from here into the press rules.

The password is never in the config: `password_file` names a file that only the service account
can read. It is read at connect time (`read_password`), so a rotated password needs only a
restart, and a world-readable file is refused: a password every local user can read is no
password, and failing loudly at start beats a quiet leak.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from firmware.config.build import Builder, FieldRule, ObjectRule
from firmware.config.load import format_problems
from firmware.config.validate import Between, non_empty
from firmware.errors import ConfigError
from firmware.link.protocol import MAX_COMMAND_BYTES

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
# The broker declares the press lost after 1.5 x keepalive with no packet (the last will after a
# hang); 15 s notices a hung Pi within ~22 s while costing one small PINGREQ per 15 s.
DEFAULT_KEEPALIVE_S = 15
KEEPALIVE_RANGE_S = (5, 3600)  # under 5 s a busy Wi-Fi link flaps; over an hour hides a dead press
TELEMETRY_RANGE_HZ = (0.01, 50.0)  # 50 Hz is above any useful tick rate; 0.01 Hz is one a 100 s
MAX_QUEUE_RANGE = (10, 1_000_000)  # messages held while the broker is away (memory on a Pi)
COMMAND_BYTES_RANGE = (1024, MAX_COMMAND_BYTES)  # may be lowered, never raised past the protocol
RECONNECT_RANGE_S = (1, 3600)  # paho takes whole seconds; back off to at most an hour
HOMEASSISTANT_PREFIX = "homeassistant"  # Home Assistant's default MQTT discovery prefix


@dataclass(frozen=True)
class LinkConfig:
    """Broker address, identity, TLS files, telemetry rates and queue bounds of one press.

    `client_id` and `username` default to values derived from the press id (see `Link`); the
    broker ACL shipped in `systemd/mosquitto/hotpress.acl` expects `username == press id`.
    """

    host: str = "localhost"
    port: int = DEFAULT_PORT
    client_id: str | None = None  # None: "hotpressd-<press_id>"
    username: str | None = None  # None: the press id (what the shipped ACL expects)
    password_file: str | None = None  # None: no password (a broker without auth: dev only)
    tls: bool = False
    tls_ca_file: str | None = None  # None with tls: the system CA store
    tls_cert_file: str | None = None  # client certificate, for brokers that require one
    tls_key_file: str | None = None
    keepalive_s: int = DEFAULT_KEEPALIVE_S
    telemetry_idle_hz: float = 1.0  # enough to see a platen cool; 3.6 k messages an hour
    telemetry_running_hz: float = 10.0  # every tick of a 10 Hz loop: no gap for the logger
    max_queue: int = 1000  # outgoing messages held while the broker is slow or away
    command_max_bytes: int = MAX_COMMAND_BYTES
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30  # a restarted broker is picked up within 30 s, without hammering it
    homeassistant_discovery: bool = False  # announce sensors to Home Assistant (homeassistant.py)
    homeassistant_prefix: str = HOMEASSISTANT_PREFIX  # its discovery prefix, if changed there


@dataclass(frozen=True)
class _IntBetween:
    """A closed integer range, shown as integers (`Between` would print 1e+09)."""

    lo: int
    hi: int
    unit: str = ""

    def __call__(self, value: int) -> str | None:
        if self.lo <= value <= self.hi:
            return None
        return f"{value} is out of range {self.lo}..{self.hi} {self.unit}".rstrip()


def _int_between(lo: int, hi: int, unit: str = "") -> FieldRule:
    return _IntBetween(lo, hi, unit)


def _host(value: str) -> str | None:
    """A host name or address: something to connect to, with no scheme or port glued on."""
    if not value.strip():
        return "must not be empty"
    if "://" in value or value.count(":") == 1:
        return "give the bare host name or address; the port goes in `port`"
    return None


def _topic_prefix(value: str) -> str | None:
    """A topic prefix to publish under: levels without wildcards, no leading or trailing '/'."""
    levels = value.split("/")
    if any(not level for level in levels):
        return "give topic levels separated by single '/', with none at either end"
    if any(c in value for c in "+#\0"):
        return "must not contain '+', '#' or NUL (it is a topic to publish to, not a filter)"
    return None


FIELD_RULES: dict[tuple[type, str], FieldRule] = {
    (LinkConfig, "host"): _host,
    (LinkConfig, "port"): _int_between(1, 65535),
    (LinkConfig, "client_id"): non_empty,
    (LinkConfig, "username"): non_empty,
    (LinkConfig, "password_file"): non_empty,
    (LinkConfig, "tls_ca_file"): non_empty,
    (LinkConfig, "tls_cert_file"): non_empty,
    (LinkConfig, "tls_key_file"): non_empty,
    (LinkConfig, "keepalive_s"): _int_between(*KEEPALIVE_RANGE_S, "s"),
    (LinkConfig, "telemetry_idle_hz"): Between(*TELEMETRY_RANGE_HZ, "Hz"),
    (LinkConfig, "telemetry_running_hz"): Between(*TELEMETRY_RANGE_HZ, "Hz"),
    (LinkConfig, "max_queue"): _int_between(*MAX_QUEUE_RANGE, "messages"),
    (LinkConfig, "command_max_bytes"): _int_between(*COMMAND_BYTES_RANGE, "bytes"),
    (LinkConfig, "reconnect_min_s"): _int_between(*RECONNECT_RANGE_S, "s"),
    (LinkConfig, "reconnect_max_s"): _int_between(*RECONNECT_RANGE_S, "s"),
    (LinkConfig, "homeassistant_prefix"): _topic_prefix,
}


def _check_link(cfg: LinkConfig) -> Iterator[tuple[str, str]]:
    """Rules between keys: TLS files only with TLS, a key with its certificate, sane backoff."""
    if not cfg.tls:
        for name in ("tls_ca_file", "tls_cert_file", "tls_key_file"):
            if getattr(cfg, name) is not None:
                yield name, "is set but tls = false: set tls = true or remove it"
    if (cfg.tls_cert_file is None) != (cfg.tls_key_file is None):
        yield "tls_key_file", "a client certificate needs both tls_cert_file and tls_key_file"
    if cfg.homeassistant_prefix != HOMEASSISTANT_PREFIX and not cfg.homeassistant_discovery:
        yield "homeassistant_prefix", ("is set but homeassistant_discovery = false: set it true "
                                       "or remove the prefix")
    if cfg.reconnect_min_s > cfg.reconnect_max_s:
        yield "reconnect_min_s", (f"{cfg.reconnect_min_s} s is more than reconnect_max_s "
                                  f"({cfg.reconnect_max_s} s)")


OBJECT_RULES: dict[type, ObjectRule] = {LinkConfig: lambda cfg: list(_check_link(cfg))}


def parse_link_config(data: Mapping[str, Any], source: str, path: str = "mqtt") -> LinkConfig:
    """A checked `LinkConfig` from the parsed `[mqtt]` table; ConfigError naming every bad key.

    `source` is the file name shown in messages; `path` the table's key path in that file.
    """
    builder = Builder(FIELD_RULES, OBJECT_RULES)
    table = dict(data) if isinstance(data, Mapping) else data
    cfg = builder.build(LinkConfig, table, path)
    if builder.problems:
        raise ConfigError(format_problems(builder.problems, source))
    return cfg


def read_password(cfg: LinkConfig) -> str | None:
    """The broker password from `cfg.password_file` (None when there is none).

    Refuses (ConfigError) a file that is missing, empty, not a regular file, or readable by every
    user on the Pi; says how to fix it.
    """
    if cfg.password_file is None:
        return None
    path = os.path.expanduser(cfg.password_file)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"mqtt.password_file: {path} is not a regular file")
        if st.st_mode & stat.S_IROTH:
            raise ConfigError(
                f"mqtt.password_file: {path} is readable by every user (mode "
                f"{stat.S_IMODE(st.st_mode):04o}); refusing to use it. Fix: chmod 600 {path} and "
                "chown it to the account hotpressd runs as")
        with open(path, encoding="utf-8") as f:
            password = f.read().rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"mqtt.password_file: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"mqtt.password_file: {path} is not UTF-8 text") from None
    if not password:
        raise ConfigError(f"mqtt.password_file: {path} is empty")
    return password
