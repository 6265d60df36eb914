"""The run store in PostgreSQL (psycopg 3): for a lab server that several hosts read.

Same tables, keys and semantics as the SQLite store (see `host.store.sqlite` for the schema);
JSON columns are JSONB so a lab can query inside payloads (`payload->'temps_c'->>'top'`), times
are DOUBLE PRECISION and seqs BIGINT. The connection runs in autocommit so reads never leave a
transaction open; each `write()` is one explicit transaction, sent with psycopg's pipelined
executemany (one round trip per batch, not per row).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from host.errors import StoreError
from host.store.base import SqlStore

try:
    import psycopg
    from psycopg.types.json import Jsonb
except ImportError:  # pragma: no cover - psycopg is a dependency; this keeps the message kind
    psycopg = None  # type: ignore[assignment]

CONNECT_TIMEOUT_S = 10  # a lab server on the LAN answers in ms; 10 s means it is not there


def _dsn_for_humans(dsn: str) -> str:
    """The DSN without its password, for messages."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        return "<unparsable DSN>"
    params.pop("password", None)
    return " ".join(f"{k}={v}" for k, v in params.items())


class PostgresStore(SqlStore):
    """A `Store` in the PostgreSQL database named by `dsn` (tables created if absent)."""

    LEAST = "LEAST"
    JSON_TYPE = "JSONB"
    REAL_TYPE = "DOUBLE PRECISION"
    INT_TYPE = "BIGINT"

    def __init__(self, dsn: str) -> None:
        if psycopg is None:
            raise StoreError("PostgreSQL needs psycopg: pip install 'psycopg[binary]'")
        self.where = _dsn_for_humans(dsn)
        self.location = f"PostgreSQL ({self.where})"
        try:
            self._db = psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
            with self._db.transaction():
                for ddl in self.schema():
                    self._db.execute(ddl)
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"cannot open the PostgreSQL run store ({self.where}): {first}: "
                             f"check the server, database and credentials in the DSN") from None

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def _json_in(self, value: dict[str, Any] | None) -> Any:
        return None if value is None else Jsonb(value)

    def _json_out(self, value: Any) -> dict[str, Any] | None:
        return value  # psycopg decodes JSONB into Python objects already

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            cur = self._db.execute(self._sql(sql), tuple(params))
            return cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            raise StoreError(f"run store ({self.where}): {exc}") from exc

    def _write_many(self, statements: Iterable[tuple[str, list[Sequence[Any]]]]) -> None:
        try:
            with self._db.transaction(), self._db.cursor() as cur:
                for sql, rows in statements:
                    cur.executemany(self._sql(sql), rows)
        except psycopg.Error as exc:
            raise StoreError(f"run store ({self.where}): write failed ({exc})") from exc

    def close(self) -> None:
        """Close the connection (committed data is safe; nothing is pending between writes)."""
        self._db.close()
