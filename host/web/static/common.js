/* hotpress dashboard: helpers every page uses (polling, formatting, safe DOM building).
   Text from presses is always set with textContent, never as HTML. */
"use strict";

const HP = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  function banner(id, show) {
    const el = document.getElementById(id);
    if (el) el.hidden = !show;
  }

  /* GET JSON; null on failure (banner shown); to the sign-in page when signed out. */
  async function getJSON(url) {
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    } catch (err) {
      banner("server-banner", true);
      return null;
    }
    banner("server-banner", false);
    if (response.status === 401) {
      const here = location.pathname + location.search;
      location.assign("/login?next=" + encodeURIComponent(here));
      return null;
    }
    if (!response.ok) return null;
    const data = await response.json();
    if (typeof data.connected === "boolean") banner("broker-banner", !data.connected);
    return data;
  }

  async function postJSON(url, body) {
    try {
      const response = await fetch(url, {
        method: "POST", cache: "no-store",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify(body),
      });
      if (response.status === 401) location.assign("/login");
      return await response.json();
    } catch (err) {
      return { ok: false, kind: "error", message: "the dashboard server does not answer" };
    }
  }

  /* Call `step` now and again `ms` after each call finishes: polls never pile up. */
  function poll(step, ms) {
    const loop = async () => {
      try { await step(); } finally { setTimeout(loop, ms); }
    };
    loop();
  }

  function num(value, digits = 1) {
    return typeof value === "number" && isFinite(value) ? value.toFixed(digits) : "-";
  }

  function hms(seconds) {
    if (typeof seconds !== "number" || !isFinite(seconds) || seconds < 0) return "-";
    const s = Math.round(seconds);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
    return `${Math.floor(s / 3600)}:${mm}:${String(s % 60).padStart(2, "0")}`;
  }

  /* A random id for a command form: the server and the press send each id at most once. */
  function uid() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /* el("span", {class: "x"}, "text", child...): a DOM element, text set safely. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function initial() {
    const node = document.getElementById("initial");
    return node ? JSON.parse(node.textContent) : null;
  }

  function stepText(step) {
    if (!step) return "";
    const of = step.count ? ` of ${step.count}` : "";
    const label = step.label && step.label !== step.kind ? ` (${step.label})` : "";
    return `step ${step.number}${of}: ${step.kind}${label}`;
  }

  return { getJSON, postJSON, poll, num, hms, uid, el, initial, banner, stepText };
})();
