"""The shipped broker config and ACL, TLS, outages, hostile floods and the last will."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

from firmware.clock import VirtualClock
from firmware.link import protocol
from firmware.link.commands import MAX_DEPTH

NOT_AUTHORIZED = 135  # MQTT 5 PUBACK / CONNACK reason code


def test_viewer_cannot_command_but_can_read(make_link, probe):
    link = make_link()
    link.publish_state({"mode": "idle"})
    viewer = probe("victor")
    viewer.connect()
    state = protocol.press_topic(link.press_id, "state")
    viewer.subscribe(state)
    assert viewer.puback(viewer.command("abort", {"id": "v1"})) == NOT_AUTHORIZED
    viewer.wait(lambda: viewer.on_topic(state), "the retained state")
    assert link.poll_commands() == []


def test_anonymous_and_wrong_password_are_refused(broker, probe):
    assert probe(None).connect().is_failure
    impostor = probe("alice")
    impostor.client.username_pw_set("alice", "not-the-password")
    assert impostor.connect().is_failure


def test_operator_commands_but_cannot_speak_for_a_press(make_link, probe):
    link = make_link()
    op = probe("alice")
    op.connect()
    assert op.puback(op.command("ping", {"id": "o1"})) == 0
    forged = op.client.publish(protocol.press_topic(link.press_id, "state"), b"{}", qos=1)
    assert op.puback(forged.mid) == NOT_AUTHORIZED


def test_press_account_is_confined_to_its_own_subtree(broker, probe):
    press = probe(broker.press_id)
    press.connect()
    own = press.client.publish(protocol.press_topic(broker.press_id, "event"), b"{}", qos=1)
    other = press.client.publish(protocol.press_topic("press-other", "state"), b"{}", qos=1)
    command = press.client.publish(protocol.command_topic("press-other", "abort"), b"{}", qos=1)
    assert press.puback(own.mid) < 128  # 0 or 16 "no matching subscribers": both accepted
    assert press.puback(other.mid) == press.puback(command.mid) == NOT_AUTHORIZED


def test_tls_listener_with_the_throwaway_ca(make_link, probe, broker):
    make_link(host="localhost", port=broker.tls_port, tls=True, tls_ca_file=str(broker.ca_file))
    op = probe("alice", tls=True)
    assert not op.connect(host="127.0.0.1", port=broker.tls_port).is_failure  # IP SAN
    op.subscribe()
    op.command("ping", {"id": "tls"})
    assert op.wait_reply("tls", "completed")


def test_hostile_burst_leaves_the_link_answering(make_link, probe):
    link = make_link()
    op = probe("alice")
    op.connect()
    op.subscribe()
    rng = random.Random(6)
    payloads = hostile_payloads(rng, 300)
    for i, payload in enumerate(payloads):
        op.command(rng.choice([*protocol.VERBS, "bogus", "x" * 300]), payload,
                   correlation=f"h{i}".encode())
    op.command("ping", {"id": "still-there"})
    assert op.wait_reply("still-there", "completed")
    assert link.stats().rejected >= len(payloads) - 5  # a random payload may happen to be valid


def hostile_payloads(rng: random.Random, n: int) -> list[bytes]:
    """Malformed, oversize, deep, binary and type-confused command payloads."""
    fixed = [b"", b"null", b"[]", b"{", b'{"id": NaN}', b'{"id": "a", "id": "b"}',
             b"\xff\xfe\x00", b"[" * 5000, b'{"id":' * 2000,
             json.dumps({"id": "d", "x": 1}).encode(),
             json.dumps({"id": "n", "from_seq": True, "to_seq": 1e400}).encode(),
             b'{"id": "big", "recipe_toml": "' + b"a" * (300 * 1024) + b'"}',
             json.dumps({"id": "deep", "setpoints_c": {"a": [[[[1]]]] * MAX_DEPTH}}).encode()]
    out = list(fixed)
    while len(out) < n:
        junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
        out.append(rng.choice([junk, json.dumps({"id": rng.random()}).encode(),
                               json.dumps({"id": "t", "at_c": "hot", "zone": None}).encode()]))
    return out


def wait_until(predicate, what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.01)


def test_broker_outage_reconnects_and_republishes_state(make_link, probe, broker):
    clock = VirtualClock()
    link = make_link(clock=clock)
    link.publish_state({"mode": "idle", "run_id": None})
    broker.stop()
    wait_until(lambda: not link.connected, "the link to notice the outage")
    sent = []
    for i in range(3):  # idle telemetry, 1 Hz, while the broker is away: dropped and counted
        clock.advance(1.0)
        sent.append(link.publish_telemetry({"mode": "idle", "seq": i}))
    assert sent == [False] * 3 and link.stats().dropped_telemetry == 3
    assert link.publish_state({"mode": "fault", "run_id": None})  # changed while away
    assert link.publish_event({"kind": "fault", "message": "while the broker was away"})
    broker.start()
    assert link.wait_connected(15), broker.log()
    viewer = probe("victor")
    viewer.connect()
    state = protocol.press_topic(link.press_id, "state")
    viewer.subscribe(state)
    viewer.wait(lambda: viewer.on_topic(state), "the republished state")
    assert json.loads(viewer.on_topic(state)[-1].payload)["mode"] == "fault"
    wait_until(lambda: link.stats().queue_depth == 0, "the event kept during the outage")
    assert link.stats().connects == 2 and link.stats().dropped == 0


def test_last_will_marks_a_killed_press_offline(broker, probe, tmp_path):
    viewer = probe("victor")
    viewer.connect()
    status = protocol.press_topic(broker.press_id, "status")
    viewer.subscribe(status)
    password = broker.password_file(broker.press_id, tmp_path)
    script = textwrap.dedent(f"""
        import sys, time
        from firmware.clock import RealClock
        from firmware.link.config import LinkConfig
        from firmware.link.mqtt import Link
        cfg = LinkConfig(host="127.0.0.1", port={broker.port}, password_file={str(password)!r})
        link = Link(cfg, {broker.press_id!r}, lambda *a: [], RealClock())
        link.start()
        print("ready" if link.wait_connected(10) else "failed", flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                             cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert child.stdout.readline().strip() == b"ready"
        viewer.wait(lambda: viewer.on_topic(status), "online")
        os.kill(child.pid, signal.SIGKILL)
        viewer.wait(lambda: len(viewer.on_topic(status)) == 2, "the last will")
    finally:
        child.kill()
        child.wait(5)
    online, offline = (json.loads(m.payload)["status"] for m in viewer.on_topic(status))
    assert (online, offline) == ("online", "offline")
