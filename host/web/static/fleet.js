/* hotpress dashboard: every press at a glance, one card each, refreshed twice a second. */
"use strict";

(() => {
  const root = document.getElementById("fleet");
  const empty = document.getElementById("fleet-empty");
  const pressUrl = (id) => root.dataset.pressUrl.replace("PRESS", encodeURIComponent(id));
  const { el, num } = HP;

  function temps(p) {
    return el("div", { class: "temps" }, ...p.zones.map((z) => el("span", {},
      `${z.zone} `, el("strong", {}, z.fault ? z.fault : `${num(z.temp_c)} °C`),
      z.setpoint_c === null ? "" : el("span", { class: "muted" }, ` → ${num(z.setpoint_c, 0)}`))));
  }

  function card(p) {
    const mode = p.online === false ? "offline" : p.mode;
    const run = p.run_id
      ? `${p.sample_id || "?"} · ${p.recipe || ""}` : (p.last_outcome ? `last run ${p.last_outcome}` : "no run");
    const faults = p.faults.length
      ? el("div", { class: "faultline" }, `${p.faults.length} latched fault${p.faults.length > 1 ? "s" : ""}: `
        + p.faults.map((f) => f.code).join(", ")) : null;
    const pressure = el("div", { class: "line" }, "sample ", el("strong", {}, `${num(p.sample_mpa)} MPa`),
      p.target_mpa === null ? "" : ` (target ${num(p.target_mpa)})`, `  ·  ${num(p.force_kn, 2)} kN`);
    return el("a", { class: "presscard" + (p.stale ? " stale" : ""), href: pressUrl(p.press_id),
                     "data-press": p.press_id },
      el("div", { class: "head" }, el("span", { class: "name" }, p.press_id),
        el("span", { class: `mode mode-${mode}` }, mode)),
      el("div", { class: "line muted" }, run),
      p.step ? el("div", { class: "line" }, HP.stepText(p.step),
        el("span", { class: "muted" }, `  ·  ends in ${HP.hms(p.step.eta_s)}`)) : null,
      temps(p), pressure, faults);
  }

  function render(data) {
    if (!data) return;
    root.replaceChildren(...data.presses.map(card));
    empty.hidden = data.presses.length > 0;
  }

  render(HP.initial());
  HP.poll(async () => render(await HP.getJSON(root.dataset.api)), Number(root.dataset.pollMs));
})();
