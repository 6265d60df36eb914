"""The link against a real mosquitto: commands, replies, idempotency, expiry, replay, ping."""

from __future__ import annotations

import json
import threading

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from firmware.clock import VirtualClock
from firmware.link import protocol
from firmware.link.mqtt import INBOX_MAX_COMMANDS
from firmware.link.replay import REPLAY_MAX_PENDING
from firmware.run.journal import RunJournal, iter_records

START = {"recipe": "lgps_hotpress_150c", "sample_id": "S-001", "operator": "Alice"}


def connected_operator(probe):
    op = probe("alice")
    op.connect()
    op.subscribe()
    return op


def test_command_round_trip_accepted_then_completed(make_link, probe, daemon_loop):
    link = make_link()
    executed = daemon_loop(link)
    op = connected_operator(probe)
    op.command("start", {"id": "c1", **START}, correlation=b"corr-1")
    assert op.wait_reply("c1", "completed")["data"] == {"verb": "start"}
    assert [r["status"] for r in op.replies("c1")] == ["accepted", "completed"]
    assert {m.properties.CorrelationData for m in op.on_topic(op.reply_topic)} == {b"corr-1"}
    assert executed[0].args["sample_id"] == "S-001"


def test_ping_is_answered_by_the_link_without_the_loop(make_link, probe):
    link = make_link()
    op = connected_operator(probe)
    op.command("ping", {"id": "p1"})
    assert op.wait_reply("p1", "completed")["data"]["software"] == link.software
    assert link.poll_commands() == []


def test_repeated_id_is_answered_again_and_executed_once(make_link, probe, daemon_loop):
    link = make_link()
    executed = daemon_loop(link)
    op = connected_operator(probe)
    op.command("pause", {"id": "dup"})
    op.wait_reply("dup", "completed")
    op.command("pause", {"id": "dup"})
    op.wait(lambda: len(op.replies("dup")) == 4, "the repeated replies")
    assert [r["status"] for r in op.replies("dup")] == ["accepted", "completed"] * 2
    assert len(executed) == 1


def test_duplicate_while_queued_runs_once(make_link, probe):
    link = make_link()
    op = connected_operator(probe)
    for _ in range(3):
        op.command("skip", {"id": "s1"})
    op.command("ping", {"id": "fence"})  # commands are handled in order: after this, all three
    op.wait_reply("fence", "completed")
    assert [c.id for c in link.poll_commands()] == ["s1"]


def test_expired_command_is_rejected_and_never_executed(make_link, probe):
    clock = VirtualClock(1000.0)
    link = make_link(clock=clock)
    op = connected_operator(probe)
    op.command("abort", {"id": "late", "reason": "test"}, expiry_s=5)
    op.command("ping", {"id": "fence"})
    op.wait_reply("fence", "completed")
    clock.advance(6.0)  # the loop was stuck for longer than the command's expiry
    assert link.poll_commands() == []
    assert op.wait_reply("late", "rejected")["reason"].startswith("expired")
    op.command("abort", {"id": "late", "reason": "test"}, expiry_s=5)  # same id again
    op.wait(lambda: len(op.replies("late")) == 2, "the repeated rejection")
    assert link.poll_commands() == []


def test_fresh_command_with_expiry_runs(make_link, probe):
    clock = VirtualClock()
    link = make_link(clock=clock)
    op = connected_operator(probe)
    op.command("resume", {"id": "r1"}, expiry_s=5)
    op.command("ping", {"id": "fence"})
    op.wait_reply("fence", "completed")
    clock.advance(4.0)
    assert [c.id for c in link.poll_commands()] == ["r1"]


def test_malformed_command_is_rejected_and_never_reaches_the_loop(make_link, probe):
    link = make_link()
    op = connected_operator(probe)
    op.command("set", {"id": "bad", "force_kn": True})
    assert "force_kn" in op.wait_reply("bad", "rejected")["reason"]
    op.command("set", b'{"id": "nan", "force_kn": NaN}')
    op.wait(lambda: len(op.replies(None)) == 2, "the second rejection")
    assert link.poll_commands() == [] and link.stats().rejected == 2


