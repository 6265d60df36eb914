"""The daemon's imperative shell: clock, hardware, journal, MQTT and signals around the core.

One tick: read sensors; apply any operator commands; `core.tick` (safety, run, control); apply the
outputs; journal the run's records; publish telemetry, state and events without blocking. Safety
on the way in and out: outputs are driven safe as the hardware opens, again on any exit (normal,
exception, SIGTERM, Ctrl-C), and at once when the journal fails.
"""

from __future__ import annotations

import signal
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from firmware.clock import Clock, RealClock
from firmware.config.bundle import PressBundle
from firmware.hal.backend import Backend, make_backend
from firmware.hal.press_io import PressIO, Sample
from firmware.hal.types import SensorFault
from firmware.link.protocol import SCHEMA_VERSION
from firmware.run import journal as jr
from firmware.run.commands import Reply, handle
from firmware.run.core import InterruptedRun, PressCore, TickResult
from firmware.run.events import Event
from firmware.run.scheduler import Scheduler, request_realtime
from firmware.run.tuning import load_tuning, save_tuning
from firmware.run.watchdog import LoopWatchdog, loop_healthy

LOG_PERIOD_S = 1.0  # one status line a second of press time: readable, and enough to follow a run
COMMANDS_PER_TICK = 8  # bounded work per tick whatever arrives


class LinkLike(Protocol):
    """What the shell needs of the MQTT link (firmware.link.mqtt.Link)."""

    def poll_commands(self, max_n: int = 8) -> list[Any]: ...
    def reply(self, cmd: Any, status: str, reason: str | None = None,
              data: dict[str, Any] | None = None) -> None: ...
    def publish_telemetry(self, payload: dict[str, Any]) -> bool: ...
    def publish_state(self, payload: dict[str, Any]) -> bool: ...
    def publish_event(self, payload: dict[str, Any]) -> bool: ...


def format_sample(sample: Sample, ram_area_m2: float) -> str:
    """One human line: every temperature, pressure, force, position and switch."""
    parts = [f"t={sample.time_s:8.1f}s"]
    for name, r in sample.temps.items():
        parts.append(f"{name} {r.kind.name}" if isinstance(r, SensorFault)
                     else f"{name} {r.temp_c:6.2f}C")
    p = sample.pressure
    if isinstance(p, SensorFault):
        parts.append(f"line {p.kind.name}")
    else:
        force_kn = p.pressure_mpa * ram_area_m2 * 1e3
        parts.append(f"line {p.pressure_mpa:6.2f}MPa force {force_kn:6.1f}kN")
    if sample.position is not None and not isinstance(sample.position, SensorFault):
        parts.append(f"ram {sample.position.position_mm:5.2f}mm")
    parts.append("ESTOP" if sample.estop else "estop ok")
    parts.append("GUARD OPEN" if sample.guard_open else "guard closed")
    return "  ".join(parts)


def resumable(summary: jr.RunSummary) -> InterruptedRun | None:
    """What an operator could resume of a run the daemon died in (None without a step)."""
    last, head = summary.last or {}, summary.header
    if last.get("step_index") is None or "recipe_text" not in head:
        return None
    return InterruptedRun(
        summary.run_id, head["recipe_text"], head.get("sample_id", ""), head.get("operator", ""),
        int(last["step_index"]), {k: float(v) for k, v in (last.get("setpoints_c") or {}).items()
                                  if v is not None},
        float(last.get("wall_s") or head.get("started_wall_s") or 0.0))


