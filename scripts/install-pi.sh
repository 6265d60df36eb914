#!/usr/bin/env bash
# Installs hotpress on a Raspberry Pi (Raspberry Pi OS Bookworm), from a clone of the repository:
#
#   sudo scripts/install-pi.sh              install or update; run it again at any time (idempotent)
#   sudo scripts/install-pi.sh --dry-run    check every step and say what would change; change nothing
#   sudo scripts/install-pi.sh --uninstall  remove the program and units; keep config and journal
#   sudo scripts/uninstall-pi.sh            the same ("--purge" also removes config, journal, account)
#
# Steps: enable SPI and I2C; system packages; the `hotpress` account in gpio/spi/i2c/dialout;
# /opt/hotpress/venv with hotpress[pi]; /etc/hotpress/press.toml (from configs/example-real.toml
# when there is none; an existing one is never replaced, and only --broker adds to it: an [mqtt]
# table, when it has none); the journal in /var/lib/hotpress; the
# hotpressd unit, enabled (not started: commission with `hotpressd selftest` first); the Pi's
# hardware watchdog. Options:
#   --broker      also a local mosquitto with the hotpress config, ACL and an account for the press
#   --logger      also the fleet logger unit (hotpress-logger.service)
#   --no-enable   install the units without enabling them
#   --root DIR    install into DIR instead of / (staging, tests): the steps that act on the running
#                 system (apt, raspi-config, systemctl on the live system) are skipped and said so
#   --source DIR  the hotpress source tree (default: the clone this script is in)
#   --python PY   the interpreter the venv is made from (default: python3)
# Environment: HOTPRESS_PIP_ARGS, extra pip arguments (offline: "--no-index --find-links DIR").
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(dirname "$SCRIPT_DIR")
ROOT=/
PYTHON=python3
DRY=0 UNINSTALL=0 PURGE=0 BROKER=0 LOGGER=0 ENABLE=1
CHANGES=0 NOTES=() ORIG_ARGS=("$@")
GROUPS_WANTED=(gpio spi i2c dialout)  # GPIO lines, SPI and I2C device nodes, serial instruments
SERVICE_USER=hotpress
MQTT_PORT=1883

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --uninstall) UNINSTALL=1 ;;
    --purge) PURGE=1 ;;
    --broker) BROKER=1 ;;
    --logger) LOGGER=1 ;;
    --no-enable) ENABLE=0 ;;
    --root) ROOT=${2:?--root needs a directory}; shift ;;
    --source) SRC=${2:?--source needs a directory}; shift ;;
    --python) PYTHON=${2:?--python needs an interpreter}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install-pi: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$PURGE" -eq 1 ] && [ "$UNINSTALL" -eq 0 ] && { echo "install-pi: --purge goes with --uninstall" >&2; exit 2; }
[ -d "$ROOT" ] || { echo "install-pi: --root $ROOT is not a directory" >&2; exit 2; }
ROOT=$(cd "$ROOT" && pwd)
R=${ROOT%/}           # prefix for every path: empty on the live system
LIVE=$([ -z "$R" ] && echo 1 || echo 0)
OPT=$R/opt/hotpress ETC=$R/etc/hotpress STATE=$R/var/lib/hotpress UNITS=$R/etc/systemd/system
WATCHDOG_DROPIN=$R/etc/systemd/system.conf.d/hotpress-watchdog.conf
MOSQ_CONF=$R/etc/mosquitto/conf.d/hotpress.conf MOSQ_DIR=$R/etc/mosquitto/hotpress

# ---- reporting: every step says ok, or what it changes (or would change, in a dry run) --------
step() { echo "install-pi: $*"; }
ok() { echo "  ok: $*"; }
note() { echo "  note: $*"; NOTES+=("$*"); }
change() {  # change "what" command args...: run it, or in a dry run only say it
  local what=$1; shift
  CHANGES=$((CHANGES + 1))
  if [ "$DRY" -eq 1 ]; then echo "  would: $what"; else echo "  doing: $what"; "$@"; fi
}
die() { echo "install-pi: $*" >&2; exit 1; }

