"use strict";
// The integrations page: PSA connections (a form drawn from the plugin's
// fields, checked live by the server before it saves), the setup to do in
// the PSA afterwards, and what a new ticket does. Secrets are write-only:
// the server never sends them back, and a blank secret keeps the saved one.
let intKinds = [], intList = [], intEditing = null, intShown = null;

function kindOf(id) { return intKinds.find((k) => k.id === id); }

function fieldId(name) { return "int-field-" + name; }

// drawFields draws the chosen PSA's settings form; cur is the integration
// being edited, or null for a new one.
function drawFields(kindID, cur) {
  const box = adm.byId("int-fields");
  box.replaceChildren();
  const k = kindOf(kindID);
  if (!k) return;
  for (const f of k.fields) {
    const id = fieldId(f.name);
    const secret = f.kind === "secret";
    const saved = cur && cur.secrets_set.includes(f.name);
    box.append(el("label", f.label + (f.required ? "" : " (optional)"), { for: id }));
    const input = el("input", undefined, { id, name: f.name, maxlength: "1000", autocomplete: secret ? "new-password" : "off",
                                          spellcheck: "false", "aria-describedby": id + "-hint" });
    if (secret) input.type = "password";
    if (f.kind === "url") input.type = "url";
    if (cur && !secret) input.value = cur.settings[f.name] || "";
    if (saved) input.placeholder = "saved; leave blank to keep";
    box.append(input);
    const hint = saved ? "Saved; leave blank to keep it." + (f.help ? " " + f.help : "") : (f.help || "");
    box.append(el("p", hint, { id: id + "-hint", class: "hint" }));
    if (f.choosable && cur) box.append(choicesWidget(cur, f, input, k.name));
    if (f.generated && cur) {
      const again = el("input", undefined, { type: "checkbox", id: id + "-regenerate", name: f.name + "-regenerate" });
      const label = el("label", undefined, { for: id + "-regenerate", class: "check" });
      label.append(again, " Make a new one (the PSA must then be given the new value)");
      box.append(label);
    }
  }
}

// regenerateList names the generated settings the form asks to make anew.
function regenerateList(kindID) {
  return kindOf(kindID).fields.filter((f) => {
    const c = adm.byId(fieldId(f.name) + "-regenerate");
    return f.generated && c && c.checked;
  }).map((f) => f.name);
}

// showGenerated shows, this once, the values the server made in a save:
// the admin pastes them into the PSA; secret ones are never shown again.
function showGenerated(kindID, generated) {
  const box = adm.byId("int-generated"), list = adm.byId("int-generated-list");
  list.replaceChildren();
  const names = Object.keys(generated || {});
  box.hidden = names.length === 0;
  for (const f of kindOf(kindID).fields) {
    if (!names.includes(f.name)) continue;
    const id = "int-generated-" + f.name;
    const value = el("dd");
    value.append(el("code", generated[f.name], { id, "aria-labelledby": id + "-label" }));
    list.append(el("dt", f.label, { id: id + "-label" }), value);
  }
}

// choicesWidget offers the values a setting may take, read from the PSA
// with the saved settings: a button, then a list to pick from.
function choicesWidget(cur, f, input, psaName) {
  const wrap = el("div", undefined, { class: "choices" });
  const btn = el("button", "Choose from " + psaName, { type: "button", id: fieldId(f.name) + "-choose" });
  const msg = el("p", "", { id: fieldId(f.name) + "-choices-msg", class: "hint", role: "status" });
  btn.addEventListener("click", async () => {
    msg.textContent = "Reading from " + psaName + "…";
    try {
      const j = await api("GET", "/admin/integrations/" + encodeURIComponent(cur.id) + "/choices?field=" + encodeURIComponent(f.name));
      const sel = el("select", undefined, { id: fieldId(f.name) + "-choices", "aria-label": f.label + " from " + psaName });
      sel.append(el("option", "Choose…", { value: "" }));
      for (const o of j.options) sel.append(el("option", o.label, { value: o.value }));
      sel.addEventListener("change", () => { if (sel.value) input.value = sel.value; });
      if (j.suggested) { sel.value = j.suggested; input.value = j.suggested; }
      wrap.querySelector("select")?.remove();
      wrap.insertBefore(sel, msg);
      msg.textContent = (j.hint || "") + (j.suggested ? " Filled in; save to keep it." : "");
    } catch (e) { msg.textContent = e.message; }
  });
  wrap.append(btn, msg);
  return wrap;
}

function readSettings(kindID) {
  const out = {};
  for (const f of kindOf(kindID).fields) out[f.name] = adm.byId(fieldId(f.name)).value;
  return out;
}

function openForm(cur) {
  intEditing = cur;
  const sel = adm.byId("int-kind");
  sel.replaceChildren(...intKinds.map((k) => el("option", k.name, { value: k.id })));
  sel.value = cur ? cur.kind : (intKinds[0] || {}).id;
  sel.disabled = !!cur;
  adm.byId("int-name").value = cur ? cur.name : (kindOf(sel.value) || {}).name || "";
  adm.byId("int-form-title").textContent = cur ? "Edit " + cur.name : "Add an integration";
  drawFields(sel.value, cur);
  adm.say("int-form-msg", "", true);
  adm.byId("int-form-box").hidden = false;
  adm.byId("int-name").focus();
}

