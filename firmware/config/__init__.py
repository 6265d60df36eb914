"""Press configuration: typed model and the TOML loader that validates it."""
