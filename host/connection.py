"""Where the broker is and who we are: settings from a file or the environment, and `connect()`.

Sources, each overriding the one before (explicit beats implicit):

1. defaults: `localhost:1883`, no user, no TLS;
2. `~/.config/hotpress/host.toml` if it exists;
3. the environment: HOTPRESS_MQTT_HOST, _PORT, _USERNAME, _PASSWORD or _PASSWORD_FILE, _TLS
   (1/true/yes/on), _CA_FILE;
4. a file named with `--broker-config` (the operator asked for it in this very command).

The file holds one `[broker]` table::

    [broker]
    host = "press-lab.local"
    port = 8883
    username = "alice"
    password_file = "~/.config/hotpress/password"   # or password = "..." (keep the file 0600)
    tls = true
    ca_file = "/etc/hotpress/ca.crt"

The password is a `Secret`: its repr and str are `***`, so no log line, error message or `repr`
of the settings ever shows it. `connect()` waits for the CONNACK, so a wrong password or an
unreachable broker is one clear `BrokerError` here, not a silent reconnect loop later.
"""

from __future__ import annotations

import os
import ssl
import threading
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from host.errors import BrokerAuthError, BrokerUnreachableError, ConfigError

DEFAULT_CONFIG_PATH = Path("~/.config/hotpress/host.toml")
DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
KEEPALIVE_S = 30  # a dead host is noticed by the broker within 1.5x this; long enough for Wi-Fi
CONNACK_TIMEOUT_S = 5.0  # a broker on the lab network answers in ms; 5 s means it is not there
RECONNECT_MIN_S = 1  # paho's automatic reconnect backs off from this ...
RECONNECT_MAX_S = 10  # ... to this: a restarted broker is picked up within 10 s
ENV_PREFIX = "HOTPRESS_MQTT_"
FILE_KEYS = frozenset({"host", "port", "username", "password", "password_file", "tls", "ca_file",
                       "keepalive_s"})
# CONNACK reason codes that mean "who you are" is wrong, not "where" (MQTT 5, 3.2.2.2)
AUTH_REASON_CODES = frozenset({133, 134, 135, 138, 140})


