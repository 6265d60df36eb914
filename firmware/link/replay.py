"""Journal replay for loggers that saw a telemetry gap, served on the link's own worker thread.

The journal on the Pi is the truth; a host that missed telemetry asks for records by seq. Reading
the disk and pushing up to 100 000 records through the broker must never touch the control loop
or paho's network thread, so one worker does it: it reads `source(run_id, from_seq, to_seq)`,
publishes batches to `replay/<run_id>` (waiting for room in the outbox: it may block, the loop may
not), then replies `completed` with the count, or `rejected` with the reason.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from queue import Full, Queue
from typing import Any

from firmware.link import protocol
from firmware.link.commands import Command
from firmware.link.outbox import Kind, Outbox, Outgoing

LOG = logging.getLogger(__name__)

REPLAY_MAX_PENDING = 4  # requests waiting for the worker; more are refused 'busy'
REPLAY_BATCH_MAX_RECORDS = 500  # ~50 s of 10 Hz records per message
REPLAY_BATCH_MAX_BYTES = 64 * 1024  # well under the broker's max_packet_size
REPLAY_WAIT_S = 60.0  # a batch waits this long for the broker, then the replay is failed

ReplaySource = Callable[[str, int, int], Iterable[Mapping[str, Any]]]
ReplyFn = Callable[..., bool]  # Link.reply(cmd, status, reason=None, data=None)


class Replayer:
    """One worker thread serving queued replay commands in order."""

    def __init__(self, press_id: str, source: ReplaySource, outbox: Outbox,
                 reply: ReplyFn) -> None:
        self.press_id = press_id
        self._source = source
        self._outbox = outbox
        self._reply = reply
        self._jobs: Queue[Command | None] = Queue(REPLAY_MAX_PENDING)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="hotpress-link-replay",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def full(self) -> bool:
        """True when another request would be refused."""
        return self._jobs.full()

    def submit(self, cmd: Command) -> bool:
        """Queue a validated replay command; False when full."""
        try:
            self._jobs.put_nowait(cmd)
        except Full:
            return False
        return True

    def stop(self, timeout_s: float) -> None:
        """Finish after the current batch (the outbox must be closed first to unblock it)."""
        self._stopping = True
        with contextlib.suppress(Full):  # when full, the worker sees `_stopping` between jobs
            self._jobs.put_nowait(None)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stopping and (cmd := self._jobs.get()) is not None:
            try:
                data = self.replay(cmd)
            # the source is injected and reads a disk: whatever it raises, the worker lives on
            except Exception as exc:  # noqa: BLE001
                LOG.warning("replay %s failed: %s", cmd.id, exc)
                self._reply(cmd, "rejected", f"replay failed: {exc}")
            else:
                if data is not None:
                    self._reply(cmd, "completed", data=data)

    def replay(self, cmd: Command) -> dict[str, Any] | None:
        """Publish the requested records in batches; the completed reply's data (None: stopped)."""
        run_id, lo, hi = cmd.args["run_id"], cmd.args["from_seq"], cmd.args["to_seq"]
        head = json.dumps({"schema": protocol.SCHEMA_VERSION, "id": cmd.id, "run_id": run_id},
                          separators=(",", ":"))[:-1].encode() + b',"records":['
        topic = protocol.replay_topic(self.press_id, run_id)
        batch: list[bytes] = []
        size = count = batches = 0
        last_seq = None
        for record in self._source(run_id, lo, hi):
            encoded = json.dumps(record, separators=(",", ":"), allow_nan=False).encode()
            if batch and (size + len(encoded) > REPLAY_BATCH_MAX_BYTES
                          or len(batch) >= REPLAY_BATCH_MAX_RECORDS):
                if not self._send(topic, head, batch):
                    return None
                batches, batch, size = batches + 1, [], 0
            batch.append(encoded)
            size += len(encoded) + 1
            count += 1
            last_seq = record.get("seq")
        if batch:
            if not self._send(topic, head, batch):
                return None
            batches += 1
        return {"run_id": run_id, "records": count, "batches": batches, "last_seq": last_seq}

    def _send(self, topic: str, head: bytes, batch: list[bytes]) -> bool:
        """Queue one batch, waiting for room; False when stopping; raises if the broker is gone."""
        payload = head + b",".join(batch) + b"]}"
        if self._outbox.put_wait(Outgoing(Kind.REPLAY, topic, payload, qos=1), REPLAY_WAIT_S):
            return True
        if self._stopping or self._outbox.closed:
            return False
        raise TimeoutError(f"no room to publish for {REPLAY_WAIT_S:.0f} s (broker away?)")
