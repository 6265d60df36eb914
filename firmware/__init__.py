"""hotpress firmware: the daemon on the Raspberry Pi bolted to a heated hydraulic press."""

__version__ = "0.1.0"
