/* hotpress dashboard: the live chart, drawn on a <canvas> with no library (nothing to fetch).

   Panels share the time axis (time into the run, s or min): temperature per zone (solid) with its
   setpoint (dashed, same colour); sample pressure (solid) with its target (dashed); relative
   density when the press measures it. The recipe's plan is the thick grey line behind each, so
   the operator sees where the run is against where it should be. A missing reading is a gap.
   The canvas's data-points attribute holds how many points are drawn (tests read it). */
"use strict";

class HPChart {
  static COLORS = ["#d0481b", "#1f5fbf", "#2e8b57", "#8e44ad", "#b8860b", "#444"];
  static PLAN = "rgba(90, 100, 115, 0.35)";

  constructor(canvas) {
    this.canvas = canvas;
    this.points = [];
    this.t0 = null;
    this.plan = null;
    this.pending = false;
    window.addEventListener("resize", () => this.draw());
  }

  /* Replace (full) or extend the data, then redraw on the next frame. */
  update(series) {
    if (series.full) {
      this.points = series.points.slice();
      this.plan = series.plan;
    } else {
      this.points.push(...series.points);
    }
    this.t0 = series.t0_s;
    this.canvas.dataset.points = String(this.points.length);
    this.canvas.dataset.planSteps = String(this.plan ? this.plan.length : 0);
    if (!this.pending) {
      this.pending = true;
      requestAnimationFrame(() => { this.pending = false; this.draw(); });
    }
  }

  zones() {
    const seen = new Set();
    for (const p of this.points) for (const z of Object.keys(p[1])) seen.add(z);
    return [...seen];
  }

  /* The plan as polylines: {temp: {zone: [[x, y]...]}, mpa: [[x, y]...]} in seconds. */
  planLines(zones) {
    if (!this.plan || !this.plan.length) return null;
    const first = this.points.length ? this.points[0][1] : {};
    const temp = {};
    for (const z of zones) {
      let prev = typeof first[z] === "number" ? first[z] : 25;
      const line = [[0, prev]];
      for (const s of this.plan) {
        const v = s.temps_c[z] ?? s.temps_c.all;
        line.push([s.start_s, prev]);
        if (typeof v === "number") prev = v;
        line.push([s.end_s, prev]);
      }
      temp[z] = line;
    }
    let p = 0;
    const mpa = [[0, 0]];
    for (const s of this.plan) { mpa.push([s.start_s, p]); p = s.pressure_mpa; mpa.push([s.end_s, p]); }
    return { temp, mpa };
  }

  series(getter) {
    const t0 = this.t0 ?? (this.points.length ? this.points[0][0] : 0);
    return this.points.map((p) => [p[0] - t0, getter(p)]);
  }

  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight;
    if (!w || !h) return;
    c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const zones = this.zones();
    const plan = this.planLines(zones);
    const temps = zones.map((z, i) => ({ color: HPChart.COLORS[i % 6], label: z,
      line: this.series((p) => p[1][z]), sp: this.series((p) => p[2][z]) }));
    const mpa = this.series((p) => p[3]), target = this.series((p) => p[4]);
    const density = this.series((p) => p[5]);
    const hasDensity = density.some((d) => typeof d[1] === "number");
    let xmax = 60;
    for (const line of [mpa, plan ? plan.mpa : []]) if (line.length) xmax = Math.max(xmax, line[line.length - 1][0]);
    const minutes = xmax > 600, scale = minutes ? 60 : 1;
    const box = { left: 48, right: w - 10, top: 20, bottom: h - 24 };
    const shares = hasDensity ? [0.45, 0.35, 0.2] : [0.55, 0.45];
    const gap = 14, usable = box.bottom - box.top - gap * (shares.length - 1);
    let y = box.top;
    const panels = shares.map((s) => { const p = { top: y, bottom: y + usable * s }; y = p.bottom + gap; return p; });
    const x = (v) => box.left + (v / scale) * (box.right - box.left) / (xmax / scale);

