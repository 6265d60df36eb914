"""Command payloads in, a typed `Command` or a `Rejection` with a clear reason out: pure, no MQTT.

Whatever arrives on `cmd/<verb>` is hostile until proven otherwise, so `parse_command` never
raises: oversize payloads, bytes that are not UTF-8, malformed JSON, NaN/Infinity, duplicate keys,
deep nesting, non-objects, unknown fields, wrong types (JSON `true` is no number here) and values
out of range all come back as a `Rejection` whose reason names the field.

`VERBS` below is the one source of truth for the arguments: this validator walks it, and
`schema.py` turns it into the published JSON Schema, so the two cannot disagree. The checks are
static (type, length, range); whether a setpoint suits this press is the core's call, and local
interlocks have the last word on any command.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from firmware.config.build import quote
from firmware.link import protocol

ID_MAX_CHARS = 64  # a UUID (36) with room for a client prefix
NAME_PATTERN = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}"  # a file-safe name: no "/" and no leading dot
ZONE_PATTERN = r"[A-Za-z0-9_-]{1,32}"  # a zone name is an MQTT topic segment and a telemetry key
MAX_DEPTH = 3  # the deepest legal command is {"setpoints_c": {"top": 150}}: depth 2
MAX_ZONES = 16  # more zones than any lab press has; bounds the work one `set` can ask for
REPLAY_MAX_RECORDS = 100_000  # ~3 h of 10 Hz records per request: a logger asks again for more
SHOWN_CHARS = 40  # a hostile value is echoed back in a reason only this far

ArgKind = Literal["string", "number", "integer", "boolean", "number_map"]


@dataclass(frozen=True)
class Arg:
    """One command argument: JSON type, bounds and meaning; the schema is generated from it."""

    kind: ArgKind
    doc: str
    required: bool = False
    min_len: int = 1
    max_len: int | None = None
    pattern: str | None = None  # full match, for strings and for the keys of a number_map
    printable: bool = False  # no control characters: the value is shown to people
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""


@dataclass(frozen=True)
class VerbSpec:
    """The arguments of one verb and the rules that span them."""

    doc: str
    args: Mapping[str, Arg] = field(default_factory=dict)
    exactly_one_of: tuple[str, ...] = ()  # e.g. a recipe by text or by name, never both
    at_least_one_of: tuple[str, ...] = ()  # e.g. `set` must set something
    check: Callable[[dict[str, Any]], str | None] | None = None  # rules JSON Schema cannot say
    check_doc: str = ""


def _check_replay(args: dict[str, Any]) -> str | None:
    """to_seq from from_seq on, and at most REPLAY_MAX_RECORDS of them per request."""
    lo, hi = args["from_seq"], args["to_seq"]
    if hi < lo:
        return f"to_seq ({hi}) is before from_seq ({lo})"
    if hi - lo >= REPLAY_MAX_RECORDS:
        return f"at most {REPLAY_MAX_RECORDS} records per replay; ask again from {lo + 100_000}"
    return None


_TEMP = {"minimum": 0.0, "maximum": 400.0, "unit": "C"}  # 400 C: the top of any press config
VERBS: dict[str, VerbSpec] = {
    "start": VerbSpec(
        "Start a run: a recipe given as TOML text or named from the press's library.",
        {"recipe_toml": Arg("string", "The recipe itself, as TOML text.",
                            max_len=protocol.MAX_COMMAND_BYTES),
         "recipe": Arg("string", "Name of a recipe in the press's library.", pattern=NAME_PATTERN),
         "sample_id": Arg("string", "Sample identifier; file-safe.", required=True,
                          pattern=r"[A-Za-z0-9._-]{1,64}"),
         "operator": Arg("string", "Who starts the run.", required=True, max_len=64,
                         printable=True)},
        exactly_one_of=("recipe_toml", "recipe")),
    "pause": VerbSpec("Hold the recipe clock; temperatures and pressure are held."),
    "resume": VerbSpec("Continue a paused run."),
    "skip": VerbSpec("End the current step now and go on to the next one."),
    "abort": VerbSpec(
        "End the run: heaters off, pressure released.",
        {"reason": Arg("string", "Why, for the run record.", max_len=200, printable=True)}),
    "reset": VerbSpec("Clear latched faults once their cause is gone."),
    "autotune": VerbSpec(
        "Tune one zone's PID with a relay test around a temperature.",
        {"zone": Arg("string", "Zone name.", required=True, pattern=ZONE_PATTERN),
         "at_c": Arg("number", "Temperature to tune around.", required=True, minimum=30.0,
                     maximum=400.0, unit="C")}),
    "set": VerbSpec(
        "Change setpoints outside a recipe (manual mode); the press checks its own limits.",
        {"setpoints_c": Arg("number_map", "Zone name to temperature setpoint.",
                            pattern=ZONE_PATTERN, max_len=MAX_ZONES, **_TEMP),
         "force_kn": Arg("number", "Ram force setpoint.", minimum=0.0, maximum=5000.0,
                         unit="kN"),
         "heaters_off": Arg("boolean", "True: every heater off.")},
        at_least_one_of=("setpoints_c", "force_kn", "heaters_off")),
    "replay": VerbSpec(
        "Publish journal records of a run to replay/<run_id>, for a logger that saw a gap.",
        {"run_id": Arg("string", "Run id.", required=True, pattern=NAME_PATTERN),
         "from_seq": Arg("integer", "First record seq.", required=True, minimum=1),
         "to_seq": Arg("integer", "Last record seq.", required=True, minimum=1)},
        check=_check_replay,
        check_doc=f"from_seq <= to_seq < from_seq + {REPLAY_MAX_RECORDS}"),
    "ping": VerbSpec("Answered by the link itself: is the daemon there and responsive?"),
}
assert tuple(VERBS) == protocol.VERBS, "commands.VERBS and protocol.VERBS disagree"
ENVELOPE_KEYS = ("id", "schema")  # on every command, beside its arguments


@dataclass(frozen=True)
class ReplyRoute:
    """Where the replies to one command go: MQTT 5 response topic and correlation data."""

    topic: str
    correlation: bytes | None = None


@dataclass(frozen=True)
class Command:
    """A valid command. `args` holds only the verb's arguments, typed (numbers as float).

    The link fills `reply_to` and `expires_at_s` (press clock) as the command arrives.
    """

    verb: str
    id: str
    args: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    reply_to: ReplyRoute | None = None
    expires_at_s: float | None = None


@dataclass(frozen=True)
class Rejection:
    """A command refused before anything acted on it; `id` is None when none could be read."""

    verb: str
    id: str | None
    reason: str


@dataclass(frozen=True)
class _Problem:
    """Internal: why a value (or the whole payload) is refused."""

    text: str


class _RefusedError(ValueError):
    """Internal: the JSON decoder met something we refuse (NaN, a duplicate key)."""


def shown(value: object) -> str:
    """A value safe to put in a reason: quoted, escaped, and cut short."""
    if isinstance(value, str):
        text = value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "..."
        return quote(text)
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return shown(str(value)) if len(str(value)) > SHOWN_CHARS else str(value)
    return {dict: "an object", list: "an array"}.get(type(value), type(value).__name__)


def parse_command(verb: str, payload: bytes, *,
                  max_bytes: int = protocol.MAX_COMMAND_BYTES) -> Command | Rejection:
    """Validate one command payload for `verb`; never raises."""
    spec = VERBS.get(verb)
    if spec is None:
        return Rejection(verb, None, f"unknown verb {shown(verb)}; known: {', '.join(VERBS)}")
    obj = _decode(payload, max_bytes)
    if isinstance(obj, _Problem):
        return Rejection(verb, None, obj.text)
    if not isinstance(obj, dict):
        return Rejection(verb, None, f"the payload must be a JSON object, got {shown(obj)}")
    cmd_id = obj.get("id")
    problem = _check_id(cmd_id)
    if problem:
        return Rejection(verb, None, problem)
    problem = _check_envelope(obj) or _check_unknown(verb, spec, obj)
    if problem:
        return Rejection(verb, cmd_id, problem)
    args: dict[str, Any] = {}
    for name, arg in spec.args.items():
        if name in obj:
            value = _check_arg(name, arg, obj[name])
            if isinstance(value, _Problem):
                return Rejection(verb, cmd_id, value.text)
            args[name] = value
        elif arg.required:
            return Rejection(verb, cmd_id, f"{name}: missing ({arg.doc})")
    problem = _check_combination(spec, args)
    if problem:
        return Rejection(verb, cmd_id, problem)
    return Command(verb, cmd_id, MappingProxyType(args))


def _decode(payload: bytes, max_bytes: int) -> object:
    """The decoded JSON value, or a `_Problem` saying why there is none."""
    if not isinstance(payload, bytes | bytearray):
        return _Problem(f"the payload must be bytes, got {type(payload).__name__}")
    if len(payload) > max_bytes:
        return _Problem(f"payload too large: {len(payload)} bytes, the limit is {max_bytes}")
    try:
        text = bytes(payload).decode("utf-8")
        obj = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except UnicodeDecodeError as exc:
        return _Problem(f"the payload is not UTF-8 text (byte {exc.start})")
    except RecursionError:
        return _Problem(f"JSON nested too deeply (the limit is {MAX_DEPTH} levels)")
    except _RefusedError as exc:
        return _Problem(str(exc))
    except ValueError as exc:  # JSONDecodeError, and Python's int-digits limit
        return _Problem(f"malformed JSON: {str(exc)[:120]}")
    if _depth(obj) > MAX_DEPTH:
        return _Problem(f"JSON nested too deeply (the limit is {MAX_DEPTH} levels)")
    return obj


def _refuse_constant(name: str) -> float:
    raise _RefusedError(f"{name} is not a number: JSON has no NaN or Infinity")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object, refusing a repeated key (which copy would win is parser-dependent)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _RefusedError(f"key {shown(key)} appears twice")
        out[key] = value
    return out


def _depth(obj: object) -> int:
    """Nesting depth of a decoded value (a scalar is 0, `{}` is 1); stops past MAX_DEPTH."""
    level, frontier = 0, [obj]
    while level <= MAX_DEPTH:
        containers = [x for x in frontier if isinstance(x, dict | list)]
        if not containers:
            return level
        level += 1
        frontier = [y for c in containers for y in (c.values() if isinstance(c, dict) else c)]
    return level


def _check_id(cmd_id: object) -> str | None:
    if cmd_id is None:
        return "id: missing (1..64 characters, unique per command, e.g. a UUID)"
    if not isinstance(cmd_id, str):
        return f"id: expected a string, got {shown(cmd_id)}"
    if not 1 <= len(cmd_id) <= ID_MAX_CHARS or not _printable(cmd_id):
        return f"id: must be 1..{ID_MAX_CHARS} printable characters, got {shown(cmd_id)}"
    return None


def _check_envelope(obj: dict[str, Any]) -> str | None:
    """`schema`, when given, must be the version this press speaks."""
    if "schema" not in obj:
        return None
    version = obj["schema"]
    if type(version) is not int or version != protocol.SCHEMA_VERSION:
        return (f"schema: this press speaks schema {protocol.SCHEMA_VERSION}, "
                f"got {shown(version)}")
    return None


def _check_unknown(verb: str, spec: VerbSpec, obj: dict[str, Any]) -> str | None:
    known = list(spec.args) + list(ENVELOPE_KEYS)
    for key in obj:
        if key not in known:
            guess = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {guess[0]}?)" if guess else ""
            allowed = ", ".join(spec.args) or "none"
            return f"{shown(key)}: unknown field for {verb}{hint}; its fields: {allowed}"
    return None


def _check_arg(name: str, arg: Arg, value: object) -> Any:
    """The typed value, or a `_Problem` naming the field."""
    if arg.kind == "number_map":
        return _check_map(name, arg, value)
    checker = {"string": _check_string, "number": _check_number, "integer": _check_integer,
               "boolean": _check_boolean}[arg.kind]
    result = checker(arg, value)
    return _Problem(f"{name}: {result.text}") if isinstance(result, _Problem) else result


def _check_string(arg: Arg, value: object) -> str | _Problem:
    if not isinstance(value, str):
        return _Problem(f"expected a string, got {shown(value)}")
    if not _encodable(value):
        return _Problem("contains a lone surrogate: not valid Unicode text")
    hi = arg.max_len if arg.max_len is not None else 64 * 1024
    if not arg.min_len <= len(value) <= hi:
        return _Problem(f"must be {arg.min_len}..{hi} characters, got {len(value)}")
    if arg.pattern and not re.fullmatch(arg.pattern, value):
        return _Problem(f"must match {arg.pattern}, got {shown(value)}")
    if arg.printable and not _printable(value):
        return _Problem(f"must be printable text (no control characters), got {shown(value)}")
    return value


def _check_number(arg: Arg, value: object) -> float | _Problem:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _Problem(f"expected a number, got {shown(value)}")
    try:
        number = float(value)
    except OverflowError:  # an integer literal with hundreds of digits
        number = math.inf
    if not math.isfinite(number):
        return _Problem(f"expected a finite number, got {shown(value)}")
    return _in_range(arg, number)


def _check_integer(arg: Arg, value: object) -> int | _Problem:
    if isinstance(value, bool) or not isinstance(value, int):
        return _Problem(f"expected an integer, got {shown(value)}")
    return _in_range(arg, value)


def _check_boolean(arg: Arg, value: object) -> bool | _Problem:
    return value if isinstance(value, bool) else _Problem(f"expected true or false, got "
                                                          f"{shown(value)}")


def _in_range(arg: Arg, value: Any) -> Any:
    lo = -math.inf if arg.minimum is None else arg.minimum
    hi = math.inf if arg.maximum is None else arg.maximum
    if lo <= value <= hi:
        return value
    span = f">= {lo:g}" if hi == math.inf else f"in {lo:g}..{hi:g}"
    return _Problem(f"must be {span} {arg.unit}".rstrip() + f", got {shown(value)}")


def _check_map(name: str, arg: Arg, value: object) -> dict[str, float] | _Problem:
    if not isinstance(value, dict):
        return _Problem(f"{name}: expected an object of zone: number, got {shown(value)}")
    if not 1 <= len(value) <= (arg.max_len or MAX_ZONES):
        return _Problem(f"{name}: give 1..{arg.max_len} entries, got {len(value)}")
    out: dict[str, float] = {}
    for key, item in value.items():
        if arg.pattern and not re.fullmatch(arg.pattern, key):
            return _Problem(f"{name}: key must match {arg.pattern}, got {shown(key)}")
        number = _check_number(arg, item)
        if isinstance(number, _Problem):
            return _Problem(f"{name}.{key}: {number.text}")
        out[key] = number
    return out


def _check_combination(spec: VerbSpec, args: dict[str, Any]) -> str | None:
    if spec.exactly_one_of and sum(k in args for k in spec.exactly_one_of) != 1:
        return f"give exactly one of {', '.join(spec.exactly_one_of)}"
    if spec.at_least_one_of and not any(k in args for k in spec.at_least_one_of):
        return f"give at least one of {', '.join(spec.at_least_one_of)}"
    return spec.check(args) if spec.check is not None else None


def _printable(text: str) -> bool:
    return text.isprintable() and _encodable(text)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