class Secret:
    """A string that never shows itself in repr/str/format; `reveal()` when it must be sent."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself: only for handing to the MQTT client."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class BrokerSettings:
    """How to reach the broker; `source` names where the values came from, for error messages."""

    host: str = "localhost"
    port: int = DEFAULT_PORT
    username: str | None = None
    password: Secret | None = None
    tls: bool = False
    ca_file: Path | None = None
    keepalive_s: int = KEEPALIVE_S
    source: str = "defaults"

    def __str__(self) -> str:
        user = f"{self.username}@" if self.username else ""
        extras = ["tls" if self.tls else "no tls"]
        if self.password is not None:
            extras.append("password set")
        return f"mqtt://{user}{self.host}:{self.port} ({', '.join(extras)}; from {self.source})"


def load_settings(config_path: str | Path | None = None,
                  env: Mapping[str, str] | None = None) -> BrokerSettings:
    """Settings from defaults, default file, environment and `config_path`, later wins."""
    env = os.environ if env is None else env
    settings = BrokerSettings()
    default_path = DEFAULT_CONFIG_PATH.expanduser()
    if default_path.is_file():
        settings = _apply(settings, _read_file(default_path), str(default_path))
    settings = _apply(settings, _from_env(env), "environment")
    if config_path is not None:
        settings = _apply(settings, _read_file(Path(config_path)), str(config_path))
    return settings


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.expanduser().read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read broker config ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    table = data.get("broker")
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: needs a [broker] table with host, port, username ...")
    unknown = sorted(set(table) - FILE_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)} in [broker]; "
                          f"allowed: {', '.join(sorted(FILE_KEYS))}")
    return dict(table)


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("host", "port", "username", "password", "password_file", "tls", "ca_file"):
        value = env.get(ENV_PREFIX + key.upper())
        if value not in (None, ""):
            out[key] = value
    return out


def _apply(base: BrokerSettings, values: dict[str, Any], source: str) -> BrokerSettings:
    """`base` with `values` (from one source) laid over it, each checked and typed."""
    if not values:
        return base
    changes: dict[str, Any] = {"source": source}
    if "host" in values:
        changes["host"] = _text(values["host"], "host", source)
    if "tls" in values:
        changes["tls"] = _flag(values["tls"], source)
        if "port" not in values and base.port == DEFAULT_PORT and changes["tls"]:
            changes["port"] = DEFAULT_TLS_PORT
    if "port" in values:
        changes["port"] = _int(values["port"], "port", source, 1, 65535)
    if "keepalive_s" in values:
        changes["keepalive_s"] = _int(values["keepalive_s"], "keepalive_s", source, 5, 3600)
    if "username" in values:
        changes["username"] = _text(values["username"], "username", source)
    if "password_file" in values:
        changes["password"] = _read_password(values["password_file"], source)
    elif "password" in values:
        changes["password"] = Secret(_text(values["password"], "password", source))
    if "ca_file" in values:
        ca = Path(_text(values["ca_file"], "ca_file", source)).expanduser()
        if not ca.is_file():
            raise ConfigError(f"{source}: ca_file {ca} does not exist")
        changes["ca_file"] = ca
    return replace(base, **changes)


def _text(value: Any, key: str, source: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{source}: {key} must be a non-empty string")
    return value


def _int(value: Any, key: str, source: str, lo: int, hi: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {key} must be a whole number, not {value!r}") from None
    if not lo <= number <= hi:
        raise ConfigError(f"{source}: {key} {number} is out of range {lo}..{hi}")
    return number


def _flag(value: Any, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{source}: tls must be true or false, not {value!r}")


def _read_password(path_value: Any, source: str) -> Secret:
    path = Path(_text(path_value, "password_file", source)).expanduser()
    try:
        return Secret(path.read_text().rstrip("\r\n"))
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read password_file {path} ({exc.strerror})") from exc


def connect(settings: BrokerSettings, client_id: str, *,
            on_connect: Callable[[mqtt.Client], None] | None = None,
            prepare: Callable[[mqtt.Client], None] | None = None,
            clean_start: bool = True, session_expiry_s: int | None = None,
            timeout_s: float = CONNACK_TIMEOUT_S) -> mqtt.Client:
    """A connected MQTT v5 client with its network loop running in a background thread.

    `prepare(client)` runs before connecting (set `on_message` there, so no message queued for a
    persistent session arrives before its handler); `on_connect(client)` runs after every
    successful (re)connect: subscribe there, because a restarted broker forgets subscriptions.
    Raises BrokerUnreachableError or BrokerAuthError.
    """
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    _configure(client, settings)
    connack: dict[str, Any] = {}
    done = threading.Event()

    def _on_connect(c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if not rc.is_failure and on_connect is not None:
            on_connect(c)  # before `done`: subscriptions are sent before connect() returns
        if not done.is_set():
            connack["rc"] = rc
            done.set()

    client.on_connect = _on_connect
    if prepare is not None:
        prepare(client)
    _open(client, settings, clean_start, session_expiry_s)
    client.loop_start()
    if not done.wait(timeout_s):
        _stop(client)
        raise BrokerUnreachableError(
            f"the MQTT broker at {settings.host}:{settings.port} did not answer within "
            f"{timeout_s:.0f} s: check the port and TLS setting ({settings.source})")
    rc = connack["rc"]
    if rc.is_failure:
        _stop(client)
        raise _refused(settings, rc)
    return client


def _configure(client: mqtt.Client, settings: BrokerSettings) -> None:
    client.connect_timeout = CONNACK_TIMEOUT_S
    client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
    if settings.username is not None:
        password = settings.password.reveal() if settings.password is not None else None
        client.username_pw_set(settings.username, password)
    if settings.tls:
        ca = str(settings.ca_file) if settings.ca_file is not None else None
        client.tls_set(ca_certs=ca, cert_reqs=ssl.CERT_REQUIRED)


def _open(client: mqtt.Client, settings: BrokerSettings, clean_start: bool,
          session_expiry_s: int | None) -> None:
    props = None
    if session_expiry_s is not None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = session_expiry_s
    try:
        client.connect(settings.host, settings.port, settings.keepalive_s,
                       clean_start=clean_start, properties=props)
    except ssl.SSLError as exc:
        raise BrokerUnreachableError(
            f"TLS with the MQTT broker at {settings.host}:{settings.port} failed "
            f"({exc.reason or exc}): check ca_file / HOTPRESS_MQTT_CA_FILE and that the broker "
            f"speaks TLS on this port") from None
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise BrokerUnreachableError(
            f"cannot reach the MQTT broker at {settings.host}:{settings.port} ({why}): start "
            f"the broker, or set the address with HOTPRESS_MQTT_HOST/HOTPRESS_MQTT_PORT or "
            f"--broker-config (now from {settings.source})") from None


def _refused(settings: BrokerSettings, rc: Any) -> Exception:
    where = f"{settings.host}:{settings.port}"
    code = f"reason {rc.value}: {rc}"
    if rc.value in AUTH_REASON_CODES:
        who = f"user '{settings.username}'" if settings.username else "an anonymous client"
        return BrokerAuthError(
            f"the MQTT broker at {where} refused {who} ({code}): check the user name and "
            f"password (HOTPRESS_MQTT_USERNAME, HOTPRESS_MQTT_PASSWORD_FILE or "
            f"--broker-config; now from {settings.source})")
    return BrokerUnreachableError(f"the MQTT broker at {where} refused the connection ({code}): "
                             f"see the broker's log")


def _stop(client: mqtt.Client) -> None:
    client.loop_stop()
    client.disconnect()


def disconnect(client: mqtt.Client) -> None:
    """Disconnect cleanly (no last will) and stop the network thread."""
    client.disconnect()
    client.loop_stop()
