"""Benchmark: the daemon's footprint on the simulated press: resident memory and start-to-ready.

    .venv/bin/python bench/footprint.py [--runs 3] [--seconds 5] [--json PATH]

Scenario `sim`: `hotpressd --sim` (the reference simulated press, real-time clock, journal in a
temporary directory) started as a child process the way systemd starts it, with a NOTIFY_SOCKET
this script listens on. Ready is READY=1 on that socket (firmware/run/watchdog.py: sent once the
outputs are safe and the first tick has run); a daemon not yet wired to send it is timed to its
first status line instead (also printed after the first tick), and the notes say which was used.
Memory is the peak resident set (VmHWM, /proc) after `--seconds` of running: the figure that has
to fit beside the broker and the OS on a Pi, sampled after the first journal and telemetry work.

Figures: `sim.hotpressd.rss_mb` (max over runs) and `sim.hotpressd.start_to_ready_s` (median),
plus `sim.hotpressd.import_s` (the interpreter and imports alone: what start-up costs before any
hardware is touched). Targets: <= 60 MB and <= 2 s (systemd allows TimeoutStartSec=30s).
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import parser, report

HOTPRESSD = Path(sys.executable).with_name("hotpressd")
READY_TIMEOUT_S = 30.0  # systemd's TimeoutStartSec in the unit: slower than this is a failure
READY_GRACE_S = 3.0  # after the first status line, how long to wait for a READY=1 that is late
RSS_TARGET_MB, READY_TARGET_S = 60.0, 2.0
KB_PER_MB = 1024.0


@dataclass
class Run:
    """One start of the daemon: when it was ready, by which signal, and its memory."""

    ready_s: float
    ready_by: str
    rss_mb: float
    hwm_mb: float


def proc_status_mb(pid: int, key: str) -> float:
    """A memory figure from /proc/PID/status (kB there), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / KB_PER_MB
    raise KeyError(key)


def wait_ready(proc: subprocess.Popen[bytes], sock: socket.socket, t0: float) -> tuple[float, str]:
    """Seconds from launch to READY=1 (or, without one, to the first status line)."""
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "notify")
    sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
    first_line_s: float | None = None
    buffer = b""
    while True:
        now = time.perf_counter()
        deadline = t0 + READY_TIMEOUT_S if first_line_s is None else \
            t0 + first_line_s + READY_GRACE_S
        if now >= deadline:
            if first_line_s is not None:
                return first_line_s, "first status line"
            raise TimeoutError(f"hotpressd not ready in {READY_TIMEOUT_S:g} s")
        for key, _ in sel.select(deadline - now):
            if key.data == "notify" and b"READY=1" in sock.recv(4096).split(b"\n"):
                return time.perf_counter() - t0, "READY=1"
            if key.data == "stdout":
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    said = buffer.decode(errors="replace")
                    raise RuntimeError(f"hotpressd exited before it was ready:\n{said}")
                buffer += chunk
                if first_line_s is None and b"\nt=" in buffer:  # a status line, after a tick
                    first_line_s = time.perf_counter() - t0


def one_run(run_s: float) -> Run:
    """Start the daemon, time it to ready, let it run `run_s` seconds, read its memory, stop it."""
    with tempfile.TemporaryDirectory(prefix="footprint-") as tmp:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(Path(tmp) / "notify.sock"))
        env = {**os.environ, "NOTIFY_SOCKET": str(Path(tmp) / "notify.sock"),
               "PYTHONUNBUFFERED": "1"}
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(HOTPRESSD), "--sim", "--journal", str(Path(tmp) / "j")],
                                cwd=tmp, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            ready_s, ready_by = wait_ready(proc, sock, t0)
            time.sleep(run_s)
            rss, hwm = proc_status_mb(proc.pid, "VmRSS"), proc_status_mb(proc.pid, "VmHWM")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            sock.close()
    return Run(ready_s, ready_by, rss, hwm)


def import_time_s() -> float:
    """The interpreter plus the daemon's imports, with nothing opened: the floor of start-up."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import firmware.cli, firmware.daemon"], check=True)
    return time.perf_counter() - t0


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="daemon starts (median start time)")
    p.add_argument("--seconds", type=float, default=5.0, help="run time before memory is read")
    args = p.parse_args()
    if not HOTPRESSD.exists():
        sys.exit(f"footprint: no {HOTPRESSD}: run `make setup` first")
    runs = [one_run(args.seconds) for _ in range(args.runs)]
    figures = {
        "sim.hotpressd.rss_mb": max(r.hwm_mb for r in runs),
        "sim.hotpressd.start_to_ready_s": statistics.median(r.ready_s for r in runs),
        "sim.hotpressd.import_s": statistics.median(import_time_s() for _ in range(args.runs)),
    }
    ready_by = sorted({r.ready_by for r in runs})
    report("footprint", figures, args.json, [
        f"targets: rss_mb <= {RSS_TARGET_MB:g} (peak resident set, VmHWM), "
        f"start_to_ready_s <= {READY_TARGET_S:g}",
        f"ready detected by: {', '.join(ready_by)}; {args.runs} runs, memory read after "
        f"{args.seconds:g} s; current RSS at that point "
        f"{max(r.rss_mb for r in runs):.1f} MB",
    ])


if __name__ == "__main__":
    main()
