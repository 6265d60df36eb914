"""`make demo`: a simulated press through a real recipe, end to end, with nothing mocked.

Starts a mosquitto broker on a free loopback port from the shipped config and ACL templates (with
its own accounts), `hotpressd` on the reference simulated press at accelerated time, and the
fleet logger; runs a reference recipe through the host CLI with the live view; then writes the
run's record (CSV, JSON) and its PNG plot, prints where they are, and stops everything it started.
Works without a TTY (CI), where the live view prints one line a second.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "out" / "demo"
VENV_BIN = REPO / ".venv" / "bin"
RECIPE = REPO / "recipes" / "lgps_hotpress_150c.toml"
SPEED = 120.0  # simulated seconds per real second: the 74-minute recipe in about 40 s
PRESS_ID = "reference-sim"
OPERATOR = "demo-operator"
RECORD_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def broker_config(port: int) -> dict[str, str]:
    """Render the shipped broker templates with two accounts; returns the passwords."""
    etc = OUT / "broker"
    etc.mkdir(parents=True)
    template = (REPO / "systemd" / "mosquitto" / "hotpress.conf").read_text()
    conf = (template.replace("@ETC_DIR@", str(etc)).replace("@PORT@", str(port))
            .replace("@BIND@", "127.0.0.1"))
    conf = "\n".join(line for line in conf.splitlines() if "@" not in line)
    (etc / "mosquitto.conf").write_text(conf + f"\nlog_dest file {etc / 'mosquitto.log'}\n")
    acl = (REPO / "systemd" / "mosquitto" / "hotpress.acl").read_text()
    (etc / "hotpress.acl").write_text(acl.replace("@OPERATOR@", OPERATOR)
                                      .replace("@VIEWER@", "demo-viewer"))
    passwords = {PRESS_ID: secrets.token_hex(12), OPERATOR: secrets.token_hex(12)}
    passwd = etc / "passwd"
    for user, password in passwords.items():
        flag = ["-c"] if not passwd.exists() else []
        subprocess.run(["mosquitto_passwd", "-b", *flag, str(passwd), user, password],
                       check=True, stdout=subprocess.DEVNULL)
    if os.geteuid() == 0:  # mosquitto drops to its own user and must still read these
        shutil.chown(etc, "mosquitto")
        for f in etc.iterdir():
            shutil.chown(f, "mosquitto")
    for name, password in passwords.items():
        secret = OUT / f"{name}.password"
        secret.write_text(password)
        secret.chmod(0o600)
    return passwords


def press_config(port: int) -> Path:
    """The reference simulated press, journaling under out/demo, on the demo broker: its die
    calibrated empty first, then loaded with the powder the recipe names."""
    text = (REPO / "firmware" / "presets" / "reference_sim.toml").read_text()
    text = text.replace('journal_dir = "var/journal"', f'journal_dir = "{OUT / "journal"}"')
    text = calibrated(text)
    recipe = tomllib.loads(RECIPE.read_text())
    text += ("\n# The powder the recipe names, loaded in the simulated die.\n"
             f"[backend.sim.sample]\npowder_mass_g = {recipe['powder_mass_g']}\n"
             f"theoretical_density_g_cm3 = {recipe['theoretical_density_g_cm3']}\n"
             f"die_diameter_mm = {recipe['die_diameter_mm']}\n")
    text += (f'\n[mqtt]\nhost = "127.0.0.1"\nport = {port}\n'
             f'password_file = "{OUT / (PRESS_ID + ".password")}"\n')
    path = OUT / "press.toml"
    path.write_text(text)
    return path


def calibrated(text: str) -> str:
    """`hotpressd calibrate-die` on the empty simulated die; the lines it prints pasted in."""
    from firmware.run.calibrate_die import DieCalibration, config_text_with

    empty = OUT / "empty-die.toml"
    empty.write_text(text + "\n[backend.sim.sample]\npowder_mass_g = 0\n")
    print("demo: calibrating the empty die (hotpressd calibrate-die)")
    out = subprocess.run([str(VENV_BIN / "hotpressd"), "--config", str(empty), "calibrate-die"],
                         capture_output=True, text=True, check=True).stdout
    values = dict(re.findall(r"^(\w+) = ([-\d.]+)$", out, re.M))
    keys = ("empty_die_closed_mm", "compliance_mm_per_kn", "growth_mm_per_c", "calibrated_at_c")
    if not all(k in values for k in keys):
        raise SystemExit(f"demo: calibrate-die printed no calibration:\n{out}")
    drag = float(values["ram_drag_kn"]) if "ram_drag_kn" in values else None
    cal = DieCalibration(*(float(values[k]) for k in keys), residual_mm=0.0, ram_drag_kn=drag)
    print("  " + (cal.drag_toml() + cal.toml()).strip().replace("\n", "\n  "))
    return config_text_with(text, cal)


def wait_for(predicate, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: timed out waiting for {what}")
        time.sleep(0.2)


def accepts(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def main() -> int:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    port = free_port()
    broker_config(port)
    env = {**os.environ, "HOTPRESS_MQTT_HOST": "127.0.0.1", "HOTPRESS_MQTT_PORT": str(port),
           "HOTPRESS_MQTT_USERNAME": OPERATOR,
           "HOTPRESS_MQTT_PASSWORD_FILE": str(OUT / f"{OPERATOR}.password")}
    procs: list[subprocess.Popen[bytes]] = []
    db = OUT / "runs.sqlite"
    try:
        mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        procs.append(subprocess.Popen([mosquitto, "-c", str(OUT / "broker" / "mosquitto.conf")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: accepts(port), 10, "the broker")
        print(f"demo: broker on 127.0.0.1:{port} (accounts {PRESS_ID}, {OPERATOR}; "
              "anonymous refused)")
        log = open(OUT / "hotpressd.log", "wb")  # noqa: SIM115 - the child keeps it open
        procs.append(subprocess.Popen(
            [str(VENV_BIN / "hotpressd"), "--config", str(press_config(port)),
             "--speed", str(SPEED), "--broker", f"127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT, env=env))
        logger_log = open(OUT / "logger.log", "wb")  # noqa: SIM115
        procs.append(subprocess.Popen([str(VENV_BIN / "hotpress"), "logger", "--db", str(db)],
                                      stdout=logger_log, stderr=subprocess.STDOUT, env=env))
        hotpress = [str(VENV_BIN / "hotpress")]
        def online() -> bool:
            status = subprocess.run([*hotpress, "status"], env=env, capture_output=True,
                                    text=True)
            online.last = status.stdout + status.stderr  # type: ignore[attr-defined]
            return PRESS_ID in status.stdout and "online" in status.stdout
        try:
            wait_for(online, 20, "the press to come online")
        except SystemExit:
            print(online.last, file=sys.stderr)  # type: ignore[attr-defined]
            raise
        print(f"demo: hotpressd runs the reference simulated press at {SPEED:g}x; "
              f"running {RECIPE.name}")
        run = subprocess.run([*hotpress, "run", str(RECIPE), "--sample", "DEMO-001",
                              "--operator", "demo", "--press", PRESS_ID], env=env)
        if run.returncode != 0:
            print("demo: the run did not complete; see out/demo/hotpressd.log", file=sys.stderr)
            return run.returncode
        return finish(hotpress, env, db)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def finish(hotpress: list[str], env: dict[str, str], db: Path) -> int:
    """Wait until the logger holds the complete record, then export and plot it."""
    runs = [*hotpress, "runs", "--db", str(db)]

    def run_id() -> str | None:
        out = subprocess.run([*runs, "list"], env=env, capture_output=True, text=True).stdout
        lines = [ln for ln in out.splitlines() if "DEMO-001" in ln and "complete" in ln]
        return lines[0].split()[0] if lines else None

    wait_for(lambda: run_id() is not None, RECORD_TIMEOUT_S, "the run's record")
    rid = run_id()
    assert rid is not None

    def complete() -> bool:  # the logger holds every seq up to the journal's end record
        out = subprocess.run([*runs, "show", rid], env=env, capture_output=True, text=True)
        return "record: complete" in out.stdout

    wait_for(complete, RECORD_TIMEOUT_S, "the complete run record (every journal seq)")
    subprocess.run([*runs, "show", rid], env=env, check=True)
    png, csv, js = OUT / f"{rid}.png", OUT / f"{rid}.csv", OUT / f"{rid}.json"
    subprocess.run([*runs, "plot", rid, "-o", str(png)], env=env, check=True)
    subprocess.run([*runs, "export", rid, "--format", "csv", "-o", str(csv)], env=env, check=True)
    subprocess.run([*runs, "export", rid, "--format", "json", "-o", str(js)], env=env,
                   check=True)
    print(f"\ndemo: done. Run {rid}\n  record:  {db}\n  plot:    {png}\n  csv:     {csv}\n"
          f"  json:    {js}\n  journal: {OUT / 'journal' / rid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
