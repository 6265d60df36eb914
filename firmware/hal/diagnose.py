"""What to check on the rig when a device is absent or a reading is wrong: the advice in one place.

Commissioning (`hotpressd selftest`, `hotpressd safe`) ends with a person holding a screwdriver,
so every message names the part, its pin or address from the press config, and the likely causes
in the order worth checking, rather than "hardware error". The functions only build text: they
read no hardware, so they are tested with made-up faults and exceptions.
"""

from __future__ import annotations

import errno
from pathlib import Path

from firmware.config.model import PressConfig, TransducerConfig
from firmware.errors import HotpressError
from firmware.hal.types import FaultKind, SensorFault

EREMOTEIO = 121  # Linux errno when nothing acknowledges an I2C address
PI_MODEL_FILE = Path("/proc/device-tree/model")  # "Raspberry Pi 5 Model B Rev 1.0" on a Pi
SPI_PINS = "SCLK GPIO11, MISO GPIO9"  # SPI0, shared by every MAX31855 board

TC_ADVICE = {
    FaultKind.TC_OPEN: "the probe is not connected or its wire is broken: check the T+/T- "
                       "screw terminals and the probe's plug, and the probe for continuity",
    FaultKind.TC_SHORT_GND: "a thermocouple wire touches ground: look for chafed insulation "
                            "where the lead enters the platen, and an earthed probe sheath "
                            "(use an insulated-junction probe)",
    FaultKind.TC_SHORT_VCC: "a thermocouple wire touches a supply: look for chafed insulation "
                            "and for the lead touching heater or SSR wiring",
    FaultKind.TC_FAULTY: "corrupt readings: electrical noise or a reversed/mixed thermocouple "
                         "type; route the lead away from heater and mains wiring, use K type",
}


def is_raspberry_pi(model_file: Path = PI_MODEL_FILE) -> bool:
    """True on a Raspberry Pi (its device tree says so); used to explain errors off a Pi."""
    try:
        return "Raspberry Pi" in model_file.read_text(errors="replace")
    except OSError:
        return False


def adc_absent(t: TransducerConfig) -> str:
    """The ADS1115 did not acknowledge its address (OSError 121)."""
    return (f"no ADS1115 at {t.address:#04x} on I2C bus {t.i2c_bus}: check the wiring (VDD 5 V, "
            f"GND, SDA GPIO2 and SCL GPIO3 through the level shifter), the ADDR pin (GND = 0x48) "
            f"and that I2C is enabled (raspi-config nonint do_i2c 0); "
            f"`i2cdetect -y {t.i2c_bus}` should list {t.address:02x}")


def explain_adc_error(exc: BaseException, t: TransducerConfig) -> str:
    """One line for an exception from the ADS1115: absent, stuck converting, or bus trouble."""
    if isinstance(exc, OSError) and exc.errno == EREMOTEIO:
        return adc_absent(t)
    if isinstance(exc, TimeoutError):
        return (f"the ADS1115 at {t.address:#04x} never finishes a conversion ({exc}): a damaged "
                f"chip or a wrong part (an ADS1015 converts differently); replace the board")
    if isinstance(exc, FileNotFoundError):
        return (f"no I2C bus {t.i2c_bus} (/dev/i2c-{t.i2c_bus}): enable I2C "
                f"(raspi-config nonint do_i2c 0) and reboot")
    return (f"I2C bus {t.i2c_bus} error talking to the ADS1115 at {t.address:#04x} "
            f"({type(exc).__name__}: {exc}): check SDA/SCL wiring, pull-ups and cable length")


def explain_tc_fault(fault: SensorFault, name: str, cs_pin: int) -> str:
    """Advice for a thermocouple channel's fault, naming the board by its chip-select pin."""
    if fault.kind is FaultKind.BUS_ERROR:
        return (f"no sensible answer from the MAX31855 on CS GPIO{cs_pin} ({fault.detail}): check "
                f"its 3.3 V and GND, {SPI_PINS}, the CS wire to GPIO{cs_pin}, and that SPI is "
                f"enabled (raspi-config nonint do_spi 0)")
    advice = TC_ADVICE.get(fault.kind, fault.detail)
    return f"{name} thermocouple (MAX31855 on CS GPIO{cs_pin}): {advice}"


def explain_pressure_fault(fault: SensorFault, t: TransducerConfig) -> str:
    """Advice for a failed line-pressure read: wiring, ADC absent, or conversion trouble."""
    if fault.kind is FaultKind.WIRING:
        supply = (f"the 5 V supply and its link to AIN{t.supply_channel}, "
                  if t.kind == "ratiometric" and t.supply_channel is not None else "")
        what = "the signal wire" if t.kind == "ratiometric" else "the 4-20 mA loop and its shunt"
        return (f"{fault.detail}: check {what} to AIN{t.channel}, {supply}the transducer's ground "
                f"to the ADC's ground, and that `kind = \"{t.kind}\"` matches the transducer")
    if fault.kind is FaultKind.BUS_ERROR and ("121" in fault.detail or "answering" in fault.detail):
        return adc_absent(t)
    if fault.kind is FaultKind.NOT_READY:
        return f"{fault.detail}: replace the ADS1115 board, or check it is not an ADS1015"
    return f"{fault.detail}: check the I2C wiring to the ADS1115 at {t.address:#04x}"


def explain_open_error(exc: BaseException, cfg: PressConfig) -> str:
    """One line for a failure to open the press's buses and pins, with the fix.

    Off a Pi the cause is nearly always that: it is said first, because a real-press config on a
    laptop otherwise produces advice about enabling SPI on a machine that has none.
    """
    text = _explain_open_error(exc, cfg)
    if cfg.backend.kind == "real" and not is_raspberry_pi():
        text = ("this machine is not a Raspberry Pi, and the config describes a real press "
                f"(backend kind = \"real\"): run it on the press's Pi, or use --sim here. ({text})")
    return text


def _explain_open_error(exc: BaseException, cfg: PressConfig) -> str:
    name = type(exc).__name__
    if isinstance(exc, OSError) and exc.errno == EREMOTEIO:
        return adc_absent(cfg.transducer)
    if isinstance(exc, HotpressError):
        return str(exc)  # ours already say what to check
    if name == "GPIOPinInUse" or "busy" in str(exc).lower():
        return (f"a GPIO pin is in use ({exc}): another program holds the press's pins, most "
                f"likely the daemon: sudo systemctl stop hotpressd, then retry")
    if name == "BadPinFactory":
        return (f"no GPIO driver for gpiozero ({exc}): install the Pi extra into the venv "
                f"(pip install 'hotpress[pi]', which brings lgpio)")
    if isinstance(exc, PermissionError):
        return (f"permission denied ({exc}): run as a member of the gpio, spi and i2c groups, "
                f"e.g. sudo -u hotpress /opt/hotpress/venv/bin/hotpressd ...")
    if isinstance(exc, OSError) and exc.errno == errno.ENOENT and "spidev" in str(exc):
        return f"no SPI device ({exc}): enable SPI (raspi-config nonint do_spi 0) and reboot"
    return f"{name}: {exc}"
