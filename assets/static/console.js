"use strict";
// The console's contacts page: clients and search on the left, the
// verification card (verify.js) on the right.
const $ = (id) => document.getElementById(id);
const card = CSVerify.card({ ticket: () => $("ticket").value.trim(), ticketField: () => $("ticket") });
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
      const b = el("button", (c.first_name + " " + c.last_name).trim(), { type: "button", class: "link" });
      b.addEventListener("click", () => openContact(c.id, true));
      const li = el("li"); li.append(b); ul.append(li);
    }
    $("contacts-msg").textContent = j.contacts.length ? "" : "No contacts match.";
  } catch (e) { $("contacts-msg").textContent = e.message; }
}

// openContact shows a contact's card; chosen (a click or Enter in the list)
// moves the keyboard on to the ways to verify.
async function openContact(id, chosen) {
  try {
    await card.open(id);
    if (chosen) card.focusMethods();
    history.replaceState(null, "", "/app?contact=" + encodeURIComponent(id));
  } catch (e) { $("contacts-msg").textContent = e.message; }
}

$("search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadContacts, 150); });
$("client").addEventListener("change", loadContacts);
const logout = $("logout");
if (logout) logout.addEventListener("click", async () => { await api("POST", "/logout"); location.href = "/"; });
loadClients();
loadContacts();
const initial = new URLSearchParams(location.search).get("contact");
if (initial) openContact(initial);
