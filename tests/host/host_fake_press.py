"""A small fake press for the host tests: protocol-conformant messages from an in-memory journal.

It stands in for the daemon until the real link layer is wired: retained status (with the
offline last will) and state, telemetry and events carrying journal seqs, and `cmd/<verb>`
answered over the MQTT 5 response topic with the correlation data; `replay` is served from the
in-memory journal. `publish=False` on a record makes a deliberate gap.
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from firmware.link.commands import Rejection, parse_command
from firmware.link.protocol import SCHEMA_VERSION, press_topic, replay_topic

REPLAY_CHUNK = 25  # records per replay message: several messages per request, like the daemon


def reading(seq: int, t_s: float) -> dict[str, Any]:
    """Plausible readings at press time `t_s` (heating to 150 C, pressing to 375 MPa)."""
    temp = 25.0 + min(125.0, 2.0 * t_s) + 0.3 * math.sin(seq)
    mpa = min(375.0, 10.0 * t_s)
    return {"mode": "running", "step_index": 0 if t_s < 10 else 1,
            "temps_c": {"top": round(temp, 2), "bottom": round(temp - 0.4, 2)},
            "temp_faults": {}, "setpoints_c": {"top": 150.0, "bottom": 150.0},
            "line_mpa": round(mpa * 0.0784, 3), "force_kn": round(mpa * 0.0785, 3),
            "sample_mpa": round(mpa, 2), "target_sample_mpa": 375.0, "position_mm": None,
            "relative_density": round(0.6 + mpa / 1500, 4),
            "duty": {"top": 0.4, "bottom": 0.42},
            "outputs": {"pump": mpa < 375, "advance_open": False, "press_open": mpa < 375,
                        "release_open": False}}


class FakePress:
    """The press account of the suite's `broker`, running run `run_id`; drive it with `sample()`,
    `event()`, `end()`. Commands are validated with the link's own `parse_command`.
    """

    def __init__(self, broker: Any, run_id: str = "20250101T120000-a",
                 reject: dict[str, str] | None = None) -> None:
        self.press_id, self.run_id = broker.press_id, run_id
        self.host, self.port = "127.0.0.1", broker.port
        self.journal: list[dict[str, Any]] = []
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.reject = reject or {}
        self.mode = "running"
        self.finish_after_s: float | None = None  # a started run ends by itself after this
        self.outcome = "completed"
        self.wall0 = time.time()
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"fake-{self.press_id}", protocol=mqtt.MQTTv5)
        self.client.username_pw_set(self.press_id, broker.passwords[self.press_id])
        self.client.reconnect_delay_set(0.2, 1)
        offline = json.dumps({"schema": SCHEMA_VERSION, "status": "offline"})
        self.client.will_set(press_topic(self.press_id, "status"), offline, qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message

    def start(self) -> FakePress:
        connected = threading.Event()
        self._connected = connected
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        assert connected.wait(5), "fake press could not connect"
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        client.subscribe(press_topic(self.press_id, "cmd/#"), qos=1)
        self._pub("status", {"status": "online", "software": "fake 0"}, qos=1, retain=True)
        self.publish_state()
        self._connected.set()

    def _pub(self, leaf: str, body: dict[str, Any], qos: int = 0, retain: bool = False) -> None:
        payload = json.dumps({"schema": SCHEMA_VERSION, "press_id": self.press_id, **body})
        self.client.publish(press_topic(self.press_id, leaf), payload, qos=qos, retain=retain)

    def publish_state(self) -> None:
        running = self.mode == "running"
        self._pub("state", {"mode": self.mode, "run_id": self.run_id if running else None,
                            "recipe": "LPSCl 375 MPa" if running else None,
                            "sample_id": "S-1" if running else None,
                            "operator": "ana" if running else None, "step_index": 1,
                            "step_count": 3, "step_kind": "press", "step_label": "press",
                            "step_elapsed_s": 3.0, "step_eta_s": 27.0, "run_eta_s": 120.0,
                            "setpoints_c": {"top": 150.0, "bottom": 150.0},
                            "target_sample_mpa": 375.0,
                            "interlocks": {"estop": False, "guard_open": False},
                            "faults": [], "warnings": [], "last_outcome": None},
                  qos=1, retain=True)

    # -- the journal ---------------------------------------------------------------------------
    def _append(self, record: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            rec = {"seq": len(self.journal) + 1, **record}
            self.journal.append(rec)
        return rec

    def sample(self, publish: bool = True) -> int:
        """Journal one sample; publish it as telemetry unless told not to (a lost message)."""
        t_s = len(self.journal) * 0.1
        rec = self._append({"type": "sample", "t": t_s, "wall": self.wall0 + t_s,
                            **reading(len(self.journal) + 1, t_s)})
        if publish:
            self._pub("telemetry", {"seq": rec["seq"], "run_id": self.run_id, "t_s": rec["t"],
                                    "wall_s": rec["wall"],
                                    **{k: v for k, v in rec.items()
                                       if k not in ("seq", "type", "t", "wall")}})
        return rec["seq"]

    def event(self, kind: str, message: str = "", data: dict[str, Any] | None = None,
              publish: bool = True) -> int:
        """Journal an event and publish it (QoS 1)."""
        t_s = len(self.journal) * 0.1
        rec = self._append({"type": "event", "kind": kind, "message": message,
                            "data": data or {}, "t": t_s, "wall": self.wall0 + t_s})
        if publish:
            self._pub("event", {"run_id": self.run_id, "seq": rec["seq"], "t_s": t_s,
                                "wall_s": rec["wall"], "kind": kind, "message": message,
                                "data": data or {}}, qos=1)
        return rec["seq"]

    def end(self, outcome: str = "completed", publish: bool = True) -> int:
        """As the daemon ends a run: a run_ended event (published), the tick's sample, then the
        journal's end record (never published live), and the state goes idle. Returns its seq.
        """
        self.event("run_ended", f"run {outcome}", {"outcome": outcome}, publish=publish)
        self.sample(publish=publish)
        t_s = len(self.journal) * 0.1
        rec = self._append({"type": "end", "outcome": outcome, "reason": f"run {outcome}",
                            "t": t_s, "wall": self.wall0 + t_s})
        self.mode = "idle"
        self.publish_state()
        return rec["seq"]

    def run(self, samples: int, skip: range | tuple[int, ...] = ()) -> None:
        """A whole run: start event, `samples` samples (seqs in `skip` not published), end."""
        self.event("run_started", "run started", {"recipe": "LPSCl 375 MPa",
                                                  "sample_id": "S-1", "operator": "ana"})
        for _ in range(samples):
            self.sample(publish=len(self.journal) + 1 not in skip)
        self.end()

    # -- commands ------------------------------------------------------------------------------
    def _on_message(self, client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        verb = message.topic.rsplit("/", 1)[-1]
        args = json.loads(message.payload)
        self.commands.append((verb, args))
        props = message.properties
        reply_to = getattr(props, "ResponseTopic", None)
        corr = getattr(props, "CorrelationData", None)
        if reply_to is None:
            return
        checked = parse_command(verb, message.payload)
        if isinstance(checked, Rejection):
            self._reply(reply_to, corr, args, verb, "rejected", reason=checked.reason)
            return
        if verb in self.reject:
            self._reply(reply_to, corr, args, verb, "rejected", reason=self.reject[verb])
            return
        self._reply(reply_to, corr, args, verb, "accepted")
        if verb == "replay":
            self._serve_replay(args)
        if verb == "start":
            self._start_run(args)
            return  # completed comes with the end of the run
        self._reply(reply_to, corr, args, verb, "completed")

    def _start_run(self, args: dict[str, Any]) -> None:
        """Begin a new run; `finish_after_s` later it ends by itself (for `hotpress run`)."""
        self.run_id = f"run-{len(self.commands)}"
        self.journal = []
        self.mode = "running"
        self.publish_state()
        if self.finish_after_s is not None:
            threading.Timer(self.finish_after_s, self._finish).start()

    def _finish(self) -> None:
        self.event("run_started", "run started")
        for _ in range(5):
            self.sample()
        self.end(self.outcome)

    def _reply(self, topic: str, corr: bytes | None, args: dict[str, Any], verb: str,
               status: str, reason: str = "") -> None:
        props = Properties(PacketTypes.PUBLISH)
        if corr is not None:
            props.CorrelationData = corr
        body = {"schema": SCHEMA_VERSION, "id": args.get("id"), "verb": verb, "status": status,
                "reason": reason, "data": {}}
        self.client.publish(topic, json.dumps(body), qos=1, properties=props)

    def _serve_replay(self, args: dict[str, Any]) -> None:
        first, last = args["from_seq"], args["to_seq"]
        with self._lock:
            records = [r for r in self.journal if first <= r["seq"] <= last]
        for i in range(0, len(records), REPLAY_CHUNK):
            body = {"schema": SCHEMA_VERSION, "id": args["id"], "run_id": self.run_id,
                    "records": records[i:i + REPLAY_CHUNK]}
            self.client.publish(replay_topic(self.press_id, self.run_id), json.dumps(body),
                                qos=1)

    def replays(self) -> list[tuple[int, int]]:
        """(from_seq, to_seq) of every replay asked of this press."""
        return [(a["from_seq"], a["to_seq"]) for v, a in self.commands if v == "replay"]
