"""Where the buses and pins come from: the real Pi, or the simulated press. Chosen by config only.

A backend hands the hardware layer three things, the same in both worlds: an SPI bus object with
one chip-select object per MAX31855, an smbus2-compatible I2C bus, and a gpiozero pin factory.
Nothing above this module knows which world it is in; a missing driver on a real press is an
error with a fix, never a silent fall-back to simulation.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from gpiozero.pins import Factory

from firmware.clock import Clock
from firmware.config.instruments import SerialPortConfig
from firmware.config.model import PressConfig
from firmware.errors import HardwareError
from firmware.hal.serial_bus import open_real_port


class Backend(Protocol):
    """The buses and pins of one press."""

    pin_factory: Factory | None
    spi: Any
    i2c: Any
    serial_inline: bool  # poll serial instruments from the loop (sim) instead of threads (real)

    def chip_select(self, pin: int) -> Any:
        """A chip-select object (`switch_to_output`, `value`) for the MAX31855 on BCM `pin`."""
        ...

    def open_serial(self, cfg: SerialPortConfig) -> Any:
        """An open pyserial-like port for one `[[serial_ports]]` line (retrofit instruments)."""
        ...

    def close(self) -> None: ...


class RealBackend:
    """Blinka SPI with a digitalio chip select per MAX31855, smbus2 for I2C, gpiozero's default,
    pyserial for serial instruments (each line polled on its own thread).

    A retrofit press opens only the buses it uses: no SPI without a MAX31855, no I2C without
    the ADS1115 transducer.
    """

    serial_inline = False
    open_serial = staticmethod(open_real_port)

    def __init__(self, cfg: PressConfig) -> None:
        self.spi = self.i2c = None
        self.pin_factory = None  # gpiozero's default: lgpio on a Pi 5
        uses_spi = cfg.sample_tc_cs_pin is not None or any(
            z.tc_cs_pin is not None for z in cfg.zones)
        if uses_spi:
            self._open_spi()
        if cfg.transducer is not None:
            self._open_i2c(cfg.transducer.i2c_bus)

    def _open_spi(self) -> None:
        os.environ.setdefault("BLINKA_SKIP_DEPENDENCY_CHECK", "1")
        try:
            import board  # type: ignore[import-not-found]
            import digitalio  # type: ignore[import-not-found]
        except (ImportError, NotImplementedError, RuntimeError) as exc:
            raise HardwareError(
                f"cannot open the Pi's SPI bus ({exc}): install the Pi extra "
                "(pip install 'hotpress[pi]') and enable SPI (raspi-config nonint do_spi 0)"
            ) from exc
        self._digitalio = digitalio
        self._board = board
        try:
            self.spi = board.SPI()
        except Exception as exc:
            raise HardwareError(f"SPI bus unavailable ({exc}): enable SPI and reboot") from exc

    def _open_i2c(self, bus: int) -> None:
        try:
            from smbus2 import SMBus
            self.i2c = SMBus(bus)
        except FileNotFoundError as exc:
            raise HardwareError(
                f"no I2C bus {bus} (/dev/i2c-{bus} missing): "
                "enable I2C (raspi-config nonint do_i2c 0) and reboot"
            ) from exc

    def chip_select(self, pin: int) -> Any:
        return self._digitalio.DigitalInOut(getattr(self._board, f"D{pin}"))

    def close(self) -> None:
        for bus in (self.i2c, self.spi):
            if bus is None:
                continue
            try:
                bus.close() if hasattr(bus, "close") else bus.deinit()
            except Exception:  # noqa: BLE001 - closing at exit: nothing useful left to do
                continue


def make_backend(cfg: PressConfig, clock: Clock) -> Backend:
    """The backend the config names: `real` on a Pi, `sim` for the built-in simulated press."""
    if cfg.backend.kind == "sim":
        from firmware.sim.press import SimPress
        return SimPress(cfg, clock)
    return RealBackend(cfg)
