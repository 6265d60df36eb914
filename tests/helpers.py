"""Builders shared by tests: the reference simulated press on a virtual clock."""

from __future__ import annotations

import dataclasses

from firmware.clock import VirtualClock
from firmware.config.model import PressConfig
from firmware.hal.press_io import PressIO
from firmware.presets import reference_sim_config
from firmware.sim.press import SimPress


def sim_config(**sim_overrides: object) -> PressConfig:
    """The reference press, optionally with simulator parameters changed (e.g. seed)."""
    cfg = reference_sim_config()
    if sim_overrides:
        sim = dataclasses.replace(cfg.backend.sim, **sim_overrides)
        cfg = dataclasses.replace(cfg, backend=dataclasses.replace(cfg.backend, sim=sim))
    return cfg


def sim_io(cfg: PressConfig | None = None) -> tuple[VirtualClock, SimPress, PressIO]:
    """A virtual clock, the simulated press behind it, and the real hardware layer on top."""
    cfg = cfg or sim_config()
    clock = VirtualClock()
    press = SimPress(cfg, clock)
    return clock, press, PressIO(cfg, press, clock)


def sim_press(cfg: PressConfig | None = None) -> tuple[VirtualClock, SimPress]:
    """A virtual clock and the simulated press, for code that builds its own PressIO."""
    cfg = cfg or sim_config()
    clock = VirtualClock()
    return clock, SimPress(cfg, clock)


def sim_bundle(**sim_overrides: object):  # type: ignore[no-untyped-def]
    """The reference press file as the daemon loads it (press + safety + link)."""
    from firmware.config.bundle import load_bundle
    from firmware.presets import reference_sim_path

    bundle = load_bundle(reference_sim_path())
    if sim_overrides:
        bundle = dataclasses.replace(bundle, press=sim_config(**sim_overrides))
    return bundle


def sim_daemon(journal_root, bundle=None, link=None):  # type: ignore[no-untyped-def]
    """A daemon on the simulated press in virtual time, journaling under `journal_root`."""
    from firmware.daemon import Daemon

    bundle = bundle or sim_bundle()
    clock = VirtualClock()
    press = SimPress(bundle.press, clock)
    daemon = Daemon(bundle, clock, backend=press, link=link, log=lambda s: None,
                    journal_root=journal_root)
    return daemon, press, clock


def run_recipe(daemon, text: str, sample_id: str = "s1", max_s: float = 6 * 3600,
               confirm_waits: bool = True, on_tick=None):  # type: ignore[no-untyped-def]
    """Start `text` and tick until the run ends (confirming operator prompts); returns replies."""
    from firmware.recipe.model import EndKind

    replies = []
    daemon.submit("start", {"recipe_toml": text, "sample_id": sample_id, "operator": "test"},
                  replies.append)
    end_s = daemon.clock.now() + max_s

    def done(d):  # type: ignore[no-untyped-def]
        step = d.core.engine.current_step
        if confirm_waits and step is not None and step.end.kind is EndKind.OPERATOR \
                and not d.local_commands:
            d.submit("skip")
        if on_tick is not None:
            on_tick(d)
        started = bool(replies) and replies[0].status == "accepted"
        return (bool(replies) and not started) or (
            started and d.journal is None) or d.clock.now() > end_s

    while not done(daemon):
        daemon.scheduler.run_once(daemon.tick)
    return replies