function closeForm() {
  intEditing = null;
  adm.byId("int-form-box").hidden = true;
  adm.byId("int-fields").replaceChildren(); // drop typed secrets from the page
}

function cell(text) { return el("td", text); }

function codeCell(text, id) {
  const td = el("td");
  td.append(el("code", text, id ? { id } : {}));
  return td;
}

// showSetup shows what to do in the PSA for integration it.
function showSetup(it) {
  intShown = it;
  adm.byId("int-setup").hidden = false;
  adm.byId("int-generated").hidden = true;
  adm.byId("int-setup-name").textContent = it.name;
  const problem = adm.byId("int-setup-problem");
  problem.hidden = !it.problem;
  problem.textContent = it.problem || "";
  const st = it.setup;
  adm.byId("int-pods-box").hidden = !st;
  adm.byId("int-permissions-box").hidden = !st;
  if (st) {
    // A PSA without pods says where verification happens instead.
    adm.byId("int-pods-list").hidden = !st.pods.length;
    adm.byId("int-no-pods").hidden = !!st.pods.length;
    adm.byId("int-no-pods").textContent = st.pods.length ? "" : st.where;
    adm.byId("int-setup-where").textContent = st.where;
    const pods = adm.byId("int-pods").tBodies[0];
    pods.replaceChildren();
    for (const p of st.pods) {
      const tr = el("tr");
      tr.append(cell(p.screen_name), codeCell(p.description), codeCell(p.url, "int-pod-url-" + p.screen),
                codeCell(p.origin, "int-pod-origin-" + p.screen), codeCell(p.type));
      pods.append(tr);
    }
    adm.byId("int-setup-notes").replaceChildren(...st.notes.map((n) => el("li", n)));
    const perms = adm.byId("int-permissions").tBodies[0];
    perms.replaceChildren();
    for (const p of st.permissions) {
      const tr = el("tr");
      tr.append(cell(p.area), cell(p.access), cell(p.why));
      perms.append(tr);
    }
  }
  adm.byId("int-install-pods").hidden = !it.can_install_pods;
  adm.byId("int-pod-screens").hidden = true;
  adm.byId("int-callbacks-box").hidden = !it.can_register_callbacks;
  adm.byId("int-callback-url").textContent = it.callback_url || "";
  adm.byId("int-setup-help").hidden = !it.setup_help_url;
  adm.byId("int-setup-help-link").href = it.setup_help_url || "#";
  adm.byId("int-setup-help-name").textContent = it.kind_name || "";
  for (const id of ["int-check-msg", "int-pods-msg", "int-callbacks-msg"]) adm.say(id, "", true);
  if (it.can_register_callbacks) loadEvents(it);
}

// loadEvents lists the last callbacks of integration it and what came of
// them (acted on from the outbox, so a failed one says why and is retried).
async function loadEvents(it) {
  const table = adm.byId("int-events"), body = table.tBodies[0];
  let evs = [];
  try { evs = (await api("GET", "/admin/integrations/" + encodeURIComponent(it.id))).events || []; } catch (e) { adm.say("int-callbacks-msg", e.message); }
  if (intShown !== it) return;
  body.replaceChildren();
  for (const ev of evs) {
    const tr = el("tr");
    const outcome = ev.status + (ev.outcome && ev.outcome !== ev.status ? ": " + ev.outcome : "") + (ev.attempts > 1 ? " (" + ev.attempts + " tries)" : "");
    tr.append(cell(CSTime.format(ev.received)), cell(ev.type + " " + ev.action), cell(ev.ref), cell(outcome));
    body.append(tr);
  }
  table.hidden = evs.length === 0;
  adm.byId("int-events-empty").hidden = evs.length > 0;
}

function drawList() {
  const body = adm.byId("int-list-table").tBodies[0];
  body.replaceChildren();
  for (const it of intList) {
    const tr = el("tr");
    const edit = el("button", "Edit", { type: "button", id: "int-edit-" + it.id, class: "small secondary" });
    edit.addEventListener("click", () => { openForm(it); showSetup(it); });
    const setup = el("button", "Setup", { type: "button", id: "int-show-" + it.id, class: "small" });
    setup.addEventListener("click", () => { showSetup(it); adm.byId("int-setup").scrollIntoView(); });
    const actions = el("td");
    actions.append(setup, edit);
    tr.append(cell(it.name), cell(it.kind_name), cell(CSTime.format(it.updated_at)), actions);
    body.append(tr);
  }
  adm.byId("int-list-empty").hidden = intList.length > 0;
}

async function loadList() {
  const j = await api("GET", "/admin/integrations");
  intKinds = j.kinds;
  intList = j.integrations;
  drawList();
  adm.byId("int-new").disabled = intKinds.length === 0;
}

