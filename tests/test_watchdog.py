"""LoopWatchdog: READY once, WATCHDOG only while healthy and at most every half interval,
STOPPING on the way out; once against a real unix datagram socket as systemd would listen."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.run.watchdog import (
    DEFAULT_INTERVAL_S,
    LoopWatchdog,
    interval_from_env,
    loop_healthy,
)
from firmware.safety.faults import Fault, FaultCode, Verdict
from tests.helpers import sim_daemon


class FakeNotifier:
    """Records every state string, as systemd would receive them."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def notify(self, state: str) -> None:
        self.sent.append(state)


def _fault(code: FaultCode) -> Fault:
    return Fault(code, "x", "test", 0.0)


def test_ready_is_sent_once() -> None:
    fake = FakeNotifier()
    wd = LoopWatchdog(fake, interval_s=4.0)
    wd.ready()
    wd.ready()
    assert fake.sent == ["READY=1"]


def test_pings_at_most_every_half_interval() -> None:
    fake = FakeNotifier()
    wd = LoopWatchdog(fake, interval_s=4.0)
    sent_at = [k / 10 for k in range(100) if wd.tick_ok(k / 10, healthy=True)]
    assert sent_at == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert fake.sent == ["READY=1"] + ["WATCHDOG=1"] * 5


def test_no_ping_while_unhealthy_and_at_once_on_recovery() -> None:
    fake = FakeNotifier()
    wd = LoopWatchdog(fake, interval_s=4.0)
    wd.tick_ok(0.0, healthy=True)
    assert not any(wd.tick_ok(k / 10, healthy=False) for k in range(1, 60))
    assert wd.tick_ok(6.0, healthy=True)
    assert fake.sent == ["READY=1", "WATCHDOG=1", "WATCHDOG=1"]


def test_not_ready_until_a_healthy_tick() -> None:
    fake = FakeNotifier()
    wd = LoopWatchdog(fake, interval_s=4.0)
    wd.tick_ok(0.0, healthy=False)
    assert fake.sent == [] and not wd.is_ready


def test_stopping() -> None:
    fake = FakeNotifier()
    LoopWatchdog(fake, interval_s=1.0).stopping()
    assert fake.sent == ["STOPPING=1"]


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LoopWatchdog(FakeNotifier(), interval_s=0.0)


def test_interval_from_systemd_environment() -> None:
    assert interval_from_env({"WATCHDOG_USEC": "5000000"}) == 5.0
    assert interval_from_env({"WATCHDOG_USEC": "5000000", "WATCHDOG_PID": "42"}, pid=42) == 5.0
    assert interval_from_env({"WATCHDOG_USEC": "5000000", "WATCHDOG_PID": "41"}, pid=42) is None
    assert interval_from_env({"WATCHDOG_USEC": "soon"}) is None
    assert interval_from_env({}) is None


def test_default_interval_without_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert LoopWatchdog(FakeNotifier()).interval_s == DEFAULT_INTERVAL_S
    monkeypatch.setenv("WATCHDOG_USEC", "3000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert LoopWatchdog(FakeNotifier()).interval_s == 3.0


def test_a_latched_safety_fault_is_a_healthy_loop() -> None:
    assert loop_healthy(Verdict(latched=(_fault(FaultCode.OVER_TEMP),)), 0, 5)
    assert not loop_healthy(Verdict(latched=(_fault(FaultCode.SUPERVISOR_ERROR),)), 0, 5)
    assert loop_healthy(Verdict(), 4, 5)
    assert not loop_healthy(Verdict(), 5, 5)


def test_silent_without_notify_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    wd = LoopWatchdog(interval_s=1.0)  # the real sdnotify notifier, with nowhere to send
    wd.ready()
    assert wd.tick_ok(0.0, healthy=True)
    wd.stopping()


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """A unix datagram socket bound where systemd's would be (a short path: sun_path is small)."""
    d = tempfile.mkdtemp(prefix="hp-wd-")
    path = str(Path(d) / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2.0)
    try:
        yield sock, path
    finally:
        sock.close()
        shutil.rmtree(d, ignore_errors=True)


def test_real_notify_socket(monkeypatch: pytest.MonkeyPatch,
                            notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    wd = LoopWatchdog(interval_s=2.0)
    wd.ready()
    wd.tick_ok(10.0, healthy=True)  # READY=1 is not said twice
    wd.tick_ok(10.5, healthy=True)  # within half an interval: not sent
    wd.tick_ok(11.0, healthy=False)
    wd.tick_ok(11.0, healthy=True)
    wd.stopping()
    got = [sock.recv(64).decode() for _ in range(4)]
    assert got == ["READY=1", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1"]
    sock.setblocking(False)
    with pytest.raises(BlockingIOError):
        sock.recv(64)


def test_wired_to_the_daemon_pings_stop_when_ticks_overrun(tmp_path: Path) -> None:
    """The wiring the daemon uses: a healthy sim loop pings every half interval; a loop whose
    every tick runs late stops pinging, so systemd would restart it."""
    daemon, _press, clock = sim_daemon(tmp_path)
    fake = FakeNotifier()
    wd = LoopWatchdog(fake, interval_s=4.0)
    limit = daemon.bundle.safety.loop_overrun_streak

    def tick(now_s: float, late_s: float = 0.0) -> None:
        daemon.tick(now_s)
        clock.advance(late_s)
        assert daemon.last_result is not None
        wd.tick_ok(clock.now(), loop_healthy(daemon.last_result.verdict,
                                             daemon.scheduler.consecutive_overruns, limit))

    while clock.now() < 10.0:
        daemon.scheduler.run_once(tick)
    healthy_pings = wd.pings
    while clock.now() < 20.0:
        daemon.scheduler.run_once(lambda now_s: tick(now_s, late_s=0.15))
    daemon.close()
    assert fake.sent[0] == "READY=1"
    assert healthy_pings == 5  # 0, 2, 4, 6, 8 s
    assert wd.pings - healthy_pings <= 1  # at most one before the streak reaches the limit
