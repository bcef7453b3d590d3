"use strict";
// The console's contacts page: clients and search on the left, the
// verification card (verify.js) on the right.
const $ = (id) => document.getElementById(id);
// tk is the PSA ticket opened from its number (tickets/lookup), or null:
// while it is open, sends go through the pod's start route with the
// ticket's signed scope, so the result is written to that ticket as a note
// and a caller other than the ticket's contact follows the note rule.
let tk = null;
const card = CSVerify.card({
  ticket: () => tk ? "" : $("ticket").value.trim(),
  ticketField: () => $("ticket"),
  alternate: () => !!tk && !!card.contact() && card.contact().id !== tk.contactID,
  start: (body) => tk ? api("POST", "/pod/" + encodeURIComponent(tk.integration) + "/verifications", Object.assign({}, body, { scope: tk.scope }))
    : api("POST", "/verifications", body),
  push: (body) => tk ? api("POST", "/pod/" + encodeURIComponent(tk.integration) + "/pushes", { method: body.method, scope: tk.scope, contact_id: body.contact_id, note: body.note, purpose: body.purpose })
    : api("POST", "/pushes", body),
  prompt: (body) => api("POST", "/prompts", body),
});
let searchTimer = null, searchSeq = 0;

async function loadClients() {
  try {
    const j = await api("GET", "/clients");
    for (const c of j.clients) $("client").append(el("option", c.name, { value: c.id }));
  } catch (e) { $("contacts-msg").textContent = e.message; }
}

async function loadContacts() {
  const seq = ++searchSeq;
  const q = new URLSearchParams({ q: $("search").value.trim(), client: $("client").value });
  try {
    const j = await api("GET", "/contacts?" + q);
    if (seq !== searchSeq) return; // a newer search is on its way
    const ul = $("contacts"); ul.replaceChildren();
    for (const c of j.contacts) {
      const name = (c.first_name + " " + c.last_name).trim();
      const open = () => { if (!tk) showRecentTickets(c.id); openContact(c.id, true); };
      const b = el("button", name, { type: "button", class: "link", "aria-describedby": "cmeta-" + c.id });
      b.addEventListener("click", open);
      const li = el("li", undefined, { class: "crow" }); li.append(b);
      li.append(el("span", shieldWord(c.shield), { class: "cshield " + (c.shield ? c.shield.state : "grey") }));
      if (c.sms_opt_in && c.sms_opt_in.state !== "none") {
        li.append(el("span", c.sms_opt_in.state === "opted_in" ? "✓ SMS" : "SMS STOP", { class: "coptin " + c.sms_opt_in.state,
          title: c.sms_opt_in.state === "opted_in" ? "Opted in to texts" : "Opted out of texts (STOP)" }));
      }
      li.append(el("span", contactMeta(c), { class: "cmeta muted", id: "cmeta-" + c.id }));
      ul.append(li);
    }
    const typed = $("search").value.trim();
    $("contacts-msg").textContent = j.contacts.length ? "" : typed
      ? "No contact matches “" + typed + "”. Search by name, email, phone or company" + ($("client").value ? ", or choose All clients." : ".")
      : "No contacts yet: they appear here when a PSA integration mirrors them, or an admin adds them.";
  } catch (e) { $("contacts-msg").textContent = e.message; }
}

// loadLatest fills the card's half while no contact is chosen: the tenant's
// latest verifications, whoever the caller (GET /verifications/recent) —
// those still waiting for the caller first, then the ones verified or
// failed lately, each with its ticket and its note's state; a name opens
// the caller's card.
async function loadLatest() {
  let list;
  try { list = (await api("GET", "/verifications/recent")).verifications; }
  catch (e) { $("recent-outcomes-msg").textContent = e.message; return; }
  const open = (v) => v.status === "pending" || v.status === "sent";
  const fill = (ul, vs) => {
    ul.replaceChildren();
    for (const v of vs) {
      const b = el("button", v.contact_name || "(no name)", { type: "button", class: "link" });
      b.addEventListener("click", () => { if (!tk) showRecentTickets(v.contact_id); openContact(v.contact_id, true); });
      const li = el("li", undefined, { class: "h-" + v.status }); li.append(b, " — " + CSVerify.historyText(v));
      if (v.ticket_note) li.append(" ", CSVerify.noteNode(v.ticket_note));
      ul.append(li);
    }
    ul.parentElement.hidden = !vs.length;
  };
  fill($("recent-waiting-list"), list.filter(open));
  fill($("recent-outcomes-list"), list.filter((v) => !open(v)));
  $("recent-outcomes-msg").textContent = list.length ? "" : "No verifications in the last 7 days.";
}

// shieldWord is a contact's shield state in the list.
function shieldWord(s) {
  if (!s) return "Not verified";
  return s.state === "green" ? "Verified" : s.state === "red" ? "Failed" : "Not verified";
}

// contactMeta is a list row's second line: company, default phone and
// email (masked, as the API gives them).
function contactMeta(c) {
  const def = (kind) => (c.destinations.find((d) => d.kind === kind && d.default) || c.destinations.find((d) => d.kind === kind) || {}).masked;
  return [c.company, def("phone"), def("email")].filter(Boolean).join(" · ") || "No phone or email on record";
}

