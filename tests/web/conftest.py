"""Fixtures for the dashboard tests: the running stack and a headless Chromium.

Without Chromium and chromedriver the browser tests are skipped, and the reason is printed at the
end of the run (not only with -rs): scripts/bootstrap.sh installs both, so a skip here means the
machine was set up some other way.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The host tests' fake press (it records every command it gets) serves the app tests here too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))

from web_support import Stack, chromium_missing, make_browser

SPEED = 30.0  # simulated s per real s: the 3-minute test recipe in ~7 s, a 10 Hz tick at 300 Hz
_skipped: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say why the browser tests did not run, where nobody can miss it."""
    if _skipped:
        terminalreporter.write_line(f"tests/web: browser tests skipped: {_skipped[0]}", yellow=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (each test signs in afresh)."""
    missing = chromium_missing()
    if missing:
        reason = (f"{missing}: run scripts/bootstrap.sh, or apt-get install chromium "
                  "chromium-driver")
        _skipped.append(reason)
        pytest.skip(reason)
    driver = make_browser()
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(driver.profile_dir, ignore_errors=True)


@pytest.fixture
def stack(broker: Any, tmp_path: Path) -> Iterator[Stack]:
    """Broker, hotpressd on the simulated press, logger and dashboard, all running."""
    s = Stack(broker, tmp_path, SPEED)
    try:
        yield s.start()
    finally:
        s.stop()
