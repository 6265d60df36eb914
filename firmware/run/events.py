"""Run events as values: what the journal records, MQTT publishes and the operator reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """Something that happened: a kind from a fixed vocabulary, a sentence, and the numbers."""

    kind: str  # run_started, step_started, step_done, soak_started, waiting_operator, paused,
    #            resumed, skipped, timeout, warning, fault, fault_reset, run_ended, autotune
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "data": self.data}
