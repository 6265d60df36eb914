"""The catalogue of faults the simulated press can be given, for safety work and tests."""

from __future__ import annotations

import enum


class SimFault(enum.Enum):
    """Every injectable fault; `target` names the zone or valve where one is needed."""

    TC_OPEN = "tc_open"  # target: zone
    TC_SHORT_GND = "tc_short_gnd"  # target: zone
    TC_SHORT_VCC = "tc_short_vcc"  # target: zone
    TC_SPORADIC = "tc_sporadic"  # target: zone; value: fault frames per read
    TC_FROZEN = "tc_frozen"  # target: zone
    HEATER_OPEN = "heater_open"  # target: zone
    SSR_WELDED = "ssr_welded"  # target: zone
    PUMP_FAILED = "pump_failed"
    VALVE_STUCK_OPEN = "valve_stuck_open"  # target: advance | press | release
    VALVE_STUCK_CLOSED = "valve_stuck_closed"  # target: advance | press | release
    LEAK = "leak"  # value: leak-rate multiplier
    TRANSDUCER_WIRING = "transducer_wiring"
    ESTOP_PRESSED = "estop_pressed"
    GUARD_OPEN = "guard_open"
    I2C_NOT_ANSWERING = "i2c_not_answering"
