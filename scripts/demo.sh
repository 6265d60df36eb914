#!/usr/bin/env bash
# The demo: the reference simulated press for a minute of virtual time with both heaters on.
# (Extended to a whole recipe through broker, daemon, host CLI and plot as those land.)
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/hotpressd --sim --speed 0 --duration 60 --heat 1.0
