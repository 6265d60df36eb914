"""The dashboard's server side through Flask's test client, on the suite's real broker.

Each person signs in with their own broker account; the fake press (tests/host) records every
command that reaches it, so "sent once" and "never sent" are checked where they matter: at the
press.
"""

from __future__ import annotations

import io
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from host_fake_press import FakePress
from web_support import RECIPES, settings, wait_until

from host.cli import cli
from host.store import Batch, EventRow, RunInfo, SampleRow, open_store
from host.web.app import WebConfig, create_app
from host.web.commands import REFUSED_TEXT
from host.web.sessions import SessionRegistry

Broker = Any  # tests/conftest.py's fixture: mosquitto with the shipped ACL and accounts
BAD_RECIPE = b"""name = "too hot"
die_diameter_mm = 10.0
materials = ["Li6PS5Cl"]

[[steps]]
kind = "heat"
temp_c = 900
ramp_c_per_min = 5
until = "target"
"""


@pytest.fixture
def registry(broker: Broker) -> Iterator[SessionRegistry]:
    r = SessionRegistry(settings(broker))
    yield r
    r.close_all()


@pytest.fixture
def app(broker: Broker, registry: SessionRegistry, tmp_path: Path) -> Any:
    config = WebConfig(settings(broker), db=tmp_path / "runs.sqlite", recipes_dir=RECIPES)
    return create_app(config, registry)


@pytest.fixture
def press(broker: Broker) -> Iterator[FakePress]:
    p = FakePress(broker).start()
    yield p
    p.stop()


def sign_in(app: Any, broker: Broker, user: str) -> tuple[FlaskClient, str]:
    """A test client signed in as `user`; returns it and the session's CSRF token."""
    client = app.test_client()
    response = client.post("/login", data={"username": user, "password": broker.passwords[user]})
    assert response.status_code == 302, response.text
    page = client.get("/").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert token is not None
    return client, token.group(1)


def checked_draft(client: FlaskClient, csrf: str, press_id: str) -> dict[str, str]:
    """Check the library's recipe; returns the start form's hidden fields."""
    page = client.post(f"/press/{press_id}/start/check",
                       data={"csrf": csrf, "library": "quick_warm_press.toml"}).text
    fields = dict(re.findall(r'name="(draft|command_id)"[^>]*value="([^"]+)"', page))
    assert set(fields) == {"draft", "command_id"}, page
    return fields


def test_pages_and_data_need_a_sign_in(app: Any) -> None:
    client = app.test_client()
    assert client.get("/").status_code == 302
    assert client.get("/").headers["Location"].startswith("/login")
    assert client.get("/api/fleet").status_code == 401


def test_a_wrong_password_is_refused_with_a_message(app: Any, broker: Broker,
                                                    registry: SessionRegistry) -> None:
    response = app.test_client().post("/login", data={"username": broker.operator,
                                                      "password": "wrong-horse"})
    assert response.status_code == 401
    assert f"refused user &#39;{broker.operator}&#39;" in response.text
    assert "wrong-horse" not in response.text
    assert len(registry) == 0


def test_sign_in_goes_back_to_the_page_asked_for_but_never_off_site(app: Any,
                                                                      broker: Broker) -> None:
    form = {"username": broker.operator, "password": broker.passwords[broker.operator]}
    for target, landing in (("/runs?q=x", "/runs?q=x"), ("//evil.example/", "/"),
                            ("https://evil.example/", "/")):
        response = app.test_client().post("/login", data={**form, "next": target})
        assert response.headers["Location"] == landing


def test_idle_sessions_are_closed(broker: Broker) -> None:
    registry = SessionRegistry(settings(broker), idle_timeout_s=0.0)
    session = registry.sign_in(broker.viewer, broker.passwords[broker.viewer])
    assert session.connected.is_set()
    registry.expire()
    assert len(registry) == 0 and session.client is None


def test_the_web_command_says_so_when_its_port_is_taken(broker: Broker, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["web", "--port", str(port)], env={
            "HOME": str(tmp_path), "HOTPRESS_MQTT_PORT": str(broker.port)})
    assert result.exit_code == 1
    assert result.stderr.startswith(f"hotpress: cannot serve on 127.0.0.1:{port}")


def test_the_operator_sees_the_press_live(app: Any, broker: Broker, press: FakePress) -> None:
    client, _ = sign_in(app, broker, broker.operator)

    def fed() -> dict[str, Any] | None:
        for _ in range(10):  # 1 s of press time: two chart points (they are 0.5 s apart)
            press.sample()
        data = client.get(f"/api/press/{press.press_id}").json
        return data if data["series"]["count"] >= 3 else None

    data = wait_until(fed, 5, "the samples on the chart")
    assert data["connected"] is True
    assert data["press"]["online"] is True and data["press"]["mode"] == "running"
    assert data["press"]["step"]["number"] == 2 and data["press"]["step"]["count"] == 3
    assert [z["zone"] for z in data["press"]["zones"]] == ["top", "bottom"]
    assert data["series"]["run_id"] == press.run_id
    fleet = client.get("/api/fleet").json
    assert [p["press_id"] for p in fleet["presses"]] == [press.press_id]


def test_a_post_without_the_csrf_token_is_refused(app: Any, broker: Broker,
                                                  press: FakePress) -> None:
    client, _ = sign_in(app, broker, broker.operator)
    response = client.post(f"/api/press/{press.press_id}/command/pause", json={"id": "a" * 32})
    assert response.status_code == 400
    assert all(verb != "pause" for verb, _ in press.commands)


