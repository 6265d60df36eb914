"""The host watchdog: tell systemd the loop is up, alive and healthy, so a hung loop is restarted.

The unit (systemd/hotpressd.service) is `Type=notify` with `WatchdogSec=`: systemd waits for
READY=1 before it counts the daemon as started, and aborts and restarts it when no WATCHDOG=1
arrives within WatchdogSec. So the ping must come from the loop itself, after a tick has run,
and only while that loop is worth keeping:

- a hung loop (blocked in a driver, a deadlock) stops calling `tick_ok`: no ping, restart;
- an unhealthy loop (a supervisor check raising, or ticks persistently late) calls it with
  `healthy=False`: no ping, restart, unless it recovers within WatchdogSec;
- a press with a latched safety fault is NOT unhealthy: its loop keeps the outputs safe and the
  fault on record, and a restart would lose the latch. `loop_healthy` encodes that rule.

Pings go at most every half interval (sd_watchdog_enabled(3) asks for "about half the time"):
more would only load the notify socket. The notifier is injected (a fake in tests); by default
it is `sdnotify.SystemdNotifier`, which is silent when NOTIFY_SOCKET is unset (a shell, a test).
Nothing here sleeps or blocks: a datagram to a local socket, or nothing at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

from firmware.safety.faults import FaultCode, Verdict

# Used when systemd does not say (no WATCHDOG_USEC: run by hand, or no WatchdogSec): pinging
# every half of the unit's 5 s is harmless when nobody listens, and right when somebody does.
DEFAULT_INTERVAL_S = 5.0
USEC_PER_S = 1_000_000
READY, STOPPING, WATCHDOG = "READY=1", "STOPPING=1", "WATCHDOG=1"


class Notifier(Protocol):
    """What is needed of `sdnotify.SystemdNotifier`: send one sd_notify state string."""

    def notify(self, state: str) -> object: ...


def interval_from_env(environ: Mapping[str, str] | None = None,
                      pid: int | None = None) -> float | None:
    """WatchdogSec in seconds as systemd passes it (WATCHDOG_USEC), or None when it does not.

    As sd_watchdog_enabled(3): ignored when WATCHDOG_PID names another process (a child that
    inherited the environment must not ping for its parent), or when the value is not a
    positive whole number of microseconds.
    """
    env = os.environ if environ is None else environ
    owner = env.get("WATCHDOG_PID")
    if owner is not None and owner != str(os.getpid() if pid is None else pid):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / USEC_PER_S if usec > 0 else None


def loop_healthy(verdict: Verdict, consecutive_overruns: int, overrun_limit: int) -> bool:
    """Whether the loop deserves a ping: no check raising and the ticks on time.

    `overrun_limit` is the supervisor's `loop_overrun_streak`; a latched fault of any other kind
    (over-temperature, e-stop, ...) leaves the loop healthy: it is doing its job.
    """
    broken = any(f.code is FaultCode.SUPERVISOR_ERROR for f in verdict.latched)
    return not broken and consecutive_overruns < overrun_limit


def _systemd_notifier() -> Notifier:
    """sdnotify's notifier, imported here so that merely importing this module needs nothing."""
    import sdnotify

    return sdnotify.SystemdNotifier()


class LoopWatchdog:
    """READY=1 once the loop is up, WATCHDOG=1 while it is healthy, STOPPING=1 on the way out.

    `interval_s` is WatchdogSec in seconds (default: from WATCHDOG_USEC, else
    DEFAULT_INTERVAL_S); pings go at most every `interval_s / 2`.
    """

    def __init__(self, notifier: Notifier | None = None, interval_s: float | None = None) -> None:
        self.notifier = notifier if notifier is not None else _systemd_notifier()
        interval = interval_s if interval_s is not None else interval_from_env()
        self.interval_s = interval if interval is not None else DEFAULT_INTERVAL_S
        if not self.interval_s > 0:
            raise ValueError(f"interval_s must be > 0 s, got {self.interval_s}")
        self.is_ready = False
        self.pings = 0
        self._last_ping_s: float | None = None

    @property
    def ping_period_s(self) -> float:
        """The shortest time between two pings: half the interval."""
        return self.interval_s / 2.0

    def ready(self) -> None:
        """Say READY=1 (once): the outputs are safe and the loop runs. `tick_ok` says it by
        itself on the first healthy tick, so a daemon cannot forget it (systemd would kill a
        Type=notify service that never says it after TimeoutStartSec)."""
        if not self.is_ready:
            self.is_ready = True
            self.notifier.notify(READY)

    def tick_ok(self, now_s: float, healthy: bool) -> bool:
        """After each tick: ping if `healthy` and half an interval has passed since the last.

        `now_s` is monotonic time in seconds (the systemd watchdog runs on real time: on the
        Pi that is the loop's clock; a simulated press should pass `time.monotonic()`).
        Returns True when a ping was sent. An unhealthy tick sends nothing and changes nothing,
        so a recovered loop pings again at once. The first healthy tick also says READY=1.
        """
        if not healthy:
            return False
        self.ready()
        due = self._last_ping_s is None or now_s - self._last_ping_s >= self.ping_period_s
        if not due:
            return False
        self._last_ping_s = now_s
        self.pings += 1
        self.notifier.notify(WATCHDOG)
        return True

    def stopping(self) -> None:
        """Say STOPPING=1: a clean stop is under way, so systemd expects no more pings."""
        self.notifier.notify(STOPPING)
