"""Benchmark: telemetry latency and throughput from the daemon to a subscriber, on a real mosquitto.

    .venv/bin/python bench/telemetry.py [--seconds 30] [--json PATH]

Broker: mosquitto on a free loopback port from the shipped `hotpress.conf` and `hotpress.acl`,
with accounts, as `scripts/demo.py` runs it, so every message pays the ACL checks a lab broker
makes (an anonymous broker would flatter the figures). A viewer subscribes from its own process.

- `raw10hz.paho`: bare paho in its own process, side by side in time with the daemon (a busy
  machine weighs on both alike), publishes the same payload at 10 Hz, QoS 0, `wall_s` stamped
  just before encoding: the floor of any MQTT path here;
- `daemon10hz.hotpress`: `hotpressd` (`Daemon`, simulated press, real clock, 10 Hz, its `Link`)
  running a reference recipe (journal, state and events as in a run). Latency: the record's
  `wall_s` (stamped at the tick) to `time.time()` at receipt (same machine). CPU per message: the
  whole process, and the link's part (loop time in `publish_*` plus every other thread);
- `sweep<R>hz.link` / `.paho`: `Link.publish_telemetry` driven at R = 10 Hz and up, bare paho
  beside it, until the Link does not keep up (achieved < 95 % of R, > 0.1 % lost, or median lag
  over 10 ms and over 1.5x paho's): `sweep.link.max_sustained_rate_hz`, and the process CPU per
  message there (`sweep.link.cpu_per_message_us`; low rates carry fixed per-second costs).

Scheduling as deployed: systemd starts hotpressd under SCHED_FIFO, so all its threads inherit it;
both publishers here ask for it before starting any thread; subscriber and broker run as usual.
Targets: daemon telemetry latency p99 <= 10 ms and <= 1.5x the raw paho p99.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from common import machine
from logger import free_port, percentile  # bench/logger.py: the same helpers, one definition
from paho.mqtt.enums import CallbackAPIVersion

from firmware.clock import RealClock, VirtualClock
from firmware.config.bundle import load_bundle
from firmware.daemon import Daemon
from firmware.link.config import LinkConfig
from firmware.link.mqtt import Link
from firmware.presets import reference_sim_path
from firmware.run import journal as jr
from firmware.run.scheduler import request_realtime

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "systemd" / "mosquitto"
RECIPE = REPO / "recipes" / "lgps_hotpress_150c.toml"
PRESS_ID = "reference-sim"  # the reference simulated press's id (its broker username)
RAW_ID, SWEEP_ID, VIEWER = "press-raw", "press-sweep", "bench-viewer"
LATENCY_P99_TARGET_MS = 10.0  # one tick: a live view is never more than a sample behind
RAW_RATIO_TARGET = 1.5  # the daemon may add at most half again to what MQTT itself costs
RATE_HZ = 10.0
WARMUP_MESSAGES = 10  # first second of each scenario: connections and caches settle
DRAIN_S = 0.5  # after the last publish, for the last messages to reach the subscriber
SWEEP_RATES_HZ = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)
SWEEP_STEP_S = 3.0
SWEEP_MIN_ACHIEVED = 0.95
SWEEP_MAX_LOSS_PCT = 0.1
SWEEP_MAX_LAG_P50_MS = 10.0  # the typical message a tick late: a backlog is building
SWEEP_QUEUE = 10_000  # outbox bound for the sweep: a burst must not be what limits the rate


# -- broker --------------------------------------------------------------------------------------
def start_broker(etc: Path) -> tuple[subprocess.Popen[bytes], int, dict[str, Path]]:
    """mosquitto from the shipped templates with four accounts; (process, port, password files)."""
    port = free_port()
    conf = (TEMPLATES / "hotpress.conf").read_text().replace("@ETC_DIR@", str(etc)) \
        .replace("@PORT@", str(port)).replace("@BIND@", "127.0.0.1")
    (etc / "mosquitto.conf").write_text(conf + f"\nlog_dest file {etc / 'mosquitto.log'}\n")
    acl = (TEMPLATES / "hotpress.acl").read_text()
    (etc / "hotpress.acl").write_text(acl.replace("@OPERATOR@", "bench-operator")
                                      .replace("@VIEWER@", VIEWER))
    files: dict[str, Path] = {}
    for i, user in enumerate((PRESS_ID, RAW_ID, SWEEP_ID, VIEWER)):
        password = secrets.token_hex(12)
        subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if i == 0 else []),
                        str(etc / "passwd"), user, password], check=True)
        files[user] = etc.parent / f"{user}.password"
        files[user].write_text(password)
        files[user].chmod(0o600)
    if os.geteuid() == 0:  # mosquitto drops to its own user before reading these
        for path in (etc, *etc.iterdir()):
            shutil.chown(path, "mosquitto", "mosquitto")
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([exe, "-c", str(etc / "mosquitto.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log = etc / "mosquitto.log"
            raise SystemExit(f"mosquitto did not start: {log.read_text() if log.exists() else ''}")
        time.sleep(0.05)
    return proc, port, files


def mqtt_client(port: int, user: str, password_file: Path) -> Any:
    """A connected paho MQTT 5 client with its network thread running."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{user}-{os.getpid()}",
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password_file.read_text())
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


