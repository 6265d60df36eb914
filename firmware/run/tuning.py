"""Autotune results kept across restarts: one JSON file per zone beside the run journal.

The daemon loads them at start so a zone keeps the model its relay test measured; without a file
a zone runs on the model its config implies.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from firmware.control.autotune import AutotuneResult

TUNING_DIR = "tuning"


def tuning_path(journal_root: Path, zone: str) -> Path:
    return Path(journal_root) / TUNING_DIR / f"{zone}.json"


def save_tuning(journal_root: Path, zone: str, result: dict[str, Any]) -> Path:
    """Write a zone's autotune result atomically; returns the file."""
    path = tuning_path(journal_root, zone)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, path)
    return path


def load_tuning(journal_root: Path, zones: list[str]) -> dict[str, AutotuneResult]:
    """Stored results for `zones`; a missing or unreadable file means none (the config model)."""
    found: dict[str, AutotuneResult] = {}
    for zone in zones:
        try:
            data = json.loads(tuning_path(journal_root, zone).read_text())
            found[zone] = AutotuneResult.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found
