"""Benchmark: the fleet logger recording 50 presses at 10 Hz through a real mosquitto.

    .venv/bin/python bench/logger.py [--seconds 30] [--presses 50] [--rate-hz 10] [--json PATH]

Set-up: mosquitto on a free loopback port; the logger (`host.logger.FleetLogger` on a SQLite
store, exactly as `hotpress logger` runs it) in a subprocess; in this process one MQTT client
per simulated press publishes protocol-conformant telemetry (QoS 0) at its own phase.
Figures over the measuring window (after a warm-up):

- logger CPU share of one core (user+system time of the logger process / wall time), target <= 25 %;
- lag p50/p99: press wall time stamped at publish -> the batch holding the row committed,
  target < 1 s (the commit period is 0.2 s, so ~0.1 s p50 is expected);
- messages stored vs sent (rows in the store at the end / telemetry published).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

CPU_TARGET_PCT = 25.0
LAG_TARGET_MS = 1000.0
WARMUP_S = 2.0  # connections settle, SQLite file grows its first pages
DRAIN_S = 1.5  # after the last publish: > one commit period plus broker delivery


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mosquitto(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """mosquitto on a free loopback port (files owned by `mosquitto` when we are root)."""
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 100000\nlog_type error\n")
    if os.geteuid() == 0:
        shutil.chown(workdir, "mosquitto", "mosquitto")
        shutil.chown(conf, "mosquitto", "mosquitto")
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("mosquitto did not start") from None
            time.sleep(0.05)


# -- the logger, in its own process -------------------------------------------------------------
def child(port: int, db: Path, stats_path: Path) -> None:
    """Run the fleet logger until SIGTERM; write lag figures and counters to `stats_path`."""
    from host.connection import BrokerSettings
    from host.logger import FleetLogger
    from host.store import open_store

    lags_s: list[float] = []

    def on_commit(walls: list[float], committed: float) -> None:
        lags_s.extend(committed - w for w in walls)

    store = open_store(db=db)
    logger = FleetLogger(store, BrokerSettings(host="127.0.0.1", port=port),
                         "bench-logger", on_commit=on_commit)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    logger.start()
    print("ready", flush=True)
    logger.run(stop)
    logger.close()
    store.close()
    stats_path.write_text(json.dumps({"lags_s": lags_s, "messages": logger.stats.messages,
                                      "replay_requests": logger.stats.replay_requests,
                                      "commits": logger.stats.commits}))


def cpu_s(pid: int) -> float:
    """User+system CPU seconds of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the simulated fleet -----------------------------------------------------------------------
def telemetry(press_id: str, run_id: str, seq: int, t_s: float) -> dict[str, Any]:
    """One realistic telemetry message (the keys `firmware.link.protocol` lists)."""
    temp = 25.0 + min(125.0, 0.5 * t_s) + 0.2 * math.sin(t_s)
    mpa = min(375.0, max(0.0, 5.0 * (t_s - 60.0)))
    return {"schema": 1, "press_id": press_id, "seq": seq, "run_id": run_id, "t_s": t_s,
            "wall_s": time.time(), "mode": "running", "step_index": 1,
            "temps_c": {"top": round(temp, 2), "bottom": round(temp - 0.3, 2),
                        "sample": round(temp - 2.1, 2)},
            "temp_faults": {}, "setpoints_c": {"top": 150.0, "bottom": 150.0},
            "line_mpa": round(mpa * 0.0784, 3), "force_kn": round(mpa * 0.0785, 3),
            "sample_mpa": round(mpa, 2), "target_sample_mpa": 375.0, "position_mm": 12.41,
            "relative_density": round(0.62 + mpa / 1400.0, 4),
            "duty": {"top": 0.41, "bottom": 0.44},
            "outputs": {"pump": False, "advance_open": False, "press_open": False,
                        "release_open": False}}


