"""scripts/install-pi.sh for real, into a temporary root (`--root`), as far as a non-Pi allows.

The target root is seeded like a Raspberry Pi OS image: /etc/passwd and /etc/group with the gpio,
spi, i2c, dialout and mosquitto groups, and /boot/firmware/config.txt. The script is run from a
snapshot of the source, so files others edit meanwhile cannot make the second run reinstall.
pip installs hotpress without its dependencies (HOTPRESS_PIP_ARGS=--no-deps); building the wheel
still fetches setuptools and wheel from the package index, so the install tests are skipped,
saying so, when the index is unreachable. Creating the account needs root: without it the script
skips that step (and says so), and so do the assertions about it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

REPO = Path(__file__).resolve().parent.parent
SNAPSHOT = ("pyproject.toml", "README.md", "firmware", "host", "configs", "systemd", "scripts")
IS_ROOT = os.geteuid() == 0
GROUPS = "root:x:0:\ndialout:x:20:\nmosquitto:x:995:\ngpio:x:997:\ni2c:x:998:\nspi:x:999:\n"
CONFIG_TXT = "# Raspberry Pi OS\n[all]\ndtparam=audio=on\n"


def index_reachable() -> bool:
    """True when pip's package index answers (build dependencies come from there)."""
    url = urlparse(os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple"))
    try:
        with socket.create_connection((url.hostname or "pypi.org", url.port or 443), timeout=3):
            return True
    except OSError:
        return False


def tree(root: Path) -> dict[str, str]:
    """Every path under `root` with its content hash, mode and owner: the whole state."""
    state = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        link = os.readlink(path) if path.is_symlink() else ""
        state[str(path.relative_to(root))] = (f"{hashlib.sha256(data).hexdigest()} {st.st_mode:o} "
                                              f"{st.st_uid}:{st.st_gid} {link}")
    return state


def make_target(root: Path) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc/group").write_text(GROUPS)
    (root / "boot/firmware").mkdir(parents=True)
    (root / "boot/firmware/config.txt").write_text(CONFIG_TXT)
    return root


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    snap = tmp_path_factory.mktemp("source")
    for name in SNAPSHOT:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, snap / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, snap / name)
    return snap


