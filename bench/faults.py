"""Fault catalogue: how fast the supervisor catches each fault, and how far the press got.

Runs every scenario of `tests/fault_scenarios.py` (the same ones `tests/test_fault_catalogue.py`
asserts on): the daemon on the simulated press in virtual time, a realistic recipe (150 C,
300 MPa on a 10 mm die), the fault injected where it matters. Per fault: the detection time and
its bound (derived from the supervisor's thresholds), the ticks between the trip and safe outputs
(must be 0), and the true peak platen temperature and line pressure after the injection. Then
two clean hours with the default noise and sporadic thermocouple frames: false trips (must be 0).

Figures: `<fault>.hotpress.detect_s`, `.bound_s`, `.safe_tick_lag`, `.peak_temp_c`,
`.peak_line_mpa`, `.caught` (1 when caught in bound, else 0; detect_s and safe_tick_lag are
left out for a fault that did not trip), `catalogue.hotpress.caught_count`,
`catalogue.hotpress.fault_count`, `clean_2h.hotpress.false_trips`.
Targets: 16 or more faults caught in bound, safe_tick_lag 0, 0 false trips.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from common import parser, report

from tests.fault_runner import CleanRun, FaultRun, run_clean, run_scenario
from tests.fault_scenarios import SCENARIOS, Scenario

SHM = Path("/dev/shm")  # journals fsync every second; on tmpfs that costs nothing
TARGET_CAUGHT = 16


def scratch() -> Path:
    """A private journal root, on tmpfs when there is one."""
    return Path(tempfile.mkdtemp(prefix="hotpress-bench-faults-",
                                 dir=SHM if SHM.is_dir() else None))


def one(scenario: Scenario) -> FaultRun:
    """One scenario in its own journal root (removed afterwards)."""
    root = scratch()
    try:
        return run_scenario(scenario, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def clean() -> CleanRun:
    root = scratch()
    try:
        return run_clean(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _num(x: float | None, fmt: str) -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, fmt)


def table(runs: list[FaultRun]) -> None:
    """The readable table: one line a fault."""
    head = (f"{'fault':<22} {'code':<19} {'detect s':>9} {'bound s':>8} {'safe at':>8} "
            f"{'peak C':>7} {'peak MPa':>9}  verdict")
    print(head)
    print("-" * len(head))
    for r in runs:
        safe = "-" if r.safe_tick_lag is None else f"+{r.safe_tick_lag} tick"
        verdict = ("caught" if r.caught else "NOT CAUGHT" if r.trip_t_s is None
                   else "late" if r.expected_code else "wrong code")
        if r.false_trip:
            verdict = f"FALSE TRIP before injection: {r.false_trip}"
        print(f"{r.scenario.name:<22} {(r.codes[0] if r.codes else '-'):<19} "
              f"{_num(r.detect_s, '9.2f')} {r.bound_s:8.2f} {safe:>8} "
              f"{_num(r.peak_temp_c, '7.1f')} {_num(r.peak_line_mpa, '9.2f')}  {verdict}")


def figures_of(runs: list[FaultRun], clean_run: CleanRun | None) -> dict[str, float]:
    figures: dict[str, float] = {}
    for r in runs:
        key = f"{r.scenario.name}.hotpress"
        if r.detect_s is not None:
            figures[f"{key}.detect_s"] = round(r.detect_s, 3)
        figures[f"{key}.bound_s"] = round(r.bound_s, 3)
        if r.safe_tick_lag is not None:
            figures[f"{key}.safe_tick_lag"] = r.safe_tick_lag
        if math.isfinite(r.peak_temp_c):
            figures[f"{key}.peak_temp_c"] = round(r.peak_temp_c, 2)
            figures[f"{key}.peak_line_mpa"] = round(r.peak_line_mpa, 3)
        figures[f"{key}.caught"] = int(r.caught)
    figures["catalogue.hotpress.caught_count"] = sum(r.caught for r in runs)
    figures["catalogue.hotpress.fault_count"] = len(runs)
    if clean_run is not None:
        figures["clean_2h.hotpress.false_trips"] = len(clean_run.false_trips)
    return figures


def notes_of(runs: list[FaultRun], clean_run: CleanRun | None) -> list[str]:
    notes = [f"target: >= {TARGET_CAUGHT} faults caught in bound, safe_tick_lag 0, "
             "0 false trips in the clean 2 h"]
    for r in runs:
        if not r.caught:
            notes.append(f"{r.scenario.name} not caught: {r.scenario.known_gap or r.notes}")
    if clean_run is not None:
        notes.append(f"clean_2h: outcome {clean_run.outcome}, warnings {clean_run.warnings}, "
                     f"false trips {clean_run.false_trips or 'none'}")
    return notes


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", metavar="FAULT", help="run only these scenarios")
    p.add_argument("--no-clean", action="store_true", help="skip the two clean hours")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                   help="scenarios run in parallel processes (default: up to 2)")
    args = p.parse_args()
    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        clean_job = None if args.no_clean else pool.submit(clean)
        runs = list(pool.map(one, chosen))
        clean_run = clean_job.result() if clean_job is not None else None
    print()
    table(runs)
    report("faults", figures_of(runs, clean_run), args.json, notes_of(runs, clean_run))


if __name__ == "__main__":
    main()
