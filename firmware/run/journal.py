"""The run journal on the Pi: the source of truth for every run, append-only and crash-safe.

Layout: `<root>/<run_id>/header.json` (written atomically: temp file, fsync, rename) and
`<root>/<run_id>/records.jsonl`, one record a line as `JSON<TAB>CRC32`. Records are written with
one `write()` per tick (so a killed process loses nothing the OS has) and fsynced at least once a
second (so power loss costs at most the last second, plus the time the fsync itself takes). The
fsync runs on a thread of its own (`_Syncer`): on an SD card it can take tens of milliseconds,
which the loop must not wait for; a failed fsync is raised by the next `append`. On reopen, a
torn or corrupt tail line is cut off; nothing before it is touched. Every record carries `seq`,
counting from 1 with no gaps.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware.errors import HotpressError

SYNC_PERIOD_S = 1.0  # fsync at least this often: the most a power cut can take away
RECORDS_FILE = "records.jsonl"
HEADER_FILE = "header.json"


class JournalError(HotpressError, OSError):
    """The journal cannot be written (disk full, read-only, removed): the run must stop safely."""


# One encoder for every record: `json.dumps` with these options would build a new one per call,
# and the loop journals a record every tick. Same options, same text.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def _encode(record: dict[str, Any]) -> bytes:
    body = _ENCODER.encode(record).encode()
    return body + b"\t%08x\n" % zlib.crc32(body)


def _decode(line: bytes) -> dict[str, Any] | None:
    """A record, or None for a torn or corrupt line."""
    if not line.endswith(b"\n"):
        return None
    body, sep, crc = line[:-1].rpartition(b"\t")
    if not sep or len(crc) != 8:
        return None
    try:
        if int(crc, 16) != zlib.crc32(body):
            return None
        rec = json.loads(body)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class _Syncer:
    """fsyncs one open file on a thread of its own whenever asked, so the loop never waits on it.

    A request made while a sync runs folds into one more sync after it: it never falls more than
    one behind, however slow the disk. The first failure ends the thread and is kept in `error`.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._wanted = threading.Event()
        self._stopping = False
        self.error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="journal-fsync", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Sync everything written so far, soon (returns at once)."""
        self._wanted.set()

    def stop(self) -> None:
        """Let a sync in progress finish, then end the thread (the caller syncs what is left)."""
        self._stopping = True
        self._wanted.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopping:
                return
            try:
                os.fsync(self._fd)
            except OSError as exc:
                self.error = exc
                return


class RunJournal:
    """The open journal of the run in progress; `append` raises JournalError on any failure."""

    def __init__(self, run_dir: Path, next_seq: int, now_s: float) -> None:
        self.run_dir = run_dir
        self.next_seq = next_seq
        self._fd = os.open(run_dir / RECORDS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._last_sync_s = now_s
        self._syncer: _Syncer | None = None  # started at the first sync
        self.closed = False

    @classmethod
    def create(cls, root: Path | str, run_id: str, header: dict[str, Any],
               now_s: float) -> RunJournal:
        """Start a new run's journal; the header is on disk before the first record."""
        run_dir = Path(root) / run_id
        try:
            run_dir.mkdir(parents=True, exist_ok=False)
            _write_atomic(run_dir / HEADER_FILE, json.dumps(header, indent=1).encode())
            return cls(run_dir, 1, now_s)
        except OSError as exc:
            raise JournalError(f"cannot create run journal in {run_dir}: {exc}") from exc

    @classmethod
    def reopen(cls, root: Path | str, run_id: str, now_s: float) -> RunJournal:
        """Reopen after a crash: repair the tail, continue the seq where it stopped."""
        run_dir = Path(root) / run_id
        last = repair(run_dir)
        return cls(run_dir, (last["seq"] + 1) if last else 1, now_s)

    def append(self, record: dict[str, Any], now_s: float) -> int:
        """Write one record with the next seq; returns that seq."""
        seq = self.next_seq
        data = _encode({"seq": seq, **record})
        try:
            if self._syncer is not None and self._syncer.error is not None:
                raise self._syncer.error
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes): disk full?")
            if now_s - self._last_sync_s >= SYNC_PERIOD_S:
                if self._syncer is None:
                    self._syncer = _Syncer(self._fd)
                self._syncer.request()
                self._last_sync_s = now_s
        except (OSError, ValueError) as exc:
            raise JournalError(f"run journal {self.run_dir} unwritable: {exc}") from exc
        self.next_seq = seq + 1
        return seq

    def close(self) -> None:
        """Flush to disk and close (the end record is the caller's to append first)."""
        if self.closed:
            return
        self.closed = True
        try:
            if self._syncer is not None:
                self._syncer.stop()
            with contextlib.suppress(OSError):  # a failing disk was already reported by append
                os.fsync(self._fd)
        finally:
            os.close(self._fd)


def repair(run_dir: Path) -> dict[str, Any] | None:
    """Cut a torn or corrupt tail off a run's records; returns the last good record (or None)."""
    path = run_dir / RECORDS_FILE
    if not path.exists():
        return None
    good_end = 0
    last: dict[str, Any] | None = None
    with open(path, "rb") as f:
        for line in f:
            rec = _decode(line)
            if rec is None:
                break
            last = rec
            good_end += len(line)
    if good_end != path.stat().st_size:
        with open(path, "r+b") as f:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
    return last


@dataclass(frozen=True)
class RunSummary:
    """What a listing needs: the header, the last record, and whether the run ended."""

    run_id: str
    header: dict[str, Any]
    last: dict[str, Any] | None
    outcome: str | None  # completed, aborted, faulted, interrupted; None while running


def read_header(root: Path | str, run_id: str) -> dict[str, Any]:
    return json.loads((Path(root) / run_id / HEADER_FILE).read_text())


def iter_records(root: Path | str, run_id: str, seq_from: int = 1,
                 seq_to: int | None = None) -> Iterator[dict[str, Any]]:
    """Records of one run with `seq_from <= seq <= seq_to`, stopping at a torn tail."""
    path = Path(root) / run_id / RECORDS_FILE
    if not path.exists():
        return
    with open(path, "rb") as f:
        for line in f:
            rec = _decode(line)
            if rec is None:
                return
            seq = rec.get("seq", 0)
            if seq < seq_from:
                continue
            if seq_to is not None and seq > seq_to:
                return
            yield rec


def summarize(root: Path | str, run_id: str) -> RunSummary:
    last = None
    outcome = None
    for rec in iter_records(root, run_id):
        last = rec
        if rec.get("type") == "end":
            outcome = rec.get("outcome")
    return RunSummary(run_id, read_header(root, run_id), last, outcome)


def list_runs(root: Path | str) -> list[str]:
    """Run ids in the journal, oldest first (ids sort by start time)."""
    base = Path(root)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / HEADER_FILE).is_file())


def unfinished_runs(root: Path | str) -> list[RunSummary]:
    """Runs with no end record: the daemon died during them."""
    return [s for s in (summarize(root, r) for r in list_runs(root)) if s.outcome is None]


def mark_interrupted(root: Path | str, summary: RunSummary, now_s: float,
                     wall_time: float) -> None:
    """Close a run the daemon died in: an `end` record with outcome `interrupted`."""
    journal = RunJournal.reopen(root, summary.run_id, now_s)
    try:
        stopped = summary.last or {}
        journal.append({"type": "end", "outcome": "interrupted",
                        "reason": "daemon stopped during the run",
                        "stopped_wall": stopped.get("wall"), "stopped_t": stopped.get("t"),
                        "wall": wall_time}, now_s)
    finally:
        journal.close()
