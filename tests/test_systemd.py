"""The systemd units: `systemd-analyze verify` says nothing at all about them, and they keep the
settings the press's safety depends on (outputs safe before start and after any stop, watchdog,
restart, real-time priority, the hardening around a process that drives a press).

`verify` checks that every Exec binary exists, so it runs in a throwaway root (`--root`) holding
a copy of the system's own unit directory (for sysinit.target and friends), the units under test
in /etc/systemd/system, and stub executables at /opt/hotpress/venv/bin: the units are verified
exactly as shipped, with no path rewritten.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from firmware.run.scheduler import FIFO_PRIORITY

REPO = Path(__file__).resolve().parent.parent
UNITS = ("hotpressd.service", "hotpress-logger.service")
STUBS = ("/opt/hotpress/venv/bin/hotpressd", "/opt/hotpress/venv/bin/hotpress")
SYSTEM_UNIT_DIRS = (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
ANALYZE = shutil.which("systemd-analyze")
NO_ANALYZE = "systemd-analyze not found (Debian package `systemd`): the units are NOT verified"
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason=NO_ANALYZE)
if ANALYZE is None:
    warnings.warn(NO_ANALYZE, stacklevel=1)  # shown in pytest's summary even without -rs


def unit_settings(name: str) -> dict[str, list[str]]:
    """Every key of a unit file with all its values (systemd keys may repeat)."""
    settings: dict[str, list[str]] = {}
    for raw in (REPO / "systemd" / name).read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


@pytest.fixture
def verify_root(tmp_path: Path) -> Path:
    """A root for `systemd-analyze verify --root`: system units, our units, stub binaries."""
    system_dir = next((d for d in SYSTEM_UNIT_DIRS if (d / "sysinit.target").exists()), None)
    if system_dir is None:
        pytest.skip("no system unit directory with sysinit.target to verify against")
    shutil.copytree(system_dir, tmp_path / "usr/lib/systemd/system", symlinks=True)
    for stub in STUBS:
        path = tmp_path / stub.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    etc = tmp_path / "etc/systemd/system"
    etc.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(REPO / "systemd" / unit, etc / unit)
    return tmp_path


def verify(root: Path, unit: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ANALYZE or "systemd-analyze", "verify", f"--root={root}", unit],
                          capture_output=True, text=True, timeout=60)


@needs_analyze
@pytest.mark.parametrize("unit", UNITS)
def test_unit_verifies_without_a_word(verify_root: Path, unit: str) -> None:
    result = verify(verify_root, unit)
    assert (result.returncode, result.stderr, result.stdout) == (0, "", "")


@needs_analyze
def test_verify_reports_an_unknown_key(verify_root: Path) -> None:
    """The harness itself: a typo in a unit is caught (as stderr, with exit status 0)."""
    path = verify_root / "etc/systemd/system/hotpressd.service"
    path.write_text(path.read_text().replace("[Service]\n", "[Service]\nWatchdogSecs=5s\n"))
    assert "Unknown key" in verify(verify_root, "hotpressd.service").stderr


@needs_analyze
def test_verify_reports_a_missing_executable(verify_root: Path) -> None:
    (verify_root / STUBS[0].lstrip("/")).unlink()
    result = verify(verify_root, "hotpressd.service")
    assert result.returncode != 0 and "hotpressd" in result.stderr


def test_daemon_drives_outputs_safe_before_start_and_after_any_stop() -> None:
    s = unit_settings("hotpressd.service")
    safe = "/opt/hotpress/venv/bin/hotpressd safe --config /etc/hotpress/press.toml"
    assert s["ExecStartPre"] == [safe] and s["ExecStopPost"] == [safe]


def test_daemon_runs_the_installed_config() -> None:
    exec_start = unit_settings("hotpressd.service")["ExecStart"][0]
    assert exec_start.startswith("/opt/hotpress/venv/bin/hotpressd --config "
                                 "/etc/hotpress/press.toml --journal /var/lib/hotpress")


def test_daemon_is_watched_and_restarted() -> None:
    s = unit_settings("hotpressd.service")
    assert (s["Type"], s["WatchdogSec"], s["Restart"]) == (["notify"], ["5s"], ["on-failure"])


def test_daemon_realtime_priority_matches_what_it_asks_for() -> None:
    s = unit_settings("hotpressd.service")
    assert s["CPUSchedulingPolicy"] == ["fifo"]
    assert s["CPUSchedulingPriority"] == [str(FIFO_PRIORITY)]


def test_daemon_account_reaches_the_hardware_and_nothing_else() -> None:
    s = unit_settings("hotpressd.service")
    assert s["User"] == ["hotpress"]
    assert set(s["SupplementaryGroups"][0].split()) == {"gpio", "spi", "i2c", "dialout"}
    assert (s["ProtectSystem"], s["ReadWritePaths"]) == (["strict"], ["/var/lib/hotpress"])
    assert (s["NoNewPrivileges"], s["PrivateTmp"]) == (["yes"], ["yes"])
    assert s["StateDirectory"] == ["hotpress"]


def test_daemon_keeps_its_devices_and_realtime() -> None:
    """Options that would hide /dev/gpiochip* or forbid SCHED_FIFO must stay out."""
    s = unit_settings("hotpressd.service")
    for key in ("PrivateDevices", "DevicePolicy", "ProtectClock", "ProtectKernelLogs",
                "RestrictRealtime"):
        assert key not in s, key


def test_logger_runs_the_host_logger_into_its_state_dir() -> None:
    s = unit_settings("hotpress-logger.service")
    assert s["ExecStart"] == ["/opt/hotpress/venv/bin/hotpress logger "
                              "--db /var/lib/hotpress-logger/runs.sqlite"]
    assert s["StateDirectory"] == ["hotpress-logger"] and s["Restart"] == ["on-failure"]
