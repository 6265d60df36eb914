"""`make screenshots`: PNGs of every dashboard page, at 1280x800 (desktop) and 800x480 (the 7-inch
kiosk touchscreen), into docs/screenshots/ for the README.

Nothing is mocked: the broker from the shipped templates, `hotpressd` on the reference simulated
press at accelerated time and the fleet logger are started as `make demo` starts them
(scripts/demo.py), the dashboard runs in this process, and headless Chromium (Debian's chromium and
chromium-driver) takes the pictures. A reference recipe is started from the dashboard's own forms,
photographed mid-run, and run to the end so the runs pages have a record to show.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import demo

from host.connection import BrokerSettings, Secret
from host.logger import FleetLogger
from host.store import open_store
from host.web.server import BackgroundServer

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "screenshots"
WORK = REPO / "out" / "screenshots"
SPEED = 120.0  # the 74-minute reference recipe in ~40 s
RECIPE = "lgps_hotpress_150c.toml"
SAMPLE = "LGPS-014"
MID_RUN_S = 12.0  # real seconds into the run: heating under contact load, the plan ahead
SIZES = {"desktop": (1280, 800), "kiosk": (800, 480)}
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars")
SETTLE_S = 1.5  # after loading a page: a few polls, so the live data is drawn


def browser() -> Any:
    """Headless Chromium with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver is None:
        raise SystemExit("screenshots: needs chromium and chromedriver: apt-get install chromium "
                         "chromium-driver (scripts/bootstrap.sh installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROME_FLAGS, f"--user-data-dir={tempfile.mkdtemp(prefix='hotpress-shots-')}"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def shoot(b: Any, url: str, name: str, before: Any = None) -> None:
    """Load `url` at each size and save docs/screenshots/<name>-<size>.png."""
    for size, (width, height) in SIZES.items():
        b.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": height, "deviceScaleFactor": 1,
                           "mobile": False})
        b.get(url)
        if before is not None:
            before(b)
        time.sleep(SETTLE_S)
        path = OUT / f"{name}-{width}x{height}.png"
        b.save_screenshot(str(path))
        print(f"screenshots: {path.relative_to(REPO)} ({size})")


def sign_in(b: Any, url: str, user: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    b.get(url + "/login")
    b.find_element(By.ID, "username").send_keys(user)
    b.find_element(By.ID, "password").send_keys(password)
    b.find_element(By.ID, "signin").click()
    demo.wait_for(lambda: "/login" not in b.current_url, 10, "the sign-in")


def wait_online(b: Any, url: str) -> None:
    """Wait until the presses page shows the press online."""
    from selenium.webdriver.common.by import By

    b.get(url + "/")
    card = f'.presscard[data-press="{demo.PRESS_ID}"] .mode-idle'
    demo.wait_for(lambda: b.find_elements(By.CSS_SELECTOR, card), 30, "the press to come online")


def start_from_the_page(b: Any, url: str) -> None:
    """Choose the recipe, photograph its plan, and start it with the dashboard's forms."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    def choose(b: Any) -> None:
        Select(b.find_element(By.ID, "library")).select_by_value(RECIPE)
        b.find_element(By.ID, "check").click()
        demo.wait_for(lambda: b.find_elements(By.ID, "sample-id"), 10, "the plan")
        b.find_element(By.ID, "sample-id").send_keys(SAMPLE)

    shoot(b, f"{url}/press/{demo.PRESS_ID}/start", "start-choose")
    shoot(b, f"{url}/press/{demo.PRESS_ID}/start", "start-plan", before=choose)
    b.find_element(By.ID, "start").click()
    demo.wait_for(lambda: "started=" in b.current_url, 20, "the run to start")


def stack(port: int, procs: list[subprocess.Popen[bytes]]) -> tuple[BrokerSettings, str]:
    """Broker and daemon as `make demo` starts them; returns the operator's settings."""
    passwords = demo.broker_config(port)
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    procs.append(subprocess.Popen([mosquitto, "-c", str(WORK / "broker" / "mosquitto.conf")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    demo.wait_for(lambda: demo.accepts(port), 10, "the broker")
    log = open(WORK / "hotpressd.log", "wb")  # noqa: SIM115 - the child keeps it open
    procs.append(subprocess.Popen(
        [str(demo.VENV_BIN / "hotpressd"), "--config", str(demo.press_config(port)), "--speed",
         str(SPEED), "--broker", f"127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT))
    operator = BrokerSettings(host="127.0.0.1", port=port, username=demo.OPERATOR,
                              password=Secret(passwords[demo.OPERATOR]))
    return operator, passwords[demo.OPERATOR]


def main() -> int:
    demo.OUT = WORK  # demo's helpers render the broker and press config under this
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    OUT.mkdir(parents=True, exist_ok=True)
    port = demo.free_port()
    procs: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()
    b = None
    web = None
    try:
        operator, password = stack(port, procs)
        store = open_store(db=WORK / "runs.sqlite")
        logger = FleetLogger(store, operator, client_id="hotpress-logger-screenshots")
        logger.start()
        threading.Thread(target=logger.run, args=(stop,), daemon=True).start()
        web = BackgroundServer(BrokerSettings(host="127.0.0.1", port=port),
                               db=WORK / "runs.sqlite", recipes=REPO / "recipes")
        b = browser()
        shoot(b, web.url + "/login", "login")
        sign_in(b, web.url, demo.OPERATOR, password)
        wait_online(b, web.url)
        start_from_the_page(b, web.url)
        time.sleep(MID_RUN_S)
        shoot(b, f"{web.url}/press/{demo.PRESS_ID}", "press-live")
        shoot(b, web.url + "/", "presses")
        finish(b, web.url, store)
        return 0
    finally:
        if b is not None:
            b.quit()
        if web is not None:
            web.stop()
        stop.set()
        for p in reversed(procs):
            p.terminate()
            p.wait(10)


def finish(b: Any, url: str, store: Any) -> None:
    """Wait for the run's complete record, then photograph the runs pages."""
    def recorded() -> str | None:
        runs = [r for r in store.runs() if r.sample_id == SAMPLE and r.outcome]
        return runs[0].run_id if runs else None

    demo.wait_for(lambda: recorded() is not None, 120, "the run's record")
    shoot(b, f"{url}/press/{demo.PRESS_ID}", "press-after-run")
    shoot(b, url + "/runs", "runs")
    shoot(b, f"{url}/runs/{demo.PRESS_ID}/{recorded()}", "run")


if __name__ == "__main__":
    sys.exit(main())
