"""One exception tree for hotpress, so callers can catch ours without catching everything.

Each error also subclasses the builtin it most resembles, so generic handlers keep working.
"""


class HotpressError(Exception):
    """Root of every error hotpress raises on purpose."""


class ConfigError(HotpressError, ValueError):
    """A press config, recipe or setting is invalid; the message names the file and the key."""


class HardwareError(HotpressError, OSError):
    """A device is absent or misbehaves; the message says what to check on the rig."""


class SafetyError(HotpressError, RuntimeError):
    """An action was refused because it would leave the press unsafe."""
