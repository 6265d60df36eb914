#!/usr/bin/env bash
# Sets up everything hotpress needs on a fresh Debian / Raspberry Pi OS machine, idempotently:
# the system packages (venv support, mosquitto broker), a project venv in .venv, and the package
# with its dev extras. Used by `make test`, `make demo` and `make bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
need_apt=()
"$PY" -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv python3-pip)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v socat >/dev/null 2>&1 || need_apt+=(socat)  # pty pairs for the serial tests (tests/retrofit)
# headless Chromium and its driver for the dashboard's browser tests (tests/web)
{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || need_apt+=(chromium chromium-driver)
# the test suite's own servers and tools: a throwaway PostgreSQL cluster for the lab-server
# store, openssl for the broker's TLS test certificates, socat for the serial pty pairs, and
# systemd-analyze to verify the units
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need_apt+=(postgresql)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v socat >/dev/null 2>&1 || need_apt+=(socat)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bootstrap: installing system packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  # apt may start a system broker on 1883; hotpress starts its own on a free port, so stop it.
  $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi
stamp=.venv/.hotpress-installed
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PY" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing hotpress and its dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch "$stamp"
fi
