#!/usr/bin/env bash
# `make demo`: broker, daemon on the simulated press, host CLI, logger and plot (scripts/demo.py).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/demo.py
