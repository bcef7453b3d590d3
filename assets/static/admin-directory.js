"use strict";
// Directory matches: a client's Active Directory users against its PSA
// contacts, with counts and filters, accept or reject per candidate and in
// bulk (rows with one candidate; a conflict is settled per candidate), and
// self-serve password reset: the tenant's switches and each user's, one at
// a time or for the selected rows, and the welcome e-mails that let users
// confirm their mobile number.
const dirPage = 200;
const dir = { offset: 0, total: 0, rows: [] };
const statusLabels = { matched: "Matched", suggested: "Suggested", conflicting: "Conflicting", unmatched: "Unmatched" };
const ruleLabels = { email: "by e-mail", phone: "by phone", name: "by name only" };

function clientID() { return adm.byId("dir-client").value; }

function query() {
  const p = new URLSearchParams({ offset: String(dir.offset), limit: String(dirPage) });
  const st = adm.byId("dir-status").value;
  const q = adm.byId("dir-q").value.trim();
  if (st) p.set("status", st);
  if (q) p.set("q", q);
  return "/clients/" + encodeURIComponent(clientID()) + "/directory/matches?" + p.toString();
}

// decidable says whether a row can be selected for a bulk decision.
function decidable(m) {
  return (m.candidates || []).length === 1 && m.decision !== "accepted";
}

function userCell(m) {
  const td = el("td");
  td.append(el("strong", m.name), el("br"), el("span", m.account + (m.enabled ? "" : " (disabled)"), { class: "muted" }));
  for (const a of m.emails || []) td.append(el("br"), el("span", a));
  return td;
}

function statusCell(m) {
  const td = el("td");
  td.append(el("span", statusLabels[m.status] || m.status, { class: "status-" + m.status }));
  if (m.rule) td.append(el("br"), el("span", ruleLabels[m.rule] || m.rule, { class: "hint" }));
  return td;
}

async function decide(choices, button, okText) {
  const ok = await adm.run(button, "dir-msg", async () => {
    await api("POST", "/clients/" + encodeURIComponent(clientID()) + "/directory/matches", { choices });
    await load();
  });
  if (ok) adm.say("dir-msg", okText, true);
}

function candidateCell(m) {
  const td = el("td");
  if (!(m.candidates || []).length) {
    td.append(el("span", "No contact to propose: none shares this user's e-mail, phone or name, or those that do were rejected.", { class: "muted" }));
    return td;
  }
  for (const c of m.candidates) {
    const div = el("div", undefined, { class: "cand", "data-contact": c.id });
    div.append(el("strong", c.name));
    const bits = [...(c.emails || []), ...(c.phones || [])];
    if (bits.length) div.append(el("br"), el("span", bits.join(" · "), { class: "muted" }));
    div.append(el("br"));
    const pair = m.name + " as " + c.name;
    if (m.decision !== "accepted") {
      const acc = el("button", "Accept", { type: "button", class: "small", id: "accept-" + m.guid + "-" + c.id, "aria-label": "Accept " + pair });
      acc.addEventListener("click", () => decide([{ guid: m.guid, contact_id: c.id, accept: true }], acc,
        m.name + " is now bound to " + c.name + "."));
      div.append(acc);
    }
    const rej = el("button", m.decision === "accepted" ? "Undo: reject" : "Reject",
      { type: "button", class: "small secondary", id: "reject-" + m.guid + "-" + c.id, "aria-label": "Reject " + pair });
    rej.addEventListener("click", () => decide([{ guid: m.guid, contact_id: c.id, accept: false }], rej,
      m.name + " will not be proposed as " + c.name + " again."));
    div.append(rej);
    td.append(div);
  }
  return td;
}

const ssStatusLabels = { registration_complete: "Registration Complete", accessed_self_serve: "Accessed Self-Serve" };
const ssMissingLabels = { tenant: "self-serve is off for everyone (above)", email: "no e-mail address", mobile: "no mobile number",
                         locked: "locked out after too many wrong codes" };

async function setSelfServe(guids, on, button, okText) {
  const ok = await adm.run(button, "dir-msg", async () => {
    await api("POST", "/clients/" + encodeURIComponent(clientID()) + "/directory/selfserve", { guids, enabled: on });
    await load();
  });
  if (ok) adm.say("dir-msg", okText, true);
}

