"""The fleet logger: records every run of every press on the broker, and fills every gap.

Threads: paho's network thread only appends raw messages to an inbox (never blocks, never
touches the database). The writer loop (`run()`, the caller's thread) every FLUSH_PERIOD_S
decodes the inbox, writes it as one batch (one transaction) and, every GAP_CHECK_PERIOD_S, looks
for holes in each active run and asks the press to replay them from its journal.

Gap rules (per run): a seq counts as missing once a later seq was seen one check period ago (so
telemetry and events racing on separate topics are not "gaps"); the end record's seq closes the
run, so a lost tail is found too. The end record is never published live, so once a run is over
(a run_ended event, or the press's state names another run or none) and its end record is not
held, the tail is asked for from the last seq seen on (records past the journal's end simply do
not come back). One request per run in flight, at most REPLAY_MAX_RECORDS records each,
REPLAY_MAX_PER_S requests per second fleet-wide, none to an offline press; an unanswered request
is repeated after REPLAY_RETRY_S.

Replay command: `cmd/replay` `{"run_id", "from_seq", "to_seq"}` (inclusive); records come back
on `replay/<run_id>` (and are also taken from a reply's `data.records`, should a press send them
there). Replays another logger asked for are stored too: they are the same records.

Restarts: inserts are idempotent, so a restarted logger (or a broker redelivery) adds nothing
twice; unfinished runs are reloaded from the store and their tails checked again.
"""

from __future__ import annotations

import collections
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from firmware.link.protocol import TOPIC_ROOT, parse_topic
from host.commands import build_command, correlation_of, parse_reply, reply_filter
from host.connection import CONNACK_TIMEOUT_S, BrokerSettings, connect, disconnect
from host.errors import StoreError
from host.records import (
    Rows,
    decode,
    from_event,
    from_journal,
    from_state,
    from_telemetry,
    status_online,
)
from host.store import Batch, RunInfo, Store

FLUSH_PERIOD_S = 0.2  # one commit per 0.2 s: 100 rows per transaction for 50 presses at 10 Hz
GAP_CHECK_PERIOD_S = 1.0  # also the grace a late message gets before its seq counts as missing
REPLAY_MAX_RECORDS = 1000  # ~0.5 MB of journal per reply: small enough for any broker limit
REPLAY_LOG_MIN_RECORDS = 10  # smaller replays (an event published without its seq) go unlogged
REPLAY_RETRY_S = 10.0  # a replay not completed by then is asked again
REPLAY_MAX_PER_S = 5.0  # fleet-wide: after an outage 50 presses must not all replay at once
REJECTED_BACKOFF_S = 10.0  # a refused replay ("busy") is asked again after this, doubling ...
REJECTED_BACKOFF_MAX_S = 3600.0  # ... up to this (a run missing from the journal stays missing)
SESSION_EXPIRY_S = 3600  # the broker queues our QoS 1 messages across a logger restart this long
RECHECK_RECENT_RUNS = 200  # finished runs re-checked for holes at start-up
SUBSCRIPTIONS = (("telemetry", 0), ("event", 1), ("state", 1), ("status", 1), ("replay/+", 1))


@dataclass
class RunTrack:
    """What the logger knows about one run between checks."""

    press_id: str
    run_id: str
    high_seq: int = 0  # highest seq seen
    checked_high: int = 0  # high_seq at the previous check: holes below it are real
    complete_to: int = 0  # every seq 1..complete_to is stored
    end_seq: int | None = None
    over: bool = False  # the press has moved on (its state names another run, or none)
    started: float | None = None
    pending: tuple[str, float] | None = None  # (command id, monotonic send time)
    not_before: float = 0.0  # monotonic time before which no replay is asked
    rejections: int = 0  # replays refused in a row, for the backoff

    @property
    def key(self) -> tuple[str, str]:
        """(press_id, run_id): how runs are told apart across the fleet."""
        return self.press_id, self.run_id


