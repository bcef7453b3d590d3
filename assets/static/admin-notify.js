"use strict";
// The On call page: notification groups, their users (ways and schedule
// rules), the schedules' time zone, and the Test view. Text reaches the
// page through textContent only.
const ntDays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
let ntEvents = [];
let ntTechs = [];
let ntMembers = null; // GET /admin/notify/members, read once when asked for

function ntEventBoxes(prefix, chosen) {
  return ntEvents.map((ev) => {
    const id = prefix + "-" + ev.id;
    const cb = el("input", undefined, { type: "checkbox", id, value: ev.id, class: "nt-ev" });
    cb.checked = chosen.includes(ev.id);
    const l = el("label", undefined, { class: "check", for: id });
    l.append(cb, " " + ev.label);
    return l;
  });
}
function ntChosen(box) { return [...box.querySelectorAll(".nt-ev:checked")].map((c) => c.value); }

function ntWays(u) {
  const w = [];
  if (u.by_email) w.push("e-mail " + u.email);
  if (u.by_sms) w.push("SMS " + u.sms);
  if (u.by_voice) w.push("call " + u.voice);
  return w.length ? w.join(", ") : "no way ticked: never told";
}

function ntRuleText(r) {
  const days = ntDays.filter((_, i) => r.days & (1 << i)).join(" ") || "no days";
  const rep = r.every_days > 1 ? ", " + r.on_days + " day(s) on in every " + r.every_days : "";
  return r.start + "–" + r.end + " " + days + rep + " (" + r.from + " to " + r.until + ")";
}

function ntGroup(g) {
  const box = el("section", undefined, { class: "nt-group", "data-group": g.name, "aria-label": "Group " + g.name });
  box.append(el("h3", g.name));
  const evs = el("fieldset");
  evs.append(el("legend", "Tell " + g.name + " about"), ...ntEventBoxes("nt-ev-" + g.id, g.events));
  const save = el("button", "Save events", { type: "button", class: "small" });
  save.addEventListener("click", () => adm.run(save, "nt-msg", async () => {
    await api("PUT", "/admin/notify/groups/" + encodeURIComponent(g.id), { name: g.name, events: ntChosen(evs) });
    await ntLoad();
  }, "Saved what " + g.name + " is told about."));
  const del = el("button", "Delete group", { type: "button", class: "small secondary" });
  del.addEventListener("click", () => {
    if (!confirm("Delete " + g.name + " and its users?")) return;
    adm.run(del, "nt-msg", async () => {
      await api("DELETE", "/admin/notify/groups/" + encodeURIComponent(g.id));
      await ntLoad();
    }, g.name + " was deleted.");
  });
  evs.append(save, " ", del);
  box.append(evs);

  const table = el("table");
  const head = el("thead"); const hr = el("tr");
  for (const h of ["User", "Told by", "On call", ""]) hr.append(el("th", h, { scope: "col" }));
  head.append(hr); table.append(head);
  const body = el("tbody");
  for (const u of g.users) {
    const tr = el("tr", undefined, { "data-user": u.name });
    const rules = el("td");
    if (!u.schedule.length) rules.append(el("span", "no rule: never on call", { class: "muted" }));
    for (const r of u.schedule) rules.append(el("div", ntRuleText(r)));
    const acts = el("td");
    const edit = el("button", "Edit", { type: "button", class: "small", "aria-label": "Edit " + u.name });
    edit.addEventListener("click", () => ntEdit(u, g));
    const rm = el("button", "Remove", { type: "button", class: "small secondary", "aria-label": "Remove " + u.name });
    rm.addEventListener("click", () => adm.run(rm, "nt-msg", async () => {
      await api("DELETE", "/admin/notify/users/" + encodeURIComponent(u.id));
      await ntLoad();
    }, u.name + " was removed from " + g.name + "."));
    acts.append(edit, " ", rm);
    tr.append(el("td", u.name), el("td", ntWays(u)), rules, acts);
    body.append(tr);
  }
  table.append(body);
  const scroll = el("div", undefined, { class: "scroll" });
  scroll.append(table);
  if (g.users.length) box.append(scroll); else box.append(el("p", "No user yet.", { class: "muted" }));

  const add = el("button", "Add a user", { type: "button", class: "small" });
  add.addEventListener("click", () => ntEdit({ name: "", email: "", sms: "", voice: "", schedule: [] }, g));
  const selID = "nt-clone-" + g.id;
  const sel = el("select", undefined, { id: selID });
  for (const t of ntTechs) { const o = el("option", t.name + " (" + t.email + ")"); o.value = t.id; sel.append(o); }
  const clone = el("button", "Copy technician", { type: "button", class: "small secondary" });
  clone.addEventListener("click", () => adm.run(clone, "nt-msg", async () => {
    await api("POST", "/admin/notify/groups/" + encodeURIComponent(g.id) + "/technicians", { technician_id: sel.value });
    await ntLoad();
  }, "Copied into " + g.name + ": set when they are on call with Edit."));
  const row = el("div", undefined, { class: "actions" });
  row.append(add, " ", el("label", "or copy a technician", { for: selID }), " ", sel, " ", clone);
  box.append(row, ntMemberPicker(g));
  return box;
}

