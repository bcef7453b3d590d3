"use strict";
// The bulk SMS opt-in page (templates/optin.html): filter contacts, review
// their numbers (flags say what to check: no country code, not E.164),
// choose e-mail (the default) or text, and send.
(() => {
  const $ = (id) => document.getElementById(id);
  let rows = [];

  const channel = () => document.querySelector('input[name="oi-channel"]:checked').value;
  const reason = (c) => channel() === "sms" ? c.no_sms : c.no_email;

  function optInText(o) {
    if (!o || o.state === "none") return "Not yet";
    const when = o.at ? new Date(o.at).toLocaleDateString() : "";
    return o.state === "opted_in" ? "✓ Opted in " + when : "Opted out (STOP) " + when;
  }

  function render() {
    const tb = $("oi-table").querySelector("tbody"); tb.replaceChildren();
    let flagged = 0, unsure = 0;
    for (const c of rows) {
      const why = reason(c);
      const tr = el("tr", undefined, { "data-contact": c.id, class: c.flags.length ? "flagged" : "" });
      const box = el("input", undefined, { type: "checkbox", "aria-label": "Send the form to " + c.name, "data-id": c.id });
      // Numbers that may not be the one meant (no country code) are left
      // for the technician to tick after a look; so are contacts who agreed.
      box.checked = !why && !c.unsure && !(c.sms_opt_in && c.sms_opt_in.state === "opted_in");
      if (c.unsure) unsure++;
      box.disabled = !!why;
      box.addEventListener("change", count);
      const check = el("td");
      if (why) check.append(el("span", why, { class: "oi-blocked" }));
      for (const f of c.flags) { check.append(el("span", "⚠ " + f, { class: "oi-flag" })); flagged++; }
      if (!why && !c.flags.length) check.append(el("span", "OK", { class: "muted" }));
      const who = el("td"); who.append(el("strong", c.name)); if (c.company) who.append(el("br"), el("span", c.company, { class: "muted" }));
      const optTd = el("td", optInText(c.sms_opt_in), { class: "oi-state " + (c.sms_opt_in ? c.sms_opt_in.state : "none") });
      const boxTd = el("td"); boxTd.append(box);
      tr.append(boxTd, who, el("td", c.phone || "—"), check, optTd);
      tb.append(tr);
    }
    $("oi-summary").textContent = rows.length + " contact" + (rows.length === 1 ? "" : "s") +
      (flagged ? "; " + flagged + " number" + (flagged === 1 ? "" : "s") + " to check" +
        (unsure ? " (" + unsure + " without a country code, left unticked)." : ".") : "; every number is in E.164.");
    count();
  }

  function chosen() { return [...$("oi-table").querySelectorAll("tbody input:checked")].map((b) => b.dataset.id); }
  function count() {
    const n = chosen().length;
    $("oi-count").textContent = n + " chosen";
    $("oi-send").disabled = n === 0;
  }

  async function review(ev) {
    if (ev) ev.preventDefault();
    $("oi-status").textContent = "Reading contacts…"; $("oi-result").textContent = "";
    const q = new URLSearchParams({ client: $("oi-client").value, name: $("oi-name").value.trim(), phone: $("oi-phone").value.trim() });
    try {
      const j = await api("GET", "/optin/candidates?" + q);
      rows = j.contacts;
      $("oi-status").textContent = rows.length ? "" : "No contact matches. Change the filters.";
      $("oi-review").hidden = !rows.length;
      render();
    } catch (e) { $("oi-status").textContent = e.message; }
  }

  async function send() {
    const ids = chosen();
    if (!ids.length) return;
    $("oi-send").disabled = true; $("oi-result").textContent = "Sending…";
    try {
      const j = await api("POST", "/optin/send", { contact_ids: ids, channel: channel() });
      let text = j.sent + " form" + (j.sent === 1 ? "" : "s") + " sent by " + (channel() === "sms" ? "text" : "e-mail") + ".";
      if (j.skipped.length) text += " Not sent: " + j.skipped.map((k) => k.name + " (" + k.reason + ")").join("; ") + ".";
      $("oi-result").textContent = text;
    } catch (e) { $("oi-result").textContent = e.message; }
    count();
  }

  async function loadClients() {
    try {
      const j = await api("GET", "/clients");
      for (const c of j.clients) $("oi-client").append(el("option", c.name, { value: c.id }));
    } catch (e) { $("oi-status").textContent = e.message; }
  }

  async function loadSettings() {
    if (!document.body.dataset.admin) return;
    try {
      const j = await api("GET", "/optin/settings");
      $("oi-allow-correction").checked = j.allow_correction;
      $("oi-settings").hidden = false;
    } catch (e) { $("oi-settings-msg").textContent = e.message; }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("oi-filter").addEventListener("submit", review);
    $("oi-send").addEventListener("click", send);
    for (const r of document.querySelectorAll('input[name="oi-channel"]')) r.addEventListener("change", render);
    $("oi-all").addEventListener("change", () => {
      for (const b of $("oi-table").querySelectorAll("tbody input")) if (!b.disabled) b.checked = $("oi-all").checked;
      count();
    });
    $("oi-allow-correction").addEventListener("change", async () => {
      try {
        await api("PUT", "/optin/settings", { allow_correction: $("oi-allow-correction").checked });
        $("oi-settings-msg").textContent = "Saved.";
      } catch (e) { $("oi-settings-msg").textContent = e.message; }
    });
    loadClients();
    loadSettings();
  });
})();