class Daemon:
    """Runs the core on the press every tick until stopped; leaves every output safe."""

    def __init__(self, bundle: PressBundle, clock: Clock, backend: Backend | None = None,
                 link: LinkLike | None = None, log: Callable[[str], None] = print,
                 journal_root: Path | None = None, recipes_dir: Path | None = None) -> None:
        self.bundle = bundle
        self.cfg = bundle.press
        self.clock = clock
        self.log = log
        self.link = link
        self.recipes_dir = recipes_dir
        self.journal_root = Path(journal_root or self.cfg.journal_dir)
        self.backend = backend if backend is not None else make_backend(self.cfg, clock)
        self.io = PressIO(self.cfg, self.backend, clock)  # outputs safe before anything else
        self.core = PressCore(bundle)
        for zone, result in load_tuning(self.journal_root, list(self.core.zones)).items():
            self.core.zones[zone].apply_autotune(result)
            self.log(f"hotpressd: zone {zone} uses its stored autotune model")
        self.scheduler = Scheduler(clock, 1.0 / self.cfg.loop.tick_hz)
        loop = self.cfg.loop  # the inner pressure loop's substeps per tick, and their period (s)
        self._substeps = max(1, round(loop.pressure_hz / loop.tick_hz))
        self._substep_s = 1.0 / (loop.tick_hz * self._substeps)
        self.watchdog = LoopWatchdog()  # READY and WATCHDOG to systemd only while healthy
        self.journal: jr.RunJournal | None = None
        self.local_commands: deque[tuple[str, dict[str, Any], Callable[[Reply], None] | None]] \
            = deque(maxlen=64)
        self.last_result: TickResult | None = None
        self.events_seen: list[dict[str, Any]] = []
        self._pending: list[Event] = []  # events of commands applied this tick, journaled with it
        self._next_log_s = clock.now()
        self._next_idle_telemetry_s = clock.now()
        self._telemetry_seq = 0
        self._last_state: dict[str, Any] | None = None
        self._recover_interrupted()

    # ---- start-up ----------------------------------------------------------------------------
    def _recover_interrupted(self) -> None:
        """Runs the daemon died in are closed as `interrupted`; pressing never resumes by itself."""
        for summary in jr.unfinished_runs(self.journal_root):
            jr.mark_interrupted(self.journal_root, summary, self.clock.now(), time.time())
            self.core.interrupted = resumable(summary)
            self._emit([Event("run_ended", f"run {summary.run_id} interrupted: the daemon stopped "
                              "during it; outputs are safe, nothing resumes by itself",
                              {"run_id": summary.run_id, "outcome": "interrupted"})])

    # ---- commands ----------------------------------------------------------------------------
    def submit(self, verb: str, args: dict[str, Any] | None = None,
               on_reply: Callable[[Reply], None] | None = None) -> None:
        """Queue a command from inside the process (tests, the CLI); applied at the next tick."""
        self.local_commands.append((verb, dict(args or {}), on_reply))

    def _apply_commands(self, now_s: float) -> None:
        for _ in range(COMMANDS_PER_TICK):
            if not self.local_commands:
                break
            verb, args, on_reply = self.local_commands.popleft()
            reply = self._apply(verb, args, now_s)
            if on_reply:
                on_reply(reply)
        if self.link is None:
            return
        for cmd in self.link.poll_commands(COMMANDS_PER_TICK):
            reply = self._apply(cmd.verb, dict(cmd.args), now_s)
            self.link.reply(cmd, reply.status, reply.reason or None, reply.data)
            if reply.status == "accepted":
                self.link.reply(cmd, "completed", None, reply.data)

    def _apply(self, verb: str, args: dict[str, Any], now_s: float) -> Reply:
        reply = handle(self.core, verb, args, now_s, self.recipes_dir)
        events = list(reply.events)
        if reply.header is not None:
            self._open_journal(reply.header, now_s)
            # The header rides on the run_started event so the host's record holds it too.
            events = [Event(e.kind, e.message, {**e.data, "header": reply.header})
                      if e.kind == "run_started" else e for e in events]
        self._pending += events
        return reply

    # ---- journal -----------------------------------------------------------------------------
    def _open_journal(self, header: dict[str, Any], now_s: float) -> None:
        try:
            self.journal = jr.RunJournal.create(self.journal_root, header["run_id"], header, now_s)
        except jr.JournalError as exc:
            self._journal_failed(str(exc))

    def _journal_failed(self, reason: str) -> None:
        self.io.safe()
        self.core.journal_failed(reason)
        self.journal = None
        self.log(f"hotpressd: {reason}: outputs safe, run stops")

    def _journal(self, records: list[dict[str, Any]], now_s: float) -> list[int | None]:
        """Append records; returns each one's seq (None where there is no journal)."""
        seqs: list[int | None] = [None] * len(records)
        if self.journal is None:
            return seqs
        try:
            for i, rec in enumerate(records):
                seqs[i] = self.journal.append(rec, now_s)
        except jr.JournalError as exc:
            self._journal_failed(str(exc))
        return seqs

    def _close_journal_if_ended(self, events: list[Event], now_s: float) -> None:
        end = next((e for e in events if e.kind == "run_ended"), None)
        if end is None or self.journal is None:
            return
        self._journal([{"type": "end", "t_s": now_s, "wall_s": time.time(),
                        "outcome": end.data.get("outcome"), "reason": end.data.get("reason")}],
                      now_s)
        if self.journal is not None:
            self.journal.close()
        self.journal = None

    # ---- the tick ----------------------------------------------------------------------------
    def tick(self, now_s: float) -> None:
        sample = self.io.read()
        self._apply_commands(now_s)
        try:
            result = self.core.tick(sample, now_s, self.scheduler.consecutive_overruns)
        except Exception:
            self.io.safe()
            raise
        if result.verdict.outputs_safe_required:
            self.io.safe()  # not apply(SAFE): an SSR part-way through its window stays on
        else:
            self.io.apply(result.commands)
        self.last_result = result
        wall_s = time.time()
        events, self._pending = [*self._pending, *result.events], []
        event_recs = [{"type": "event", "t_s": now_s, "wall_s": wall_s, **e.to_dict()}
                      for e in events]
        seqs = self._journal([*event_recs, {**result.record, "wall_s": wall_s}], now_s)
        self._emit(events, seqs[:-1])
        self._close_journal_if_ended(events, now_s)
        self._publish(result, seqs[-1], now_s, wall_s)
        if now_s >= self._next_log_s:
            self.log(format_sample(sample, self.cfg.ram_area_m2) + f"  {self.core.mode}")
            self._next_log_s += LOG_PERIOD_S
        self._inner_pressure_loop(now_s)
        # systemd's watchdog runs on real time, whatever clock the press runs on.
        self.watchdog.tick_ok(time.monotonic(), loop_healthy(
            result.verdict, self.scheduler.consecutive_overruns,
            self.bundle.safety.loop_overrun_streak))

    def _inner_pressure_loop(self, tick_s: float) -> None:
        """Between ticks, while pressing: pressure read and valve commands at `pressure_hz`.

        Valve pulses last tens of milliseconds; at the 10 Hz tick the slow valve could only be
        metered in 1.5 % steps of a typical target. Heaters, safety and records stay per tick;
        the supervisor judges the commands applied here at the next tick (`last_commands`)."""
        steps, period_s = self._substeps, self._substep_s
        if steps == 1 or not self.core.pressure_active():
            return
        clock, core, io, scheduler = self.clock, self.core, self.io, self.scheduler
        for k in range(1, steps):
            clock.sleep_until(tick_s + k * period_s)
            if scheduler.stopped:
                return
            cmd = core.pressure_substep(io.read_pressure(), period_s)
            if cmd is None:
                return
            io.apply_hydraulics(cmd)

    def _emit(self, events: list[Event], seqs: list[int | None] | None = None) -> None:
        for i, e in enumerate(events):
            seq = seqs[i] if seqs else None
            rec = {"schema": SCHEMA_VERSION, "press_id": self.cfg.id,
                   "run_id": e.data.get("run_id"), "seq": seq, "t_s": self.clock.now(),
                   "wall_s": time.time(), **e.to_dict()}
            self.events_seen.append(rec)
            if e.kind == "autotune" and "result" in e.data:
                path = save_tuning(self.journal_root, e.data["zone"], e.data["result"])
                self.log(f"hotpressd: autotune result saved to {path}")
            if e.kind in ("fault", "run_ended", "run_started", "autotune", "timeout"):
                self.log(f"hotpressd: {e.kind}: {e.message}")
            if self.link is not None:
                self.link.publish_event(rec)
        del self.events_seen[:-1000]

    def _publish(self, result: TickResult, seq: int | None, now_s: float, wall_s: float) -> None:
        if self.link is None:
            return
        running = self.journal is not None
        if running or now_s >= self._next_idle_telemetry_s:  # idle: at the idle rate only
            self._next_idle_telemetry_s = now_s + 1.0 / self.bundle.link.telemetry_idle_hz
            self._telemetry_seq += 1
            self.link.publish_telemetry({"schema": SCHEMA_VERSION, "press_id": self.cfg.id,
                                         "seq": seq if seq is not None else self._telemetry_seq,
                                         "wall_s": wall_s, **result.record})
        state = self.state()
        if state != self._last_state:
            self._last_state = state
            self.link.publish_state(state)

    def state(self) -> dict[str, Any]:
        """The retained `state` payload: changes only when something an operator sees changes."""
        core, eng = self.core, self.core.engine
        step = eng.current_step
        step_eta, run_eta = eng.eta()
        sample = core.last_sample
        return {
            "schema": SCHEMA_VERSION, "press_id": self.cfg.id, "mode": core.mode,
            "run_id": core.run.run_id if core.run else None,
            "recipe": core.run.recipe_name if core.run else None,
            "sample_id": core.run.sample_id if core.run else None,
            "operator": core.run.operator if core.run else None,
            "step_index": eng.step_index if step else None,
            "step_count": len(eng.recipe.steps) if (eng.recipe and step) else None,
            "step_kind": step.kind.value if step else None,
            "step_label": step.label if step else None,
            "step_eta_s": None if step_eta is None else round(step_eta),
            "run_eta_s": None if run_eta is None else round(run_eta),
            "setpoints_c": {n: t for n, t in core._targets.temps_c.items()},
            "target_sample_mpa": self.last_result.record.get("target_sample_mpa")
            if self.last_result else None,
            "interlocks": {"estop": bool(sample and sample.estop),
                           "guard_open": bool(sample and sample.guard_open)},
            "faults": [f.as_dict() for f in core.last_verdict.latched],
            "last_outcome": eng.last_outcome.value if eng.last_outcome else None,
            # A manual (retrofit) press: the band to pump into and what to do now.
            **core.retrofit_view(),
        }

    # ---- lifetime ----------------------------------------------------------------------------
    def run(self, duration_s: float | None = None,
            until: Callable[[Daemon], bool] | None = None) -> None:
        """Tick until `stop()`, a signal, `until(self)`, or `duration_s`; outputs safe on exit."""
        end_s = None if duration_s is None else self.clock.now() + duration_s
        # Real time only: a simulation at speed runs flat out, and at SCHED_FIFO it would starve
        # the machine (and any real loop on it) instead of gaining anything (bench/loop.py).
        if isinstance(self.clock, RealClock) and not request_realtime():
            self.log("hotpressd: no real-time priority (SCHED_FIFO not permitted): ticks may "
                     "start late while the machine is busy; the systemd unit grants it")
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            for s in previous:
                signal.signal(s, lambda *_: self.scheduler.stop())
        except ValueError:
            previous = {}  # not the main thread: the caller handles signals
        try:
            while not self.scheduler.stopped:
                if end_s is not None and self.clock.now() >= end_s:
                    break
                if until is not None and until(self):
                    break
                self.scheduler.run_once(self.tick)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.close()

    def stop(self) -> None:
        self.scheduler.stop()

    def close(self) -> None:
        """Outputs safe, journal closed (a run in progress ends `interrupted`), pins released."""
        self.watchdog.stopping()
        self.io.close()
        if self.journal is not None:
            now_s = self.clock.now()
            self._journal([{"type": "end", "t_s": now_s, "wall_s": time.time(),
                            "outcome": "interrupted", "reason": "hotpressd stopped"}], now_s)
            if self.journal is not None:
                self.journal.close()
            self.journal = None
