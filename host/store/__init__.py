"""Run records on the host: one interface (`Store`), SQLite by default, PostgreSQL for a server.

    store = open_store(db="~/.local/share/hotpress/runs.sqlite")   # or postgres="dbname=lab"
    store.write(Batch(samples=[...]))           # idempotent, one transaction
    store.missing_seqs("press-a", run_id, up_to=end_seq)   # [(first, last), ...] to replay
"""

from __future__ import annotations

from pathlib import Path

from host.store.base import IDLE_RUN_ID, Batch, EventRow, RunInfo, SampleRow, SeqRange, Store

DEFAULT_DB_PATH = Path("~/.local/share/hotpress/runs.sqlite")

__all__ = ["DEFAULT_DB_PATH", "IDLE_RUN_ID", "Batch", "EventRow", "RunInfo", "SampleRow",
           "SeqRange", "Store", "open_store"]


def open_store(db: str | Path | None = None, postgres: str | None = None) -> Store:
    """PostgreSQL when a DSN is given, else the SQLite file `db` (default DEFAULT_DB_PATH)."""
    if postgres:
        from host.store.postgres import PostgresStore

        return PostgresStore(postgres)
    from host.store.sqlite import SqliteStore

    return SqliteStore(Path(db).expanduser() if db else DEFAULT_DB_PATH.expanduser())
