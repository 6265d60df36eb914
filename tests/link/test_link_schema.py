"""The published JSON Schema: current, complete, and generated from the validator's own table."""

from __future__ import annotations

import json

from firmware.link import protocol, schema
from firmware.link.commands import VERBS


def test_committed_schema_json_is_current():
    assert schema.SCHEMA_PATH.read_text(encoding="utf-8") == schema.render(), (
        "firmware/link/schema.json is stale: run python -m firmware.link.schema")


def test_check_mode_reports_stale(tmp_path):
    out = tmp_path / "schema.json"
    assert schema.main(["--check", "--output", str(out)]) == 1
    assert schema.main(["--output", str(out)]) == 0
    assert schema.main(["--check", "--output", str(out)]) == 0


def test_every_payload_and_verb_has_a_schema():
    doc = json.loads(schema.render())
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["x-schema-version"] == protocol.SCHEMA_VERSION
    expected = {"status", "state", "telemetry", "event", "reply", "replay", "fault"}
    assert expected | {f"command_{v}" for v in protocol.VERBS} == set(doc["$defs"])
    for ref in (t["schema"] for t in doc["x-topics"].values()):
        assert ref.removeprefix("#/$defs/") in doc["$defs"]


def test_command_schemas_follow_the_validator_table():
    doc = schema.build_schema()["$defs"]
    for verb, spec in VERBS.items():
        s = doc[f"command_{verb}"]
        assert s["additionalProperties"] is False
        assert set(s["properties"]) == {"id", "schema", *spec.args}
        assert set(s["required"]) == {"id", *(n for n, a in spec.args.items() if a.required)}
    assert doc["command_autotune"]["properties"]["at_c"] == {
        "type": "number", "description": "Temperature to tune around. (C)", "minimum": 30.0,
        "maximum": 400.0}
    assert doc["command_start"]["oneOf"] == [{"required": ["recipe_toml"]},
                                             {"required": ["recipe"]}]
