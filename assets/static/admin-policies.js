"use strict";
// The policies page: the tenant default and per-client overrides.
const polFields = {
  code_digits: "pol-code-digits", max_attempts: "pol-max-attempts", max_sends: "pol-max-sends",
  history_length: "pol-history-length", failure_cap: "pol-failure-cap",
};
const polDurations = { lifetime: "pol-lifetime", resend_cooldown: "pol-resend-cooldown", shield_duration: "pol-shield-duration" };
const polLimits = {
  per_contact_hour: "pol-limit-contact-hour", per_destination_hour: "pol-limit-destination-hour",
  per_technician_hour: "pol-limit-technician-hour", per_tenant_day: "pol-limit-tenant-day",
};
const polPush = {
  per_contact_15m: "pol-push-contact-15m", per_contact_day: "pol-push-contact-day",
  per_technician_hour: "pol-push-technician-hour",
};
const polChecks = {
  note_on_non_default: "pol-note-on-non-default", note_required: "pol-note-required",
  sms_link_code: "pol-sms-link-code", show_on_load: "pol-show-on-load",
  pod_contact_to_ticket: "pol-pod-contact-to-ticket", notify_on_failure: "pol-notify-on-failure",
};
const polSelects = { min_assurance: "pol-min-assurance", reset_min_assurance: "pol-reset-min-assurance" };
const methodLabels = { sms_code: "SMS code", sms_link: "SMS link", voice_code: "Voice call code",
                       email_link: "Email link", email_code: "Email code", duo_push: "Duo push",
                       microsoft_push: "Microsoft Authenticator push", workstation_prompt: "Workstation prompt" };
let polMethods = [], polClients = [], polShown = {};

function scope() { return adm.byId("policy-scope").value; }

function fillPolicy(view) {
  const p = view.policy;
  polShown = p;
  for (const [k, id] of Object.entries(polFields)) adm.byId(id).value = p[k] ?? "";
  for (const [k, id] of Object.entries(polDurations)) adm.byId(id).value = p[k] ?? "";
  for (const [k, id] of Object.entries(polLimits)) adm.byId(id).value = (p.limits || {})[k] ?? "";
  for (const [k, id] of Object.entries(polPush)) adm.byId(id).value = (p.push || {})[k] ?? "";
  adm.byId("pol-push-denied-block").value = (p.push || {}).denied_block ?? "";
  for (const [k, id] of Object.entries(polChecks)) adm.byId(id).checked = !!p[k];
  for (const [k, id] of Object.entries(polSelects)) adm.byId(id).value = p[k] || "";
  adm.byId("pol-email-link-code").checked = p.email_link_code !== false;
  adm.byId("pol-banner").value = p.banner || "";
  const allowed = p.methods && p.methods.length ? p.methods : polMethods;
  for (const m of polMethods) adm.byId("pol-method-" + m).checked = allowed.includes(m);
  const isDefault = view.scope === "default";
  adm.byId("policy-delete").hidden = isDefault || !view.override;
  adm.byId("policy-scope-note").textContent = isDefault
    ? "Applies to every client without a policy of its own."
    : view.override ? "This client has its own policy." : "This client uses the tenant default (shown below). Saving creates a policy of its own.";
}

function readPolicy() {
  // Fields set elsewhere (the integrations page's new-ticket action) are
  // kept as they are; this form changes only its own.
  const p = Object.assign({}, polShown, { limits: {}, push: {} });
  for (const [k, id] of Object.entries(polFields)) p[k] = adm.int(id);
  for (const [k, id] of Object.entries(polDurations)) { const v = adm.byId(id).value.trim(); if (v) p[k] = v; else delete p[k]; }
  for (const [k, id] of Object.entries(polLimits)) p.limits[k] = adm.int(id);
  for (const [k, id] of Object.entries(polPush)) p.push[k] = adm.int(id);
  const block = adm.byId("pol-push-denied-block").value.trim();
  if (block) p.push.denied_block = block;
  for (const [k, id] of Object.entries(polChecks)) p[k] = adm.byId(id).checked;
  for (const [k, id] of Object.entries(polSelects)) { const v = adm.byId(id).value; if (v) p[k] = v; else delete p[k]; }
  p.email_link_code = adm.byId("pol-email-link-code").checked;
  p.banner = adm.byId("pol-banner").value;
  p.methods = polMethods.filter((m) => adm.byId("pol-method-" + m).checked);
  return p;
}

async function loadScope() {
  fillPolicy(await api("GET", "/admin/policies/" + encodeURIComponent(scope())));
}

function fillScopes(selected) {
  const sel = adm.byId("policy-scope");
  sel.replaceChildren(el("option", "Tenant default", { value: "default" }));
  for (const c of polClients) sel.append(el("option", c.name + (c.override ? " (own policy)" : ""), { value: c.id }));
  sel.value = selected || "default";
}

async function loadAll(selected) {
  const j = await api("GET", "/admin/policies");
  polClients = j.clients;
  if (!polMethods.length) {
    polMethods = j.methods;
    const box = adm.byId("policy-methods");
    for (const m of polMethods) {
      const d = el("div", undefined, { class: "check" });
      d.append(el("input", undefined, { id: "pol-method-" + m, type: "checkbox" }), el("label", methodLabels[m] || m, { for: "pol-method-" + m }));
      box.append(d);
    }
  }
  fillScopes(selected);
  await loadScope();
}

adm.byId("policy-scope").addEventListener("change", () => adm.run(null, "policy-msg", loadScope));

adm.byId("policy-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const p = readPolicy();
  if (!p.methods.length) { adm.say("policy-msg", "Choose at least one method.", false); return; }
  if (p.methods.length === polMethods.length) p.methods = []; // every method, including ones added later
  const sc = scope();
  adm.run(adm.byId("policy-save"), "policy-msg", async () => {
    await api("PUT", "/admin/policies/" + encodeURIComponent(sc), p);
    await loadAll(sc);
  }, "Policy saved.");
});

adm.byId("policy-delete").addEventListener("click", () => {
  const sc = scope();
  adm.run(adm.byId("policy-delete"), "policy-msg", async () => {
    await api("DELETE", "/admin/policies/" + encodeURIComponent(sc));
    await loadAll(sc);
  }, "The client's policy was deleted; it now uses the tenant default.");
});

adm.run(null, "policy-msg", () => loadAll());