is_pi() { grep -qs "Raspberry Pi" /proc/device-tree/model; }
have() { command -v "$1" >/dev/null 2>&1; }
i_am_root() { [ "$(id -u)" -eq 0 ]; }
systemd_running() { [ "$LIVE" -eq 1 ] && [ -d /run/systemd/system ]; }
user_exists() { grep -qs "^$1:" "$R/etc/passwd"; }
group_exists() { grep -qs "^$1:" "$R/etc/group"; }
in_group() { grep -qs "^$2:[^:]*:[^:]*:\(.*,\)\{0,1\}$1\(,.*\)\{0,1\}$" "$R/etc/group"; }
systemctl_r() { if [ "$LIVE" -eq 1 ]; then systemctl "$@"; else systemctl --root="$ROOT" "$@"; fi; }

uid_of() { awk -F: -v u="$1" '$1 == u { print $3 }' "$R/etc/passwd" 2>/dev/null || true; }
gid_of() { awk -F: -v g="$1" '$1 == g { print $3 }' "$R/etc/group" 2>/dev/null || true; }

ensure_owner() {  # ensure_owner PATH USER GROUP, by the target's own numeric ids (--root safe)
  i_am_root || return 0
  local uid gid; uid=$(uid_of "$2"); gid=$(gid_of "$3")
  if [ -z "$uid" ] || [ -z "$gid" ]; then return 0; fi  # account not made yet (dry run)
  if [ ! -e "$1" ] || [ "$(stat -c %u:%g "$1")" != "$uid:$gid" ]; then
    change "chown $2:$3 $1" chown "$uid:$gid" "$1"
  fi
}

ensure_dir() {  # ensure_dir PATH MODE [USER GROUP]
  local path=$1 mode=$2
  if [ ! -d "$path" ]; then change "create $path (mode $mode)" install -d -m "$mode" "$path"
  elif [ "$(stat -c %a "$path")" != "${mode#0}" ]; then change "chmod $mode $path" chmod "$mode" "$path"; fi
  if [ $# -eq 4 ]; then ensure_owner "$path" "$3" "$4"; fi
}

ensure_file() {  # ensure_file SRC DEST MODE: copy when missing or different
  if [ -f "$2" ] && cmp -s "$1" "$2"; then ok "$2 up to date"; return; fi
  change "install $2" install -D -m "$3" "$1" "$2"
}

# ---- steps ------------------------------------------------------------------------------------
check_platform() {
  step "platform"
  if is_pi; then ok "$(tr -d '\0' < /proc/device-tree/model)"; else
    note "this machine is not a Raspberry Pi: the Pi-only steps (buses, hardware extra) are skipped"
    if [ "$LIVE" -eq 1 ] && [ "$DRY" -eq 0 ] && [ "$UNINSTALL" -eq 0 ]; then
      die "refusing to install a press daemon on a non-Pi; use --root DIR to stage, or --dry-run"
    fi
  fi
  if [ "$LIVE" -eq 1 ] && [ "$DRY" -eq 0 ] && ! i_am_root; then die "run as root: sudo $0 ${ORIG_ARGS[*]}"; fi
  if [ ! -f "$SRC/pyproject.toml" ] || [ ! -d "$SRC/firmware" ]; then die "no hotpress source in $SRC (--source)"; fi
  ok "source $SRC, target ${ROOT}"
}

config_txt() {  # Bookworm's place first, then the older one
  local f
  for f in "$R/boot/firmware/config.txt" "$R/boot/config.txt"; do
    if [ -f "$f" ]; then echo "$f"; return 0; fi
  done
  return 0
}

enable_buses() {
  step "SPI and I2C buses"
  if [ "$LIVE" -eq 1 ] && have raspi-config; then
    local bus
    for bus in spi i2c; do
      if [ "$(raspi-config nonint "get_$bus")" = 0 ]; then ok "$bus enabled"; else
        change "enable $bus (raspi-config nonint do_$bus 0; reboot to apply)" raspi-config nonint "do_$bus" 0
        note "reboot for the $bus bus to appear"
      fi
    done
    return
  fi
  local cfg; cfg=$(config_txt)
  if [ -z "$cfg" ]; then note "no boot config.txt under ${ROOT}: buses not enabled (not a Pi image)"; return; fi
  local param missing=()
  for param in spi i2c_arm; do  # the same test raspi-config uses (get_spi, get_i2c)
    if grep -Eq "^(device_tree_param|dtparam)=([^,]*,)*$param(=(on|true|yes|1))?(,.*)?$" "$cfg"; then
      ok "$param enabled in $cfg"
    else missing+=("dtparam=$param=on"); fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    change "add ${missing[*]} to $cfg (under [all])" add_dtparams "$cfg" "${missing[@]}"
    note "reboot for the SPI and I2C buses to appear"
  fi
}

add_dtparams() {  # add_dtparams CONFIG LINE...: one block, under [all] so no board filter hides it
  local cfg=$1; shift
  printf '%s\n' "" "# hotpress: SPI for the MAX31855 boards, I2C for the ADS1115" "[all]" "$@" >> "$cfg"
}

install_packages() {
  step "system packages"
  local want=(python3-venv i2c-tools) missing=() p
  [ "$BROKER" -eq 1 ] && want+=(mosquitto mosquitto-clients)
  if [ "$LIVE" -eq 0 ]; then note "--root: system packages are the target's business (wanted: ${want[*]})"; return; fi
  for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then ok "${want[*]} installed"; return; fi
  change "apt-get install ${missing[*]}" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing[*]}"
}

