"""Every fault the press can meet, end to end: daemon + supervisor + simulated press, virtual time.

For each scenario of `tests/fault_scenarios.py` (the same ones `bench/faults.py` measures) a
realistic recipe runs until the fault matters, the fault goes in, and the trip must be: within
its bound (derived from the supervisor's thresholds), SAFE_COMMANDS and safe GPIO levels in the
trip's own tick, latched, refused a reset while the fault is present, accepted once cleared, the
run ended `faulted` in the journal with a `fault` event. A fault the press does not catch today
is an xfail(strict) naming the gap, so fixing it turns the test red until the mark goes.
Then two hours of a healthy press with its usual noise and sporadic thermocouple frames: no trip.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.sim.press import SimPress
from tests.fault_runner import FaultRun, run_clean, run_scenario, unsafe_pins
from tests.fault_scenarios import SCENARIOS, Scenario
from tests.helpers import sim_daemon

SHM = Path("/dev/shm")  # journals fsync every second: on tmpfs that costs nothing


@pytest.fixture
def journal_root(tmp_path: Path) -> Iterator[Path]:
    """A fresh journal directory, on tmpfs when there is one (the runs are virtual-time fast;
    a disk's fsync would be most of their wall time)."""
    if SHM.is_dir():
        root = Path(tempfile.mkdtemp(prefix="hotpress-faults-", dir=SHM))
        yield root
        shutil.rmtree(root, ignore_errors=True)
    else:
        yield tmp_path


def _param(sc: Scenario) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=sc.known_gap)] if sc.known_gap else []
    return pytest.param(sc, id=sc.name, marks=marks)


def _where(run: FaultRun) -> str:
    return (f"{run.scenario.name}: inject {run.inject_t_s}, trip {run.trip_t_s}, codes "
            f"{run.codes}, notes {run.notes}")


@pytest.mark.parametrize("scenario", [_param(sc) for sc in SCENARIOS])
def test_fault_is_caught_made_safe_latched_and_recorded(journal_root: Path,
                                                       scenario: Scenario) -> None:
    run = run_scenario(scenario, journal_root)
    where = _where(run)
    false_trip, injected, tripped = run.false_trip, run.inject_t_s, run.trip_t_s
    assert false_trip is None, f"tripped before the fault went in: {false_trip}"
    assert injected is not None, f"the fault was never injected: {where}"
    assert tripped is not None, f"not caught: {where}"
    wanted = sorted(c.value for c in scenario.expect)
    assert run.expected_code, f"wrong trip, wanted one of {wanted}: {where}"
    detect_s, bound_s = tripped - injected, run.bound_s
    assert detect_s <= bound_s, \
        f"caught in {detect_s:.2f} s, bound {bound_s:.2f} s ({scenario.bound.__doc__})"
    lag = run.safe_tick_lag
    assert lag == 0, f"outputs safe {lag} ticks after the trip"
    latch = run.latch_problems
    assert latch == [], f"not latched or not safe after the trip: {latch}"
    if scenario.refused_while_present:
        refused = run.reset_while_present
        assert refused is not None and refused.status == "rejected", \
            f"reset accepted with the fault still in: {refused}"
    accepted = run.reset_after_clear
    assert accepted is not None and accepted.status == "accepted", \
        f"reset still refused after clearing: {accepted}"
    outcome = run.journal_outcome
    assert outcome == scenario.journal_outcome, f"journal ends {outcome}"
    if scenario.journal_outcome == "faulted":
        assert run.journal_fault_events >= 1, "no fault event in the journal"
    assert run.published_fault_events >= 1, "no fault event published"


def test_catalogue_covers_every_sim_fault() -> None:
    from firmware.sim.faults import SimFault

    injected = {sc.fault for sc in SCENARIOS}
    assert set(SimFault) <= injected, f"not covered: {set(SimFault) - injected}"


def test_unsafe_pins_sees_a_heater_on(journal_root: Path) -> None:
    """The pin check the catalogue relies on is not vacuous: it sees an SSR that is on."""
    daemon, press, _clock = sim_daemon(journal_root)
    daemon.submit("set", {"setpoints_c": {"top": 100.0}})
    seen: list[str] = []
    for _ in range(20):
        daemon.scheduler.run_once(daemon.tick)
        seen += unsafe_pins(press)
    daemon.close()
    assert "ssr top on" in seen
    assert isinstance(press, SimPress) and unsafe_pins(press) == []  # close() left it safe


def test_two_clean_hours_have_no_false_trip(journal_root: Path) -> None:
    clean = run_clean(journal_root)
    assert clean.false_trips == []
    assert clean.outcome == "completed"
    assert clean.virtual_s >= 2 * 3600