def install(source: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOTPRESS_PIP_ARGS": "--no-deps"}
    return subprocess.run(["bash", str(source / "scripts/install-pi.sh"), *args],
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def installed(source: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[Path, list[subprocess.CompletedProcess[str]]]]:
    """A target root installed into twice, with both runs' results."""
    if not index_reachable():
        pytest.skip("the package index is unreachable: pip cannot fetch setuptools/wheel to "
                    "build hotpress, so install-pi.sh is not run for real")
    root = make_target(tmp_path_factory.mktemp("target"))
    args = ("--root", str(root), "--broker", "--logger")
    runs = [install(source, *args), install(source, *args)]
    yield root, runs


@pytest.mark.parametrize("script", ["install-pi.sh", "uninstall-pi.sh"])
def test_scripts_are_strict_and_lint_clean(script: str) -> None:
    text = (REPO / "scripts" / script).read_text()
    assert "\nset -euo pipefail\n" in text
    subprocess.run(["bash", "-n", str(REPO / "scripts" / script)], check=True)
    if shutil.which("shellcheck"):
        lint = subprocess.run(["shellcheck", str(REPO / "scripts" / script)],
                              capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout


def test_help_describes_the_one_command(source: Path) -> None:
    result = install(source, "--help")
    assert result.returncode == 0 and "sudo scripts/install-pi.sh" in result.stdout


def test_unknown_option_is_refused(source: Path) -> None:
    assert install(source, "--frobnicate").returncode == 2


def test_dry_run_checks_every_step_and_changes_nothing(source: Path, tmp_path: Path) -> None:
    root = make_target(tmp_path / "target")
    before = tree(root)
    result = install(source, "--dry-run", "--root", str(root), "--broker", "--logger")
    assert result.returncode == 0, result.stderr
    assert tree(root) == before
    assert "Raspberry Pi" in result.stdout and "nothing was changed" in result.stdout
    steps = ("SPI and I2C", "service account", "program in", "systemd units", "local MQTT broker")
    for step in steps:
        assert f"install-pi: {step}" in result.stdout, step


def test_dry_run_names_what_would_change(source: Path, tmp_path: Path) -> None:
    root = make_target(tmp_path / "target")
    out = install(source, "--dry-run", "--root", str(root)).stdout
    assert "would: add dtparam=spi=on dtparam=i2c_arm=on" in out
    assert "would: enable hotpressd.service" in out


def test_non_pi_live_install_is_refused_before_anything_happens(source: Path) -> None:
    if Path("/proc/device-tree/model").exists():
        pytest.skip("this machine may be a Pi")
    result = install(source)
    assert result.returncode == 1 and "non-Pi" in result.stderr


def test_install_succeeds(installed: tuple[Path, list]) -> None:
    _, runs = installed
    assert runs[0].returncode == 0, runs[0].stdout + runs[0].stderr


def test_second_install_changes_nothing(installed: tuple[Path, list]) -> None:
    _, runs = installed
    assert runs[1].returncode == 0 and "done, 0 change(s)" in runs[1].stdout, runs[1].stdout


def test_console_scripts_are_in_the_venv(installed: tuple[Path, list]) -> None:
    root, _ = installed
    for name in ("hotpressd", "hotpress"):
        assert os.access(root / "opt/hotpress/venv/bin" / name, os.X_OK), name


def test_units_are_installed_and_enabled(installed: tuple[Path, list]) -> None:
    root, _ = installed
    wants = root / "etc/systemd/system/multi-user.target.wants"
    for unit in ("hotpressd.service", "hotpress-logger.service"):
        assert (root / "etc/systemd/system" / unit).read_text() == \
            (REPO / "systemd" / unit).read_text()
        assert (wants / unit).is_symlink()
    assert (root / "etc/systemd/system.conf.d/hotpress-watchdog.conf").exists()


def test_config_comes_from_the_example_with_the_local_broker(installed: tuple[Path, list]) -> None:
    root, _ = installed
    press = (root / "etc/hotpress/press.toml").read_text()
    assert press.startswith((REPO / "configs/example-real.toml").read_text())
    assert '[mqtt]\nhost = "127.0.0.1"' in press
    assert 'HOTPRESSD_ARGS="--broker 127.0.0.1:1883"' in \
        (root / "etc/hotpress/hotpressd.env").read_text()


def test_buses_are_enabled_once_in_config_txt(installed: tuple[Path, list]) -> None:
    root, _ = installed
    text = (root / "boot/firmware/config.txt").read_text()
    assert text.count("dtparam=spi=on") == 1 and text.count("dtparam=i2c_arm=on") == 1


def test_broker_config_is_rendered_without_placeholders(installed: tuple[Path, list]) -> None:
    root, _ = installed
    conf = (root / "etc/mosquitto/conf.d/hotpress.conf").read_text()
    assert "listener 1883 127.0.0.1" in conf and "@" not in conf.split("\n# ")[-1]
    if shutil.which("mosquitto_passwd"):
        assert (root / "etc/mosquitto/hotpress/passwd").read_text().startswith("press-1:")


@pytest.mark.skipif(not IS_ROOT, reason="creating the account needs root")
def test_account_is_in_the_hardware_groups(installed: tuple[Path, list]) -> None:
    root, _ = installed
    groups = (root / "etc/group").read_text()
    for group in ("gpio", "spi", "i2c", "dialout"):
        assert f"\n{group}:x:" in groups and any(
            line.startswith(f"{group}:") and line.endswith("hotpress")
            for line in groups.splitlines()), group


@pytest.mark.skipif(not IS_ROOT, reason="ownership needs root")
def test_journal_belongs_to_the_service_and_config_is_readable_by_it(
        installed: tuple[Path, list]) -> None:
    root, _ = installed
    uid = next(line.split(":")[2] for line in (root / "etc/passwd").read_text().splitlines()
               if line.startswith("hotpress:"))
    assert str((root / "var/lib/hotpress").stat().st_uid) == uid
    assert oct((root / "etc/hotpress/mqtt.password").stat().st_mode)[-3:] == "640"


def test_uninstall_keeps_config_and_journal_then_purge_removes_them(
        source: Path, installed: tuple[Path, list], tmp_path: Path) -> None:
    root, _ = installed
    journal = root / "var/lib/hotpress/run-1.jsonl"
    journal.write_text("{}\n")
    first = install(source, "--uninstall", "--root", str(root))
    assert first.returncode == 0, first.stdout + first.stderr
    assert not (root / "opt/hotpress").exists()
    assert not (root / "etc/systemd/system/hotpressd.service").exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants/hotpressd.service").exists()
    assert journal.exists() and (root / "etc/hotpress/press.toml").exists()
    again = install(source, "--uninstall", "--root", str(root))
    assert "uninstalled, 0 change(s)" in again.stdout
    purge = subprocess.run(["bash", str(source / "scripts/uninstall-pi.sh"), "--purge",
                            "--root", str(root)], capture_output=True, text=True, timeout=60)
    assert purge.returncode == 0 and not journal.exists()
    assert not (root / "etc/hotpress").exists()
