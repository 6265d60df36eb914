"""Heater SSRs, pump and valves on gpiozero: outputs that only set state, never sleep.

Every output knows its safe state and is driven there first at start and last at exit.
A heater SSR is time-proportioned over a window counted in whole loop ticks, with the fraction
that a window could not express carried into the next one, so the long-run mean equals the duty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gpiozero import DigitalOutputDevice, PWMOutputDevice
from gpiozero.pins import Factory

from firmware.config.model import OutputConfig, PressConfig, PwmOutputConfig


@dataclass(frozen=True)
class OutputCommands:
    """What the controllers ask of the hardware for one tick, in process terms (not pin levels)."""

    heater_duty: dict[str, float] = field(default_factory=dict)  # zone -> 0..1
    pump_on: bool = False
    advance_open: bool = False
    press_open: bool = False
    release_open: bool = True
    prop_duty: float = 0.0  # proportional relief valve, 0..1 of its max pressure
    # Retrofit: zone -> setpoint (C) for the existing controller heating it (over Modbus);
    # a zone left out gets its controller's safe setpoint (heating off).
    controller_setpoints_c: dict[str, float] = field(default_factory=dict)


SAFE_COMMANDS = OutputCommands()


class SwitchedOutput:
    """One on/off output (pump, solenoid valve) with its polarity and safe state."""

    def __init__(self, name: str, cfg: OutputConfig, pin_factory: Factory | None) -> None:
        self.name = name
        self.cfg = cfg
        self._device = DigitalOutputDevice(
            cfg.pin, active_high=cfg.active_high, initial_value=cfg.safe_energised,
            pin_factory=pin_factory,
        )
        # What this output last drove the pin to. The inner pressure loop sets every valve 50
        # times a second; comparing with this instead of reading the pin back through gpiozero
        # each time keeps that cheap. Only this class writes the pin, so the two cannot differ.
        self._energised = bool(cfg.safe_energised)

    @property
    def energised(self) -> bool:
        """True while the coil or motor contactor is powered."""
        return bool(self._device.value)

    def set_energised(self, energised: bool) -> None:
        """Set the coil state; a no-op when unchanged, so pin histories stay readable."""
        if energised != self._energised:
            self._device.value = energised
            self._energised = energised

    def set_open(self, is_open: bool) -> None:
        """For valves: open or close in flow terms, honouring a normally-open coil."""
        self.set_energised(is_open != self.cfg.normally_open)

    @property
    def is_open(self) -> bool:
        """For valves: whether the commanded coil state means the valve is open."""
        return self.energised != self.cfg.normally_open

    def safe(self) -> None:
        """Drive to the configured safe state (de-energised unless configured otherwise).

        Judged on the pin as read back, not on what was last set: the exit path trusts nothing."""
        self._energised = bool(self._device.value)
        self.set_energised(self.cfg.safe_energised)

    def close(self) -> None:
        """Leave the output safe, then release the pin."""
        self.safe()
        self._device.close()


class TimeProportionedSsr:
    """A heater SSR switched on for a share of each window of whole ticks.

    `tick()` is called once per loop tick; the window has `round(window_s / tick_s)` ticks.
    Whole steps are counted (no float modulo), and the duty a window could not express is carried
    to the next window, so a 10-step window still delivers a 3.7 % mean duty exactly.
    """

    def __init__(self, name: str, pin: int, active_high: bool, window_s: float, tick_s: float,
                 pin_factory: Factory | None) -> None:
        self.name = name
        self.steps_per_window = max(1, round(window_s / tick_s))
        self.duty = 0.0
        self._step = 0
        self._on_steps = 0
        self._carry = 0.0
        self.switch_count = 0
        self._device = DigitalOutputDevice(pin, active_high=active_high, initial_value=False,
                                           pin_factory=pin_factory)
        self._on = False  # what `tick` last drove the pin to (only this class writes it)

    def set_duty(self, duty: float) -> None:
        """Duty 0..1 for the windows that start from now on (clipped, NaN treated as 0)."""
        self.duty = min(1.0, max(0.0, duty)) if duty == duty else 0.0

    def tick(self) -> bool:
        """Advance one tick and switch the SSR; returns whether it is on for this tick."""
        if self._step == 0:
            wanted = self.duty * self.steps_per_window + self._carry
            self._on_steps = min(self.steps_per_window, int(wanted))
            self._carry = wanted - self._on_steps if self.duty > 0 else 0.0
        is_on = self._step < self._on_steps
        self._step = (self._step + 1) % self.steps_per_window
        if is_on != self._on:
            self._device.value = is_on
            self._on = is_on
            self.switch_count += 1
        return is_on

    @property
    def is_on(self) -> bool:
        return bool(self._device.value)

    def safe(self) -> None:
        """Heater off now, and the duty forgotten so nothing turns it back on by itself."""
        self.duty = 0.0
        self._carry = 0.0
        self._on_steps = 0
        self._device.off()
        self._on = False

    def close(self) -> None:
        self.safe()
        self._device.close()


class ProportionalValve:
    """PWM-driven proportional relief valve: duty sets the line-pressure cap; safe is 0 (dump)."""

    def __init__(self, cfg: PwmOutputConfig, pin_factory: Factory | None) -> None:
        self.cfg = cfg
        self._device = PWMOutputDevice(cfg.pin, active_high=cfg.active_high, initial_value=0.0,
                                       frequency=cfg.frequency_hz, pin_factory=pin_factory)

    def set_duty(self, duty: float) -> None:
        self._device.value = min(1.0, max(0.0, duty))

    @property
    def duty(self) -> float:
        return float(self._device.value)

    def safe(self) -> None:
        self._device.value = 0.0

    def close(self) -> None:
        self.safe()
        self._device.close()


class PressOutputs:
    """Every output of one press, built from config; `apply` sets states, `all_safe` is the exit."""

    def __init__(self, cfg: PressConfig, pin_factory: Factory | None) -> None:
        tick_s = 1.0 / cfg.loop.tick_hz
        hyd = cfg.hydraulics
        self._all: list[SwitchedOutput | TimeProportionedSsr | ProportionalValve] = []
        # Outputs are created one by one and each is driven safe as it is created, so a failure
        # half-way (a pin in use) still leaves the ones already made safe; close() handles it.
        try:
            self.ssrs = {
                z.name: self._add(TimeProportionedSsr(z.name, z.ssr_pin, z.ssr_active_high,
                                                      z.ssr_window_s, tick_s, pin_factory))
                for z in cfg.zones if z.ssr_pin is not None
            }
            # A manual (retrofit) press has no pump or valves: the operator's hand is the pump.
            self.pump: SwitchedOutput | None = None
            self.advance: SwitchedOutput | None = None
            self.release: SwitchedOutput | None = None
            self.press: SwitchedOutput | None = None
            self.prop: ProportionalValve | None = None
            self.permit = (self._add(SwitchedOutput("heater_permit", cfg.heater_permit,
                                                    pin_factory))
                           if cfg.heater_permit is not None else None)
            if hyd is not None:
                self.pump = self._add(SwitchedOutput("pump", hyd.pump, pin_factory))
                self.advance = self._add(SwitchedOutput("advance_valve", hyd.advance_valve,
                                                        pin_factory))
                self.release = self._add(SwitchedOutput("release_valve", hyd.release_valve,
                                                        pin_factory))
                self.press = (self._add(SwitchedOutput("press_valve", hyd.press_valve,
                                                       pin_factory)) if hyd.press_valve else None)
                self.prop = (self._add(ProportionalValve(hyd.proportional_valve, pin_factory))
                             if hyd.proportional_valve else None)
        except Exception:
            self.close()
            raise

    def _add(self, out):  # type: ignore[no-untyped-def]
        self._all.append(out)
        out.safe()
        return out

    def apply(self, cmd: OutputCommands) -> None:
        """Set every output from `cmd`: valves first, so the pump has a flow path."""
        for name, ssr in self.ssrs.items():
            ssr.set_duty(cmd.heater_duty.get(name, 0.0))
            ssr.tick()
        if self.permit is not None:  # existing controllers may heat only while a setpoint is sent
            self.permit.set_energised(bool(cmd.controller_setpoints_c))
        self.apply_hydraulics(cmd)

    def apply_hydraulics(self, cmd: OutputCommands) -> None:
        """Pump and valves from `cmd`, valves first so the pump has a flow path."""
        if self.pump is None or self.release is None or self.advance is None:
            return  # a manual press: nothing to drive
        self.release.set_open(cmd.release_open)
        self.advance.set_open(cmd.advance_open)
        if self.press is not None:
            self.press.set_open(cmd.press_open)
        if self.prop is not None:
            self.prop.set_duty(cmd.prop_duty)
        self.pump.set_energised(cmd.pump_on)

    def all_safe(self) -> None:
        """Every output to its safe state, pump first (it is the thing that adds energy fastest)."""
        for out in sorted(self._all, key=lambda o: o is not self.__dict__.get("pump")):
            try:
                out.safe()
            except Exception:  # noqa: BLE001 - one broken output must not stop the others going safe
                continue

    def snapshot(self) -> dict[str, float | bool]:
        """Output states for telemetry and the journal."""
        snap: dict[str, float | bool] = {f"ssr_{n}": s.is_on for n, s in self.ssrs.items()}
        snap.update({f"duty_{n}": s.duty for n, s in self.ssrs.items()})
        if self.pump is not None and self.advance is not None and self.release is not None:
            snap.update(pump=self.pump.energised, advance_open=self.advance.is_open,
                        release_open=self.release.is_open)
        if self.press is not None:
            snap["press_open"] = self.press.is_open
        if self.prop is not None:
            snap["prop_duty"] = self.prop.duty
        return snap

    def close(self) -> None:
        """Safe state first, then release every pin."""
        self.all_safe()
        for out in self._all:
            try:
                out.close()
            except Exception:  # noqa: BLE001 - keep closing the rest
                continue
        self._all.clear()