adm.byId("int-new").addEventListener("click", () => openForm(null));
adm.byId("int-cancel").addEventListener("click", closeForm);
adm.byId("int-kind").addEventListener("change", () => {
  const k = kindOf(adm.byId("int-kind").value);
  adm.byId("int-name").value = k ? k.name : "";
  drawFields(adm.byId("int-kind").value, null);
});
adm.byId("int-edit-current").addEventListener("click", () => { if (intShown) openForm(intShown); });

adm.byId("int-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const kind = adm.byId("int-kind").value;
  const body = { kind, name: adm.byId("int-name").value, settings: readSettings(kind), regenerate: regenerateList(kind) };
  const cur = intEditing;
  adm.run(adm.byId("int-save"), "int-form-msg", async () => {
    adm.say("int-form-msg", "Checking the connection…", true);
    const res = cur ? await api("PUT", "/admin/integrations/" + encodeURIComponent(cur.id), body)
                    : await api("POST", "/admin/integrations", body);
    closeForm();
    await loadList();
    showSetup(res.integration);
    showGenerated(kind, res.generated);
    adm.say("int-check-msg", "Saved: " + res.check + ".", true);
    if (res.callbacks) adm.say("int-callbacks-msg", res.callbacks.message, res.callbacks.ok);
    adm.byId("int-setup").scrollIntoView();
  });
});

adm.byId("int-check").addEventListener("click", () => {
  const it = intShown;
  adm.run(adm.byId("int-check"), "int-check-msg", async () => {
    const j = await api("POST", "/admin/integrations/" + encodeURIComponent(it.id) + "/check");
    adm.say("int-check-msg", j.message, true);
  });
});

adm.byId("int-register-callbacks").addEventListener("click", () => {
  const it = intShown;
  adm.run(adm.byId("int-register-callbacks"), "int-callbacks-msg", async () => {
    const j = await api("POST", "/admin/integrations/" + encodeURIComponent(it.id) + "/callbacks");
    adm.say("int-callbacks-msg", j.message, true);
  });
});

function fillScreens(id, screens, suggested) {
  const sel = adm.byId(id);
  sel.replaceChildren(el("option", "Choose a screen", { value: "" }),
                      ...screens.map((s) => el("option", s.name + (s.key ? " (" + s.key + ")" : ""), { value: String(s.id) })));
  sel.value = suggested ? String(suggested) : "";
}

adm.byId("int-install-pods").addEventListener("click", () => {
  const it = intShown;
  adm.run(adm.byId("int-install-pods"), "int-pods-msg", async () => {
    const j = await api("GET", "/admin/integrations/" + encodeURIComponent(it.id) + "/pod-screens");
    fillScreens("int-screen-contact", j.screens, j.suggested.contact);
    fillScreens("int-screen-ticket", j.screens, j.suggested.ticket);
    adm.byId("int-pod-screens").hidden = false;
    adm.byId("int-screen-contact").focus();
  });
});

adm.byId("int-install-confirm").addEventListener("click", () => {
  const it = intShown;
  const contact = Number(adm.byId("int-screen-contact").value), ticket = Number(adm.byId("int-screen-ticket").value);
  if (!contact || !ticket) { adm.say("int-pods-msg", "Choose a screen for both pods.", false); return; }
  adm.run(adm.byId("int-install-confirm"), "int-pods-msg", async () => {
    const j = await api("POST", "/admin/integrations/" + encodeURIComponent(it.id) + "/pods", { screens: { contact, ticket } });
    const made = j.pods.filter((p) => p.created).length;
    adm.byId("int-pod-screens").hidden = true;
    adm.say("int-pods-msg", made ? "Created " + made + " Hosted API entr" + (made === 1 ? "y" : "ies") + "." + (made < j.pods.length ? " The others existed already." : "")
                                 : "The Hosted API entries existed already; nothing was added.", true);
  });
});

// The tenant default policy's new-ticket action: read, change two fields,
// write back the rest unchanged.
async function loadNewTicket() {
  const v = await api("GET", "/admin/policies/default");
  adm.byId("int-on-new-ticket").value = v.policy.on_new_ticket || "";
  adm.byId("int-auto-send-method").value = v.policy.auto_send_method || "sms_code";
  adm.byId("int-auto-send-method").disabled = adm.byId("int-on-new-ticket").value !== "auto_send";
}

adm.byId("int-on-new-ticket").addEventListener("change", () => {
  adm.byId("int-auto-send-method").disabled = adm.byId("int-on-new-ticket").value !== "auto_send";
});

adm.byId("int-newticket-save").addEventListener("click", () => {
  adm.run(adm.byId("int-newticket-save"), "int-newticket-msg", async () => {
    const v = await api("GET", "/admin/policies/default");
    const p = v.policy;
    p.on_new_ticket = adm.byId("int-on-new-ticket").value;
    p.auto_send_method = p.on_new_ticket === "auto_send" ? adm.byId("int-auto-send-method").value : "";
    await api("PUT", "/admin/policies/default", p);
    await loadNewTicket();
  }, "Saved.");
});

adm.run(null, "int-list-msg", async () => {
  await loadList();
  await loadNewTicket();
});
