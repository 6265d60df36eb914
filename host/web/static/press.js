/* hotpress dashboard: one press live, and its run commands (each confirmed in a dialog).

   Polls the server twice a second for the press's summary and the chart points it does not have
   yet (by generation and count). A command gets a fresh id when its dialog opens: the server
   sends each id once, so a double tap cannot send it twice. */
"use strict";

(() => {
  const root = document.getElementById("press");
  const { el, num } = HP;
  const chart = new HPChart(document.getElementById("chart"));
  const $ = (id) => document.getElementById(id);
  const cursor = { gen: null, count: 0 };
  let last = null, busy = false;

  const CONFIRM = {
    pause: ["Pause the run? Temperatures and pressure are held and the step timer stops.", "Pause"],
    resume: ["Resume the run from where it was paused?", "Resume"],
    skip: ["End the current step now and go on to the next one?", "Skip step"],
    abort: ["Abort the run? Heaters off, pressure released; the run ends as aborted.", "Abort run"],
    reset: ["Clear the latched faults? Only faults whose cause has gone are cleared.", "Reset faults"],
  };

  function allowed(p) {
    const live = p.online === true;
    const inRun = Boolean(p.run_id);
    return {
      pause: live && p.mode === "running",
      resume: live && p.mode === "paused",
      skip: live && inRun && (p.mode === "running" || p.mode === "paused"),
      abort: live && inRun,
      reset: live && p.faults.length > 0,
    };
  }

  function renderZones(p) {
    $("zones").replaceChildren(...p.zones.map((z) => {
      const notes = [];
      if (z.setpoint_c !== null) notes.push(`→ ${num(z.setpoint_c, 0)} °C`);
      if (z.duty !== null) notes.push(`heater ${Math.round(z.duty * 100)}%`);
      return el("div", { class: "zone" }, el("span", { class: "zname" }, z.zone),
        el("span", { class: z.fault ? "zt fault" : "zt" }, z.fault ? z.fault : `${num(z.temp_c)} °C`),
        el("span", { class: "zsp muted" }, notes.join(" · ")));
    }));
  }

  function renderHead(p) {
    const mode = p.online === false ? "offline" : p.mode;
    $("mode").textContent = mode;
    $("mode").className = `mode mode-${mode}`;
    $("run-line").textContent = p.run_id
      ? `run ${p.run_id} · ${p.recipe || "?"} · sample ${p.sample_id || "?"} · ${p.operator || ""}`
      : (p.last_outcome ? `no run (last run ${p.last_outcome})` : "no run");
    const s = p.step;
    $("step-text").textContent = s ? HP.stepText(s) : "no run";
    $("step-eta").textContent = s ? `step ends in ${HP.hms(s.eta_s)} · run ends in ${HP.hms(s.run_eta_s)}` : "";
    $("run-bar").style.width = `${Math.round(runFraction(p) * 100)}%`;
  }

  /* How far through the run: press time since its start over that plus the time left. */
  function runFraction(p) {
    const s = p.step;
    if (!s || s.run_eta_s === null || !chart.points.length || chart.t0 === null) return 0;
    const elapsed = chart.points[chart.points.length - 1][0] - chart.t0;
    return elapsed + s.run_eta_s > 0 ? Math.min(1, Math.max(0, elapsed / (elapsed + s.run_eta_s))) : 0;
  }

  function renderReadings(p) {
    $("sample-mpa").textContent = num(p.sample_mpa);
    $("target-mpa").textContent = p.target_mpa === null ? "-" : `${num(p.target_mpa)} MPa`;
    $("force-kn").textContent = num(p.force_kn, 2);
    $("density-row").hidden = p.relative_density === null;
    $("density").textContent = num(p.relative_density, 3);
    $("thickness-row").hidden = p.thickness_mm === null;
    $("thickness-mm").textContent = num(p.thickness_mm, 3);
    $("guide").hidden = p.guide === null;
    $("guide").textContent = p.guide || "";
    $("guide").className = p.in_band ? "guide inband" : "guide";
    $("outputs").replaceChildren(...p.outputs.map((o) => el("span", { class: o.on ? "pill on" : "pill" }, o.name)));
    const locks = [];
    if (p.estop) locks.push(el("span", { class: "pill alarm" }, "E-STOP"));
    if (p.guard_open) locks.push(el("span", { class: "pill alarm" }, "guard open"));
    if (p.stale) locks.push(el("span", { class: "pill alarm" }, p.telemetry_age_s === null ? "no telemetry" : `telemetry ${Math.round(p.telemetry_age_s)} s old`));
    $("interlocks").replaceChildren(...locks);
    $("faults-box").hidden = p.faults.length === 0;
    $("faults").replaceChildren(...p.faults.map((f) => el("li", {}, el("span", { class: "code" }, f.code), " ", f.message)));
  }

  function renderEvents(events) {
    $("events").replaceChildren(...events.map((e) => el("li", { class: `ev ev-${e.kind}` },
      el("span", { class: "evkind" }, e.kind), " ", e.message)));
  }

  function renderChart(series) {
    chart.update(series);
    cursor.gen = series.gen;
    cursor.count = series.count;
    const note = series.run_id
      ? (series.frozen ? `run ${series.run_id}, ended` : `run ${series.run_id}`) + (chart.plan ? " · grey: the plan" : " · plan not known")
      : "idle readings (no run yet)";
    $("chart-note").textContent = note;
  }

  function render(data) {
    if (!data) return;
    const p = data.press;
    last = p;
    renderChart(data.series);
    renderHead(p);
    renderZones(p);
    renderReadings(p);
    renderEvents(data.events);
    enable(p);
  }

  function enable(p) {
    const ok = allowed(p);
    for (const verb of Object.keys(CONFIRM)) $(`btn-${verb}`).disabled = busy || !ok[verb];
  }

  function showResult(result) {
    const box = $("cmd-result");
    box.textContent = result.message + (result.repeated ? " (already sent from this dialog)" : "");
    box.className = "cmdresult " + (result.ok ? "ok" : "bad");
  }

  function ask(verb) {
    const dialog = $("confirm");
    const [text, yes] = CONFIRM[verb];
    const commandId = HP.uid();  // one id per dialog: whatever happens next, sent at most once
    $("confirm-text").textContent = `${root.dataset.press}: ${text}`;
    $("confirm-yes").textContent = yes;
    $("confirm-reason-row").hidden = verb !== "abort";
    $("confirm-reason").value = "";
    dialog.returnValue = "";
    dialog.onclose = async () => {
      if (dialog.returnValue !== "ok") return;
      busy = true;
      for (const b of document.querySelectorAll(".cmd")) b.disabled = true;
      $("cmd-result").textContent = `${verb}: sending…`;
      $("cmd-result").className = "cmdresult";
      const url = root.dataset.command.replace("VERB", verb);
      const result = await HP.postJSON(url, { id: commandId, reason: $("confirm-reason").value });
      busy = false;
      showResult(result);
      if (last) enable(last);
    };
    dialog.showModal();
  }

  for (const button of document.querySelectorAll(".cmd")) {
    button.addEventListener("click", () => ask(button.dataset.verb));
  }

  const started = new URLSearchParams(location.search).get("started");
  if (started) showResult({ ok: true, message: `start accepted by the press: run ${started}` });
  render(HP.initial());
  HP.poll(async () => {
    const url = `${root.dataset.api}?gen=${cursor.gen ?? ""}&after=${cursor.count}`;
    render(await HP.getJSON(url));
  }, Number(root.dataset.pollMs));
})();
