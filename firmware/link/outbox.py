"""The bounded queue between the control loop and the MQTT publisher thread.

The loop must never wait on the network, so every publish is a `put` that returns at once: the
message is queued or dropped, and a drop is counted, never raised. Policy while the broker is away:
telemetry is dropped at once (the journal has it and the logger replays gaps), events and replies
are kept up to the bound, and the state is kept as one slot holding only the latest (a stale
retained state is worse than none, and republishing the latest on reconnect is all that matters).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Kind(Enum):
    """What a queued message is; decides its drop policy and its counter."""

    TELEMETRY = "telemetry"
    STATE = "state"
    EVENT = "event"
    REPLY = "reply"
    REPLAY = "replay"


@dataclass(frozen=True)
class Outgoing:
    """One message for the publisher: topic, encoded payload, QoS, retain, MQTT 5 properties."""

    kind: Kind
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False
    properties: Any = None  # paho Properties (correlation data for replies) or None


class Outbox:
    """A bounded FIFO of `Outgoing`, with one coalesced slot for the retained state.

    `put` never blocks (the loop's side); `put_wait` blocks (a worker thread's side, for replay
    batches); `take` blocks the publisher until connected and something is queued.
    """

    def __init__(self, max_items: int, max_replay_items: int) -> None:
        self.max_items = max_items
        self.max_replay_items = max_replay_items
        self._items: deque[Outgoing] = deque()
        self._cond = threading.Condition()
        self._connected = False
        self._closed = False
        self._state: Outgoing | None = None  # latest state, not yet handed to the publisher
        self._replay_queued = 0
        self._taken = 0  # handed to the publisher, not yet reported back
        self.published: dict[Kind, int] = dict.fromkeys(Kind, 0)
        self.dropped: dict[Kind, int] = dict.fromkeys(Kind, 0)

    @property
    def depth(self) -> int:
        """Messages waiting, the pending state included."""
        return len(self._items) + (self._state is not None)

    @property
    def connected(self) -> bool:
        """What the network thread last reported: publishing goes on only while True."""
        return self._connected

    @property
    def closed(self) -> bool:
        """True once `close()` ran: the link is stopping."""
        return self._closed

    def put(self, item: Outgoing) -> bool:
        """Queue `item` or drop it (counted); True when queued. Never blocks."""
        with self._cond:
            if item.kind is Kind.TELEMETRY and not self._connected:
                return self._drop(item)
            if self._closed or len(self._items) >= self.max_items:
                return self._drop(item)
            self._items.append(item)
            self._cond.notify_all()
            return True

    def put_state(self, item: Outgoing) -> None:
        """Make `item` the state to publish next, replacing any older one not yet sent."""
        with self._cond:
            self._state = item
            self._cond.notify_all()

    def put_wait(self, item: Outgoing, timeout_s: float) -> bool:
        """Queue a replay batch, waiting (up to `timeout_s`) for room; False on timeout or close.

        Replay batches may take at most `max_replay_items` places, so a long replay during an
        outage cannot crowd out events.
        """
        with self._cond:
            ok = self._cond.wait_for(lambda: self._closed or (
                self._replay_queued < self.max_replay_items
                and len(self._items) < self.max_items), timeout_s)
            if not ok or self._closed:
                return False
            self._items.append(item)
            self._replay_queued += 1
            self._cond.notify_all()
            return True

    def take(self, timeout_s: float) -> Outgoing | None:
        """The next message once connected (state first), or None after `timeout_s` or close."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or (self._connected and self.depth > 0),
                                timeout_s)
            if self._closed or not self._connected or self.depth == 0:
                return None
            self._cond.notify_all()  # room for put_wait
            self._taken += 1
            if self._state is not None:
                item, self._state = self._state, None
                return item
            item = self._items.popleft()
            self._replay_queued -= item.kind is Kind.REPLAY
            return item

    def requeue(self, item: Outgoing) -> None:
        """Put back, first in line, a message the MQTT client had no room for."""
        with self._cond:
            self._taken -= 1
            if item.kind is Kind.STATE:
                self._state = self._state or item
            else:
                self._items.appendleft(item)
                self._replay_queued += item.kind is Kind.REPLAY
            self._cond.notify_all()

    def mark_published(self, item: Outgoing) -> None:
        """Count a taken message the client accepted."""
        self._done(self.published, item)

    def mark_lost(self, item: Outgoing) -> None:
        """Count a taken message the client refused for good (QoS 0 with the connection gone)."""
        self._done(self.dropped, item)

    def _done(self, counter: dict[Kind, int], item: Outgoing) -> None:
        with self._cond:
            counter[item.kind] += 1
            self._taken -= 1
            self._cond.notify_all()

    def set_connected(self, connected: bool, state: Outgoing | None = None) -> None:
        """Record the connection; on connect, `state` (the last one) is queued to go first."""
        with self._cond:
            self._connected = connected
            if connected and state is not None and self._state is None:
                self._state = state
            self._cond.notify_all()

    def wait_empty(self, timeout_s: float) -> bool:
        """Wait until everything queued was handed to the client (while connected)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._idle() or not self._connected or self._closed, timeout_s
            ) and self._idle()

    def _idle(self) -> bool:
        return self.depth == 0 and self._taken == 0

    def close(self) -> None:
        """Wake every waiter; later puts are dropped."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _drop(self, item: Outgoing) -> bool:
        self.dropped[item.kind] += 1
        return False
