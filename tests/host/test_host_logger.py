"""The fleet logger with a real mosquitto and a fake press: store, fill gaps, survive restarts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from host_fake_press import FakePress
from host_support import operator_settings, wait_for

from host.logger import FleetLogger
from host.store import Store, open_store

FAST = {"flush_period_s": 0.05, "gap_check_period_s": 0.2, "replay_retry_s": 1.0}
Broker = Any  # the suite's broker fixture (tests/conftest.py): shipped config, ACL, accounts


class Running:
    """A logger in a background thread, as `hotpress logger` runs it."""

    def __init__(self, db: Path | str, broker: Broker) -> None:
        self.store = open_store(postgres=db) if isinstance(db, str) else open_store(db=db)
        self.logger = FleetLogger(self.store, operator_settings(broker), client_id="test-logger",
                                  **FAST)
        self.stop_event = threading.Event()
        self.logger.start()
        self.thread = threading.Thread(target=self.logger.run, args=(self.stop_event,))
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(5)
        self.logger.close()
        self.store.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "runs.sqlite"


@pytest.fixture
def reader(db: Path) -> Iterator[Store]:
    """A second connection, as `hotpress runs` would open while the logger writes."""
    store = open_store(db=db)
    yield store
    store.close()


@pytest.fixture
def press(broker: Broker) -> Iterator[FakePress]:
    p = FakePress(broker).start()
    yield p
    p.stop()


def complete(store: Store, press: FakePress) -> bool:
    runs = store.find_runs(press.run_id)
    return bool(runs) and runs[0].end_seq == len(press.journal) and not store.missing_seqs(
        press.press_id, press.run_id, len(press.journal))


def held_seqs(store: Store, press: FakePress) -> list[int]:
    rows = store.samples(press.press_id, press.run_id) + store.events(press.press_id,
                                                                      press.run_id)
    return sorted(r.seq for r in rows)


def test_logger_stores_a_whole_run(db: Path, reader: Store, broker: Broker,
                                   press: FakePress) -> None:
    logger = Running(db, broker)
    press.run(samples=30)
    wait_for(lambda: complete(reader, press))
    logger.stop()
    (run,) = reader.find_runs(press.run_id)
    assert (run.outcome, run.sample_id, run.operator) == ("completed", "S-1", "ana")
    assert run.recipe == "LPSCl 375 MPa" and run.started == pytest.approx(press.wall0)
    assert held_seqs(reader, press) == list(range(1, 35))
    assert reader.samples(press.press_id, press.run_id)[0].payload["temps_c"]["top"] > 20
    # the end record (seq 34) is never published live: one replay fetches it
    assert [first for first, _ in press.replays()] in ([33], [34])


def test_logger_fills_a_gap_by_replay(db: Path, reader: Store, broker: Broker,
                                      press: FakePress) -> None:
    logger = Running(db, broker)
    press.run(samples=40, skip=range(10, 20))
    wait_for(lambda: complete(reader, press))
    logger.stop()
    assert (10, 19) in press.replays()
    assert held_seqs(reader, press) == list(range(1, 45))
    replayed = reader.samples(press.press_id, press.run_id)[11]  # seq 1 is the start event
    assert replayed.seq == 13 and replayed.wall_s == pytest.approx(press.wall0 + 1.2)


def test_logger_on_postgres(pg_dsn: str, broker: Broker, press: FakePress) -> None:
    logger = Running(pg_dsn, broker)
    reader = open_store(postgres=pg_dsn)
    press.run(samples=40, skip=range(10, 20))
    wait_for(lambda: complete(reader, press))
    logger.stop()
    assert held_seqs(reader, press) == list(range(1, 45))
    reader.close()


def test_logger_fills_a_lost_tail(db: Path, reader: Store, broker: Broker,
                                  press: FakePress) -> None:
    logger = Running(db, broker)
    press.run(samples=20, skip=range(15, 22))
    wait_for(lambda: complete(reader, press))
    logger.stop()
    assert (15, 21) in press.replays()


def test_logger_asks_for_the_tail_of_a_run_the_press_left(db: Path, reader: Store,
                                                          broker: Broker,
                                                          press: FakePress) -> None:
    logger = Running(db, broker)
    press.event("run_started", "run started")
    for _ in range(10):
        press.sample()
    for _ in range(5):
        press.sample(publish=False)
    press.end(publish=False)  # the end event is lost too; the state says idle
    wait_for(lambda: complete(reader, press))
    logger.stop()
    assert press.replays() == [(12, 1011)]
    assert reader.find_runs(press.run_id)[0].outcome == "completed"


def test_no_duplicates_after_a_logger_restart(db: Path, reader: Store, broker: Broker,
                                              press: FakePress) -> None:
    first = Running(db, broker)
    press.event("run_started")
    for _ in range(20):
        press.sample()
    wait_for(lambda: reader.count_samples() == 20)
    first.stop()
    for _ in range(10):
        press.sample()  # nobody is listening
    second = Running(db, broker)
    for _ in range(10):
        press.sample()
    press.end()
    wait_for(lambda: complete(reader, press))
    second.stop()
    assert held_seqs(reader, press) == list(range(1, 45))
    assert reader.count_samples() == 41


def test_logger_started_mid_run_fetches_the_head(db: Path, reader: Store, broker: Broker,
                                                 press: FakePress) -> None:
    for _ in range(15):
        press.sample(publish=False)  # published before the logger was there
    logger = Running(db, broker)
    for _ in range(5):
        press.sample()
    press.end()
    wait_for(lambda: complete(reader, press))
    logger.stop()
    assert press.replays()[0][0] == 1
    assert reader.count_samples() == 21


def test_logger_survives_a_broker_restart(db: Path, reader: Store, broker: Broker,
                                          press: FakePress) -> None:
    logger = Running(db, broker)
    press.event("run_started")
    for _ in range(10):
        press.sample()
    wait_for(lambda: reader.count_samples() == 10)
    broker.stop()
    for _ in range(10):
        press.sample()  # lost: the broker is down
    broker.start()
    wait_for(lambda: press.client.is_connected() and logger.logger.client.is_connected())
    for _ in range(10):
        press.sample()
    press.end()
    wait_for(lambda: complete(reader, press), timeout_s=20)
    logger.stop()
    assert held_seqs(reader, press) == list(range(1, 35))
    assert reader.count_samples() == 31
    assert press.replays()  # the outage's telemetry came back from the journal


def test_offline_press_is_asked_once_back_online(db: Path, reader: Store, broker: Broker,
                                                  press: FakePress) -> None:
    logger = Running(db, broker)
    press.sample()
    press._pub("status", {"status": "offline"}, qos=1, retain=True)
    press.sample(publish=False)
    press.sample()
    wait_for(lambda: reader.count_samples() == 2)
    time.sleep(0.6)  # three gap checks: none may ask an offline press
    assert press.replays() == []
    press._pub("status", {"status": "online"}, qos=1, retain=True)
    wait_for(lambda: reader.count_samples() == 3)
    logger.stop()
    assert press.replays() == [(2, 2)]


def test_run_event_without_seq_is_not_stored_twice(db: Path, reader: Store, broker: Broker,
                                                   press: FakePress) -> None:
    """The daemon may publish events without their seq: the journal copy comes by replay."""
    logger = Running(db, broker)
    press.sample()
    seq = press.event("step_started", "step 2", publish=False)
    press._pub("event", {"run_id": press.run_id, "t_s": 0.1, "wall_s": press.wall0,
                         "kind": "step_started", "message": "step 2", "data": {}}, qos=1)
    press.sample()
    press.end()
    wait_for(lambda: complete(reader, press))
    logger.stop()
    events = reader.events(press.press_id, press.run_id)
    assert [(e.seq, e.kind) for e in events] == [(seq, "step_started"), (4, "run_ended"),
                                                 (6, "end")]