@dataclass
class LoggerStats:
    """Counters for the status line, tests and the benchmark."""

    messages: int = 0
    bad_messages: int = 0
    samples_offered: int = 0
    replay_requests: int = 0
    replay_records: int = 0
    commits: int = 0
    store_errors: int = 0


def default_client_id() -> str:
    """Stable per host, so the broker keeps our session across restarts."""
    return f"hotpress-logger-{socket.gethostname()}"


class FleetLogger:
    """Record every press's runs into `store`; `start()` connects, `run(stop)` works until set."""

    def __init__(self, store: Store, settings: BrokerSettings, client_id: str | None = None, *,
                 flush_period_s: float = FLUSH_PERIOD_S,
                 gap_check_period_s: float = GAP_CHECK_PERIOD_S,
                 replay_retry_s: float = REPLAY_RETRY_S,
                 on_commit: Callable[[list[float], float], None] | None = None,
                 log: Callable[[str], None] = lambda line: None) -> None:
        self.store = store
        self.settings = settings
        self.client_id = client_id or default_client_id()
        self.flush_period_s = flush_period_s
        self.gap_check_period_s = gap_check_period_s
        self.replay_retry_s = replay_retry_s
        self.on_commit = on_commit
        self.log = log
        self.stats = LoggerStats()
        self.client: mqtt.Client | None = None
        self.subscribed = threading.Event()  # set on SUBACK: from then on nothing is missed
        self._inbox: collections.deque[tuple[str, bytes, bytes | None]] = collections.deque()
        self._tracks: dict[tuple[str, str], RunTrack] = {}
        self._online: dict[str, bool] = {}
        self._current_run: dict[str, str | None] = {}
        self._commands: dict[str, tuple[str, str]] = {}  # command id -> run key
        self._tokens = REPLAY_MAX_PER_S
        self._tokens_at = time.monotonic()
        self._next_check = 0.0

    # -- connection ----------------------------------------------------------------------------
    def start(self) -> None:
        """Load unfinished runs, connect and subscribe (BrokerError if the broker says no)."""
        self._load_tracks()
        self.client = connect(self.settings, self.client_id, on_connect=self._subscribe,
                              clean_start=False, session_expiry_s=SESSION_EXPIRY_S,
                              prepare=self._prepare)
        if not self.subscribed.wait(CONNACK_TIMEOUT_S):
            self.log("the broker has not confirmed the subscriptions yet; going on")
        self.log(f"logger connected to {self.settings}")

    def _prepare(self, client: mqtt.Client) -> None:
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = lambda *_: self.subscribed.set()

    def _subscribe(self, client: mqtt.Client) -> None:
        subs = [(f"{TOPIC_ROOT}/+/{leaf}", qos) for leaf, qos in SUBSCRIPTIONS]
        client.subscribe([*subs, (reply_filter(self.client_id), 1)])

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            self.log(f"lost the broker ({rc}); reconnecting")

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self._inbox.append((message.topic, message.payload, correlation_of(message)))

    def _load_tracks(self) -> None:
        runs = {(r.press_id, r.run_id): r for r in self.store.runs(limit=RECHECK_RECENT_RUNS)}
        runs.update({(r.press_id, r.run_id): r for r in self.store.runs(unfinished=True)})
        for (press_id, run_id), info in runs.items():
            top = self.store.max_seq(press_id, run_id)
            self._tracks[(press_id, run_id)] = RunTrack(
                press_id, run_id, high_seq=top, checked_high=top, end_seq=info.end_seq,
                started=info.started)

    # -- the writer loop -----------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Flush and check until `stop` is set; a final flush before returning."""
        while not stop.wait(self.flush_period_s):
            self.step()
        self.flush()

    def step(self) -> None:
        """One writer-loop turn: flush the inbox, and check for gaps when due."""
        self.flush()
        if time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + self.gap_check_period_s
            self.check_gaps()

    def flush(self) -> None:
        """Decode everything received so far and store it as one transaction."""
        batch, live_walls = Batch(), []
        while self._inbox:
            topic, payload, corr = self._inbox.popleft()
            self.stats.messages += 1
            self._dispatch(topic, payload, corr, batch, live_walls)
        if not len(batch):
            return
        try:
            self.store.write(batch)
        except StoreError as exc:
            self.stats.store_errors += 1
            self.log(f"store write failed, will replay from the presses: {exc}")
            return
        self.stats.commits += 1
        if self.on_commit is not None:
            self.on_commit(live_walls, time.time())

    def _dispatch(self, topic: str, payload: bytes, corr: bytes | None, batch: Batch,
                  live_walls: list[float]) -> None:
        parsed = parse_topic(topic)
        if parsed is None:
            return
        press_id, leaf = parsed
        if leaf == "status":
            self._online[press_id] = status_online(payload)
            return
        if leaf.startswith("reply/"):
            self._on_reply(payload, corr, batch)
            return
        msg = decode(payload)
        if msg is None:
            self.stats.bad_messages += 1
            return
        if leaf == "telemetry":
            row = from_telemetry(press_id, msg)
            if row is not None:
                batch.samples.append(row)
                self.stats.samples_offered += 1
                if row.wall_s is not None:
                    live_walls.append(row.wall_s)
                self._saw(press_id, row.run_id, row.seq, row.wall_s, batch)
        elif leaf == "event":
            self._add(from_event(press_id, msg), batch)
        elif leaf == "state":
            self._on_state(press_id, msg, batch)
        elif leaf.startswith("replay/"):
            self._add_replay(press_id, leaf.split("/", 1)[1], msg, batch)

    def _add(self, rows: Rows, batch: Batch) -> None:
        batch.samples.extend(rows.samples)
        batch.events.extend(rows.events)
        batch.runs.extend(rows.runs)
        for row in (*rows.samples, *rows.events):
            if row.seq is not None and row.run_id:
                self._saw(row.press_id, row.run_id, row.seq, row.wall_s, batch)
        for info in rows.runs:
            if info.outcome is not None:  # the run is over, even if its end seq is not known
                track = self._track(info.press_id, info.run_id, batch)
                track.over = True
                track.end_seq = info.end_seq if info.end_seq is not None else track.end_seq

    def _add_replay(self, press_id: str, run_id: str, msg: dict[str, Any], batch: Batch) -> None:
        records = msg.get("records")
        if isinstance(msg.get("header"), dict):
            batch.runs.append(RunInfo(press_id, run_id, header=msg["header"]))
        for rec in records if isinstance(records, list) else []:
            if isinstance(rec, dict):
                self.stats.replay_records += 1
                self._add(from_journal(press_id, run_id, rec), batch)

    def _track(self, press_id: str, run_id: str, batch: Batch) -> RunTrack:
        track = self._tracks.get((press_id, run_id))
        if track is None:
            track = self._tracks[(press_id, run_id)] = RunTrack(press_id, run_id)
            batch.runs.append(RunInfo(press_id, run_id))
            if self._current_run.get(press_id, run_id) != run_id:
                track.over = True
        return track

    def _saw(self, press_id: str, run_id: str, seq: int, wall_s: float | None,
             batch: Batch) -> None:
        track = self._track(press_id, run_id, batch)
        track.high_seq = max(track.high_seq, seq)
        if wall_s is not None and (track.started is None or wall_s < track.started):
            track.started = wall_s
            batch.runs.append(RunInfo(press_id, run_id, started=wall_s))

    def _on_state(self, press_id: str, msg: dict[str, Any], batch: Batch) -> None:
        info = from_state(press_id, msg)
        current = info.run_id if info is not None else None
        self._current_run[press_id] = current
        if info is not None:
            batch.runs.append(info)
            self._track(press_id, info.run_id, batch)
        for track in self._tracks.values():
            if track.press_id == press_id and track.run_id != current:
                track.over = True

    def _on_reply(self, payload: bytes, corr: bytes | None, batch: Batch) -> None:
        reply = parse_reply(payload, corr)
        if reply is None or reply.id not in self._commands:
            return
        key = self._commands[reply.id]
        track = self._tracks.get(key)
        if isinstance(reply.data.get("records"), list):
            self._add_replay(key[0], key[1], reply.data, batch)
        if reply.status in ("completed", "rejected"):
            del self._commands[reply.id]
            if track is not None:
                track.pending = None
                track.rejections = track.rejections if reply.status == "rejected" else 0
                self._next_check = 0.0  # ask for the next range without waiting a full period
        if reply.status == "rejected" and track is not None:
            backoff_s = min(REJECTED_BACKOFF_MAX_S, REJECTED_BACKOFF_S * 2 ** track.rejections)
            track.rejections += 1
            track.not_before = time.monotonic() + backoff_s
            self.log(f"{key[0]} refused to replay run {key[1]} ({reply.reason}); asking again "
                     f"in {backoff_s:.0f} s")

    # -- gaps ----------------------------------------------------------------------------------
    def check_gaps(self) -> None:
        """Find holes in every tracked run; ask for the first hole of each (rate-limited)."""
        for key, track in list(self._tracks.items()):
            try:
                hole = self._first_hole(track)
            except StoreError as exc:
                self.log(f"gap check failed: {exc}")
                return
            if hole is None and track.end_seq is not None:
                del self._tracks[key]  # complete: seqs 1..end_seq all held
            elif hole is not None:
                self._ask_replay(track, *hole)

    def _first_hole(self, track: RunTrack) -> tuple[int, int] | None:
        """(first, last) of the first missing range, at most REPLAY_MAX_RECORDS long."""
        if track.end_seq is not None:
            up_to = track.end_seq
        elif track.over:  # nothing more comes live: no grace needed for late messages
            up_to = track.checked_high = track.high_seq
        else:
            up_to, track.checked_high = track.checked_high, track.high_seq
        holes = self.store.missing_seqs(track.press_id, track.run_id, up_to,
                                        from_seq=track.complete_to + 1)
        track.complete_to = holes[0][0] - 1 if holes else max(up_to, track.complete_to)
        if holes:
            first, last = holes[0]
            return first, min(last, first + REPLAY_MAX_RECORDS - 1)
        if track.over and track.end_seq is None:  # the tail, up to and with the end record
            first = max(track.complete_to, track.high_seq) + 1
            return first, first + REPLAY_MAX_RECORDS - 1
        return None

    def _ask_replay(self, track: RunTrack, first: int, last: int) -> None:
        now = time.monotonic()
        if not self._online.get(track.press_id) or now < track.not_before:
            return
        if track.pending is not None and now - track.pending[1] < self.replay_retry_s:
            return
        if not self._take_token(now) or self.client is None:
            return
        args = {"run_id": track.run_id, "from_seq": first, "to_seq": last}
        topic, body, props, cmd_id = build_command(track.press_id, "replay", args,
                                                   self.client_id)
        if track.pending is not None:
            self._commands.pop(track.pending[0], None)
        self.client.publish(topic, body, qos=1, properties=props)
        self._commands[cmd_id] = track.key
        track.pending = (cmd_id, now)
        self.stats.replay_requests += 1
        if last - first + 1 >= REPLAY_LOG_MIN_RECORDS:
            self.log(f"asked {track.press_id} to replay run {track.run_id} seq {first}..{last}")

    def _take_token(self, now: float) -> bool:
        self._tokens = min(REPLAY_MAX_PER_S, self._tokens + (now - self._tokens_at)
                           * REPLAY_MAX_PER_S)
        self._tokens_at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def close(self) -> None:
        """Flush what is left and disconnect (the store stays open: the caller owns it)."""
        self.flush()
        if self.client is not None:
            disconnect(self.client)
            self.client = None


def run_logger(store: Store, settings: BrokerSettings, stop: threading.Event,
               client_id: str | None = None, log: Callable[[str], None] = print) -> LoggerStats:
    """Connect, record until `stop` is set, close; the stats of the session."""
    logger = FleetLogger(store, settings, client_id, log=log)
    logger.start()
    try:
        logger.run(stop)
    finally:
        logger.close()
    return logger.stats
