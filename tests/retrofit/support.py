"""Builders for the retrofit tests: simulated manual presses, and a run with a scripted operator."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware.clock import VirtualClock
from firmware.config.bundle import PressBundle, parse_bundle
from firmware.daemon import Daemon
from firmware.sim.manual import ScriptedOperator
from firmware.sim.press import SimPress
from tests.helpers import run_recipe

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "configs" / "example-retrofit.toml"
RECIPES = ROOT / "recipes"

# The hand pump of a 15 t lab press: ~1 cm^3 per full stroke at a stroke a second; gentle
# strokes 5 % of that; the release screw cracked open; the hand starts and stops in 50 ms.
HAND_SIM = """
[backend.sim]
seed = 3
pump_flow_m3_per_s = 1.0e-6
press_valve_flow_fraction = 0.05
release_orifice_m3_per_s_per_sqrt_pa = 1.5e-11
pump_rundown_s = 0.05
valve_on_delay_s = 0.05
valve_off_delay_s = 0.05
"""

# A manual press that kept SSR heating (MAX31855 + SSR per platen) and got a load-cell
# indicator printing ten lines a second on RS-232.
MANUAL_SSR = """
id = "manual-ssr"
ram_bore_mm = 63.5
journal_dir = "var/journal"
pressure_mode = "manual"

[[zones]]
name = "top"
tc_cs_pin = 5
ssr_pin = 17
heater_w = 2000.0
max_temp_c = 300.0

[[zones]]
name = "bottom"
tc_cs_pin = 6
ssr_pin = 27
heater_w = 2000.0
max_temp_c = 300.0

[[serial_ports]]
name = "indicator"
url = "/dev/ttyUSB0"
baudrate = 9600
timeout_s = 0.2

[[instruments]]
name = "load_cell"
protocol = "ascii"
measures = "force"
port = "indicator"
unit = "kN"
full_scale = 222.0
period_s = 0.1
pattern = '^(?:ST|US),(?:GS|NT),\\s*(?P<value>[-+]?\\d+\\.\\d+)\\s*(?P<unit>kN|N|t|kgf|lbf)'
example = "ST,GS,+0012.34 kN"

[inputs.estop]
pin = 26

[limits]
max_temp_c = 300.0
max_line_pressure_mpa = 70.0
max_force_kn = 200.0

[backend]
kind = "sim"
""" + HAND_SIM


def example_sim_text() -> str:
    """configs/example-retrofit.toml on the simulator, with the hand pump above."""
    text = EXAMPLE.read_text()
    assert 'kind = "real"' in text
    return text.replace('kind = "real"', 'kind = "sim"') + HAND_SIM


def sim_bundle(text: str) -> PressBundle:
    return parse_bundle(text, "retrofit.toml")


def manual_daemon(journal_root: Path, text: str) -> tuple[Daemon, SimPress, VirtualClock]:
    """A daemon on a simulated retrofit press in virtual time."""
    bundle = sim_bundle(text)
    clock = VirtualClock()
    press = SimPress(bundle.press, clock)
    daemon = Daemon(bundle, clock, backend=press, log=lambda s: None, journal_root=journal_root)
    return daemon, press, clock


@dataclass
class Watch:
    """Runs the operator every tick and keeps what the tests judge: the records, the truth."""

    press: SimPress
    operator: ScriptedOperator
    records: list[dict[str, Any]] = field(default_factory=list)
    truth_force_kn: list[float] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, daemon: Daemon) -> None:
        result = daemon.last_result
        if result is None:
            return
        record = result.record
        self.records.append(record)
        self.truth_force_kn.append(self.press.hydraulics.force_kn)
        state = daemon.state()
        if not self.states or state.get("operator_hint") != self.states[-1].get("operator_hint"):
            self.states.append(state)
        self.operator.act(state, record.get("force_kn"), daemon.clock.now())


def run_with_operator(daemon: Daemon, press: SimPress, recipe_text: str,
                      max_s: float = 4 * 3600) -> tuple[list[Any], Watch]:
    """Start the recipe and let a scripted operator follow the hints until the run ends."""
    watch = Watch(press, ScriptedOperator(press))
    replies = run_recipe(daemon, recipe_text, max_s=max_s, on_tick=watch)
    return replies, watch
