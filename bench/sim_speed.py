"""How fast the simulated press runs in virtual time: plant physics plus the emulated buses.

Scenario `plant`: the reference press read through the real hardware layer (MAX31855 driver over
the emulated SPI bus, our ADS1115 driver over the emulated I2C bus, gpiozero mock pins) at the
daemon's rates, heaters time-proportioned at 50 %, with pump pulses; figure `sim.plant.speed_x`
is simulated seconds per wall second. Target >= 1000x.

Scenario `fullstack`: the whole daemon (supervisor, run engine, controllers with the 50 Hz inner
pressure loop, journal) running the LGPS reference recipe on the simulated press in virtual
time; figure `fullstack.hotpressd.wall_s_per_60min` scales its wall time to a 60-minute recipe.
Target <= 10 s.
"""

from __future__ import annotations

import time

from common import parser, report

from firmware.clock import VirtualClock
from firmware.hal.outputs import OutputCommands
from firmware.hal.press_io import PressIO
from firmware.presets import reference_sim_config
from firmware.sim.press import SimPress


def plant_speed(sim_seconds: float) -> float:
    cfg = reference_sim_config()
    clock = VirtualClock()
    press = SimPress(cfg, clock)
    io = PressIO(cfg, press, clock)
    tick_s = 1.0 / cfg.loop.tick_hz
    heat = OutputCommands(heater_duty={z.name: 0.5 for z in cfg.zones})
    pump = OutputCommands(heater_duty=heat.heater_duty, pump_on=True, advance_open=True,
                          release_open=False)
    hold = OutputCommands(heater_duty=heat.heater_duty, release_open=False)
    ticks = round(sim_seconds / tick_s)
    start = time.perf_counter()
    for k in range(ticks):
        io.read()
        phase_s = (k * tick_s) % 600.0
        io.apply(pump if 10.0 <= phase_s < 13.0 else hold if phase_s < 500 else heat)
        clock.advance(tick_s)
    wall_s = time.perf_counter() - start
    io.close()
    return sim_seconds / wall_s


def fullstack_wall_s_per_hour() -> tuple[float, float]:
    """Wall seconds per simulated hour for the daemon running a reference recipe, and the
    recipe's simulated length in s."""
    import tempfile
    from pathlib import Path

    from firmware.config.bundle import load_bundle
    from firmware.daemon import Daemon
    from firmware.presets import reference_sim_path

    bundle = load_bundle(reference_sim_path())
    clock = VirtualClock()
    press = SimPress(bundle.press, clock)
    recipe = Path(__file__).resolve().parent.parent / "recipes" / "lgps_hotpress_150c.toml"
    with tempfile.TemporaryDirectory() as root:
        daemon = Daemon(bundle, clock, backend=press, log=lambda s: None, journal_root=Path(root))
        daemon.submit("start", {"recipe_toml": recipe.read_text(), "sample_id": "bench",
                                "operator": "bench"})
        start = time.perf_counter()
        while not (daemon.core.engine.last_outcome is not None and daemon.journal is None):
            daemon.scheduler.run_once(daemon.tick)
        wall_s = time.perf_counter() - start
        daemon.close()
    sim_s = clock.now()
    return wall_s / sim_s * 3600.0, sim_s


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    per_hour_s, recipe_s = fullstack_wall_s_per_hour()
    figures = {"sim.plant.speed_x": plant_speed(3600.0),
               "fullstack.hotpressd.wall_s_per_60min": per_hour_s,
               "fullstack.hotpressd.speed_x": 3600.0 / per_hour_s,
               "fullstack.recipe.sim_s": recipe_s}
    report("sim_speed", figures, args.json,
           ["target sim.plant.speed_x >= 1000 (simulated seconds per wall second)",
            "target fullstack.hotpressd.wall_s_per_60min <= 10"])


if __name__ == "__main__":
    main()
