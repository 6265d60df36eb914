"""The whole stack for the dashboard's browser tests, nothing mocked.

The suite's broker (shipped config, ACL and accounts), `hotpressd` on the reference simulated press
at accelerated time as a subprocess (as `make demo` runs it), the fleet logger in-process writing
a SQLite store, the dashboard on a loopback port, and headless Chromium driven by selenium.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware.presets import reference_sim_path
from host.connection import BrokerSettings, Secret
from host.fleet import Session
from host.logger import FleetLogger
from host.store import open_store
from host.web.server import BackgroundServer

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RECIPES = HERE / "recipes"  # the library the dashboard offers in these tests
HOTPRESSD = Path(sys.executable).parent / "hotpressd"
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = "chromedriver"
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage")
ONLINE_TIMEOUT_S = 20.0  # hotpressd imports, builds the simulated press and connects: a few s


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when Chromium and its driver are present."""
    if not any(shutil.which(name) for name in CHROMIUM):
        return "no chromium on PATH"
    if shutil.which(CHROMEDRIVER) is None:
        return "no chromedriver on PATH"
    return None


def make_browser(width: int = 1280, height: int = 800) -> Any:
    """Headless Chromium with a fresh profile, no network of its own, at `width` x `height`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    binary = next(shutil.which(n) for n in CHROMIUM if shutil.which(n))
    options.binary_location = binary
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="hotpress-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP or script errors
    service = Service(executable_path=shutil.which(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    driver.profile_dir = profile
    driver.set_window_size(width, height)
    return driver


def script_errors(driver: Any) -> list[str]:
    """Console errors of the pages so far, except the HTTP statuses the tests provoke on purpose
    (a refused form answers 422, a viewer's refused command is shown, not thrown)."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and "the server responded with a status of 4"
            not in entry["message"]]


def settings(broker: Any, user: str | None = None) -> BrokerSettings:
    """Broker settings for `user` (None: address only, as the dashboard gets them)."""
    password = Secret(broker.passwords[user]) if user else None
    return BrokerSettings(host="127.0.0.1", port=broker.port, username=user, password=password)


def press_config(broker: Any, work: Path) -> Path:
    """The reference simulated press as `broker`'s press account, journaling under `work`."""
    text, ids = re.subn(r'^id = ".*"$', f'id = "{broker.press_id}"',
                        reference_sim_path().read_text(), flags=re.M)
    text, dirs = re.subn(r"^journal_dir = .*$", f'journal_dir = "{work / "journal"}"', text,
                         flags=re.M)
    assert ids == dirs == 1, "the reference preset no longer has one id and one journal_dir"
    secret = broker.password_file(broker.press_id, work)
    text += (f'\n[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\npassword_file = "{secret}"\n'
             "reconnect_min_s = 1\nreconnect_max_s = 1\n")  # back within a second of the broker
    path = work / "press.toml"
    path.write_text(text)
    return path


def wait_until(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll until `predicate()` is truthy and return it; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Stack:
    """Everything a browser test talks to; `stop()` ends what it started, by handle."""

    broker: Any
    work: Path
    speed: float
    web: BackgroundServer | None = None
    daemon: subprocess.Popen[bytes] | None = None
    logger: FleetLogger | None = None
    stops: list[Callable[[], None]] = field(default_factory=list)

    @property
    def db(self) -> Path:
        return self.work / "runs.sqlite"

    def start(self) -> Stack:
        self.start_daemon()
        self.start_logger()
        self.web = BackgroundServer(settings(self.broker), db=self.db, recipes=RECIPES)
        self.stops.append(self.web.stop)
        return self

    def start_daemon(self) -> None:
        log = open(self.work / "hotpressd.log", "wb")  # noqa: SIM115 - the child keeps it open
        self.daemon = subprocess.Popen(
            [str(HOTPRESSD), "--config", str(press_config(self.broker, self.work)), "--speed",
             str(self.speed), "--broker", f"127.0.0.1:{self.broker.port}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self.stops.append(self._stop_daemon)
        try:
            wait_until(self.press_online, ONLINE_TIMEOUT_S, f"{self.broker.press_id} online")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; hotpressd said:\n{self.daemon_log()}") from None

    def press_online(self) -> bool:
        """True once the press's retained status says online; fails at once if it died."""
        assert self.daemon is not None
        if self.daemon.poll() is not None:
            raise AssertionError(f"hotpressd exited ({self.daemon.returncode}):\n"
                                 f"{self.daemon_log()}")
        with Session(settings(self.broker, self.broker.operator)) as session:
            session.view.settle(max_s=1.0)
            return bool(session.view.snapshot(self.broker.press_id).online)

    def daemon_log(self) -> str:
        path = self.work / "hotpressd.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def _stop_daemon(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait(5)

    def start_logger(self) -> None:
        store = open_store(db=self.db)
        self.logger = FleetLogger(store, settings(self.broker, self.broker.operator),
                                  client_id="hotpress-logger-webtest")
        self.logger.start()
        stop = threading.Event()
        thread = threading.Thread(target=self.logger.run, args=(stop,), daemon=True)
        thread.start()

        def _stop() -> None:
            stop.set()
            thread.join(10)
            assert self.logger is not None
            self.logger.close()
            store.close()

        self.stops.append(_stop)

    def runs(self) -> list[Any]:
        """The runs the logger has recorded so far."""
        with open_store(db=self.db) as store:
            return store.runs()

    def stop(self) -> None:
        for stop in reversed(self.stops):
            stop()
        self.stops.clear()