// ntMemberPicker copies one of the MSP's technicians as their PSA knows
// them. The PSAs are asked only when the admin wants it (one click), not
// on every visit to the page.
function ntMemberPicker(g) {
  const row = el("div", undefined, { class: "actions nt-members" });
  const load = el("button", "Copy a PSA member…", { type: "button", class: "small secondary nt-members-load" });
  load.addEventListener("click", () => adm.run(load, "nt-msg", async () => {
    if (!ntMembers) ntMembers = await api("GET", "/admin/notify/members");
    row.replaceChildren();
    for (const f of ntMembers.errors) row.append(el("p", f.integration + " could not list its members: " + f.error, { class: "error" }));
    if (!ntMembers.members.length) {
      row.append(el("p", "None of your PSAs lists its members here (or they have none active). Add the user by hand.", { class: "muted" }));
      return;
    }
    const selID = "nt-member-" + g.id;
    const sel = el("select", undefined, { id: selID });
    for (const m of ntMembers.members) {
      const o = el("option", m.name + (m.email ? " (" + m.email + ")" : "") + " — " + m.integration);
      o.value = JSON.stringify([m.integration_id, m.ref]);
      sel.append(o);
    }
    const copy = el("button", "Copy member", { type: "button", class: "small secondary nt-members-copy" });
    copy.addEventListener("click", () => adm.run(copy, "nt-msg", async () => {
      const [integration, ref] = JSON.parse(sel.value);
      await api("POST", "/admin/notify/groups/" + encodeURIComponent(g.id) + "/members", { integration_id: integration, member_ref: ref });
      await ntLoad();
    }, "Copied into " + g.name + " from the PSA: set when they are on call, and turn on SMS or voice, with Edit."));
    row.append(el("label", "Copy a PSA member", { for: selID }), " ", sel, " ", copy);
  }));
  row.append(load);
  return row;
}

// ntRule is one schedule rule's fields.
function ntRule(r) {
  const n = adm.byId("nt-rules").children.length;
  const box = el("fieldset", undefined, { class: "nt-rule" });
  box.append(el("legend", "Rule " + (n + 1)));
  const field = (label, attrs, value) => {
    const id = "nt-r" + n + "-" + attrs.name;
    const i = el("input", undefined, Object.assign({ id }, attrs));
    i.value = value;
    box.append(el("label", label, { for: id }), i);
  };
  field("From (first day)", { name: "from", type: "date" }, r.from);
  field("Until (last day, at most a year on)", { name: "until", type: "date" }, r.until);
  field("Start", { name: "start", maxlength: "5", placeholder: "09:00", inputmode: "numeric" }, r.start);
  field("End (24:00 for midnight)", { name: "end", maxlength: "5", placeholder: "17:00", inputmode: "numeric" }, r.end);
  const days = el("fieldset", undefined, { class: "nt-days" });
  days.append(el("legend", "Days"));
  ntDays.forEach((d, i) => {
    const id = "nt-r" + n + "-d" + i;
    const cb = el("input", undefined, { type: "checkbox", id, "data-day": String(i) });
    cb.checked = !!(r.days & (1 << i));
    const l = el("label", undefined, { class: "check", for: id }); l.append(cb, " " + d);
    days.append(l);
  });
  box.append(days);
  field("Repeat every (days; 1 for every day)", { name: "every_days", type: "number", min: "1", max: "366" }, r.every_days);
  field("On for (days of each repeat)", { name: "on_days", type: "number", min: "1", max: "366" }, r.on_days);
  const rm = el("button", "Remove rule", { type: "button", class: "small secondary" });
  rm.addEventListener("click", () => box.remove());
  box.append(rm);
  adm.byId("nt-rules").append(box);
}

function ntRules() {
  return [...document.querySelectorAll("#nt-rules .nt-rule")].map((b) => {
    const v = (name) => b.querySelector('[name="' + name + '"]').value.trim();
    let days = 0;
    for (const cb of b.querySelectorAll("[data-day]")) if (cb.checked) days |= 1 << Number(cb.dataset.day);
    const num = (name) => (/^\d+$/.test(v(name)) ? Number(v(name)) : 0);
    return { from: v("from"), until: v("until"), start: v("start"), end: v("end"), days, every_days: num("every_days"), on_days: num("on_days") };
  });
}

