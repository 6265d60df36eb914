"""The published JSON Schema (draft 2020-12) of every hotpress MQTT payload, built in one place.

Command schemas are generated from `commands.VERBS`, the same table the daemon validates with, so
what the schema promises is what the press accepts. The outgoing payloads (status, state,
telemetry, event, reply, replay) are declared here; `protocol.py` describes them in prose.

Run `python -m firmware.link.schema` to write `firmware/link/schema.json` (commit it), or
`python -m firmware.link.schema --check` to fail when the committed file is stale. Version policy:
adding an optional key is compatible (objects stay open, `additionalProperties` is not false on
outgoing payloads); removing or retyping a key bumps `protocol.SCHEMA_VERSION`.

Where JSON Schema is looser than the daemon: it counts 5.0 as an integer (the daemon wants 5),
cannot say "from_seq <= to_seq", and its printable-text pattern only excludes ASCII/C1 controls.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from firmware.link import protocol
from firmware.link.commands import ENVELOPE_KEYS, ID_MAX_CHARS, VERBS, Arg, VerbSpec

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_PATH = Path(__file__).with_name("schema.json")
MODES = ("idle", "manual", "autotune", "running", "paused", "fault", "estop")
REPLY_STATUSES = ("accepted", "rejected", "completed")
PRINTABLE_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
PRESS_ID_PATTERN = "^[A-Za-z0-9_-]+$"  # an MQTT topic segment: see config.validate.safe_id

Schema = dict[str, Any]


def _t(kind: str, doc: str = "", nullable: bool = False, **extra: Any) -> Schema:
    """A typed leaf: `{"type": kind}` (or `[kind, "null"]`) with a description."""
    out: Schema = {"type": [kind, "null"] if nullable else kind}
    if doc:
        out["description"] = doc
    out.update(extra)
    return out


def _num(doc: str, nullable: bool = False, **extra: Any) -> Schema:
    return _t("number", doc, nullable, **extra)


def _map(values: Schema, doc: str) -> Schema:
    """An object keyed by zone name."""
    return {"type": "object", "description": doc,
            "propertyNames": {"pattern": PRESS_ID_PATTERN}, "additionalProperties": values}


def _obj(doc: str, props: dict[str, Schema], optional: tuple[str, ...] = (),
         closed: bool = False) -> Schema:
    """An object whose keys are all required unless listed in `optional`."""
    return {"type": "object", "description": doc, "properties": props,
            "required": [k for k in props if k not in optional],
            "additionalProperties": not closed}


def _header() -> dict[str, Schema]:
    return {"schema": {"const": protocol.SCHEMA_VERSION},
            "press_id": _t("string", "Press id: the <press_id> topic segment.",
                           pattern=PRESS_ID_PATTERN)}


# -- commands: generated from commands.VERBS --------------------------------------------------

def arg_schema(arg: Arg) -> Schema:
    """JSON Schema of one command argument."""
    doc = f"{arg.doc} ({arg.unit})" if arg.unit else arg.doc
    if arg.kind == "number_map":
        values = _bounded({"type": "number"}, arg)
        out = _map(values, doc)
        out["propertyNames"] = {"pattern": f"^(?:{arg.pattern})$"}
        out.update(minProperties=1, maxProperties=arg.max_len)
        return out
    out = _bounded(_t(arg.kind, doc), arg)
    if arg.kind == "string":
        out["minLength"] = arg.min_len
        if arg.max_len is not None:
            out["maxLength"] = arg.max_len
        if arg.pattern:
            out["pattern"] = f"^(?:{arg.pattern})$"
        elif arg.printable:
            out["pattern"] = PRINTABLE_PATTERN
    return out


def _bounded(out: Schema, arg: Arg) -> Schema:
    if arg.minimum is not None:
        out["minimum"] = arg.minimum
    if arg.maximum is not None:
        out["maximum"] = arg.maximum
    return out


def command_schema(verb: str, spec: VerbSpec) -> Schema:
    """JSON Schema of the payload on `cmd/<verb>`."""
    props: dict[str, Schema] = {
        "id": _t("string", "Unique per command; a repeat gets the same reply and never runs "
                 "twice.", minLength=1, maxLength=ID_MAX_CHARS, pattern=PRINTABLE_PATTERN),
        "schema": {"const": protocol.SCHEMA_VERSION, "description": "Optional."},
    }
    props.update({name: arg_schema(arg) for name, arg in spec.args.items()})
    out: Schema = {"type": "object", "description": spec.doc, "properties": props,
                   "required": ["id", *(n for n, a in spec.args.items() if a.required)],
                   "additionalProperties": False}
    if spec.exactly_one_of:
        out["oneOf"] = [{"required": [k]} for k in spec.exactly_one_of]
    if spec.at_least_one_of:
        out["anyOf"] = [{"required": [k]} for k in spec.at_least_one_of]
    if spec.check_doc:
        out["$comment"] = f"Also checked by the daemon: {spec.check_doc}."
    return out


# -- outgoing payloads ---------------------------------------------------------------------------

FAULT = _obj("A latched fault.", {
    "code": _t("string", "Stable machine-readable code."),
    "message": _t("string", "What happened and what to check, for people."),
    "values": _t("object", "The readings that tripped it, units in the keys."),
    "t_s": _num("Press monotonic time of the trip (s)."),
})

STATUS = _obj("Retained on `status`; the offline form is the last will.", {
    "schema": {"const": protocol.SCHEMA_VERSION},
    "status": {"enum": ["online", "offline"]},
    "software": _t("string", "hotpress version of the daemon."),
})

TELEMETRY = _obj("Published on `telemetry` at QoS 0, rate by mode.", {
    **_header(),
    "seq": _t("integer", "Journal seq during a run, else a daemon counter.", minimum=0),
    "run_id": _t("string", "Run in progress.", nullable=True),
    "t_s": _num("Press monotonic time (s)."),
    "wall_s": _num("Epoch time (s)."),
    "mode": {"enum": list(MODES)},
    "step_index": _t("integer", "0-based step of the recipe.", nullable=True, minimum=0),
    "temps_c": _map(_num("", nullable=True), "Zone temperature (C); null on a sensor fault."),
    "temp_faults": _map(_t("string"), "Zone sensor fault name, for zones reading null."),
    "setpoints_c": _map(_num("", nullable=True), "Zone setpoint (C)."),
    "line_mpa": _num("Hydraulic line pressure (MPa).", nullable=True),
    "force_kn": _num("Ram force (kN).", nullable=True),
    "sample_mpa": _num("Pressure on the sample (MPa).", nullable=True),
    "target_sample_mpa": _num("Pressure target on the sample (MPa).", nullable=True),
    "position_mm": _num("Ram position (mm).", nullable=True),
    "thickness_mm": _num("Pellet thickness under load (mm), from the calibrated die.",
                         nullable=True),
    "relative_density": _num("Estimated sample density / theoretical (0..1).", nullable=True),
    "duty": _map(_num("", minimum=0.0, maximum=1.0), "Heater duty per zone (0..1)."),
    "outputs": _obj("Hydraulic outputs as commanded.", {
        k: _t("boolean") for k in ("pump", "advance_open", "press_open", "release_open")}),
})

STATE = _obj("Retained on `state`, published on change.", {
    **_header(),
    "mode": {"enum": list(MODES)},
    **{k: _t("string", nullable=True) for k in ("run_id", "recipe", "sample_id", "operator")},
    "step_index": _t("integer", "0-based.", nullable=True, minimum=0),
    "step_count": _t("integer", "", nullable=True, minimum=0),
    "step_kind": _t("string", "heat, press, hold, breathe, cool, release, wait.", nullable=True),
    "step_label": _t("string", "", nullable=True),
    "step_elapsed_s": _num("", nullable=True),
    "step_eta_s": _num("Estimated time left in the step.", nullable=True),
    "run_eta_s": _num("Estimated time left in the run.", nullable=True),
    "setpoints_c": _map(_num("", nullable=True), "Zone setpoint (C)."),
    "target_sample_mpa": _num("", nullable=True),
    "interlocks": _obj("Hard-wired inputs.", {"estop": _t("boolean"),
                                               "guard_open": _t("boolean")}),
    "faults": {"type": "array", "items": {"$ref": "#/$defs/fault"}},
    "warnings": {"type": "array", "items": {"type": "string"}},
    "last_outcome": _t("string", "completed, aborted, faulted, interrupted.", nullable=True),
    "hold_band_mpa": {"type": ["array", "null"], "items": {"type": "number"}, "minItems": 2,
                      "maxItems": 2, "description": "Retrofit presses: [low, high] band (MPa) "
                      "the operator must pump the line into."},
}, optional=("hold_band_mpa",))

EVENT = _obj("Published on `event` at QoS 1.", {
    **_header(),
    "run_id": _t("string", "", nullable=True),
    "seq": _t("integer", "Journal seq of the event, when in a run.", nullable=True, minimum=0),
    "t_s": _num("Press monotonic time (s)."),
    "wall_s": _num("Epoch time (s)."),
    "kind": _t("string", "step, warning, fault, run_start, run_end, ..."),
    "message": _t("string", "For people."),
    "data": _t("object", "Kind-specific details, units in the keys.", nullable=True),
})

REPLY = _obj("On the command's response topic (default hotpress/<press_id>/reply) with its "
             "correlation data.", {
    "schema": {"const": protocol.SCHEMA_VERSION},
    "id": _t("string", "The command id; null when the payload had no readable id.",
             nullable=True),
    "verb": _t("string"),
    "status": {"enum": list(REPLY_STATUSES)},
    "reason": _t("string", "Why a command was rejected.", nullable=True),
    "data": {"description": "Result of a completed command, verb-specific."},
})

REPLAY = _obj("Journal records on replay/<run_id>, in seq order, in batches.", {
    "schema": {"const": protocol.SCHEMA_VERSION},
    "id": _t("string", "Id of the replay command this batch answers."),
    "run_id": _t("string"),
    "records": {"type": "array", "items": {
        "type": "object", "required": ["seq"],
        "properties": {"seq": {"type": "integer", "minimum": 1}}}},
})


def build_schema() -> Schema:
    """The whole published schema document, as a dict."""
    defs: dict[str, Schema] = {"fault": FAULT, "status": STATUS, "state": STATE,
                               "telemetry": TELEMETRY, "event": EVENT, "reply": REPLY,
                               "replay": REPLAY}
    defs.update({f"command_{verb}": command_schema(verb, spec) for verb, spec in VERBS.items()})
    root = f"{protocol.TOPIC_ROOT}/{{press_id}}"
    topics = {
        "status": {"topic": f"{root}/status", "qos": 1, "retained": True},
        "state": {"topic": f"{root}/state", "qos": 1, "retained": True},
        "telemetry": {"topic": f"{root}/telemetry", "qos": 0, "retained": False},
        "event": {"topic": f"{root}/event", "qos": 1, "retained": False},
        "replay": {"topic": f"{root}/replay/{{run_id}}", "qos": 1, "retained": False},
        "reply": {"topic": f"{root}/{protocol.REPLY_LEAF}[/...]", "qos": 1, "retained": False},
    }
    topics.update({f"command_{v}": {"topic": f"{root}/cmd/{v}", "qos": 1, "retained": False}
                   for v in VERBS})
    for name, topic in topics.items():
        topic["schema"] = f"#/$defs/{name}"
    return {
        "$schema": DRAFT,
        "$id": f"urn:hotpress:protocol:{protocol.SCHEMA_VERSION}",
        "title": f"hotpress MQTT payloads, schema version {protocol.SCHEMA_VERSION}",
        "description": "Every payload is a JSON object; units are in the key names. Commands "
                       "also carry the envelope keys " + ", ".join(ENVELOPE_KEYS) + ".",
        "x-schema-version": protocol.SCHEMA_VERSION,
        "x-topics": topics,
        "$defs": defs,
    }


def render() -> str:
    """The schema document as the text committed in schema.json (stable key order)."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write schema.json, or with --check report whether the committed one is current."""
    parser = argparse.ArgumentParser(prog="python -m firmware.link.schema", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if schema.json is stale")
    parser.add_argument("--output", type=Path, default=SCHEMA_PATH)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run python -m firmware.link.schema", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
