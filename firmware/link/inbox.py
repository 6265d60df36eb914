"""Commands waiting for the control loop, and what was replied to each recent command id.

Commands arrive on paho's network thread and are taken by the control loop once a tick, so this is
the one place both threads meet: a bounded queue (a full one means the loop is stuck or someone
floods; the newcomer is refused `busy`, nothing old is lost) and a cache of recent ids. The cache
makes commands idempotent: MQTT QoS 1 may deliver twice, and a host that timed out may resend,
but an id is executed at most once; a repeat is answered with the replies already given, to its
own response topic as well as to the first one's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import Enum

from firmware.link.commands import Command, ReplyRoute

MAX_ROUTES_PER_ID = 4  # a repeat with yet another response topic beyond this is answered once only
MAX_REPLIES_PER_ID = 4  # accepted, completed, and room for a stray extra


class Admission(Enum):
    """What became of a command offered to the inbox."""

    NEW = "new"  # first time this id is seen: execute it
    DUPLICATE = "duplicate"  # seen before: resend its replies, never execute again
    CONFLICT = "conflict"  # this id was used for another verb: refuse
    BUSY = "busy"  # the queue is full: refuse, and forget the id so a retry may run


@dataclass
class _Entry:
    verb: str
    routes: list[ReplyRoute] = field(default_factory=list)
    replies: list[bytes] = field(default_factory=list)


class Inbox:
    """Bounded command queue plus a recent-id cache; every method is thread-safe."""

    def __init__(self, max_commands: int, max_recent_ids: int) -> None:
        self.max_commands = max_commands
        self.max_recent_ids = max_recent_ids
        self._queue: deque[Command] = deque()
        self._recent: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def depth(self) -> int:
        """Commands waiting for the loop."""
        return len(self._queue)

    def admit(self, cmd: Command, for_loop: bool) -> tuple[Admission, list[bytes]]:
        """Offer `cmd`; `for_loop` False registers the id only (the link handles the verb).

        Returns the admission and, for a duplicate, the replies already sent for that id.
        """
        with self._lock:
            entry = self._recent.get(cmd.id)
            if entry is not None:
                self._recent.move_to_end(cmd.id)
                if entry.verb != cmd.verb:
                    return Admission.CONFLICT, []
                if cmd.reply_to is not None and cmd.reply_to not in entry.routes \
                        and len(entry.routes) < MAX_ROUTES_PER_ID:
                    entry.routes.append(cmd.reply_to)
                return Admission.DUPLICATE, list(entry.replies)
            if for_loop and len(self._queue) >= self.max_commands:
                return Admission.BUSY, []
            self._recent[cmd.id] = _Entry(cmd.verb, [cmd.reply_to] if cmd.reply_to else [])
            while len(self._recent) > self.max_recent_ids:
                self._recent.popitem(last=False)
            if for_loop:
                self._queue.append(cmd)
            return Admission.NEW, []

    def take(self, max_n: int, now_s: float) -> tuple[list[Command], list[Command]]:
        """Up to `max_n` commands for the loop, oldest first, and those whose expiry passed."""
        ready: list[Command] = []
        expired: list[Command] = []
        with self._lock:
            while self._queue and len(ready) < max_n:
                cmd = self._queue.popleft()
                late = cmd.expires_at_s is not None and now_s > cmd.expires_at_s
                (expired if late else ready).append(cmd)
        return ready, expired

    def record_reply(self, cmd: Command, payload: bytes) -> list[ReplyRoute]:
        """Remember a reply to `cmd`; returns every route that should receive it."""
        with self._lock:
            entry = self._recent.get(cmd.id)
            if entry is None or entry.verb != cmd.verb:  # evicted already: answer the asker only
                return [cmd.reply_to] if cmd.reply_to else []
            if len(entry.replies) < MAX_REPLIES_PER_ID:
                entry.replies.append(payload)
            return list(entry.routes)

    def forget(self, cmd_id: str) -> None:
        """Drop a just-admitted id that could not be served (busy), so a retry may run."""
        with self._lock:
            self._recent.pop(cmd_id, None)