function selfServeCell(m) {
  const ss = m.selfserve;
  const td = el("td");
  let text = "Off";
  if (ss.enabled) text = ss.active ? "On" : "On, not usable: " + ss.missing.map((x) => ssMissingLabels[x] || x).join(", ");
  td.append(el("span", text, { class: ss.active ? "status-matched" : "" }));
  if (ss.status) td.append(el("br"), el("span", ssStatusLabels[ss.status] || ss.status, { class: "hint" }));
  td.append(el("br"));
  const b = el("button", ss.enabled ? "Turn off" : "Turn on", { type: "button", class: "small" + (ss.enabled ? " secondary" : ""),
    id: "ss-" + m.guid, "aria-label": "Turn self-serve " + (ss.enabled ? "off" : "on") + " for " + m.name });
  b.addEventListener("click", () => setSelfServe([m.guid], !ss.enabled, b,
    "Self-serve is " + (ss.enabled ? "off" : "on") + " for " + m.name + "."));
  td.append(b);
  if (ss.locked_out) {
    const c = el("button", "Clear lockout", { type: "button", class: "small secondary", id: "ss-unlock-" + m.guid,
      "aria-label": "Clear the self-serve lockout of " + m.name });
    c.addEventListener("click", async () => {
      const ok = await adm.run(c, "dir-msg", async () => {
        await api("DELETE", "/clients/" + encodeURIComponent(clientID()) + "/directory/selfserve/" + encodeURIComponent(m.guid) + "/lockout");
        await load();
      });
      if (ok) adm.say("dir-msg", m.name + " can use self-serve again.", true);
    });
    td.append(" ", c);
  }
  return td;
}

function row(m) {
  const tr = el("tr", undefined, { id: "row-" + m.guid, "data-status": m.status });
  const sel = el("td");
  const cb = el("input", undefined, { type: "checkbox", id: "sel-" + m.guid, class: "dir-sel", "aria-label": "Select " + m.name });
  cb.addEventListener("change", selectionChanged);
  sel.append(cb);
  const dec = el("td", m.decision === "accepted" ? "Accepted" : m.decision === "rejected" ? "Rejected" : "—");
  tr.append(sel, userCell(m), statusCell(m), candidateCell(m), dec, selfServeCell(m));
  return tr;
}

function selected() {
  const ids = new Set([...document.querySelectorAll(".dir-sel:checked")].map((cb) => cb.id.slice(4)));
  return dir.rows.filter((m) => ids.has(m.guid));
}

function selectionChanged() {
  const rows = selected();
  const n = rows.length;
  const d = rows.filter(decidable).length;
  adm.byId("dir-accept-sel").disabled = d === 0;
  adm.byId("dir-reject-sel").disabled = d === 0;
  adm.byId("dir-ss-on").disabled = n === 0;
  adm.byId("dir-ss-off").disabled = n === 0;
  adm.byId("dir-sel-count").textContent = n ? n + " selected" : "";
  const all = document.querySelectorAll(".dir-sel");
  adm.byId("dir-all").checked = all.length > 0 && n === all.length;
}

// bulk accepts or rejects the selected rows that have one candidate; the
// others (conflicts, unmatched, already accepted) are left as they are.
function bulk(accept) {
  const all = selected();
  const rows = all.filter(decidable);
  const button = adm.byId(accept ? "dir-accept-sel" : "dir-reject-sel");
  const choices = rows.map((m) => ({ guid: m.guid, contact_id: m.candidates[0].id, accept }));
  const n = choices.length;
  const skipped = all.length - n;
  decide(choices, button, (accept ? n + (n === 1 ? " match accepted." : " matches accepted.")
                                  : n + (n === 1 ? " match rejected." : " matches rejected.")) +
    (skipped ? " " + skipped + " selected without a single contact to decide on left as they are." : ""));
}

function bulkSelfServe(on) {
  const guids = selected().map((m) => m.guid);
  const n = guids.length;
  setSelfServe(guids, on, adm.byId(on ? "dir-ss-on" : "dir-ss-off"),
    "Self-serve is " + (on ? "on" : "off") + " for " + n + (n === 1 ? " user." : " users."));
}

function showSettings(s) {
  adm.byId("ss-enabled").checked = !!s.enabled;
  adm.byId("ss-new").checked = !!s.new_users_on;
}

