"""Retrofitting an existing press (issue 9): manual pressing and existing temperature controllers.

- `guide`: the manual pressure guide, standing in for the pressure controller on a press without
  pump or valves: a band and a hint for the operator, and the in-band judgement step timers use.
- `session`: what the core keeps for a manual press beyond the guide (the engine clock that stops
  while the pressure is out of band, the fields the operator sees).
- `external`: zones heated by an existing controller: the recipe's ramp becomes the setpoint
  written to it over Modbus.

The serial instruments themselves are hardware: `firmware.hal.serial_*`.
"""
