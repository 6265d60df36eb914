"""parse_command: every hostile payload is a Rejection with a reason, never an exception."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.link import protocol
from firmware.link.commands import (
    REPLAY_MAX_RECORDS,
    VERBS,
    Arg,
    Command,
    Rejection,
    parse_command,
)


def parse(verb: str, body: object) -> Command | Rejection:
    return parse_command(verb, json.dumps(body).encode())


def reason(verb: str, body: object) -> str:
    result = parse(verb, body)
    assert isinstance(result, Rejection), result
    return result.reason


def test_valid_start_by_name():
    cmd = parse("start", {"id": "c1", "recipe": "lgps", "sample_id": "S-1", "operator": "Ann"})
    assert isinstance(cmd, Command) and dict(cmd.args) == {
        "recipe": "lgps", "sample_id": "S-1", "operator": "Ann"}


def test_numbers_become_floats_and_integers_stay_integers():
    cmd = parse("set", {"id": "s", "setpoints_c": {"top": 150}, "force_kn": 30})
    assert cmd.args["setpoints_c"] == {"top": 150.0} and isinstance(cmd.args["force_kn"], float)
    cmd = parse("replay", {"id": "r", "run_id": "run-1", "from_seq": 1, "to_seq": 10})
    assert (cmd.args["from_seq"], cmd.args["to_seq"]) == (1, 10)


@pytest.mark.parametrize(("verb", "body", "expected"), [
    ("set", {"id": "s", "force_kn": True}, "force_kn: expected a number, got true"),
    ("set", {"id": "s", "heaters_off": 1}, "heaters_off: expected true or false"),
    ("set", {"id": "s"}, "give at least one of"),
    ("set", {"id": "s", "setpoints_c": {"top": "150"}}, "setpoints_c.top: expected a number"),
    ("set", {"id": "s", "setpoints_c": {"a/b": 1}}, "setpoints_c: key must match"),
    ("autotune", {"id": "a", "zone": "top", "at_c": 20}, "at_c: must be in 30..400 C"),
    ("autotune", {"id": "a", "zone": "top"}, "at_c: missing"),
    ("start", {"id": "c", "sample_id": "S", "operator": "A"}, "exactly one of recipe_toml"),
    ("start", {"id": "c", "recipe": "r", "sample_id": "a b", "operator": "A"}, "sample_id"),
    ("start", {"id": "c", "recipe": "r", "sample_id": "S", "operator": "A\nB"}, "printable"),
    ("start", {"id": "c", "recipe": "../etc", "sample_id": "S", "operator": "A"}, "recipe:"),
    ("abort", {"id": "a", "reason": "x" * 201}, "reason: must be 1..200 characters"),
    ("abort", {"id": "a", "reasn": "typo"}, "did you mean reason?"),
    ("replay", {"id": "r", "run_id": "..", "from_seq": 1, "to_seq": 2}, "run_id"),
    ("replay", {"id": "r", "run_id": "r", "from_seq": 0, "to_seq": 2}, "from_seq: must be >= 1"),
    ("replay", {"id": "r", "run_id": "r", "from_seq": 5, "to_seq": 4}, "before from_seq"),
    ("replay", {"id": "r", "run_id": "r", "from_seq": 1, "to_seq": 2.0}, "expected an integer"),
    ("replay", {"id": "r", "run_id": "r", "from_seq": 1, "to_seq": 1 + REPLAY_MAX_RECORDS},
     "at most"),
    ("ping", {"id": ""}, "id: must be 1..64"),
    ("ping", {"id": 7}, "id: expected a string"),
    ("ping", {}, "id: missing"),
    ("ping", {"id": "p", "schema": 99}, "this press speaks schema 1"),
    ("ping", [1], "must be a JSON object, got an array"),
    ("launch", {"id": "x"}, "unknown verb"),
])
def test_rejections_name_the_problem(verb, body, expected):
    assert expected in reason(verb, body)


@pytest.mark.parametrize(("payload", "expected"), [
    (b'{"id": "n", "force_kn": NaN}', "NaN is not a number"),
    (b'{"id": "n", "force_kn": -Infinity}', "-Infinity is not a number"),
    (b'{"id": "n", "force_kn": 1e999}', "finite"),
    (b'{"id": "a", "id": "b"}', "appears twice"),
    (b'{"id": "x", "setpoints_c": {"a": [[[1]]]}}', "nested too deeply"),
    (b"[" * 100_000, "nested too deeply"),
    (b"\xc3\x28", "not UTF-8"),
    (b'{"id": "x",}', "malformed JSON"),
    (b'{"id": "\\ud800"}', "id: must be"),
    (b" " * (protocol.MAX_COMMAND_BYTES + 1), "payload too large"),
])
def test_hostile_bytes(payload, expected):
    result = parse_command("set", payload)
    assert isinstance(result, Rejection) and expected in result.reason


def test_rejection_keeps_the_id_when_it_was_readable():
    assert parse("pause", {"id": "k", "extra": 1}).id == "k"
    assert parse("pause", {"id": 5}).id is None


def test_a_hostile_value_is_not_echoed_in_full():
    r = reason("start", {"id": "c", "recipe": "r", "sample_id": "x" * 5000 + "!", "operator": "A"})
    assert len(r) < 200


# Strategies are kept cheap (small alphabets, shallow trees): 10 000 payloads must run in seconds.
TRICKY_TEXT = st.text("aZ0._-/ \"\\\x00\x7f\u00e9\u2028\ud800{}[]", max_size=12)
JSON_LEAVES = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
               | TRICKY_TEXT | st.sampled_from([1e308, -0.0, "a" * 70, "x" * 300]))
JSON_VALUES = st.recursive(JSON_LEAVES, lambda kids: st.lists(kids, max_size=3)
                           | st.dictionaries(TRICKY_TEXT, kids, max_size=3), max_leaves=6)
ARG_NAMES = sorted({name for spec in VERBS.values() for name in spec.args} | {"id", "schema"})
COMMAND_SHAPED = st.dictionaries(st.sampled_from([*ARG_NAMES, "extra", "ID"]), JSON_VALUES,
                                 max_size=6)
VALID = [json.dumps(b).encode() for b in (
    {"id": "v", "recipe": "r", "sample_id": "S", "operator": "A"},
    {"id": "v", "setpoints_c": {"top": 150}, "force_kn": 30, "heaters_off": False},
    {"id": "v", "run_id": "r", "from_seq": 1, "to_seq": 5}, {"id": "v", "zone": "t", "at_c": 99})]


def _encode(value: object) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    """A valid payload with a few bytes replaced, inserted or cut."""
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(data)))
        data[i:i + draw(st.integers(0, 3))] = draw(st.binary(max_size=3))
    return bytes(data)


HOSTILE = st.one_of(st.binary(max_size=300), JSON_VALUES.map(_encode),
                    COMMAND_SHAPED.map(_encode), _mutated())
VERB_NAMES = st.sampled_from([*protocol.VERBS, "", "bogus", "PING", "x" * 300, "ping/x"])


HOSTILE_EXAMPLES = 1000  # hypothesis examples; each also yields DERIVED cheap variants
DERIVED = 9
LEAVES = [None, True, 0, -1, 1e308, "", "x" * 300, "\u2028", [], {}, [[[[0]]]], {"a": {"b": {}}}]


def _derive(payload: bytes, rng: random.Random) -> list[bytes]:
    """Nine cheap variants of one hypothesis payload: hypothesis' per-example cost (ms) would
    otherwise make 10 000 payloads take minutes, while a parse takes microseconds."""
    cut = rng.randint(0, len(payload))
    flipped = bytearray(payload or b"{}")
    for _ in range(rng.randint(1, 4)):
        flipped[rng.randrange(len(flipped))] = rng.randrange(256)
    depth = rng.randint(1, 60)
    base = json.loads(rng.choice(VALID))
    key = rng.choice([*base, *ARG_NAMES])
    try:
        value: object = json.loads(payload)
    except ValueError:
        value = payload.decode("latin-1")
    return [payload[:cut], bytes(flipped), b"[" * depth + payload + b"]" * depth,
            json.dumps({**base, key: value}).encode(),
            json.dumps({**base, key: rng.choice(LEAVES)}).encode(),
            payload + payload, rng.randbytes(rng.randint(0, 64)),
            payload[cut:] + payload[:cut],
            b'{"id": "d", "' + payload[:40].replace(b'"', b"") + b'": 1, "id": "e"}']


@settings(max_examples=HOSTILE_EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(verb=VERB_NAMES, payload=HOSTILE, rng=st.randoms(use_true_random=False))
def test_ten_thousand_hostile_payloads_never_raise(verb, payload, rng):
    for variant in [payload, *_derive(payload, rng)]:
        result = parse_command(verb, variant)
        if isinstance(result, Command):
            assert result.verb in VERBS
            json.dumps(dict(result.args), allow_nan=False)  # only finite, JSON-able values in
        else:
            assert isinstance(result, Rejection) and result.reason
            assert "\n" not in result.reason and len(result.reason) < 600


def test_derivation_makes_the_promised_count():
    assert HOSTILE_EXAMPLES * (1 + DERIVED) == 10_000
    assert len(_derive(b'{"id": 1}', random.Random(1))) == DERIVED


def _arg_values(arg: Arg) -> st.SearchStrategy[object]:
    """Values the spec says are valid, built from the spec alone."""
    lo, hi = arg.minimum, arg.maximum
    if arg.kind == "boolean":
        return st.booleans()
    if arg.kind == "integer":
        return st.integers(int(lo or 0), int(hi) if hi is not None else 10**9)
    if arg.kind == "number":
        return st.floats(lo, hi, allow_nan=False) | st.integers(math.ceil(lo), math.floor(hi))
    if arg.kind == "number_map":
        number = st.floats(lo, hi, allow_nan=False)
        return st.dictionaries(st.from_regex(arg.pattern, fullmatch=True), number, min_size=1,
                               max_size=arg.max_len)
    if arg.pattern:
        return st.from_regex(arg.pattern, fullmatch=True)
    printable = st.characters(whitelist_categories=("L", "N", "P", "S"))
    return st.text(printable, min_size=1, max_size=min(arg.max_len or 64, 64))


@st.composite
def _valid_command(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    verb = draw(st.sampled_from(protocol.VERBS))
    spec = VERBS[verb]
    body: dict[str, object] = {"id": draw(st.uuids()).hex}
    for name, arg in spec.args.items():
        if arg.required or draw(st.booleans()):
            body[name] = draw(_arg_values(arg))
    if spec.exactly_one_of:
        keep = draw(st.sampled_from(spec.exactly_one_of))
        for name in spec.exactly_one_of:
            body.pop(name, None)
        body[keep] = draw(_arg_values(spec.args[keep]))
    if spec.at_least_one_of and not any(k in body for k in spec.at_least_one_of):
        name = spec.at_least_one_of[0]
        body[name] = draw(_arg_values(spec.args[name]))
    if verb == "replay":
        body["to_seq"] = body["from_seq"] + draw(st.integers(0, REPLAY_MAX_RECORDS - 1))
    return verb, body


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(_valid_command())
def test_everything_the_spec_allows_is_accepted(case):
    verb, body = case
    result = parse(verb, body)
    assert isinstance(result, Command), result
    assert set(result.args) == set(body) - {"id"}
