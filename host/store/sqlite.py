"""The run store in one SQLite file: the default, for a laptop or a small lab.

Schema (JSON columns are TEXT holding a JSON object; times are seconds)::

    runs    (press_id TEXT, run_id TEXT, header JSON,    -- the journal header: recipe text and
             recipe TEXT, sample_id TEXT, operator TEXT,  -- hash, press config, software version
             started REAL, ended REAL,                    -- press wall clock, epoch s
             outcome TEXT,                                -- completed/aborted/faulted/interrupted
             end_seq INTEGER,                             -- seq of the end record
             PRIMARY KEY (press_id, run_id))
    samples (press_id, run_id, seq INTEGER, t_s REAL,     -- t_s: press monotonic time
             wall_s REAL, payload JSON,                   -- payload: the whole record
             UNIQUE (press_id, run_id, seq))
    events  (press_id, run_id, seq INTEGER, t_s, wall_s,  -- run_id '' and seq NULL: idle events
             kind TEXT, message TEXT, data JSON,
             UNIQUE (press_id, run_id, seq))

WAL mode lets `hotpress runs ...` read while the logger writes. `synchronous=NORMAL` may lose the
last commit on power loss (never corrupts the file); the logger then finds the gap and the press
replays it from its journal, so full fsync per commit would buy nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from host.errors import StoreError
from host.store.base import SqlStore

BUSY_TIMEOUT_S = 10.0  # a reader holding the file briefly must not fail the logger's commit


class SqliteStore(SqlStore):
    """A `Store` in the SQLite file at `path` (created with its directory if absent).

    One connection; use it from one thread at a time (the logger's writer thread, or the CLI).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.location = str(self.path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S,
                                       isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            for ddl in self.schema():
                self._db.execute(ddl)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the run store {self.path} ({exc}): check the path "
                             f"and its permissions, or pass --db") from None

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"run store {self.path}: {exc}") from exc

    def _write_many(self, statements: Iterable[tuple[str, list[Sequence[Any]]]]) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, rows in statements:
                    self._db.executemany(sql, rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"run store {self.path}: write failed ({exc})") from exc

    def close(self) -> None:
        """Close the connection (committed data is safe; nothing is pending between writes)."""
        self._db.close()
