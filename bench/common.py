"""Shared by every benchmark: the JSON result format and a readable table.

`{"benchmark": NAME, "machine": {...}, "figures": {KEY: NUMBER}}` with KEY as
`scenario.subject.metric_unit` (DESIGN.md, Benchmarks).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    return {"python": platform.python_version(), "platform": platform.platform(),
            "machine": platform.machine(), "cpus": os.cpu_count()}


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", metavar="PATH", help="write the figures as one JSON object")
    return p


def report(name: str, figures: dict[str, float], json_path: str | None,
           notes: list[str] | None = None) -> None:
    """Print a table of figures; write the JSON object when asked."""
    width = max((len(k) for k in figures), default=10)
    print(f"\n{name}")
    print("-" * (width + 16))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value:>12.4g}")
    for note in notes or []:
        print(f"note: {note}")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(
            {"benchmark": name, "machine": machine(), "figures": figures, "notes": notes or []},
            indent=1))