def test_retained_command_is_refused(make_link, probe):
    link = make_link()
    op = connected_operator(probe)
    op.command("reset", {"id": "ret"}, retain=True)
    op.wait(lambda: len(op.replies()) == 1, "a reply")
    assert "retained" in op.replies()[0]["reason"]
    assert link.poll_commands() == []


def test_full_inbox_rejects_busy(make_link, probe):
    link = make_link()
    op = connected_operator(probe)
    for i in range(INBOX_MAX_COMMANDS + 1):
        op.command("pause", {"id": f"b{i}"})
    assert op.wait_reply(f"b{INBOX_MAX_COMMANDS}", "rejected")["reason"].startswith("busy")
    assert len(link.poll_commands(1000)) == INBOX_MAX_COMMANDS


def test_replay_reads_the_journal_on_the_link_thread(make_link, probe, tmp_path):
    journal = RunJournal.create(tmp_path, "run-1", {"recipe": "x"}, now_s=0.0)
    for i in range(1200):
        journal.append({"type": "sample", "t": i * 0.1, "temps_c": {"top": 20.0 + i}}, now_s=0.0)
    journal.close()
    link = make_link(replay_source=lambda run, lo, hi: iter_records(tmp_path, run, lo, hi))
    op = connected_operator(probe)
    topic = protocol.replay_topic(link.press_id, "run-1")
    op.subscribe(topic)
    op.command("replay", {"id": "rp", "run_id": "run-1", "from_seq": 101, "to_seq": 1150})
    done = op.wait_reply("rp", "completed")
    assert done["data"]["records"] == 1050 and done["data"]["last_seq"] == 1150
    batches = [json.loads(m.payload) for m in op.on_topic(topic)]
    assert all(b["id"] == "rp" and b["run_id"] == "run-1" for b in batches)
    seqs = [r["seq"] for b in batches for r in b["records"]]
    assert seqs == list(range(101, 1151)) and len(batches) == done["data"]["batches"] > 1


def test_replay_failure_is_a_rejection(make_link, probe):
    def broken(run_id, lo, hi):
        raise OSError("disk on fire")

    make_link(replay_source=broken)
    op = connected_operator(probe)
    op.command("replay", {"id": "rp", "run_id": "r", "from_seq": 1, "to_seq": 2})
    assert "disk on fire" in op.wait_reply("rp", "rejected")["reason"]


def test_state_is_retained_and_published_only_on_change(make_link, probe):
    link = make_link()
    assert link.publish_state({"mode": "idle", "run_id": None})
    assert not link.publish_state({"mode": "idle", "run_id": None})
    viewer = probe("victor")
    viewer.connect()
    viewer.subscribe(protocol.press_topic(link.press_id, "state"))
    viewer.wait(lambda: viewer.on_topic(protocol.press_topic(link.press_id, "state")), "state")
    state = json.loads(viewer.on_topic(protocol.press_topic(link.press_id, "state"))[0].payload)
    assert state == {"schema": 1, "press_id": link.press_id, "mode": "idle", "run_id": None}


def test_telemetry_rate_follows_the_mode(make_link, probe):
    clock = VirtualClock()
    link = make_link(clock=clock)
    sent = []
    for _ in range(20):  # 2 s of a 10 Hz loop while idle (1 Hz) ...
        sent.append(link.publish_telemetry({"mode": "idle", "seq": len(sent)}))
        clock.advance(0.1)
    for _ in range(20):  # ... then 2 s running (10 Hz)
        sent.append(link.publish_telemetry({"mode": "running", "seq": len(sent)}))
        clock.advance(0.1)
    for _ in range(10):  # ... then paused: still in a run, so still every tick
        sent.append(link.publish_telemetry({"mode": "paused", "run_id": "r1"}))
        clock.advance(0.1)
    assert sum(sent[:20]) == 2 and sum(sent[20:]) == 30
    assert link.stats().throttled_telemetry == 18


