"""gpiozero mock pins wired into the simulated press.

`SimPinFactory` is gpiozero's `MockFactory` whose pins tell the simulator just before and just
after they change, so the plant integrates up to the instant of every switch with the old output
state and then takes the new one. The daemon's gpiozero code is unchanged: it gets this factory
where a Pi would give it lgpio.
"""

from __future__ import annotations

from collections.abc import Callable

from gpiozero.pins.mock import MockFactory, MockPWMPin

PinHook = Callable[[int], None]


class SimPin(MockPWMPin):
    """A mock pin (PWM-capable, so any device fits) that reports its changes to the factory."""

    def _change_state(self, value):  # type: ignore[no-untyped-def]
        if self._state == value:
            return False
        factory: SimPinFactory = self._factory
        factory.notify_before(self._number)
        changed = super()._change_state(value)
        factory.notify_after(self._number)
        return changed

    def _get_state(self):  # type: ignore[no-untyped-def]
        if self._function == "input":
            self._factory.notify_read(self._number)
        return self._state


class SimPinFactory(MockFactory):
    """MockFactory whose pins call `before`/`after` hooks on every state change."""

    def __init__(self) -> None:
        super().__init__(pin_class=SimPin)
        self.before: PinHook | None = None
        self.after: PinHook | None = None
        self.on_read: PinHook | None = None
        self._busy = False
        self._by_number: dict[int, SimPin] = {}
        self._numbered: dict[int, SimPin] = {}

    def notify_before(self, pin_number: int) -> None:
        self._call(self.before, pin_number)

    def notify_after(self, pin_number: int) -> None:
        self._call(self.after, pin_number)

    def notify_read(self, pin_number: int) -> None:
        self._call(self.on_read, pin_number)

    def pins_by_number(self) -> dict[int, SimPin]:
        """Every pin created so far, by BCM number (rebuilt only when pins are added)."""
        if len(self._numbered) != len(self.pins):
            self._numbered = {int(info.name[4:]): pin for info, pin in self.pins.items()}
        return self._numbered

    def _call(self, hook: PinHook | None, pin_number: int) -> None:
        # A hook may itself drive an input pin (the plant pressing the e-stop); do not recurse.
        if hook is None or self._busy:
            return
        self._busy = True
        try:
            hook(pin_number)
        finally:
            self._busy = False

    def level(self, pin_number: int) -> float:
        """Electrical level of a pin (0..1) as the plant sees it; an unused pin reads 0."""
        pin = self._by_number.get(pin_number)
        if pin is None:
            pin = self._lookup(pin_number)
            if pin is None:
                return 0.0
            self._by_number[pin_number] = pin
        return float(pin._state)

    def _lookup(self, pin_number: int) -> SimPin | None:
        for _header, info in self.board_info.find_pin(f"GPIO{pin_number}"):
            return self.pins.get(info)
        raise ValueError(f"GPIO{pin_number} is not a pin of the mock board")

    def reset(self) -> None:
        """Forget every pin (between tests), including the lookup cache."""
        super().reset()
        self._by_number.clear()
        self._numbered = {}
