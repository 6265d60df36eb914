"""Outbox and Inbox on their own: drop policy, state coalescing, idempotency, expiry."""

from __future__ import annotations

from firmware.link.commands import Command, ReplyRoute
from firmware.link.inbox import Admission, Inbox
from firmware.link.outbox import Kind, Outbox, Outgoing


def msg(kind: Kind, n: int = 0) -> Outgoing:
    return Outgoing(kind, f"t/{kind.value}", str(n).encode())


def test_telemetry_is_dropped_while_disconnected_events_are_kept():
    box = Outbox(max_items=3, max_replay_items=1)
    assert not box.put(msg(Kind.TELEMETRY))
    assert all(box.put(msg(Kind.EVENT, i)) for i in range(3))
    assert not box.put(msg(Kind.EVENT, 3))  # over the bound: dropped, counted
    assert box.dropped[Kind.TELEMETRY] == 1 and box.dropped[Kind.EVENT] == 1
    assert box.take(0) is None  # nothing goes out while disconnected
    box.set_connected(True)
    assert [box.take(0).payload for _ in range(3)] == [b"0", b"1", b"2"]


def test_state_is_one_slot_latest_wins_and_goes_first_on_reconnect():
    box = Outbox(10, 1)
    box.put(msg(Kind.EVENT))
    box.put_state(msg(Kind.STATE, 1))
    box.put_state(msg(Kind.STATE, 2))
    box.set_connected(True)
    first = box.take(0)
    assert (first.kind, first.payload) == (Kind.STATE, b"2")
    box.mark_published(first)
    box.mark_published(box.take(0))
    box.set_connected(False)
    box.set_connected(True, state=first)  # reconnect: the last state goes out again
    assert box.take(0) is first


def test_requeued_message_goes_first_and_wait_empty_waits_for_it():
    box = Outbox(10, 1)
    box.set_connected(True)
    box.put(msg(Kind.EVENT, 1))
    box.put(msg(Kind.EVENT, 2))
    item = box.take(0)
    assert not box.wait_empty(0)
    box.requeue(item)
    assert box.take(0).payload == b"1"


def test_replay_batches_are_limited_so_events_still_fit():
    box = Outbox(10, max_replay_items=2)
    assert box.put_wait(msg(Kind.REPLAY), 0) and box.put_wait(msg(Kind.REPLAY), 0)
    assert not box.put_wait(msg(Kind.REPLAY), 0.01)
    assert box.put(msg(Kind.EVENT))


def cmd(cmd_id: str, verb: str = "pause", expires_at_s: float | None = None,
        topic: str = "r") -> Command:
    return Command(verb, cmd_id, reply_to=ReplyRoute(topic, b"c"), expires_at_s=expires_at_s)


def test_inbox_idempotency():
    inbox = Inbox(max_commands=2, max_recent_ids=10)
    assert inbox.admit(cmd("a"), for_loop=True) == (Admission.NEW, [])
    inbox.record_reply(cmd("a"), b"accepted")
    assert inbox.admit(cmd("a", topic="r2"), True) == (Admission.DUPLICATE, [b"accepted"])
    assert inbox.admit(cmd("a", verb="abort"), True)[0] is Admission.CONFLICT
    routes = inbox.record_reply(cmd("a"), b"completed")
    assert [r.topic for r in routes] == ["r", "r2"]  # the repeat's asker hears it too
    assert inbox.admit(cmd("b"), True)[0] is Admission.NEW
    assert inbox.admit(cmd("c"), True)[0] is Admission.BUSY
    assert inbox.admit(cmd("c"), True)[0] is Admission.BUSY  # busy is not remembered


def test_inbox_expiry_and_order():
    inbox = Inbox(10, 10)
    for c in (cmd("a", expires_at_s=5.0), cmd("b"), cmd("c", expires_at_s=20.0)):
        inbox.admit(c, True)
    ready, expired = inbox.take(10, now_s=10.0)
    assert [c.id for c in ready] == ["b", "c"] and [c.id for c in expired] == ["a"]


def test_recent_ids_are_bounded():
    inbox = Inbox(10, max_recent_ids=2)
    for name in "abc":
        inbox.admit(cmd(name), False)
    assert inbox.admit(cmd("a"), False)[0] is Admission.NEW  # forgotten: the oldest went first