def test_events_are_published(make_link, probe):
    link = make_link()
    viewer = probe("victor")
    viewer.connect()
    topic = protocol.press_topic(link.press_id, "event")
    viewer.subscribe(topic)
    assert link.publish_event({"kind": "warning", "message": "hot", "t_s": 1.0})
    viewer.wait(lambda: viewer.on_topic(topic), "the event")
    assert json.loads(viewer.on_topic(topic)[0].payload)["kind"] == "warning"


def test_unencodable_payload_is_refused_not_raised(make_link):
    link = make_link()
    assert not link.publish_event({"kind": "x", "value": float("nan")})
    assert not link.publish_state({"mode": object()})


def test_stop_publishes_offline_retained(make_link, probe):
    link = make_link()
    link.stop()
    viewer = probe("victor")
    viewer.connect()
    topic = protocol.press_topic(link.press_id, "status")
    viewer.subscribe(topic)
    viewer.wait(lambda: viewer.on_topic(topic), "the retained status")
    assert json.loads(viewer.on_topic(topic)[0].payload)["status"] == "offline"


@pytest.mark.parametrize("user", ["alice", "victor"])
def test_status_online_is_retained(make_link, probe, user):
    link = make_link()
    p = probe(user)
    p.connect()
    topic = protocol.press_topic(link.press_id, "status")
    p.subscribe(topic)
    p.wait(lambda: p.on_topic(topic), "the retained status")
    message = p.on_topic(topic)[0]
    assert message.retain and json.loads(message.payload)["status"] == "online"


def test_replays_beyond_the_queue_are_refused_busy(make_link, probe):
    gate = threading.Event()

    def slow(run_id, lo, hi):
        gate.wait(10)
        return [{"seq": 1}]

    make_link(replay_source=slow)
    op = connected_operator(probe)
    ids = [f"r{i}" for i in range(REPLAY_MAX_PENDING + 3)]
    for cmd_id in ids:
        op.command("replay", {"id": cmd_id, "run_id": "r", "from_seq": 1, "to_seq": 1})
    op.wait(lambda: any(r["status"] == "rejected" for r in op.replies()), "a busy refusal")
    gate.set()
    op.wait(lambda: all(any(r["status"] != "accepted" for r in op.replies(i)) for i in ids),
            "a final reply to every replay")
    finals = {r["id"]: r for r in op.replies() if r["status"] != "accepted"}
    busy = [i for i, r in finals.items() if r["status"] == "rejected"]
    assert busy and all(finals[i]["reason"].startswith("busy") for i in busy)
    assert len(ids) - len(busy) >= REPLAY_MAX_PENDING


@pytest.mark.parametrize("response_topic", [None, "hotpress/press-t1/state", "elsewhere/x"])
def test_replies_without_a_usable_response_topic_go_to_the_default(make_link, probe,
                                                                    response_topic):
    link = make_link()
    op = connected_operator(probe)
    default = protocol.reply_topic(link.press_id)
    state = protocol.press_topic(link.press_id, "state")
    op.subscribe(default, state)
    props = Properties(PacketTypes.PUBLISH)
    if response_topic:
        props.ResponseTopic = response_topic
    props.CorrelationData = b"k"
    op.client.publish(protocol.command_topic(link.press_id, "ping"), b'{"id": "d1"}', qos=1,
                      properties=props)
    op.wait(lambda: op.on_topic(default), "the reply on the default topic")
    assert json.loads(op.on_topic(default)[0].payload)["status"] == "completed"
    assert op.on_topic(default)[0].properties.CorrelationData == b"k"
    assert op.on_topic(state) == []  # a command cannot make the press write its state topic


def test_oversize_command_is_rejected_by_the_link(make_link, probe):
    make_link()
    op = connected_operator(probe)
    op.command("start", {"id": "big", **START, "recipe_toml": "#" * protocol.MAX_COMMAND_BYTES})
    op.wait(lambda: op.replies(), "the rejection")
    assert op.replies()[0]["reason"].startswith("payload too large")
