"""The simulated press: plant physics behind emulated SPI, I2C and GPIO, as one backend.

The daemon gets from this object exactly what it gets from a Pi (an SPI bus with chip selects, an
smbus2-like I2C bus, a gpiozero pin factory) and runs unchanged on top. The plant is integrated
lazily: whenever a bus is read or a pin changes, the physics is first brought up to `clock.now()`
with the outputs as they were, so switching instants are exact without a simulation thread.
"""

from __future__ import annotations

import random

from firmware.clock import Clock
from firmware.config.instruments import SerialPortConfig
from firmware.config.model import OutputConfig, PressConfig
from firmware.sim.faults import SimFault
from firmware.sim.hydraulics import HydraulicPlant
from firmware.sim.i2c_ads1115 import SimADS1115, SimI2CBus
from firmware.sim.manual import HandPump, Stroke
from firmware.sim.pins import SimPinFactory
from firmware.sim.serial_devices import SimSerialHub, SimSerialPort
from firmware.sim.spi_max31855 import SimMax31855, SimSPIBus, TcFault
from firmware.sim.thermal import ThermalPlant

BOARD_WARMUP_C = 4.0  # the MAX31855's die sits above ambient on a powered board
BOARD_PICKUP_PER_C = 0.01  # and warms a little as the platens radiate at it
SUPPLY_V = 5.0  # transducer supply; the ADS1115 runs on the same rail and reads it directly
# The thermal plant changes over seconds; integrating it for every 1 ms ADC conversion costs more
# than the whole loop. It is brought up to date at least this often, and exactly at every pin
# change (so SSR switching instants stay exact).
THERMAL_MIN_STEP_S = 0.05
STACK_PLATEN_SHARE = 0.75  # 60 of the 80 mm of hot stack are platen steel; the rest is the die
TC_FAULTS = {
    SimFault.TC_OPEN: TcFault.OPEN,
    SimFault.TC_SHORT_GND: TcFault.SHORT_GND,
    SimFault.TC_SHORT_VCC: TcFault.SHORT_VCC,
    SimFault.TC_FROZEN: TcFault.FROZEN,
}


