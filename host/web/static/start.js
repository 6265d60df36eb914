/* hotpress dashboard: a start form is sent once. The first tap disables its button (and the
   server and the press each refuse to act twice on the form's command id). */
"use strict";

(() => {
  for (const form of document.querySelectorAll("form.stack")) {
    form.addEventListener("submit", (event) => {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
      for (const button of form.querySelectorAll("button[type=submit]")) {
        button.disabled = true;
        button.textContent = button.id === "start" ? "Starting…" : "Checking…";
      }
    });
  }
})();
