"""A run on one page (PNG): what the platens and the sample saw, step by step.

Panels, sharing the time axis (minutes from the first sample when the run is longer than ten
minutes, else seconds):

1. temperature per zone (solid) with its setpoint (dashed, same colour);
2. pressure on the sample (MPa) with its target (dashed); force (kN) on the right-hand axis;
3. relative density, only when the run recorded it.

Step boundaries (where `step_index` changes) are vertical lines labelled with the step, on every
panel; events are marked along the top of the first panel (warnings orange, faults red with a
line through every panel). The figure is drawn on
its own Agg canvas (no pyplot, no global backend switch), so plotting works on a headless lab
server, never opens a window, and leaves a notebook's backend alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from host.store import EventRow, RunInfo, SampleRow

MINUTES_AFTER_S = 600.0  # longer runs are easier to read in minutes
FAULT_KINDS = ("fault", "trip", "estop", "abort")
DPI = 120
FIG_W_IN = 11.0
PANEL_H_IN = 3.0


def _series(samples: Sequence[SampleRow], key: str, zone: str | None = None) -> list[Any]:
    out = []
    for s in samples:
        value = s.payload.get(key)
        if zone is not None:
            value = value.get(zone) if isinstance(value, dict) else None
        out.append(value if isinstance(value, int | float) and not isinstance(value, bool)
                   else float("nan"))
    return out


def _zones(samples: Sequence[SampleRow], key: str) -> list[str]:
    seen: dict[str, None] = {}
    for s in samples:
        value = s.payload.get(key)
        if isinstance(value, dict):
            seen.update(dict.fromkeys(value))
    return list(seen)


def _time_axis(samples: Sequence[SampleRow]) -> tuple[list[float], float, float, str]:
    """(x values, t of the first sample, scale, axis label)."""
    t0 = next((s.t_s for s in samples if s.t_s is not None), 0.0)
    span = max((s.t_s or t0) for s in samples) - t0 if samples else 0.0
    scale, unit = (60.0, "min") if span > MINUTES_AFTER_S else (1.0, "s")
    xs = [((s.t_s if s.t_s is not None else t0) - t0) / scale for s in samples]
    return xs, t0, scale, f"time since start ({unit})"


def _step_starts(samples: Sequence[SampleRow], xs: list[float]) -> list[tuple[float, str]]:
    starts, last = [], None
    for x, s in zip(xs, samples, strict=True):
        step = s.payload.get("step_index")
        if isinstance(step, int) and step != last:
            starts.append((x, f"step {step + 1}"))
            last = step
    return starts


def _temperature_panel(ax: Axes, samples: Sequence[SampleRow], xs: list[float]) -> None:
    for i, zone in enumerate(_zones(samples, "temps_c")):
        color = f"C{i}"
        ax.plot(xs, _series(samples, "temps_c", zone), color=color, lw=1.2, label=zone)
        setpoints = _series(samples, "setpoints_c", zone)
        if any(v == v for v in setpoints):  # any non-NaN
            ax.plot(xs, setpoints, color=color, lw=1.0, ls="--", label=f"{zone} setpoint")
    ax.set_ylabel("temperature (°C)")
    ax.legend(loc="lower right", fontsize="small", ncol=2)


def _pressure_panel(ax: Axes, samples: Sequence[SampleRow], xs: list[float]) -> None:
    ax.plot(xs, _series(samples, "sample_mpa"), color="C3", lw=1.2, label="on sample")
    ax.plot(xs, _series(samples, "target_sample_mpa"), color="C3", lw=1.0, ls="--",
            label="target")
    ax.set_ylabel("sample pressure (MPa)")
    ax.legend(loc="upper left", fontsize="small")
    force = _series(samples, "force_kn")
    if any(v == v for v in force):
        right = ax.twinx()
        right.plot(xs, force, color="0.5", lw=0.8, alpha=0.6)
        right.set_ylabel("force (kN)")


def _density_panel(ax: Axes, samples: Sequence[SampleRow], xs: list[float]) -> None:
    ax.plot(xs, _series(samples, "relative_density"), color="C2", lw=1.2)
    ax.set_ylabel("relative density")


def _mark_steps(axes: Sequence[Axes], starts: list[tuple[float, str]]) -> None:
    for x, label in starts:
        for ax in axes:
            ax.axvline(x, color="0.3", lw=0.7, ls=":")
        axes[0].annotate(label, (x, 0.0), xycoords=("data", "axes fraction"),
                         xytext=(2, 3), textcoords="offset points", fontsize="x-small",
                         color="0.2", bbox={"fc": "white", "ec": "none", "alpha": 0.8,
                                            "pad": 1})


def _mark_events(ax: Axes, events: Sequence[EventRow], t0: float, scale: float) -> None:
    for e in events:
        if e.t_s is None:
            continue
        fault = any(k in e.kind for k in FAULT_KINDS)
        color = "red" if fault else "darkorange" if e.kind == "warning" else "0.2"
        x = (e.t_s - t0) / scale
        ax.plot([x], [1.0], marker="v", color=color, markersize=6,
                transform=ax.get_xaxis_transform(), clip_on=False)
        if fault:
            for each in ax.figure.axes:
                each.axvline(x, color="red", lw=0.8)


def build_figure(run: RunInfo, samples: Sequence[SampleRow],
                 events: Sequence[EventRow] = ()) -> Figure:
    """The figure for one run (not yet saved), for tests and notebooks."""
    has_density = any(v == v for v in _series(samples, "relative_density"))
    rows = 3 if has_density else 2
    fig = Figure(figsize=(FIG_W_IN, PANEL_H_IN * rows), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    xs, t0, scale, xlabel = _time_axis(samples)
    _temperature_panel(axes[0], samples, xs)
    _pressure_panel(axes[1], samples, xs)
    if has_density:
        _density_panel(axes[2], samples, xs)
    _mark_steps(list(axes), _step_starts(samples, xs))
    _mark_events(axes[0], events, t0, scale)
    axes[-1].set_xlabel(xlabel)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    title = f"{run.press_id} / {run.run_id}"
    details = [x for x in (run.recipe, run.sample_id and f"sample {run.sample_id}",
                           run.outcome) if x]
    fig.suptitle(title + (f"  ({', '.join(details)})" if details else ""), fontsize="medium")
    return fig


def plot_run(run: RunInfo, samples: Sequence[SampleRow], events: Sequence[EventRow],
             path: str | Path) -> Path:
    """Write the run's PNG to `path`; returns the path."""
    out = Path(path)
    build_figure(run, samples, events).savefig(out, format="png")
    return out