def test_an_invalid_recipe_upload_shows_the_validators_messages(app: Any,
                                                                broker: Broker) -> None:
    client, csrf = sign_in(app, broker, broker.operator)
    response = client.post(f"/press/{broker.press_id}/start/check", data={
        "csrf": csrf, "upload": (io.BytesIO(BAD_RECIPE), "too_hot.toml")},
        content_type="multipart/form-data")
    assert response.status_code == 422
    assert "too_hot.toml does not pass the checks" in response.text
    assert "900" in response.text and "steps[0]" in response.text


def test_a_sample_id_with_odd_characters_is_refused(app: Any, broker: Broker,
                                                    press: FakePress) -> None:
    client, csrf = sign_in(app, broker, broker.operator)
    form = checked_draft(client, csrf, press.press_id)
    response = client.post(f"/press/{press.press_id}/start/run", data={
        "csrf": csrf, **form, "sample_id": "cell 7/b", "operator": "ana"})
    assert response.status_code == 422
    assert "Sample id &#39;cell 7/b&#39; refused: use 1 to 64 characters" in response.text
    assert all(verb != "start" for verb, _ in press.commands)


def test_the_same_start_form_sent_twice_starts_one_run(app: Any, broker: Broker,
                                                       press: FakePress) -> None:
    press.mode = "idle"
    client, csrf = sign_in(app, broker, broker.operator)
    form = {"csrf": csrf, **checked_draft(client, csrf, press.press_id), "sample_id": "S-42",
            "operator": "ana"}
    first = client.post(f"/press/{press.press_id}/start/run", data=form)
    second = client.post(f"/press/{press.press_id}/start/run", data=form)
    assert first.status_code == second.status_code == 302
    assert second.headers["Location"].startswith(f"/press/{press.press_id}")
    starts = [args for verb, args in press.commands if verb == "start"]
    assert len(starts) == 1
    assert starts[0]["id"] == form["command_id"] and starts[0]["sample_id"] == "S-42"


def test_a_viewers_command_is_refused_by_the_broker(app: Any, broker: Broker,
                                                    press: FakePress) -> None:
    client, csrf = sign_in(app, broker, broker.viewer)
    response = client.post(f"/api/press/{press.press_id}/command/abort",
                           json={"id": "b" * 32}, headers={"X-CSRF-Token": csrf})
    assert response.json == {"ok": False, "kind": "refused", "message": REFUSED_TEXT,
                             "data": {}, "repeated": False}
    assert all(verb != "abort" for verb, _ in press.commands)
    assert client.get(f"/api/press/{press.press_id}").json["press"]["run_id"] == press.run_id


def test_an_operators_command_reaches_the_press_once(app: Any, broker: Broker,
                                                     press: FakePress) -> None:
    client, csrf = sign_in(app, broker, broker.operator)
    for _ in range(2):
        response = client.post(f"/api/press/{press.press_id}/command/pause",
                               json={"id": "c" * 32}, headers={"X-CSRF-Token": csrf})
        assert response.json["ok"] is True
    assert response.json["repeated"] is True
    assert [verb for verb, _ in press.commands].count("pause") == 1


def _record(db: Path) -> None:
    runs = [RunInfo("press-t1", "20250301-0900-LPS-1", recipe="LPSCl warm press",
                    sample_id="LPS-1", operator="ana", started=1740819600.0, ended=1740820200.0,
                    outcome="completed", end_seq=6),
            RunInfo("press-t1", "20250402-1000-NMC-9", recipe="Composite cathode",
                    sample_id="NMC-9", operator="ben", started=1743588000.0, outcome=None)]
    samples = [SampleRow("press-t1", runs[0].run_id, i, i * 1.0, 1740819600.0 + i,
                         {"t_s": i * 1.0, "temps_c": {"top": 20.0 + i}, "sample_mpa": 10.0 * i,
                          "step_index": 0}) for i in range(1, 6)]
    events = [EventRow("press-t1", runs[0].run_id, 6, 6.0, 1740819606.0, "end", "done")]
    with open_store(db=db) as store:
        store.write(Batch(runs=runs, samples=samples, events=events))


def test_runs_are_searched_by_sample_recipe_or_date(app: Any, broker: Broker,
                                                    tmp_path: Path) -> None:
    _record(tmp_path / "runs.sqlite")
    client, _ = sign_in(app, broker, broker.operator)
    assert "2 runs." in client.get("/runs").text
    assert "LPS-1" in (page := client.get("/runs?q=lps-1").text) and "NMC-9" not in page
    assert "NMC-9" in (page := client.get("/runs?q=cathode").text) and "LPS-1" not in page
    page = client.get("/runs?from=2025-04-01&to=2025-04-30").text
    assert "NMC-9" in page and "LPS-1" not in page
    assert "0 runs." in client.get("/runs?q=nothing-like-it").text


def test_a_run_has_its_plot_and_downloads(app: Any, broker: Broker, tmp_path: Path) -> None:
    _record(tmp_path / "runs.sqlite")
    client, _ = sign_in(app, broker, broker.operator)
    base = "/runs/press-t1/20250301-0900-LPS-1"
    page = client.get(base).text
    assert "5 samples, complete" in page and 'id="plot"' in page
    png = client.get(base + "/plot.png")
    assert png.mimetype == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    csv = client.get(base + "/export.csv")
    assert csv.text.splitlines()[0].startswith("seq,t_s,wall_s,time_iso")
    assert len(csv.text.splitlines()) == 6
    assert client.get(base + "/export.json").json["run"]["sample_id"] == "LPS-1"
    assert client.get("/runs/press-t1/no-such-run").status_code == 404
    assert client.get("/runs/press-t1/..%2Fetc").status_code == 404
