"""The run store's interface and the SQL both implementations share.

A run record is keyed by (press_id, run_id) and holds every journal record of the run: samples in
`samples`, everything else (events, the end record, any record type added later) in `events`.
Between them they hold each `seq` from 1 to the end record's seq exactly once; `missing_seqs` says
which are not there yet, so the logger can ask the press to replay them from its journal.

Every insert is idempotent (ON CONFLICT DO NOTHING on the unique key), so a replay, a QoS 1
redelivery or a restarted logger can offer the same record any number of times.
`write()` takes a whole batch in one transaction: one commit per batch, not per row, is what keeps
a fleet of presses cheap to record.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

SeqRange = tuple[int, int]  # inclusive (first, last)
IDLE_RUN_ID = ""  # events seen while no run is active are kept under this run id, with seq NULL


@dataclass(frozen=True)
class RunInfo:
    """One run's summary row; as a patch for `write()`, None means 'not known from this message'.

    `started`/`ended` are the press's wall clock (epoch seconds); `end_seq` is the seq of the
    end record, so the run is complete once seqs 1..end_seq are all held.
    """

    press_id: str
    run_id: str
    header: dict[str, Any] | None = None
    recipe: str | None = None
    sample_id: str | None = None
    operator: str | None = None
    started: float | None = None
    ended: float | None = None
    outcome: str | None = None
    end_seq: int | None = None


@dataclass(frozen=True)
class SampleRow:
    """One sample of a run: times in seconds, the whole record as `payload`."""

    press_id: str
    run_id: str
    seq: int
    t_s: float | None
    wall_s: float | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class EventRow:
    """One non-sample record of a run (or an idle event with run_id '' and seq None)."""

    press_id: str
    run_id: str
    seq: int | None
    t_s: float | None
    wall_s: float | None
    kind: str
    message: str = ""
    data: dict[str, Any] | None = None


@dataclass
class Batch:
    """What the logger gathered since its last commit."""

    runs: list[RunInfo] = field(default_factory=list)
    samples: list[SampleRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.runs) + len(self.samples) + len(self.events)


class Store(ABC):
    """Where run records live; SQLite on a laptop, PostgreSQL on a lab server."""

    location: str = "?"  # for people: the file, or the server and database (never a password)

    @abstractmethod
    def write(self, batch: Batch) -> None:
        """Insert or merge everything in `batch` in one transaction; duplicates are ignored."""

    @abstractmethod
    def missing_seqs(self, press_id: str, run_id: str, up_to: int,
                     from_seq: int = 1) -> list[SeqRange]:
        """Inclusive ranges of seqs in from_seq..up_to held neither as sample nor as event."""

    @abstractmethod
    def max_seq(self, press_id: str, run_id: str) -> int:
        """Highest seq held for the run (0 when none)."""

    @abstractmethod
    def runs(self, press_id: str | None = None, *, unfinished: bool = False,
             limit: int | None = None) -> list[RunInfo]:
        """Runs, newest first; `unfinished` keeps those with no end record yet."""

    @abstractmethod
    def find_runs(self, run_id: str) -> list[RunInfo]:
        """Every run with this id (one, unless two presses chose the same id)."""

    @abstractmethod
    def samples(self, press_id: str, run_id: str) -> list[SampleRow]:
        """The run's samples in seq order."""

    @abstractmethod
    def events(self, press_id: str, run_id: str) -> list[EventRow]:
        """The run's events in seq order."""

    @abstractmethod
    def count_samples(self, press_id: str | None = None, run_id: str | None = None) -> int:
        """How many samples are held (all, one press's, or one run's)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _schema(json_type: str, real: str, integer: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS runs (
            press_id TEXT NOT NULL, run_id TEXT NOT NULL, header {json_type},
            recipe TEXT, sample_id TEXT, operator TEXT, started {real}, ended {real},
            outcome TEXT, end_seq {integer}, PRIMARY KEY (press_id, run_id))""",
        f"""CREATE TABLE IF NOT EXISTS samples (
            press_id TEXT NOT NULL, run_id TEXT NOT NULL, seq {integer} NOT NULL,
            t_s {real}, wall_s {real}, payload {json_type} NOT NULL,
            UNIQUE (press_id, run_id, seq))""",
        f"""CREATE TABLE IF NOT EXISTS events (
            press_id TEXT NOT NULL, run_id TEXT NOT NULL, seq {integer}, t_s {real},
            wall_s {real}, kind TEXT NOT NULL, message TEXT, data {json_type},
            UNIQUE (press_id, run_id, seq))""",
        "CREATE INDEX IF NOT EXISTS runs_started ON runs (started)",
    ]


RUN_COLUMNS = ("press_id", "run_id", "header", "recipe", "sample_id", "operator", "started",
               "ended", "outcome", "end_seq")
_MERGED = ("header", "recipe", "sample_id", "operator", "ended", "outcome", "end_seq")