function ntEdit(u, g) {
  adm.byId("nt-user-box").hidden = false;
  adm.byId("nt-user-h").textContent = (u.id ? "Edit " + u.name : "Add a user") + " — " + g.name;
  adm.byId("nt-user-id").value = u.id || "";
  adm.byId("nt-user-group").value = g.id;
  for (const f of ["name", "email", "sms", "voice"]) adm.byId("nt-user-" + f).value = u[f] || "";
  adm.byId("nt-user-by-email").checked = !!u.by_email;
  adm.byId("nt-user-by-sms").checked = !!u.by_sms;
  adm.byId("nt-user-by-voice").checked = !!u.by_voice;
  adm.byId("nt-rules").replaceChildren();
  for (const r of u.schedule) ntRule(r);
  adm.say("nt-user-msg", "", true);
  adm.byId("nt-user-name").focus();
}

function ntToday(plusDays) {
  const d = new Date(Date.now() + plusDays * 86400000);
  return d.toISOString().slice(0, 10);
}

async function ntLoad() {
  const j = await api("GET", "/admin/notify");
  ntEvents = j.events;
  adm.byId("nt-zone").value = j.time_zone;
  const evBox = adm.byId("nt-group-events");
  if (!evBox.querySelector(".nt-ev")) evBox.append(...ntEventBoxes("nt-new-ev", ["tech_verify"]));
  adm.byId("nt-groups").replaceChildren(...j.groups.map(ntGroup));
  adm.byId("nt-empty").hidden = j.groups.length > 0;
}

adm.byId("nt-zone-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  adm.run(adm.byId("nt-zone-save"), "nt-zone-msg", () => api("PUT", "/admin/notify/timezone", { time_zone: adm.byId("nt-zone").value }),
    "Saved: schedules are read in " + adm.byId("nt-zone").value + ".");
});
adm.byId("nt-group-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const name = adm.byId("nt-group-name").value;
  adm.run(adm.byId("nt-group-add"), "nt-group-msg", async () => {
    await api("POST", "/admin/notify/groups", { name, events: ntChosen(adm.byId("nt-group-events")) });
    adm.byId("nt-group-name").value = "";
    await ntLoad();
  }, "Added " + name.trim() + ": add its users below it.");
});
adm.byId("nt-rule-add").addEventListener("click", () => ntRule({ from: ntToday(0), until: ntToday(364), start: "09:00", end: "17:00",
  days: 0x3e, every_days: 1, on_days: 1 }));
adm.byId("nt-user-cancel").addEventListener("click", () => { adm.byId("nt-user-box").hidden = true; });
adm.byId("nt-user-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const id = adm.byId("nt-user-id").value;
  const u = { name: adm.byId("nt-user-name").value, email: adm.byId("nt-user-email").value, sms: adm.byId("nt-user-sms").value,
    voice: adm.byId("nt-user-voice").value, by_email: adm.byId("nt-user-by-email").checked, by_sms: adm.byId("nt-user-by-sms").checked,
    by_voice: adm.byId("nt-user-by-voice").checked, schedule: ntRules() };
  adm.run(adm.byId("nt-user-save"), "nt-user-msg", async () => {
    if (id) await api("PUT", "/admin/notify/users/" + encodeURIComponent(id), u);
    else await api("POST", "/admin/notify/groups/" + encodeURIComponent(adm.byId("nt-user-group").value) + "/users", u);
    await ntLoad();
    adm.byId("nt-user-box").hidden = true;
    adm.say("nt-msg", "Saved " + u.name.trim() + ".", true);
  });
});
adm.byId("nt-test-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const at = adm.byId("nt-test-at").value;
  adm.run(adm.byId("nt-test-run"), "nt-test-msg", async () => {
    const j = await api("GET", "/admin/notify/test" + (at ? "?at=" + encodeURIComponent(at) : ""));
    const out = adm.byId("nt-test-out");
    out.replaceChildren();
    const when = (iso) => iso.slice(0, 16).replace("T", " ");
    out.append(el("p", "At " + when(j.at) + " (" + j.time_zone + "):"));
    for (const g of j.groups) {
      const on = g.users.filter((u) => u.active).map((u) => u.name);
      const sec = el("div", undefined, { class: "nt-test-group", "data-group": g.name });
      sec.append(el("h3", g.name), el("p", on.length ? "On call: " + on.join(", ") : "Nobody on call", { class: "nt-oncall" }));
      const ul = el("ul");
      for (const u of g.users) {
        const ps = u.periods.map((p) => when(p.start) + " – " + when(p.end));
        ul.append(el("li", u.name + ": " + (ps.length ? ps.join("; ") : "not on call in these 7 days")));
      }
      sec.append(ul);
      out.append(sec);
    }
  });
});

(async () => {
  try {
    const t = await api("GET", "/admin/technicians");
    ntTechs = t.technicians;
    await ntLoad();
  } catch (e) { adm.say("nt-msg", e.message, false); }
})();