adm.byId("ss-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const body = { enabled: adm.byId("ss-enabled").checked, new_users_on: adm.byId("ss-new").checked };
  adm.run(adm.byId("ss-save"), "ss-msg", async () => {
    showSettings(await api("PUT", "/admin/directory/settings", body));
    await load();
  }, body.enabled ? "Saved: self-serve is on for users whose own switch is on." : "Saved: self-serve is off for everyone.");
});
// sendWelcomes sends the client's pending welcome e-mails round by round
// (the server sends at most 100 per request and says how many still wait),
// showing the progress; a user is sent one only once.
async function sendWelcomes() {
  const button = adm.byId("dir-welcome");
  const bar = adm.byId("dir-welcome-progress");
  const msg = "dir-welcome-msg";
  let sent = 0;
  const ok = await adm.run(button, msg, async () => {
    adm.say(msg, "Sending welcome e-mails…", true);
    for (;;) {
      let r;
      try {
        r = await api("POST", "/clients/" + encodeURIComponent(clientID()) + "/directory/welcome", { pending: true });
      } catch (e) {
        if (sent) e.message = sent + (sent === 1 ? " welcome e-mail" : " welcome e-mails") + " sent, then: " + e.message;
        throw e;
      }
      sent += r.sent;
      bar.max = Math.max(1, sent + r.waiting);
      bar.value = sent;
      bar.hidden = false;
      if (r.waiting === 0 || r.sent === 0) break;
      adm.say(msg, "Sending welcome e-mails: " + sent + " sent, " + r.waiting + " to go…", true);
    }
  });
  bar.hidden = true;
  if (!ok) return;
  adm.say(msg, sent === 0 ? "No one is waiting for a welcome e-mail." :
    "Welcome e-mails sent to " + sent + (sent === 1 ? " user." : " users."), true);
}

adm.byId("dir-welcome").addEventListener("click", sendWelcomes);
adm.byId("dir-ss-on").addEventListener("click", () => bulkSelfServe(true));
adm.byId("dir-ss-off").addEventListener("click", () => bulkSelfServe(false));

async function load() {
  if (!clientID()) return;
  const r = await api("GET", query());
  for (const s of document.querySelectorAll("[data-count]")) s.textContent = String(r.counts[s.dataset.count] || 0);
  dir.total = r.total;
  dir.rows = r.matches;
  const body = adm.byId("dir-table").querySelector("tbody");
  body.replaceChildren(...r.matches.map(row));
  adm.byId("dir-caption").textContent = r.total === 0 ? "No users to show." :
    "Users " + (r.offset + 1) + "–" + (r.offset + r.matches.length) + " of " + r.total;
  adm.byId("dir-prev").hidden = r.offset === 0;
  adm.byId("dir-next").hidden = r.offset + r.matches.length >= r.total;
  selectionChanged();
}

function reload() {
  dir.offset = 0;
  adm.run(adm.byId("dir-apply"), "dir-msg", load);
}

adm.byId("dir-filter").addEventListener("submit", (ev) => { ev.preventDefault(); reload(); });
adm.byId("dir-client").addEventListener("change", () => {
  history.replaceState(null, "", "?client=" + encodeURIComponent(clientID()));
  reload();
});
adm.byId("dir-status").addEventListener("change", reload);
adm.byId("dir-all").addEventListener("change", (ev) => {
  for (const cb of document.querySelectorAll(".dir-sel")) cb.checked = ev.target.checked;
  selectionChanged();
});
adm.byId("dir-accept-sel").addEventListener("click", () => bulk(true));
adm.byId("dir-reject-sel").addEventListener("click", () => bulk(false));
adm.byId("dir-prev").addEventListener("click", () => { dir.offset = Math.max(0, dir.offset - dirPage); adm.run(null, "dir-msg", load); });
adm.byId("dir-next").addEventListener("click", () => { dir.offset += dirPage; adm.run(null, "dir-msg", load); });

(async () => {
  try {
    const { clients } = await api("GET", "/clients");
    const sel = adm.byId("dir-client");
    for (const c of clients) sel.append(el("option", c.name, { value: c.id }));
    const want = new URLSearchParams(location.search).get("client");
    if (want && clients.some((c) => c.id === want)) sel.value = want;
    showSettings(await api("GET", "/admin/directory/settings"));
    if (!clients.length) { adm.say("dir-msg", "There are no clients yet.", false); return; }
    await load();
  } catch (e) { adm.say("dir-msg", e.message, false); }
})();
