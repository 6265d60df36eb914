"""The store interface, run against SQLite and a real PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from host.store import Batch, EventRow, RunInfo, SampleRow, Store, open_store


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = open_store(db=tmp_path / "runs.sqlite")
    else:
        s = open_store(postgres=request.getfixturevalue("pg_dsn"))
    yield s
    s.close()


def sample(seq: int, run: str = "r1", press: str = "p1") -> SampleRow:
    return SampleRow(press, run, seq, seq * 0.1, 1000.0 + seq * 0.1,
                     {"seq": seq, "temps_c": {"top": 20.0 + seq}})


def event(seq: int, kind: str = "step", run: str = "r1") -> EventRow:
    return EventRow("p1", run, seq, seq * 0.1, 1000.0 + seq * 0.1, kind, "m", {"k": seq})


def test_samples_round_trip(store: Store) -> None:
    store.write(Batch(samples=[sample(2), sample(1)]))
    rows = store.samples("p1", "r1")
    assert [r.seq for r in rows] == [1, 2]
    assert rows[1].payload["temps_c"] == {"top": 22.0}
    assert rows[0].t_s == pytest.approx(0.1)


def test_inserts_are_idempotent(store: Store) -> None:
    for _ in range(3):
        store.write(Batch(samples=[sample(1), sample(2)], events=[event(3)]))
    assert store.count_samples() == 2
    assert len(store.events("p1", "r1")) == 1


def test_missing_seqs_counts_events_and_the_tail(store: Store) -> None:
    store.write(Batch(samples=[sample(s) for s in (1, 2, 5, 6, 9)], events=[event(7)]))
    assert store.missing_seqs("p1", "r1", up_to=12) == [(3, 4), (8, 8), (10, 12)]


def test_missing_seqs_head_and_window(store: Store) -> None:
    store.write(Batch(samples=[sample(s) for s in (4, 5, 8)]))
    assert store.missing_seqs("p1", "r1", up_to=8) == [(1, 3), (6, 7)]
    assert store.missing_seqs("p1", "r1", up_to=8, from_seq=5) == [(6, 7)]
    assert store.missing_seqs("p1", "r1", up_to=3, from_seq=5) == []


def test_missing_seqs_of_an_unknown_run_is_everything(store: Store) -> None:
    assert store.missing_seqs("p1", "nope", up_to=5) == [(1, 5)]
    assert store.max_seq("p1", "nope") == 0


def test_runs_are_kept_apart_by_press(store: Store) -> None:
    store.write(Batch(samples=[sample(1, press="p1"), sample(1, press="p2"), sample(2, "r2")]))
    assert store.count_samples("p2") == 1
    assert store.count_samples("p1", "r1") == 1
    assert store.max_seq("p1", "r2") == 2


def test_run_patches_merge(store: Store) -> None:
    store.write(Batch(runs=[RunInfo("p1", "r1", recipe="LPSCl 375", started=20.0)]))
    store.write(Batch(runs=[RunInfo("p1", "r1", sample_id="S-7", operator="ana",
                                    started=10.0, header={"recipe_hash": "ab"})]))
    store.write(Batch(runs=[RunInfo("p1", "r1", ended=99.0, outcome="completed", end_seq=42)]))
    (run,) = store.find_runs("r1")
    assert (run.recipe, run.sample_id, run.operator) == ("LPSCl 375", "S-7", "ana")
    assert (run.started, run.ended, run.outcome, run.end_seq) == (10.0, 99.0, "completed", 42)
    assert run.header == {"recipe_hash": "ab"}


def test_runs_listing_newest_first_and_unfinished(store: Store) -> None:
    store.write(Batch(runs=[RunInfo("p1", "old", started=1.0, end_seq=5),
                            RunInfo("p1", "new", started=2.0),
                            RunInfo("p2", "other", started=3.0, end_seq=1)]))
    assert [r.run_id for r in store.runs()] == ["other", "new", "old"]
    assert [r.run_id for r in store.runs("p1", unfinished=True)] == ["new"]
    assert len(store.runs(limit=1)) == 1


def test_idle_events_without_seq_are_all_kept(store: Store) -> None:
    idle = EventRow("p1", "", None, 1.0, 1.0, "fault", "e-stop pressed", None)
    store.write(Batch(events=[idle, idle]))
    assert [e.kind for e in store.events("p1", "")] == ["fault", "fault"]


def test_events_round_trip(store: Store) -> None:
    store.write(Batch(events=[event(4, "end"), event(2, "step")]))
    rows = store.events("p1", "r1")
    assert [(e.seq, e.kind, e.data) for e in rows] == [(2, "step", {"k": 2}), (4, "end", {"k": 4})]


def test_sqlite_is_in_wal_mode(tmp_path: Path) -> None:
    store = open_store(db=tmp_path / "x.sqlite")
    assert store._execute("PRAGMA journal_mode")[0][0] == "wal"
    store.close()


def test_unopenable_store_is_a_one_line_error(tmp_path: Path) -> None:
    from host.errors import StoreError

    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot open the run store"):
        open_store(db=tmp_path / "file" / "runs.sqlite")