# -- the subscriber, in its own process ----------------------------------------------------------
def subscriber(port: int, password_file: Path) -> None:
    """Receive all telemetry; on `dump` print [press_id, tag, latency_s] rows and forget them."""
    rows: list[tuple[str, Any, float]] = []
    ready = threading.Event()

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        received_s = time.time()  # first, before any parsing
        body = json.loads(msg.payload)
        press_id = msg.topic.split("/")[1]
        rows.append((press_id, body.get("bench_tag"), received_s - body["wall_s"]))

    client = mqtt_client(port, VIEWER, password_file)
    client.on_message = on_message
    client.on_subscribe = lambda *a: ready.set()
    client.subscribe("hotpress/+/telemetry", qos=0)
    ready.wait(10)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "dump":
            break
        taken, rows[:] = rows[:], []
        print(json.dumps(taken), flush=True)
    client.disconnect()
    client.loop_stop()


class Subscriber:
    """The parent's handle on the subscriber process."""

    def __init__(self, port: int, password_file: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--subscriber", str(port), str(password_file)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout is None or self.proc.stdout.readline().strip() != "ready":
            raise SystemExit("the subscriber did not start")

    def dump(self) -> list[tuple[str, Any, float]]:
        """Every message received since the last dump, after a short drain."""
        time.sleep(DRAIN_S)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("dump\n")
        self.proc.stdin.flush()
        return [tuple(r) for r in json.loads(self.proc.stdout.readline())]  # type: ignore[misc]

    def close(self) -> None:
        """End the process by its PID."""
        self.proc.kill()
        self.proc.wait()


def latency_figures(prefix: str, lat_s: list[float], sent: int) -> dict[str, float]:
    """p50/p99/max latency (ms, after the warm-up), received count and loss (%)."""
    ms = [x * 1e3 for x in lat_s[WARMUP_MESSAGES:]]
    return {f"{prefix}.latency_p50_ms": round(percentile(ms, 0.50), 3),
            f"{prefix}.latency_p99_ms": round(percentile(ms, 0.99), 3),
            f"{prefix}.latency_max_ms": round(max(ms, default=float("nan")), 3),
            f"{prefix}.received_count": len(lat_s),
            f"{prefix}.loss_pct": round(100.0 * max(0, sent - len(lat_s)) / max(1, sent), 3)}


def sample_payload() -> dict[str, Any]:
    """One real telemetry payload of the reference press, as the daemon publishes it."""
    with tempfile.TemporaryDirectory() as journal:
        daemon = Daemon(load_bundle(reference_sim_path()), VirtualClock(), log=lambda s: None,
                        journal_root=Path(journal))
        daemon.submit("start", {"recipe_toml": RECIPE.read_text(), "sample_id": "bench"})
        for _ in range(30):
            daemon.scheduler.run_once(daemon.tick)
        record = dict(daemon.last_result.record)  # type: ignore[union-attr]
        daemon.close()
    return {"schema": 1, "press_id": RAW_ID, "seq": 0, "wall_s": 0.0, **record}


def paced(payload: dict[str, Any], rate_hz: float, n: int, send: Any) -> tuple[float, int]:
    """`send(payload)` n times on absolute deadlines at `rate_hz`, each stamped with its `seq`
    and `wall_s` just before; (elapsed s, sends that returned true)."""
    ok, start_s = 0, time.monotonic()
    for k in range(n):
        delay_s = start_s + k / rate_hz - time.monotonic()
        if delay_s > 0:
            time.sleep(delay_s)
        payload["seq"], payload["wall_s"] = k, time.time()
        ok += bool(send(payload))
    return time.monotonic() - start_s, ok


def raw_send(client: Any) -> Any:
    """Bare paho: encode and publish, as the raw baseline does."""
    topic = f"hotpress/{RAW_ID}/telemetry"
    return lambda payload: client.publish(
        topic, json.dumps(payload, separators=(",", ":")), qos=0).rc == 0


def raw_publisher(port: int, password_file: Path, seconds: float) -> None:
    """The raw baseline's process: bare paho at 10 Hz for `seconds`."""
    request_realtime()
    client = mqtt_client(port, RAW_ID, password_file)
    paced({**sample_payload(), "press_id": RAW_ID}, RATE_HZ, round(seconds * RATE_HZ),
          raw_send(client))
    time.sleep(DRAIN_S)
    client.disconnect()
    client.loop_stop()


def timed(counter: list[float], fn: Any) -> Any:
    """`fn`, adding the calling thread's CPU time in it to `counter[0]`, and 1 to `counter[1]`
    for every call that returns true (a message queued)."""
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        c0 = time.thread_time()
        result = fn(*args, **kwargs)
        counter[0] += time.thread_time() - c0
        counter[1] += bool(result)
        return result
    return wrapper


def daemon_scenario(port: int, files: dict[str, Path], sub: Subscriber,
                    seconds: float) -> dict[str, float]:
    """hotpressd running a recipe with its Link at 10 Hz; latency, CPU and loop timing."""
    fifo = request_realtime()  # before any thread, as systemd's CPUSchedulingPolicy does
    cfg = LinkConfig(host="127.0.0.1", port=port, username=PRESS_ID,
                     password_file=str(files[PRESS_ID]), telemetry_running_hz=RATE_HZ)
    clock = RealClock()
    with tempfile.TemporaryDirectory(prefix="hotpress-bench-tm-") as root:
        link = Link(cfg, PRESS_ID, lambda r, a, b: jr.iter_records(Path(root), r, a, b), clock)
        daemon = Daemon(load_bundle(reference_sim_path()), clock, link=link,
                        log=lambda s: None, journal_root=Path(root))
        tm, other, tick = [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]  # CPU s, messages queued
        link.publish_telemetry = timed(tm, link.publish_telemetry)  # type: ignore[method-assign]
        link.publish_state = timed(other, link.publish_state)  # type: ignore[method-assign]
        link.publish_event = timed(other, link.publish_event)  # type: ignore[method-assign]
        daemon.tick = timed(tick, daemon.tick)  # type: ignore[method-assign]
        link.start()
        if not link.wait_connected(10):
            raise SystemExit("the daemon's link did not connect")
        replies: list[Any] = []
        daemon.submit("start", {"recipe_toml": RECIPE.read_text(), "sample_id": "bench-tm",
                                "operator": "bench"}, replies.append)
        raw = subprocess.Popen([sys.executable, __file__, "--raw", str(port),
                                str(files[RAW_ID]), str(seconds)])  # the baseline, beside us
        p0 = time.process_time()
        daemon.run(duration_s=seconds)
        process_cpu_s = time.process_time() - p0
        link.stop()
        raw.wait(seconds + 30)
    if not replies or replies[0].status != "accepted":
        raise SystemExit(f"the recipe did not start: {replies}")
    rows, key, sent = sub.dump(), "daemon10hz.hotpress", round(tm[1])
    raw_lat, lat = [r[2] for r in rows if r[0] == RAW_ID], [r[2] for r in rows if r[0] == PRESS_ID]
    link_cpu_s = tm[0] + other[0] + process_cpu_s - tick[0]  # + publisher, paho, replay threads
    return {**latency_figures("raw10hz.paho", raw_lat, round(seconds * RATE_HZ)),
            **latency_figures(key, lat, sent),
            f"{key}.rate_hz": round(sent / seconds, 2),
            f"{key}.cpu_per_message_ms": round(process_cpu_s * 1e3 / max(1, sent), 3),
            f"{key}.link_cpu_per_message_ms": round(link_cpu_s * 1e3 / max(1, sent), 3),
            f"{key}.loop_jitter_p99_ms": round(daemon.scheduler.stats().jitter_p99_ms, 3),
            f"{key}.loop_overruns": daemon.scheduler.overruns,
            f"{key}.sched_fifo_flag": float(fifo),
            f"{key}.p99_vs_raw_ratio": round(percentile(lat[WARMUP_MESSAGES:], 0.99)
                                             / percentile(raw_lat[WARMUP_MESSAGES:], 0.99), 3)}


def sweep_step(send: Any, who: str, payload: dict[str, Any], rate_hz: float,
               sub: Subscriber) -> dict[str, float]:
    """`send` at `rate_hz` for SWEEP_STEP_S, as `who`; figures keyed `sweep<R>hz.<who>`."""
    n, payload = round(SWEEP_STEP_S * rate_hz), {**payload, "bench_tag": rate_hz}
    p0 = time.process_time()
    elapsed_s, accepted = paced(payload, rate_hz, n, send)
    cpu_s = time.process_time() - p0
    lat = [r[2] for r in sub.dump() if r[0] == payload["press_id"] and r[1] == rate_hz]
    key = f"sweep{rate_hz:g}hz.{who}"
    figures = latency_figures(key, lat, n)
    figures[f"{key}.achieved_rate_hz"] = round(n / elapsed_s, 1)
    figures[f"{key}.cpu_per_message_us"] = round(cpu_s * 1e6 / max(1, accepted), 1)
    return figures


def sustained(figures: dict[str, float], rate_hz: float) -> bool:
    """The link kept up at `rate_hz`: the rate achieved, nothing lost, and its median lag within
    SWEEP_MAX_LAG_P50_MS or, where the machine itself is slower, within 1.5x raw paho's."""
    link, raw = f"sweep{rate_hz:g}hz.link", f"sweep{rate_hz:g}hz.paho"
    lag_ms = figures[f"{link}.latency_p50_ms"]
    return (figures[f"{link}.achieved_rate_hz"] >= SWEEP_MIN_ACHIEVED * rate_hz
            and figures[f"{link}.loss_pct"] <= SWEEP_MAX_LOSS_PCT
            and (lag_ms <= SWEEP_MAX_LAG_P50_MS
                 or lag_ms <= RAW_RATIO_TARGET * figures[f"{raw}.latency_p50_ms"]))


def sweep(port: int, files: dict[str, Path], sub: Subscriber) -> dict[str, float]:
    """Increasing rates, raw paho then the Link at each, until the Link does not keep up."""
    cfg = LinkConfig(host="127.0.0.1", port=port, username=SWEEP_ID,
                     password_file=str(files[SWEEP_ID]), max_queue=SWEEP_QUEUE,
                     telemetry_running_hz=1e6)  # the Link's rate limit out of the way
    link = Link(cfg, SWEEP_ID, lambda run, a, b: [], RealClock())
    link.start()
    client = mqtt_client(port, RAW_ID, files[RAW_ID])
    if not link.wait_connected(10):
        raise SystemExit("the sweep's link did not connect")
    payload = {**sample_payload(), "mode": "running"}
    figures: dict[str, float] = {}
    best = 0.0
    for rate in SWEEP_RATES_HZ:
        figures.update(sweep_step(raw_send(client), "paho", {**payload, "press_id": RAW_ID},
                                  rate, sub))
        figures.update(sweep_step(link.publish_telemetry, "link",
                                  {**payload, "press_id": SWEEP_ID}, rate, sub))
        if not sustained(figures, rate):
            break
        best = rate
    link.stop()
    client.disconnect()
    client.loop_stop()
    figures["sweep.link.max_sustained_rate_hz"] = best
    figures["sweep.link.cpu_per_message_us"] = figures.get(
        f"sweep{best:g}hz.link.cpu_per_message_us", float("nan"))
    return figures


def table(figures: dict[str, float]) -> str:
    """The figures as a readable table, each target marked ok or MISSED."""
    targets = {"daemon10hz.hotpress.latency_p99_ms": LATENCY_P99_TARGET_MS,
               "daemon10hz.hotpress.p99_vs_raw_ratio": RAW_RATIO_TARGET}
    lines = [f"{'figure':46} {'value':>12}  target", "-" * 76]
    for key, value in figures.items():
        limit = targets.get(key)
        mark = "" if limit is None else f"<= {limit:g}  {'ok' if value <= limit else 'MISSED'}"
        lines.append(f"{key:46} {value:>12g}  {mark}")
    return "\n".join(lines)


def bench(seconds: float) -> dict[str, float]:
    """Broker, subscriber, then the three scenarios; everything stopped by PID at the end."""
    workdir = Path(tempfile.mkdtemp(prefix="hotpress-bench-telemetry-"))
    workdir.chmod(0o711)  # mosquitto (its own user) must reach broker/; the rest stays private
    (workdir / "broker").mkdir()
    broker, port, files = start_broker(workdir / "broker")
    sub = None
    try:
        sub = Subscriber(port, files[VIEWER])
        print(f"telemetry: hotpressd and raw paho at 10 Hz for {seconds:g} s ...", flush=True)
        figures = daemon_scenario(port, files, sub, seconds)
        print("telemetry: rate sweep ...", flush=True)
        figures.update(sweep(port, files, sub))
        return figures
    finally:
        if sub is not None:
            sub.close()
        broker.terminate()
        broker.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    """Parse the command line; `--subscriber` runs the receiving side (internal)."""
    if len(sys.argv) == 4 and sys.argv[1] == "--subscriber":
        subscriber(int(sys.argv[2]), Path(sys.argv[3]))
        return
    if len(sys.argv) == 5 and sys.argv[1] == "--raw":
        raw_publisher(int(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="seconds per 10 Hz scenario")
    ap.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = ap.parse_args()
    figures = bench(args.seconds)
    print(f"\ntelemetry benchmark: mosquitto (shipped config and ACL) on loopback, QoS 0, "
          f"{os.cpu_count()} cores\n")
    print(table(figures))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        info = {**machine(), "loadavg": os.getloadavg()}  # a busy machine shows here
        args.json.write_text(json.dumps({"benchmark": "telemetry", "machine": info,
                                         "figures": figures}, indent=1) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