class SimPress:
    """A whole press in software, built from the same `PressConfig` a real one uses.

    A retrofit press is simulated too: zones heated by an existing controller get an emulated PID
    box behind an emulated Modbus line, serial gauges read the plant, and a manual press has a
    hand pump and release screw (`operate_by_hand`) instead of pump and valve pins.
    """

    serial_inline = True  # emulated lines answer at once: the loop polls them in virtual time

    def __init__(self, cfg: PressConfig, clock: Clock) -> None:
        self.cfg = cfg
        self.clock = clock
        sim = cfg.backend.sim
        self._rng = random.Random(sim.seed)
        heated = [(z.name, z.heater_w) for z in cfg.zones if z.heated]
        self.thermal = ThermalPlant(sim, heated)
        self.hydraulics = HydraulicPlant(sim, cfg.ram_area_m2)
        self._t_s = clock.now()
        self._thermal_t_s = self._t_s
        self._stack_c = 0.0  # `_stack_temp_c()` as of thermal revision `_stack_revision`
        self._stack_revision = -1
        self._welded: set[str] = set()
        self._estop = False
        self._guard_open = False
        self._wiring_fault = False
        self.pin_factory = SimPinFactory()
        self.pin_factory.before = self._before_pin_change
        self.pin_factory.after = self._after_pin_change
        self.pin_factory.on_read = self._before_pin_read
        self.spi = SimSPIBus()
        self.chips: dict[str, SimMax31855] = {}
        self._cs_by_pin: dict[int, object] = {}
        for z in cfg.zones:
            if z.tc_cs_pin is not None:
                self._add_chip(z.name, z.tc_cs_pin)
        if cfg.sample_tc_cs_pin is not None:
            self._add_chip("sample", cfg.sample_tc_cs_pin)
        self.adc = SimADS1115(clock, self._adc_input, vdd_v=SUPPLY_V, rng=self._rng)
        self.i2c = SimI2CBus()
        if cfg.transducer is not None:
            self.i2c.attach(cfg.transducer.address, self.adc)
        self.hand = HandPump() if cfg.hydraulics is None else None
        self.serial = SimSerialHub(cfg, clock, self._box_probe_c, self._line_gauge_mpa,
                                   self._force_gauge_kn, self._dial_mm)
        if self.hand is not None:
            self._send_commands()

    # ---- backend surface -------------------------------------------------------------------
    def chip_select(self, pin: int) -> object:
        """The chip select of the emulated MAX31855 wired to BCM `pin`."""
        try:
            return self._cs_by_pin[pin]
        except KeyError:
            raise ValueError(f"no simulated MAX31855 on chip-select GPIO{pin}") from None

    def close(self) -> None:
        self.pin_factory.before = self.pin_factory.after = self.pin_factory.on_read = None

    def open_serial(self, cfg: SerialPortConfig) -> SimSerialPort:
        """The emulated serial line `cfg.name` (see `sim/serial_devices.py`)."""
        return self.serial.open(cfg)

    def operate_by_hand(self, stroke: Stroke, release_open: bool) -> None:
        """A manual press: the operator works the hand pump and the release screw now."""
        if self.hand is None:
            raise ValueError("this simulated press has a pump and valves, not a hand pump")
        self.advance(exact=True)
        self.hand.stroke, self.hand.release_open = stroke, release_open
        self._send_commands()

    # ---- what serial instruments see (brought up to the clock first, as the ADC does) ---------
    def _box_probe_c(self, zone: str) -> float:
        """The thermocouple of the PID box on `zone`: where its own probe sits."""
        self.advance()
        return self.thermal.probe_temp_c(zone)

    def _noise(self) -> float:
        """Gauge noise as a fraction of full scale: the benchmarks' transducer noise."""
        return self._rng.gauss(0.0, self.cfg.backend.sim.transducer_noise_frac_rms)

    def _line_gauge_mpa(self) -> float:
        """Line pressure as a serial pressure gauge or transmitter reads it (MPa)."""
        self.advance()
        return self.hydraulics.line_pressure_mpa + self._noise() * self.cfg.pressure_range_mpa

    def _force_gauge_kn(self) -> float:
        """Force on the stack as a load cell's indicator reads it (kN)."""
        self.advance()
        full_scale_kn = self.cfg.pressure_range_mpa * self.cfg.ram_area_m2 * 1e3
        return self.hydraulics.force_kn + self._noise() * full_scale_kn

    def _dial_mm(self) -> float:
        """Ram travel as a digital dial indicator on the ram reads it (mm)."""
        self.advance()
        return self.hydraulics.ram_position_mm

    # ---- physics ---------------------------------------------------------------------------
    def advance(self, exact: bool = False) -> None:
        """Bring the plant up to the clock, with the outputs as they were since the last call."""
        now_s = self.clock.now()
        if now_s <= self._t_s:
            return
        thermal_dt_s = now_s - self._thermal_t_s
        if exact or thermal_dt_s >= THERMAL_MIN_STEP_S:
            for zone, box in self.serial.boxes.items():
                box.update(self.thermal.probe_temp_c(zone), thermal_dt_s)
            self.thermal.step(thermal_dt_s, self._heater_levels())
            self._thermal_t_s = now_s
        self.hydraulics.advance_to(now_s, self._stack_temp_c())
        self.thermal.set_closed(self.hydraulics.in_contact)
        self._t_s = now_s

    def _stack_temp_c(self) -> float:
        """Mean temperature of what grows when heated: the platens (3/4 of it) and the die.

        The hydraulics ask for it at every bus read, the temperatures change only when the
        thermal plant steps (every 50 ms at most): worked out again only then."""
        thermal = self.thermal
        if thermal.revision != self._stack_revision:
            names = thermal.zone_names
            platens_c = sum(thermal.platen_temp_c(n) for n in names) / max(1, len(names))
            die_c = thermal.sample_temp_c()
            self._stack_c = STACK_PLATEN_SHARE * platens_c + (1 - STACK_PLATEN_SHARE) * die_c
            self._stack_revision = thermal.revision
        return self._stack_c

    def _heater_levels(self) -> dict[str, float]:
        levels = {}
        permit = self.cfg.heater_permit
        permitted = permit is None or self._energised(permit)
        for z in self.cfg.zones:
            if z.controller is not None and z.name in self.serial.boxes:
                levels[z.name] = self.serial.boxes[z.name].level if permitted else 0.0
            if z.ssr_pin is None:
                continue
            on = self.pin_factory.level(z.ssr_pin) == (1.0 if z.ssr_active_high else 0.0)
            levels[z.name] = 1.0 if (on or z.name in self._welded) else 0.0
        return levels

    def _energised(self, out: OutputConfig | None) -> bool:
        if out is None:
            return False
        return self.pin_factory.level(out.pin) == (1.0 if out.active_high else 0.0)

    def _valve_open(self, out: OutputConfig | None) -> bool:
        return out is not None and self._energised(out) != out.normally_open

    def _send_commands(self) -> None:
        hyd = self.cfg.hydraulics
        if hyd is None:  # a manual press: the operator's hands
            assert self.hand is not None
            self.hydraulics.command(self._t_s, **self.hand.plant_command())
            return
        prop = None
        if hyd.proportional_valve is not None:
            prop = self.pin_factory.level(hyd.proportional_valve.pin)
        self.hydraulics.command(
            self._t_s, pump=self._energised(hyd.pump), advance=self._valve_open(hyd.advance_valve),
            press=self._valve_open(hyd.press_valve),
            release_energised=not self._valve_open(hyd.release_valve), prop_duty=prop)

    def _before_pin_change(self, _pin: int) -> None:
        self.advance(exact=True)

    def _after_pin_change(self, _pin: int) -> None:
        self._send_commands()

    def _before_pin_read(self, _pin: int) -> None:
        self.advance()
        self._drive_inputs()

    def _drive_inputs(self) -> None:
        for cfg, asserted in ((self.cfg.inputs.estop, self._estop),
                              (self.cfg.inputs.guard, self._guard_open)):
            if cfg is None:
                continue
            pin = self.pin_factory.pins_by_number().get(cfg.pin)
            if pin is None or pin.function != "input":
                continue
            high = asserted != cfg.active_low
            if bool(pin._state) != high:
                pin.drive_high() if high else pin.drive_low()

    # ---- sensors ---------------------------------------------------------------------------
    def _add_chip(self, name: str, cs_pin: int) -> None:
        sim = self.cfg.backend.sim
        if name == "sample":
            def hot() -> float:
                self.advance()
                return self.thermal.sample_temp_c()
        else:
            def hot(zone: str = name) -> float:
                self.advance()
                return self.thermal.probe_temp_c(zone)
        chip = SimMax31855(self.clock, hot, self._cold_junction_c, self._rng,
                           noise_c_rms=sim.tc_noise_c_rms,
                           sporadic_fault_rate=sim.tc_sporadic_fault_rate)
        self.chips[name] = chip
        self._cs_by_pin[cs_pin] = self.spi.chip_select(chip)

    def _cold_junction_c(self) -> float:
        sim = self.cfg.backend.sim
        hottest_c = max((self.thermal.platen_temp_c(n) for n in self.thermal.zone_names),
                        default=sim.ambient_c)
        return sim.ambient_c + BOARD_WARMUP_C + BOARD_PICKUP_PER_C * (hottest_c - sim.ambient_c)

    def _adc_input(self, channel: int) -> float:
        self.advance()
        t = self.cfg.transducer
        if t is None:
            return 0.0
        if channel == t.channel:
            return self._transducer_signal_v()
        if channel == t.supply_channel:
            return SUPPLY_V
        pos = self.cfg.inputs.ram_position
        if pos is not None and channel == pos.channel:
            frac = min(1.0, max(0.0, self.hydraulics.ram_position_mm / pos.range_mm))
            return frac * pos.full_scale_v
        return 0.0

    def _transducer_signal_v(self) -> float:
        t = self.cfg.transducer
        if self._wiring_fault:
            return 0.0  # a broken signal wire: the input is pulled to ground
        frac = self.hydraulics.line_pressure_mpa / t.range_mpa
        frac += self._rng.gauss(0.0, self.cfg.backend.sim.transducer_noise_frac_rms)
        if t.kind == "current":
            return (4.0 + 16.0 * frac) * 1e-3 * t.shunt_ohm
        return SUPPLY_V * (0.1 + 0.8 * frac)

    # ---- faults ----------------------------------------------------------------------------
    def inject(self, fault: SimFault, target: str | None = None, value: float = 1.0) -> None:
        """Start a fault now (see `SimFault` for what `target` and `value` mean)."""
        self.advance(exact=True)
        self._set_fault(fault, target, value, active=True)

    def clear(self, fault: SimFault, target: str | None = None) -> None:
        """End a fault now."""
        self.advance(exact=True)
        self._set_fault(fault, target, 0.0, active=False)

    def _set_fault(self, fault: SimFault, target: str | None, value: float, active: bool) -> None:
        if fault in TC_FAULTS:
            chip = self.chips[target or ""]
            chip.inject(TC_FAULTS[fault]) if active else chip.clear()
        elif fault is SimFault.TC_SPORADIC:
            self.chips[target or ""].sporadic_fault_rate = (
                value if active else self.cfg.backend.sim.tc_sporadic_fault_rate)
        elif fault is SimFault.HEATER_OPEN:
            self.thermal.set_heater_open(target or "", active)
        elif fault is SimFault.SSR_WELDED:
            (self._welded.add if active else self._welded.discard)(target or "")
        elif fault is SimFault.PUMP_FAILED:
            self.hydraulics.set_pump_failed(active)
        elif fault in (SimFault.VALVE_STUCK_OPEN, SimFault.VALVE_STUCK_CLOSED):
            how = ("open" if fault is SimFault.VALVE_STUCK_OPEN else "closed") if active else None
            self.hydraulics.set_valve_stuck(target or "", how)
        elif fault is SimFault.LEAK:
            self.hydraulics.set_leak_multiplier(value if active else 1.0)
        elif fault is SimFault.TRANSDUCER_WIRING:
            self._wiring_fault = active
        elif fault is SimFault.ESTOP_PRESSED:
            self._estop = active
        elif fault is SimFault.GUARD_OPEN:
            self._guard_open = active
        elif fault is SimFault.I2C_NOT_ANSWERING:
            self.adc.not_answering = active
        self._send_commands()

    # ---- truth, for benchmarks and tests ---------------------------------------------------
    def truth(self) -> dict[str, float]:
        """The plant's true state (what no sensor can show exactly): temps, pressure, position."""
        self.advance(exact=True)
        out = {f"platen_{n}_c": self.thermal.platen_temp_c(n) for n in self.thermal.zone_names}
        out["sample_c"] = self.thermal.sample_temp_c()
        out["line_pressure_mpa"] = self.hydraulics.line_pressure_mpa
        out["force_kn"] = self.hydraulics.force_kn
        out["ram_position_mm"] = self.hydraulics.ram_position_mm
        return out