create_account() {
  step "service account $SERVICE_USER"
  if [ "$LIVE" -eq 0 ] && { ! i_am_root || [ ! -f "$R/etc/passwd" ]; }; then
    note "--root without root privileges or $R/etc/passwd: account not created"; return
  fi
  local rflag=(); [ "$LIVE" -eq 0 ] && rflag=(--root "$ROOT")
  if user_exists "$SERVICE_USER"; then ok "$SERVICE_USER exists"; else
    change "create system user $SERVICE_USER" useradd "${rflag[@]}" --system --user-group \
      --home-dir /var/lib/hotpress --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
  fi
  local g
  for g in "${GROUPS_WANTED[@]}"; do
    if ! group_exists "$g"; then note "no group $g here (a Pi has it): skipped"
    elif in_group "$SERVICE_USER" "$g"; then ok "$SERVICE_USER in $g"
    else change "add $SERVICE_USER to $g" usermod "${rflag[@]}" -a -G "$g" "$SERVICE_USER"; fi
  done
}

source_stamp() {  # what is installed: the source files' hash and the extras
  (cd "$SRC" && find pyproject.toml README.md firmware host -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
  echo "extras=$(extras)"
}
extras() { if is_pi; then echo "[pi]"; fi; }

pip_install() {  # from a private copy, so pip's in-tree build never writes into the clone
  local tmp; tmp=$(mktemp -d)
  cp -r "$SRC/pyproject.toml" "$SRC/README.md" "$SRC/firmware" "$SRC/host" "$tmp/"
  find "$tmp" -name __pycache__ -prune -exec rm -rf {} +
  local pip_args=(); read -r -a pip_args <<< "${HOTPRESS_PIP_ARGS:-}"
  "$OPT/venv/bin/python" -m pip install -q --disable-pip-version-check "${pip_args[@]}" "$tmp$(extras)"
  rm -rf "$tmp"
  install -m 0644 "$SRC/README.md" "$OPT/README.md"
  source_stamp > "$OPT/.installed"
}

install_program() {
  step "program in $OPT"
  ensure_dir "$OPT" 0755 root
  if [ -x "$OPT/venv/bin/python" ]; then ok "venv $OPT/venv"; else
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || die "$PYTHON cannot make venvs: apt-get install python3-venv"
    change "create venv $OPT/venv ($($PYTHON --version 2>&1))" "$PYTHON" -m venv "$OPT/venv"
  fi
  if [ -f "$OPT/.installed" ] && [ "$(cat "$OPT/.installed")" = "$(source_stamp)" ]; then
    ok "hotpress$(extras) installed from this source"
  else
    change "pip install hotpress$(extras) from $SRC" pip_install
  fi
}

write_env() {  # the daemon connects to MQTT only when given --broker
  local hash="#"; [ "$BROKER" -eq 1 ] && hash=""
  printf '%s\n' "# hotpressd options (systemd/hotpressd.service passes \$HOTPRESSD_ARGS to the daemon)" \
    "${hash}HOTPRESSD_ARGS=\"--broker 127.0.0.1:$MQTT_PORT\"" > "$ETC/hotpressd.env"
  chmod 0640 "$ETC/hotpressd.env"
}

install_config() {
  step "config in $ETC, journal in $STATE"
  ensure_dir "$ETC" 0750 root "$SERVICE_USER"
  ensure_dir "$STATE" 0750 "$SERVICE_USER" "$SERVICE_USER"
  if [ -f "$ETC/press.toml" ]; then ok "$ETC/press.toml kept as it is"; else
    change "copy configs/example-real.toml to $ETC/press.toml (adapt the pins to your wiring)" \
      install -m 0640 "$SRC/configs/example-real.toml" "$ETC/press.toml"
  fi
  if [ -f "$ETC/hotpressd.env" ]; then ok "$ETC/hotpressd.env kept"; else
    change "write $ETC/hotpressd.env" write_env
  fi
  ensure_owner "$ETC/press.toml" root "$SERVICE_USER"
  ensure_owner "$ETC/hotpressd.env" root "$SERVICE_USER"
}

install_units() {
  step "systemd units"
  local before=$CHANGES
  ensure_file "$SRC/systemd/hotpressd.service" "$UNITS/hotpressd.service" 0644
  if [ "$LOGGER" -eq 1 ]; then
    ensure_file "$SRC/systemd/hotpress-logger.service" "$UNITS/hotpress-logger.service" 0644
  fi
  if is_pi || [ "$LIVE" -eq 0 ]; then
    local tmp; tmp=$(mktemp)
    printf '%s\n' "# hotpress: systemd pets the Pi's hardware watchdog; a hung Pi resets itself." \
      "[Manager]" "RuntimeWatchdogSec=15s" > "$tmp"
    ensure_file "$tmp" "$WATCHDOG_DROPIN" 0644; rm -f "$tmp"
  fi
  if systemd_running && [ "$CHANGES" -gt "$before" ]; then change "systemctl daemon-reload" systemctl daemon-reload; fi
  local unit units=(hotpressd.service); [ "$LOGGER" -eq 1 ] && units+=(hotpress-logger.service)
  for unit in "${units[@]}"; do
    if [ "$ENABLE" -eq 0 ]; then ok "$unit not enabled (--no-enable)"
    elif [ -f "$UNITS/$unit" ] && [ "$(systemctl_r is-enabled "$unit" 2>/dev/null)" = enabled ]; then ok "$unit enabled"
    else change "enable $unit (starts at boot)" systemctl_r enable --quiet "$unit"; fi
  done
}

# ---- the local broker (--broker) ---------------------------------------------------------------
press_id() {  # the press's id, which is also its broker username (see hotpress.acl)
  if [ -f "$ETC/press.toml" ]; then sed -n 's/^id *= *"\([^"]*\)".*/\1/p' "$ETC/press.toml" | head -n 1; fi
}

render() {  # render TEMPLATE > stdout, with the hotpress broker values
  sed -e "s/@PORT@/$MQTT_PORT/" -e 's/@BIND@/127.0.0.1/' -e 's#@ETC_DIR@#/etc/mosquitto/hotpress#' \
      -e 's/@OPERATOR@/operator/' -e 's/@VIEWER@/viewer/' "$1"
}

make_press_account() {  # a random password for the press: in the broker's passwd and for the daemon
  local id=$1 pw; pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  (umask 027; printf '%s\n' "$pw" > "$ETC/mqtt.password")
  local create=(); [ -f "$MOSQ_DIR/passwd" ] || create=(-c)
  mosquitto_passwd "${create[@]}" -b "$MOSQ_DIR/passwd" "$id" "$pw"
  chmod 0640 "$MOSQ_DIR/passwd"
}

append_mqtt_table() {
  printf '%s\n' "" "# added by install-pi.sh --broker: the local broker (systemd/mosquitto/hotpress.conf)" \
    "[mqtt]" 'host = "127.0.0.1"' "port = $MQTT_PORT" 'password_file = "/etc/hotpress/mqtt.password"' \
    >> "$ETC/press.toml"
}

install_broker() {
  step "local MQTT broker (mosquitto)"
  local before=$CHANGES tmp id; tmp=$(mktemp -d)
  ensure_dir "$MOSQ_DIR" 0750 root mosquitto  # mosquitto reads these after dropping root
  render "$SRC/systemd/mosquitto/hotpress.conf" > "$tmp/hotpress.conf"
  render "$SRC/systemd/mosquitto/hotpress.acl" > "$tmp/hotpress.acl"
  ensure_file "$tmp/hotpress.conf" "$MOSQ_CONF" 0644
  ensure_file "$tmp/hotpress.acl" "$MOSQ_DIR/hotpress.acl" 0640
  rm -rf "$tmp"
  id=$(press_id)
  if [ -z "$id" ] && [ "$DRY" -eq 0 ]; then die "no id = \"...\" in $ETC/press.toml"; fi
  if ! have mosquitto_passwd; then note "mosquitto_passwd missing: no broker account made (install mosquitto)"
  elif [ -f "$ETC/mqtt.password" ] && grep -qs "^${id:-press}:" "$MOSQ_DIR/passwd"; then ok "broker account ${id}"
  else change "broker account ${id:-from press.toml} (password in $ETC/mqtt.password)" make_press_account "$id"; fi
  ensure_owner "$ETC/mqtt.password" root "$SERVICE_USER"
  if grep -qs '^\[mqtt\]' "$ETC/press.toml"; then ok "[mqtt] in $ETC/press.toml"
  else change "add an [mqtt] table for the local broker to $ETC/press.toml" append_mqtt_table; fi
  ensure_owner "$MOSQ_DIR/hotpress.acl" root mosquitto
  ensure_owner "$MOSQ_DIR/passwd" root mosquitto
  if [ "$LIVE" -eq 1 ] && systemd_running && [ "$CHANGES" -gt "$before" ]; then
    change "restart mosquitto" systemctl restart mosquitto
  fi
  note "people: sudo mosquitto_passwd /etc/mosquitto/hotpress/passwd NAME, and a user block in hotpress.acl"
}

main_install() {
  check_platform; enable_buses; install_packages; create_account
  install_program; install_config; install_units
  if [ "$BROKER" -eq 1 ]; then install_broker; fi
  echo
  if [ "$DRY" -eq 1 ]; then
    echo "install-pi: dry run: $CHANGES step(s) would change something; nothing was changed"
    return
  fi
  echo "install-pi: done, $CHANGES change(s)"
  echo "next: edit $ETC/press.toml for your wiring, then commission the press:"
  echo "  sudo -u $SERVICE_USER /opt/hotpress/venv/bin/hotpressd selftest --config /etc/hotpress/press.toml"
  echo "  sudo systemctl start hotpressd; journalctl -u hotpressd -f"
  echo "(after an update, restart it when no run is in progress: sudo systemctl restart hotpressd)"
  local n
  for n in "${NOTES[@]}"; do echo "note: $n"; done
}

# ---- uninstall ---------------------------------------------------------------------------------
remove() { if [ -e "$1" ]; then change "remove $1" rm -rf "$1"; else ok "$1 absent"; fi; }

main_uninstall() {
  check_platform
  step "units"
  local unit before=$CHANGES
  for unit in hotpress-logger.service hotpressd.service; do
    if [ ! -f "$UNITS/$unit" ]; then ok "$unit absent"; continue; fi
    if systemd_running; then
      change "stop and disable $unit (its ExecStopPost drives the outputs safe)" systemctl disable --now --quiet "$unit"
    elif [ "$(systemctl_r is-enabled "$unit" 2>/dev/null)" = enabled ]; then
      change "disable $unit" systemctl_r disable --quiet "$unit"
    fi
    remove "$UNITS/$unit"
  done
  remove "$WATCHDOG_DROPIN"
  if systemd_running && [ "$CHANGES" -gt "$before" ]; then change "systemctl daemon-reload" systemctl daemon-reload; fi
  step "program"
  remove "$OPT"
  step "broker config"
  if grep -qs "hotpress" "$MOSQ_CONF"; then
    remove "$MOSQ_CONF"
    if systemd_running; then change "restart mosquitto" systemctl try-restart mosquitto; fi
  else ok "no hotpress broker config"; fi
  step "config, journal, account"
  if [ "$PURGE" -eq 0 ]; then
    ok "kept $ETC, $STATE (the run journals) and the $SERVICE_USER account; --purge removes them"
  else
    local d; for d in "$ETC" "$STATE" "$R/var/lib/hotpress-logger" "$MOSQ_DIR"; do remove "$d"; done
    local rflag=(); [ "$LIVE" -eq 0 ] && rflag=(--root "$ROOT")
    if user_exists "$SERVICE_USER" && { [ "$LIVE" -eq 1 ] || i_am_root; }; then
      change "delete user $SERVICE_USER" userdel "${rflag[@]}" "$SERVICE_USER"
    fi
    if group_exists "$SERVICE_USER" && { [ "$LIVE" -eq 1 ] || i_am_root; }; then
      change "delete group $SERVICE_USER" groupdel "${rflag[@]}" "$SERVICE_USER"
    fi
  fi
  echo
  if [ "$DRY" -eq 1 ]; then echo "install-pi: dry run: $CHANGES step(s) would change something"
  else echo "install-pi: uninstalled, $CHANGES change(s)"; fi
}

if [ "$UNINSTALL" -eq 1 ]; then main_uninstall; else main_install; fi
