"use strict";
// The dev outbox: what would have been sent, newest first, fetched when the
// server says a message was kept (outbox.changed on the live socket,
// live.js) and after a reconnect, never on a timer. It fills the dev outbox
// page (#items: every kind) and the
// panel beside the console in dev delivery mode (#devpanel-items: what a
// caller would receive, SMS, e-mail and voice). Each message says when it
// was queued and whom it was for. Messages already shown are kept, so that
// the panel's live region speaks only of new ones and a link being read
// does not move.
(() => {
  const page = document.getElementById("items");
  const panel = document.getElementById("devpanel-items");
  const ul = panel || page;
  if (!ul) return;
  const callerKinds = new Set(["sms", "email", "voice"]);
  const kindNames = { sms: "SMS", email: "E-mail", voice: "Voice call", ticket_note: "Ticket note", psa_ticket: "PSA ticket", psa_contact: "PSA contact" };
  const shown = new Map(); // id → { li, status }

  function item(it) {
    const li = el("li", undefined, { class: "outbox-item", "data-id": it.id, "data-kind": it.kind });
    const to = it.message ? it.message.to : "";
    const head = el("div", undefined, { class: "outbox-head" });
    head.append(el("strong", (kindNames[it.kind] || it.kind) + (it.contact_name ? " for " + it.contact_name : "")),
                " ", el("time", CSTime.format(it.created_at), { datetime: it.created_at, class: "muted" }));
    li.append(head);
    const status = it.dev ? "kept, not sent" : it.status;
    li.append(el("div", (to ? "To " + to + " · " : "") + status, { class: "outbox-to muted" }));
    if (it.message) {
      if (it.message.subject) li.append(el("div", "Subject: " + it.message.subject));
      li.append(el("pre", it.message.text || (it.message.say || []).join(" … ")));
      const m = (it.message.text || "").match(/https?:\/\/\S+/);
      if (m) li.append(el("a", "Open link", { href: m[0], target: "_blank", rel: "noreferrer" }));
    }
    return li;
  }

  async function load() {
    let j;
    try { j = await api("GET", "/outbox"); } catch (e) { return; }
    const items = panel ? j.items.filter((it) => callerKinds.has(it.kind)) : j.items;
    // Newest first: what was not shown yet is newer than all that was, and
    // goes on top, in order.
    const fresh = [];
    for (const it of items) {
      const had = shown.get(it.id);
      if (!had) { fresh.push(it); continue; }
      if (had.status !== it.status) { const li = item(it); had.li.replaceWith(li); had.li = li; had.status = it.status; }
    }
    for (const it of fresh.reverse()) {
      const li = item(it);
      shown.set(it.id, { li, status: it.status });
      ul.prepend(li);
    }
    const empty = document.getElementById("devpanel-empty");
    if (empty) empty.hidden = shown.size > 0;
  }
  // refresh runs load at most once at a time: events arriving during a
  // fetch cost one more fetch, not one each.
  let busy = false, again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try { do { again = false; await load(); } while (again); } finally { busy = false; }
  }
  // One fetch shows what is there; then the socket says when to look again
  // (live.js turns a reconnect into a resync: anything may have been kept
  // meanwhile).
  refresh();
  CSLive.watch({ outbox: true }, (ev) => {
    if (ev.type === "outbox.changed" || ev.type === "resync") refresh();
  });
})();
