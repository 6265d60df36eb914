#!/usr/bin/env bash
# Removes hotpress from a Raspberry Pi: stops and disables the units (their ExecStopPost drives
# every output safe), removes them, /opt/hotpress and the broker drop-in. Keeps /etc/hotpress,
# the run journals in /var/lib/hotpress and the account unless --purge. Also takes --dry-run and
# --root DIR. The same as `scripts/install-pi.sh --uninstall`.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/install-pi.sh" --uninstall "$@"
