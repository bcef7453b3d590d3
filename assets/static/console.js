"use strict";
// The minimal console: search contacts, send a verification, check the code,
// and watch the status (polled once a second; live sockets come later).
const methodsFor = { phone: [["sms_code", "SMS code"], ["sms_link", "SMS link"], ["voice_code", "Voice code"]],
                     email: [["email_link", "Email link"], ["email_code", "Email code"]] };
let contact = null, active = null, poll = null;
const $ = (id) => document.getElementById(id);

async function loadContacts() {
  const q = encodeURIComponent($("search").value.trim());
  const j = await api("GET", "/contacts?q=" + q);
  const ul = $("contacts"); ul.replaceChildren();
  for (const c of j.contacts) {
    const b = el("button", c.first_name + " " + c.last_name, { type: "button", class: "link" });
    b.addEventListener("click", () => openContact(c.id));
    const li = el("li"); li.append(b); ul.append(li);
  }
}

function shieldText(s) {
  if (s.state === "green") return "Verified via " + s.method + " — valid until " + new Date(s.verified_until).toLocaleTimeString();
  if (s.state === "red") return "Last verification failed";
  return "Not verified";
}

async function openContact(id) {
  contact = await api("GET", "/contacts/" + id);
  $("card").hidden = false;
  $("contact-name").textContent = contact.first_name + " " + contact.last_name;
  const tb = $("dests").querySelector("tbody"); tb.replaceChildren();
  for (const d of contact.destinations) {
    const tr = el("tr"), td = el("td"), act = el("td");
    td.textContent = (d.label ? d.label + ": " : "") + d.masked + (d.default ? " (default)" : "");
    for (const [m, label] of methodsFor[d.kind] || []) {
      const b = el("button", label, { type: "button", "data-method": m, "data-dest": d.id });
      b.addEventListener("click", () => send(m, d.id));
      act.append(b);
    }
    tr.append(td, act); tb.append(tr);
  }
  renderShield(contact.shield);
  await refreshHistory();
}

function renderShield(s) { const p = $("shield"); p.className = "shield " + s.state; p.textContent = shieldText(s); }

async function refreshHistory() {
  const j = await api("GET", "/contacts/" + contact.id + "/verifications");
  renderShield(j.shield);
  const ul = $("history"); ul.replaceChildren();
  for (const v of j.verifications) ul.append(el("li", new Date(v.created_at).toLocaleString() + " — " + v.method + " to " + v.destination + ": " + v.status + (v.detail ? " (" + v.detail + ")" : "")));
}

async function send(method, destId) {
  $("msg").textContent = "";
  try {
    const v = await api("POST", "/verifications", { contact_id: contact.id, destination_id: destId, method, ticket_ref: $("ticket").value.trim(), note: $("note").value.trim() });
    showActive(v);
  } catch (e) { $("msg").textContent = e.message; }
}

function showActive(v) {
  active = v;
  $("active").hidden = false;
  $("active-status").textContent = v.method + " to " + v.destination + ": " + v.status + (v.detail ? " — " + v.detail : "");
  const open = v.status === "pending" || v.status === "sent";
  // The read-out code and the actions only make sense while it is open.
  $("techcode").hidden = !(open && v.tech_code);
  $("techcode-value").textContent = open && v.tech_code ? v.tech_code : "";
  $("check").hidden = !(open && v.method.endsWith("_code"));
  $("resend").hidden = $("cancel").hidden = !open;
  clearInterval(poll);
  if (open) poll = setInterval(refreshActive, 1000);
  else refreshHistory();
}

async function refreshActive() {
  if (!active) return;
  const v = await api("GET", "/verifications/" + active.id);
  v.tech_code = active.tech_code;
  if (v.status !== active.status || v.delivery_status !== active.delivery_status) showActive(v);
}

$("check").addEventListener("submit", async (ev) => {
  ev.preventDefault(); $("msg").textContent = "";
  try { showActive(await api("POST", "/verifications/" + active.id + "/check", { code: $("code").value })); }
  catch (e) { $("msg").textContent = e.message; if (e.body && e.body.verification) showActive(e.body.verification); }
  $("code").value = "";
});
$("resend").addEventListener("click", async () => { try { showActive(await api("POST", "/verifications/" + active.id + "/resend")); } catch (e) { $("msg").textContent = e.message; } });
$("cancel").addEventListener("click", async () => { try { showActive(await api("POST", "/verifications/" + active.id + "/cancel")); } catch (e) { $("msg").textContent = e.message; } });
$("logout").addEventListener("click", async () => { await api("POST", "/logout"); location.href = "/"; });
$("search").addEventListener("input", () => loadContacts());
loadContacts();