    const tempLines = [...temps.flatMap((t) => [t.line, t.sp]), ...(plan ? Object.values(plan.temp) : [])];
    this.panel(g, panels[0], box, x, "°C", tempLines, (yy) => {
      if (plan) for (const line of Object.values(plan.temp)) this.line(g, line, x, yy, HPChart.PLAN, 5, []);
      for (const t of temps) {
        this.line(g, t.sp, x, yy, t.color, 1.2, [6, 4]);
        this.line(g, t.line, x, yy, t.color, 2, []);
      }
    });
    this.panel(g, panels[1], box, x, "MPa", [mpa, target, plan ? plan.mpa : []], (yy) => {
      if (plan) this.line(g, plan.mpa, x, yy, HPChart.PLAN, 5, []);
      this.line(g, target, x, yy, "#b3261e", 1.2, [6, 4]);
      this.line(g, mpa, x, yy, "#b3261e", 2, []);
    });
    if (hasDensity) {
      this.panel(g, panels[2], box, x, "rel. ρ", [density], (yy) => this.line(g, density, x, yy, "#2e8b57", 2, []));
    }
    this.xAxis(g, box, x, xmax, scale, minutes ? "min" : "s");
    this.legend(g, temps, box, plan !== null);
  }

  panel(g, p, box, x, unit, lines, drawLines) {
    let lo = Infinity, hi = -Infinity;
    for (const line of lines) for (const [, v] of line) if (typeof v === "number") { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (unit === "MPa") lo = Math.min(lo, 0);
    if (hi - lo < 1e-6) { hi += 1; lo -= 1; }
    const pad = (hi - lo) * 0.08; lo -= unit === "MPa" && lo === 0 ? 0 : pad; hi += pad;
    const yy = (v) => p.bottom - (v - lo) * (p.bottom - p.top) / (hi - lo);
    g.strokeStyle = "#d5d9df"; g.lineWidth = 1; g.fillStyle = "#5b6470";
    g.font = "12px system-ui, sans-serif"; g.textAlign = "right"; g.textBaseline = "middle";
    for (const t of HPChart.ticks(lo, hi, Math.max(3, Math.floor((p.bottom - p.top) / 32)))) {
      g.beginPath(); g.moveTo(box.left, yy(t)); g.lineTo(box.right, yy(t)); g.stroke();
      g.fillText(HPChart.label(t), box.left - 4, yy(t));
    }
    g.save(); g.translate(11, (p.top + p.bottom) / 2); g.rotate(-Math.PI / 2);
    g.textAlign = "center"; g.fillText(unit, 0, 0); g.restore();
    g.save(); g.beginPath(); g.rect(box.left, p.top, box.right - box.left, p.bottom - p.top); g.clip();
    drawLines(yy);
    g.restore();
    g.strokeStyle = "#aab2bd"; g.strokeRect(box.left, p.top, box.right - box.left, p.bottom - p.top);
  }

  line(g, points, x, yy, color, width, dash) {
    g.strokeStyle = color; g.lineWidth = width; g.setLineDash(dash); g.lineJoin = "round";
    g.beginPath();
    let pen = false;
    for (const [px, py] of points) {
      if (typeof py !== "number") { pen = false; continue; }
      if (pen) g.lineTo(x(px), yy(py)); else g.moveTo(x(px), yy(py));
      pen = true;
    }
    g.stroke(); g.setLineDash([]);
  }

  xAxis(g, box, x, xmax, scale, unit) {
    g.fillStyle = "#5b6470"; g.textAlign = "center"; g.textBaseline = "top";
    const n = Math.max(2, Math.floor((box.right - box.left) / 80));
    for (const t of HPChart.ticks(0, xmax / scale, n)) g.fillText(HPChart.label(t), x(t * scale), box.bottom + 5);
    g.textAlign = "right"; g.fillText(unit, box.right, box.bottom + 5);
  }

  legend(g, temps, box, hasPlan) {
    g.font = "12px system-ui, sans-serif"; g.textBaseline = "middle"; g.textAlign = "left";
    let lx = box.left;
    const item = (color, text, dash, width) => {
      g.strokeStyle = color; g.lineWidth = width; g.setLineDash(dash);
      g.beginPath(); g.moveTo(lx, 9); g.lineTo(lx + 18, 9); g.stroke(); g.setLineDash([]);
      g.fillStyle = "#1b1f24"; g.fillText(text, lx + 22, 9); lx += 30 + g.measureText(text).width;
    };
    for (const t of temps) item(t.color, t.label, [], 2);
    item("#b3261e", "sample MPa", [], 2);
    item("#5b6470", "setpoint/target", [6, 4], 1.2);
    if (hasPlan) item(HPChart.PLAN, "plan", [], 5);
  }

  static ticks(lo, hi, count) {
    const raw = (hi - lo) / count, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) out.push(Math.round(t * 1e6) / 1e6);
    return out;
  }

  static label(v) {
    return Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(Math.abs(v) < 1 ? 2 : 1);
  }
}
