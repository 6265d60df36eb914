"""Errors the host raises on purpose: each message is one line that says what to do next.

They hang off the project's `HotpressError` (and the builtin they resemble), so the CLI can turn
any of them into one printed line and a non-zero exit code, and never show a traceback.
"""

from __future__ import annotations

from firmware.errors import ConfigError, HotpressError

__all__ = [
    "BrokerAuthError",
    "BrokerError",
    "BrokerUnreachableError",
    "CommandRejectedError",
    "CommandTimeoutError",
    "ConfigError",
    "HostError",
    "PressOfflineError",
    "StoreError",
]


class HostError(HotpressError):
    """Root of the host-side errors."""


class BrokerError(HostError, ConnectionError):
    """The MQTT broker could not be used."""


class BrokerUnreachableError(BrokerError):
    """Nothing answered at the broker address, or the TLS handshake failed."""


class BrokerAuthError(BrokerError, PermissionError):
    """The broker refused the user name, password or client (CONNACK reason code)."""


class PressOfflineError(HostError, LookupError):
    """The press has no retained `online` status: it is off, or not on this broker."""


class CommandRejectedError(HostError, RuntimeError):
    """The press refused a command; the message carries its reason."""


class CommandTimeoutError(HostError, TimeoutError):
    """The press did not answer a command in time."""


class StoreError(HostError, OSError):
    """The run store cannot be opened or written."""
