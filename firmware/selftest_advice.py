"""What to check when a serial instrument or an existing controller fails its commissioning check.

The serial twin of `firmware.hal.diagnose`: every message names the instrument, its port (name,
device path, baud rate and framing) and, for Modbus, its address and registers, then the likely
causes in the order worth checking. The faults come from the drivers (`hal.serial_*`), whose
details say what happened (no answer, corrupt reply, refused, unreadable line); this module says
what to do about it. Text only: no hardware is read here.
"""

from __future__ import annotations

from firmware.config.instruments import InstrumentConfig, RegisterConfig, SerialPortConfig
from firmware.hal.serial_common import SerialResult
from firmware.hal.types import FaultKind, SensorFault

SUMMARY_CHARS = 60  # a fault's summary in the MEASURED column; the advice line says the rest
PORT_DOWN = ("cannot be opened: ", " lost: ", " is closed: ")  # the bus's port-level details


def fault_detail(fault: SerialResult) -> str:
    """A fault's detail without the instrument name the drivers start it with."""
    if not isinstance(fault, SensorFault):
        return ""
    return fault.detail.split(": ", 1)[-1]


def port_down(fault: SerialResult) -> str | None:
    """Why the port itself is down (it does not open, or was lost), None for a device fault."""
    detail = fault_detail(fault)
    for marker in PORT_DOWN:
        if marker in detail:
            return f"{marker.strip(': ')}: {detail.split(marker, 1)[1]}"
    return None


def fault_summary(fault: SerialResult) -> str:
    """A few words for the MEASURED column: `no answer to the read within 0.15 s`."""
    down = port_down(fault)
    if down is not None:
        return "the port " + down.split(":", 1)[0]
    text = fault_detail(fault).split(" (", 1)[0]
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS - 3] + "..."


def port_text(port: SerialPortConfig) -> str:
    """`rs485 (/dev/ttyUSB0, 19200 8E1)`: the port as the config and the device label it."""
    return (f"{port.name} ({port.url}, {port.baudrate} "
            f"{port.bytesize}{port.parity}{port.stopbits})")


def register_text(reg: RegisterConfig | None) -> str:
    """`holding 0x2000 int16`: a register as the config writes it."""
    return "none" if reg is None else f"{reg.table} {reg.address:#06x} {reg.kind}"


def explain_instrument_fault(fault: SerialResult, inst: InstrumentConfig,
                             port: SerialPortConfig) -> str:
    """One line for a failed poll of `inst`: the port, the device, or its configuration."""
    if not isinstance(fault, SensorFault):
        return ""
    down = port_down(fault)
    if down is not None:
        return (f"port {port_text(port)} {down}: check the USB adapter is plugged in and the "
                "url names it (ls -l /dev/serial/by-id/), and that the hotpress user is in the "
                "dialout group")
    if fault.kind is FaultKind.TC_FAULTY:
        return (f"{inst.name} {fault_detail(fault)}: the controller reports its own sensor break "
                "or overrange: check its thermocouple and input type, and valid_min/valid_max "
                "against its manual")
    if fault.kind is FaultKind.WIRING:
        return (f"{inst.name} {fault_detail(fault)}: the instrument reports an error or "
                "overrange: check its sensor, and valid_min/valid_max and full_scale against its "
                "manual")
    explain = _modbus if inst.protocol == "modbus_rtu" else _ascii
    return explain(fault, inst, port)


def _modbus(fault: SensorFault, inst: InstrumentConfig, port: SerialPortConfig) -> str:
    """Modbus RTU: silence, corrupt frames, or a refused request (the register map)."""
    where = f"{inst.name} (Modbus id {inst.device_id}) on port {port_text(port)}"
    if fault.kind is FaultKind.NOT_READY:
        return (f"{where} does not answer within {port.timeout_s:g} s: check the A/B pair "
                f"(swap A and B at this device), that the device's address is {inst.device_id}, "
                "that its baud rate and parity match the port's, the 120 ohm terminators at "
                "both ends of the line, and that its communication option is switched on")
    if "refused" in fault.detail:
        return (f"{where} answers but refuses ({fault_summary(fault)}): the register map does not "
                f"match the device (pv {register_text(inst.pv)}, sp {register_text(inst.sp)}; "
                "manuals numbering from 40001 mean address = number - 40001), or a write needs "
                "communications writing switched on first (setup_writes)")
    if "corrupt" in fault.detail:
        return (f"{where} sends corrupt replies (CRC or framing): a baud rate or parity that "
                "differs from the port's, a missing or extra terminator, two devices at "
                f"address {inst.device_id}, or noise (keep the pair away from heater and motor "
                "cables)")
    return (f"{where}: {fault_summary(fault)}: check its address, baud rate and parity, and the "
            "register map against its manual")


def _ascii(fault: SensorFault, inst: InstrumentConfig, port: SerialPortConfig) -> str:
    """Line-printing indicators: silence, or lines that do not parse."""
    where = f"{inst.name} on port {port_text(port)}"
    if fault.kind is FaultKind.NOT_READY:
        asked = (f"that it answers the request {inst.request!r}" if inst.request
                 else "that its continuous output is switched on")
        return (f"{where} sends no line: check the cable (RS-232 TX and RX crossed: a "
                f"null-modem cable or adapter), the baud rate set on the indicator, {asked}")
    return (f"{where}: {fault_summary(fault)}: set the indicator's baud rate to the port's (a "
            "wrong one prints garbage), and paste one of its real lines into `example` so the "
            "loader checks `pattern` against it")


def setpoint_advice(inst: InstrumentConfig, port: SerialPortConfig,
                    fault: SerialResult | None) -> str:
    """Advice for a controller whose setpoint write or read-back failed (`fault`), or whose
    read-back differs from what was written (`fault` None)."""
    registers = (f"the sp register ({register_text(inst.sp)}, written with function "
                 f"{'06' if inst.sp_function == 'single' else '16'}) and scale {inst.scale:g}")
    if isinstance(fault, SensorFault) and fault.kind is FaultKind.NOT_READY:
        return explain_instrument_fault(fault, inst, port)
    if isinstance(fault, SensorFault):
        return (f"{inst.name} on port {port.name}: {fault_summary(fault)}: check {registers} "
                "against the manual, that comms writing is switched on (setup_writes), and the "
                "addresses of resume_writes and safe_writes")
    return (f"{inst.name} on port {port.name} holds another setpoint than the one written: "
            f"check {registers} against the manual (the setpoint the box controls to, not a "
            "remote or working setpoint), and the box's setpoint limits, which clamp a write")