// openContact shows a contact's card; chosen (a click or Enter in the list)
// moves the keyboard on to the ways to verify.
async function openContact(id, chosen, known) {
  try {
    await card.open(id, known);
    $("welcome").hidden = true;
    // On a narrow screen the card is below the list: bring it into view,
    // or choosing a contact seems to do nothing. The focus goes to the
    // contact's name there, in view with the shield; the first way to
    // verify is a screen further down, and a focus out of sight is lost
    // (Tab goes on to the ways to verify). Wider, it goes straight to them.
    const narrow = window.matchMedia("(max-width: 700px)").matches;
    if (chosen) { if (narrow) $("contact-name").focus({ preventScroll: true }); else card.focusMethods(); }
    if (narrow) $("card").scrollIntoView({ block: "start" });
    history.replaceState(null, "", "/app?contact=" + encodeURIComponent(id));
  } catch (e) { $("contacts-msg").textContent = e.message; }
}

// The ticket box: shown when an integration can look tickets up.
async function loadTicketSources() {
  try {
    const j = await api("GET", "/tickets/sources");
    if (!j.sources.length) return;
    for (const src of j.sources) $("tk-source").append(el("option", src.name, { value: src.id }));
    $("tk-form").hidden = false;
  } catch (e) { $("tk-msg").textContent = e.message; }
}

async function openTicket(ev) {
  if (ev) ev.preventDefault();
  $("tk-msg").textContent = "";
  const number = $("tk-number").value.trim();
  if (!number) { $("tk-msg").textContent = "Type the ticket number."; $("tk-number").focus(); return; }
  try {
    const q = new URLSearchParams({ integration: $("tk-source").value, number });
    const j = await api("GET", "/tickets/lookup?" + q);
    tk = { integration: $("tk-source").value, scope: j.scope, contactID: j.contact ? j.contact.id : "", number: j.ticket.number };
    $("tk-title").textContent = "Ticket " + j.ticket.number + (j.ticket.summary ? " — " + j.ticket.summary : "");
    $("tk-notice").textContent = j.notice || "The result is written to this ticket as a note.";
    const sel = $("tk-contact"); sel.replaceChildren();
    if (j.contact) sel.append(el("option", (j.contact.first_name + " " + j.contact.last_name).trim() + " (the ticket's contact)", { value: j.contact.id }));
    const others = j.alternates.filter((a) => !j.contact || a.id !== j.contact.id).sort((a, b) => a.name.localeCompare(b.name));
    for (const a of others) sel.append(el("option", a.name, { value: a.id }));
    $("tk-link-p").hidden = !j.ticket.url;
    if (j.ticket.url) $("tk-link").href = j.ticket.url;
    $("tk-current").hidden = false;
    $("recent").hidden = true;
    $("ticket").disabled = true;
    if (j.contact) await openContact(j.contact.id, true, j.contact);
  } catch (e) { $("tk-msg").textContent = e.message; $("tk-number").focus(); }
}

// showRecentTickets lists the open tickets of a contact chosen from the
// list, where its PSA can tell: one click opens one as if its number had
// been typed.
async function showRecentTickets(id) {
  const box = $("recent"), ul = $("recent-list");
  box.hidden = true; ul.replaceChildren();
  if ($("tk-form").hidden) return; // no PSA can look tickets up
  try {
    const j = await api("GET", "/tickets/for-contact?contact=" + encodeURIComponent(id));
    for (const t of j.tickets) {
      const b = el("button", t.number + (t.summary ? " — " + t.summary : "") + (t.status ? " (" + t.status + ")" : ""),
        { type: "button", class: "link", "aria-label": "Open ticket " + t.number + " in " + t.integration_name });
      b.addEventListener("click", () => { $("tk-source").value = t.integration; $("tk-number").value = t.number; openTicket(); });
      const li = el("li"); li.append(b);
      if (t.url) li.append(" ", el("a", "in " + t.integration_name, { href: t.url, target: "_blank", rel: "noopener noreferrer" }));
      ul.append(li);
    }
    box.hidden = !j.tickets.length;
  } catch (e) { $("contacts-msg").textContent = e.message; }
}

function closeTicket() {
  tk = null;
  $("tk-current").hidden = true;
  $("ticket").disabled = false;
  $("tk-number").value = "";
  $("tk-number").focus();
}

$("tk-form").addEventListener("submit", openTicket);
$("tk-clear").addEventListener("click", closeTicket);
$("tk-contact").addEventListener("change", () => openContact($("tk-contact").value, true));
loadTicketSources();

$("search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadContacts, 150); });
$("client").addEventListener("change", loadContacts);
const logout = $("logout");
if (logout) logout.addEventListener("click", async () => { await api("POST", "/logout"); location.href = "/"; });
loadClients();
loadContacts();
const initial = new URLSearchParams(location.search).get("contact");
if (initial) openContact(initial); else loadLatest();
// Back on the page with no contact chosen: the latest may have moved on.
document.addEventListener("visibilitychange", () => { if (!document.hidden && !$("welcome").hidden) loadLatest(); });