class SqlStore(Store):
    """All the SQL, written once with `?` placeholders; subclasses give connection and dialect."""

    LEAST = "MIN"  # the two-argument minimum: MIN in SQLite, LEAST in PostgreSQL
    JSON_TYPE = "TEXT"
    REAL_TYPE = "REAL"
    INT_TYPE = "INTEGER"

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement outside a batch; rows of a query."""

    @abstractmethod
    def _write_many(self, statements: Iterable[tuple[str, list[Sequence[Any]]]]) -> None:
        """Run each (sql, rows) with executemany, all in one transaction."""

    def _json_in(self, value: dict[str, Any] | None) -> Any:
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def _json_out(self, value: Any) -> dict[str, Any] | None:
        return None if value is None else json.loads(value)

    def schema(self) -> list[str]:
        """The DDL, as documented in the implementing module."""
        return _schema(self.JSON_TYPE, self.REAL_TYPE, self.INT_TYPE)

    def write(self, batch: Batch) -> None:
        statements = []
        if batch.runs:
            statements.append((self._upsert_run_sql(), [self._run_params(r) for r in batch.runs]))
        if batch.samples:
            statements.append((
                "INSERT INTO samples (press_id, run_id, seq, t_s, wall_s, payload) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(s.press_id, s.run_id, s.seq, s.t_s, s.wall_s, self._json_in(s.payload))
                 for s in batch.samples]))
        if batch.events:
            statements.append((
                "INSERT INTO events (press_id, run_id, seq, t_s, wall_s, kind, message, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(e.press_id, e.run_id, e.seq, e.t_s, e.wall_s, e.kind, e.message,
                  self._json_in(e.data)) for e in batch.events]))
        if statements:
            self._write_many(statements)

    def _upsert_run_sql(self) -> str:
        merged = ", ".join(f"{c} = COALESCE(excluded.{c}, runs.{c})" for c in _MERGED)
        return (f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(RUN_COLUMNS))}) "
                f"ON CONFLICT (press_id, run_id) DO UPDATE SET {merged}, "
                f"started = {self.LEAST}(COALESCE(runs.started, excluded.started), "
                f"COALESCE(excluded.started, runs.started))")

    def _run_params(self, r: RunInfo) -> tuple[Any, ...]:
        return (r.press_id, r.run_id, self._json_in(r.header), r.recipe, r.sample_id, r.operator,
                r.started, r.ended, r.outcome, r.end_seq)

    def missing_seqs(self, press_id: str, run_id: str, up_to: int,
                     from_seq: int = 1) -> list[SeqRange]:
        if up_to < from_seq:
            return []
        # The sentinels from_seq-1 and up_to+1 make the head and the tail ordinary gaps.
        sql = (
            "WITH s AS ("
            " SELECT seq FROM samples WHERE press_id = ? AND run_id = ? AND seq BETWEEN ? AND ?"
            " UNION SELECT seq FROM events WHERE press_id = ? AND run_id = ?"
            " AND seq BETWEEN ? AND ?"
            " UNION SELECT CAST(? AS BIGINT)),"
            " o AS (SELECT seq, LAG(seq, 1, CAST(? AS BIGINT)) OVER (ORDER BY seq) AS prev"
            " FROM s)"
            " SELECT prev + 1, seq - 1 FROM o WHERE seq > prev + 1 ORDER BY seq")
        key = (press_id, run_id, from_seq, up_to)
        rows = self._execute(sql, (*key, *key, up_to + 1, from_seq - 1))
        return [(int(a), int(b)) for a, b in rows]

    def max_seq(self, press_id: str, run_id: str) -> int:
        rows = self._execute(
            "SELECT MAX(m) FROM (SELECT MAX(seq) AS m FROM samples WHERE press_id = ? AND "
            "run_id = ? UNION ALL SELECT MAX(seq) FROM events WHERE press_id = ? AND run_id = ?)"
            " AS both_tables", (press_id, run_id, press_id, run_id))
        return int(rows[0][0] or 0)

    def runs(self, press_id: str | None = None, *, unfinished: bool = False,
             limit: int | None = None) -> list[RunInfo]:
        where, params = [], []
        if press_id is not None:
            where.append("press_id = ?")
            params.append(press_id)
        if unfinished:
            where.append("end_seq IS NULL")
        sql = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started IS NULL, started DESC, run_id DESC"  # NULLs last in both
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [self._run_row(r) for r in self._execute(sql, params)]

    def find_runs(self, run_id: str) -> list[RunInfo]:
        rows = self._execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE run_id = ? "
                             "ORDER BY press_id", (run_id,))
        return [self._run_row(r) for r in rows]

    def _run_row(self, r: Sequence[Any]) -> RunInfo:
        return RunInfo(r[0], r[1], self._json_out(r[2]), *r[3:9],
                       None if r[9] is None else int(r[9]))

    def samples(self, press_id: str, run_id: str) -> list[SampleRow]:
        rows = self._execute("SELECT press_id, run_id, seq, t_s, wall_s, payload FROM samples "
                             "WHERE press_id = ? AND run_id = ? ORDER BY seq", (press_id, run_id))
        return [SampleRow(r[0], r[1], int(r[2]), r[3], r[4], self._json_out(r[5]) or {})
                for r in rows]

    def events(self, press_id: str, run_id: str) -> list[EventRow]:
        rows = self._execute("SELECT press_id, run_id, seq, t_s, wall_s, kind, message, data "
                             "FROM events WHERE press_id = ? AND run_id = ? ORDER BY seq, wall_s",
                             (press_id, run_id))
        return [EventRow(r[0], r[1], None if r[2] is None else int(r[2]), r[3], r[4], r[5],
                         r[6] or "", self._json_out(r[7])) for r in rows]

    def count_samples(self, press_id: str | None = None, run_id: str | None = None) -> int:
        where, params = [], []
        for col, value in (("press_id", press_id), ("run_id", run_id)):
            if value is not None:
                where.append(f"{col} = ?")
                params.append(value)
        sql = "SELECT COUNT(*) FROM samples" + (" WHERE " + " AND ".join(where) if where else "")
        return int(self._execute(sql, params)[0][0])
