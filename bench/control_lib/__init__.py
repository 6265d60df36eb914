"""Parts of bench/control.py: the rig and laws (`rig`), the pressure scenario (`pressure`).

A package, not bench/*.py modules, so `make bench` runs only real benchmarks."""
