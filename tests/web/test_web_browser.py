"""The dashboard in a real browser (headless Chromium) against the real stack.

hotpressd runs the reference simulated press at 30x as a subprocess on the suite's broker, the
fleet logger records into SQLite, and the dashboard serves on loopback: a run started from the
page completes and is drawn, a viewer's abort is refused by the broker, and the page recovers when
the broker restarts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from web_support import REPO, Stack, script_errors, settings, wait_until

from host.fleet import Session
from host.web.commands import REFUSED_TEXT

RUN_TIMEOUT_S = 60.0  # the quick recipe is ~3.5 min of press time: ~7 s at 30x, and slack
LONG_RECIPE = REPO / "recipes" / "lgps_hotpress_150c.toml"  # 74 min: still running at the end
INVALID = b'name = "no steps"\ndie_diameter_mm = 10.0\n'


def sign_in(b: Any, stack: Stack, user: str) -> None:
    """Sign in through the form as `user` (a fresh cookie jar first)."""
    b.get(stack.web.url + "/login")
    b.delete_all_cookies()
    b.get(stack.web.url + "/login")
    b.find_element(By.ID, "username").send_keys(user)
    b.find_element(By.ID, "password").send_keys(stack.broker.passwords[user])
    b.find_element(By.ID, "signin").click()
    wait_until(lambda: "/login" not in b.current_url, 10, "the sign-in")


def text(b: Any, element_id: str, timeout_s: float = 10.0) -> str:
    """The text of the element with this id, once the page has it (forms load a new page)."""
    return wait_until(lambda: b.find_elements(By.ID, element_id), timeout_s,
                      f"#{element_id}")[0].text


def points(b: Any) -> int:
    return int(b.find_element(By.ID, "chart").get_attribute("data-points") or 0)


def test_a_run_started_from_the_page_completes_and_is_drawn(browser: Any, stack: Stack,
                                                            tmp_path: Path) -> None:
    b, press_id = browser, stack.broker.press_id
    sign_in(b, stack, stack.broker.operator)
    b.get(f"{stack.web.url}/press/{press_id}/start")
    bad = tmp_path / "no_steps.toml"
    bad.write_bytes(INVALID)
    b.find_element(By.ID, "upload").send_keys(str(bad))
    b.find_element(By.ID, "check").click()
    assert "no_steps.toml does not pass the checks" in text(b, "recipe-problems")
    Select(b.find_element(By.ID, "library")).select_by_value("quick_warm_press.toml")
    b.find_element(By.ID, "check").click()
    assert "ends hot" in text(b, "warnings")
    assert len(b.find_elements(By.CSS_SELECTOR, "#plan tbody tr")) == 4
    b.find_element(By.ID, "sample-id").send_keys("cell #7")
    b.find_element(By.ID, "start").click()
    assert "Sample id 'cell #7' refused" in text(b, "start-error")
    sample = b.find_element(By.ID, "sample-id")  # the refused form, filled in as it was
    sample.clear()
    sample.send_keys("WEB-001")
    ActionChains(b).double_click(b.find_element(By.ID, "start")).perform()
    wait_until(lambda: f"/press/{press_id}?started=" in b.current_url, 20, "the live page")
    wait_until(lambda: "of 4" in text(b, "step-text"), 20, "step k of 4")
    wait_until(lambda: "last run completed" in text(b, "run-line"), RUN_TIMEOUT_S,
               f"the run to complete ({text(b, 'run-line')})")
    assert points(b) > 100
    assert b.find_element(By.ID, "chart").get_attribute("data-plan-steps") == "4"
    assert len(list((stack.work / "journal").iterdir())) == 1  # the double click ran one run
    run = wait_until(lambda: [r for r in stack.runs() if r.outcome], 20, "the run record")[0]
    assert (run.sample_id, run.outcome) == ("WEB-001", "completed")

    b.get(f"{stack.web.url}/runs?q=WEB-001")
    b.find_element(By.LINK_TEXT, "WEB-001").click()
    wait_until(lambda: b.execute_script(
        "const i = document.getElementById('plot'); return i.complete && i.naturalWidth;"),
        20, "the run's plot")
    csv = b.execute_async_script(
        "const done = arguments[0];"
        "fetch(document.getElementById('dl-csv').href).then(r => r.text()).then(done);")
    assert csv.startswith("seq,t_s,wall_s,time_iso")
    assert len(csv.splitlines()) > 100
    assert script_errors(b) == []


def start_long_run(stack: Stack) -> str:
    """Start the 74-minute reference recipe as the operator, over MQTT (as the CLI does)."""
    broker = stack.broker
    with Session(settings(broker, broker.operator), broker.press_id) as session:
        reply = session.commands.request(broker.press_id, "start", {
            "recipe_toml": LONG_RECIPE.read_text(), "sample_id": "LONG-1", "operator": "ana"})
    return str(reply.data["run_id"])


def test_a_viewers_abort_is_refused_by_the_broker(browser: Any, stack: Stack) -> None:
    b = browser
    run_id = start_long_run(stack)
    sign_in(b, stack, stack.broker.viewer)
    b.get(f"{stack.web.url}/press/{stack.broker.press_id}")
    abort = b.find_element(By.ID, "btn-abort")
    wait_until(abort.is_enabled, 10, "the abort button")
    abort.click()
    assert "Abort the run?" in text(b, "confirm-text")
    b.find_element(By.ID, "confirm-yes").click()
    wait_until(lambda: REFUSED_TEXT in text(b, "cmd-result"), 10, "the broker's refusal")
    data = b.execute_async_script(
        "const done = arguments[0];"
        f"fetch('/api/press/{stack.broker.press_id}').then(r => r.text()).then(done);")
    press = json.loads(data)["press"]
    assert (press["mode"], press["run_id"]) == ("running", run_id)
    assert script_errors(b) == []


def test_the_page_recovers_when_the_broker_restarts(browser: Any, stack: Stack) -> None:
    b, broker = browser, stack.broker
    sign_in(b, stack, broker.operator)
    b.get(f"{stack.web.url}/press/{broker.press_id}")
    banner = b.find_element(By.ID, "broker-banner")
    wait_until(lambda: points(b) > 3, 10, "idle readings on the chart")
    assert not banner.is_displayed()
    broker.stop()
    wait_until(banner.is_displayed, 10, "the broker-lost banner")
    before = points(b)
    broker.start()
    wait_until(lambda: not banner.is_displayed(), 20, "the banner to go")
    wait_until(lambda: points(b) > before + 3, 20, "live readings again")
    wait_until(lambda: text(b, "mode") == "IDLE", 10, "the press's state again")