class Fleet:
    """`n` presses, one MQTT connection each, publishing at `rate_hz` with staggered phases."""

    def __init__(self, port: int, n: int, rate_hz: float) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.period_s = 1.0 / rate_hz
        self.ids = [f"bench-{i:02d}" for i in range(n)]
        self.clients = []
        for pid in self.ids:
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=pid, protocol=mqtt.MQTTv5)
            c.connect("127.0.0.1", port)
            c.loop_start()
            self.clients.append(c)
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._publish_loop, daemon=True)

    def start(self) -> None:
        """Start publishing."""
        self._thread.start()

    def _publish_loop(self) -> None:
        t0 = time.monotonic()
        n = len(self.clients)
        k = 0  # publish number across the fleet; press k % n, its own seq k // n + 1
        while not self._stop.is_set():
            due = t0 + k * self.period_s / n
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            i, seq = k % n, k // n + 1
            msg = telemetry(self.ids[i], f"run-{self.ids[i]}", seq, seq * self.period_s)
            self.clients[i].publish(f"hotpress/{self.ids[i]}/telemetry",
                                    json.dumps(msg, separators=(",", ":")), qos=0)
            self.sent += 1
            k += 1

    def stop(self) -> None:
        """Stop publishing (after the message in hand)."""
        self._stop.set()
        self._thread.join()

    def close(self) -> None:
        """Disconnect every press."""
        for c in self.clients:
            c.disconnect()
            c.loop_stop()


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def machine() -> dict[str, Any]:
    """What the figures were measured on: they only compare on the same machine."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "cpu_model": model, "hostname": socket.gethostname()}


def bench(seconds: float, presses: int, rate_hz: float) -> dict[str, float]:
    """Run the scenario; the figures, keyed `fleet<N>.logger.<metric>_<unit>`."""
    workdir = Path(tempfile.mkdtemp(prefix="hotpress-bench-"))
    (workdir / "mqtt").mkdir()
    broker, port = start_mosquitto(workdir / "mqtt")
    db, stats_path = workdir / "runs.sqlite", workdir / "stats.json"
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(port), str(db),
                             str(stats_path)], stdout=subprocess.PIPE, text=True)
    fleet = None
    try:
        if proc.stdout is None or proc.stdout.readline().strip() != "ready":
            raise SystemExit("the logger did not start")
        fleet = Fleet(port, presses, rate_hz)
        fleet.start()
        time.sleep(WARMUP_S)
        cpu0, wall0, sent0 = cpu_s(proc.pid), time.monotonic(), fleet.sent
        time.sleep(seconds)
        cpu1, wall1, sent1 = cpu_s(proc.pid), time.monotonic(), fleet.sent
        fleet.stop()
        time.sleep(DRAIN_S)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        stats = json.loads(stats_path.read_text())
        stored = _count_rows(db)
    finally:
        if fleet is not None:
            fleet.close()
        if proc.poll() is None:
            proc.kill()
        broker.terminate()
        broker.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    lags_ms = [x * 1000.0 for x in stats["lags_s"]]
    key = f"fleet{presses}.logger"
    return {f"{key}.cpu_share_pct": round(100.0 * (cpu1 - cpu0) / (wall1 - wall0), 2),
            f"{key}.lag_p50_ms": round(percentile(lags_ms, 0.50), 1),
            f"{key}.lag_p99_ms": round(percentile(lags_ms, 0.99), 1),
            f"{key}.lag_max_ms": round(max(lags_ms, default=float("nan")), 1),
            f"{key}.rate_msg_per_s": round((sent1 - sent0) / (wall1 - wall0), 1),
            f"{key}.messages_sent_count": fleet.sent,
            f"{key}.messages_stored_count": stored,
            f"{key}.stored_pct": round(100.0 * stored / max(1, fleet.sent), 3),
            f"{key}.replay_requests_count": stats["replay_requests"],
            f"{key}.commits_per_s": round(stats["commits"] / (seconds + WARMUP_S + DRAIN_S), 2)}


def _count_rows(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0])


def table(figures: dict[str, float]) -> str:
    """The figures as a readable table, each target marked ok or MISSED."""
    targets = {"cpu_share_pct": (CPU_TARGET_PCT, "<="), "lag_p99_ms": (LAG_TARGET_MS, "<"),
               "lag_p50_ms": (LAG_TARGET_MS, "<")}
    lines = [f"{'figure':42} {'value':>12}  target", "-" * 66]
    for key, value in figures.items():
        metric = key.rsplit(".", 1)[1]
        mark = ""
        if metric in targets:
            limit, op = targets[metric]
            ok = value <= limit if op == "<=" else value < limit
            mark = f"{op} {limit:g}  {'ok' if ok else 'MISSED'}"
        elif metric == "stored_pct":
            mark = "100  " + ("ok" if value >= 100.0 else "LOSS")
        lines.append(f"{key:42} {value:>12g}  {mark}")
    return "\n".join(lines)


def main() -> None:
    """Parse the command line; `--child` runs the logger side (internal)."""
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="measuring window (s)")
    ap.add_argument("--presses", type=int, default=50)
    ap.add_argument("--rate-hz", type=float, default=10.0, help="telemetry rate per press")
    ap.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = ap.parse_args()
    figures = bench(args.seconds, args.presses, args.rate_hz)
    print(f"logger benchmark: {args.presses} presses x {args.rate_hz:g} Hz for "
          f"{args.seconds:g} s, mosquitto on loopback, SQLite store\n")
    print(table(figures))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"benchmark": "logger", "machine": machine(),
                                         "figures": figures}, indent=1) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
