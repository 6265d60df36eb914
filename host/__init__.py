"""hotpress host: the operator's tools (CLI, run records, plots) that talk to presses."""
