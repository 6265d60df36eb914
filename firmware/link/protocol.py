"""The MQTT protocol of hotpress, defined once here and imported by the host.

Topics live under `hotpress/<press_id>/`:

| topic             | QoS | retained | payload                                                    |
|-------------------|-----|----------|------------------------------------------------------------|
| status            | 1   | yes      | {"schema", "status": "online"/"offline", "software"}; the |
|                   |     |          | offline form is the last will                              |
| state             | 1   | yes      | STATE: mode, run, step, setpoints, interlocks, faults      |
| telemetry         | 0   | no       | TELEMETRY: seq, time, every reading, setpoint and output   |
| event             | 1   | no       | EVENT: step changes, warnings, faults, run start/end       |
| cmd/<verb>        | 1   | never    | COMMAND {"id", ...args}; MQTT 5 response topic and         |
|                   |     |          | correlation data; message expiry honoured                  |
| replay/<run_id>   | 1   | no       | {"schema", "id", "run_id", "records": [journal records]};  |
|                   |     |          | `id` is the replay command's, so loggers tell theirs apart |
| reply[/<anything>]| 1   | no       | REPLY {"id", "verb", "status", "reason", "data"}: on the   |
|                   |     |          | command's response topic if it is under reply/, else on    |
|                   |     |          | `reply` itself; with the command's correlation data        |

Every payload is a JSON object carrying `"schema": SCHEMA_VERSION`. Units are in the key names.
The published JSON Schemas are in `firmware/link/schema.json` (see `schema.py`).

TELEMETRY keys: schema, press_id, seq (the journal seq during a run, else a daemon counter),
run_id (or null), t_s (press monotonic time), wall_s (epoch seconds), mode, step_index,
temps_c {zone: value or null}, temp_faults {zone: fault name}, setpoints_c {zone},
line_mpa, force_kn, sample_mpa, target_sample_mpa (or null), position_mm (or null),
thickness_mm (or null: pellet thickness, calibrated die), relative_density (or null), duty
{zone: 0..1}, outputs {pump, advance_open, press_open, release_open}.

STATE keys: schema, press_id, mode (idle, running, paused, fault, estop), run_id, recipe,
sample_id, operator, step_index, step_count, step_kind, step_label, step_elapsed_s, step_eta_s,
run_eta_s, setpoints_c, target_sample_mpa, interlocks {estop, guard_open}, faults [FAULT],
warnings [str], last_outcome, hold_band_mpa (retrofit: the band the operator must pump into).

FAULT: {"code", "message", "values", "t_s"}.
EVENT keys: schema, press_id, run_id, seq, t_s, wall_s, kind, message, data.
REPLY status: "accepted", "rejected" (with reason), "completed" (with data).
"""

from __future__ import annotations

SCHEMA_VERSION = 1
TOPIC_ROOT = "hotpress"
VERBS = ("start", "pause", "resume", "skip", "abort", "reset", "autotune", "set", "replay",
         "ping")
REPLY_LEAF = "reply"
MAX_COMMAND_BYTES = 256 * 1024  # a recipe is a few kB; anything far bigger is hostile or a mistake


def press_topic(press_id: str, leaf: str) -> str:
    """`hotpress/<press_id>/<leaf>`."""
    return f"{TOPIC_ROOT}/{press_id}/{leaf}"


def command_topic(press_id: str, verb: str) -> str:
    return press_topic(press_id, f"cmd/{verb}")


def replay_topic(press_id: str, run_id: str) -> str:
    return press_topic(press_id, f"replay/{run_id}")


def reply_topic(press_id: str) -> str:
    """Where replies go when a command names no usable response topic.

    A command's own response topic is used only under this one (`.../reply/<anything>`): the
    broker ACL lets a press write only its own subtree, and a response topic elsewhere in that
    subtree (`state`, `telemetry`) would let a command forge press output.
    """
    return press_topic(press_id, REPLY_LEAF)


def parse_topic(topic: str) -> tuple[str, str] | None:
    """(press_id, leaf) of a hotpress topic, or None for anything else."""
    parts = topic.split("/", 2)
    if len(parts) != 3 or parts[0] != TOPIC_ROOT or not parts[1]:
        return None
    return parts[1], parts[2]
