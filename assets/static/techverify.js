"use strict";
// techverify.js: the tech-verify inbox — #verify requests of the last day,
// live (GET /api/v1/live?techverify=1 says when to refetch). The console's
// page lists them all; the pod mounts it with opts.actionable (only what
// can be acted on now) and opts.claim (claims for the pod's ticket).
// A claimed request's code is kept only in this page's memory.
//
//   CSTechVerify.mount(statusEl, listEl, {claim, claimSuffix, actionable, onCount, onLive})
(function () {
const tvLabels = { open: "Waiting for the caller's #confirm", confirmed: "Confirmed by the caller", expired: "Expired",
                   failed: "Closed: too many wrong codes", replaced: "Replaced by a newer #verify", unknown: "Unknown caller: no code sent",
                   dismissed: "Dismissed" };

// TV_POLL_MS is how often the inbox refetches while its live socket is down.
const TV_POLL_MS = 15000;

function tvWhen(iso) { return CSTime.format(iso); }

function tvMount(status, list, opts) {
  opts = opts || {};
  const tvCodes = new Map();
  let tvLast = "";

  async function tvClaim(id, out, btn) {
    btn.disabled = true;
    try {
      const j = opts.claim ? await opts.claim(id) : await api("POST", "/techverify/" + encodeURIComponent(id) + "/claim");
      tvCodes.set(id, j.code);
      await tvLoad();
    } catch (e) { out.textContent = e.message; btn.disabled = false; }
  }

  // tvTicketForm assigns a claimed request to a PSA ticket, where its
  // outcome is noted. Typing survives the refresh: the form is kept.
  const tvForms = new Map();
  function tvTicketForm(id) {
    if (tvForms.has(id)) return tvForms.get(id);
    const f = el("form", undefined, { class: "tv-ticket" });
    const inputID = "tv-ticket-" + id;
    const input = el("input", undefined, { id: inputID, name: "ticket_ref", required: "", maxlength: "100", autocomplete: "off" });
    const msg = el("span", undefined, { role: "status" });
    f.append(el("label", "Ticket", { for: inputID }), " ", input, " ", el("button", "Assign to ticket", { type: "submit" }), " ", msg);
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await api("POST", "/techverify/" + encodeURIComponent(id) + "/ticket", { ticket_ref: input.value });
        tvForms.delete(id);
        await tvLoad();
      } catch (e) { msg.textContent = e.message; }
    });
    tvForms.set(id, f);
    return f;
  }

  // tvUnknownForm is an unknown caller's request: the technician on the
  // phone finds the contact the caller is and matches it (a code then goes
  // to the number and is shown here), or dismisses it. Kept across refreshes
  // like the ticket form.
  const tvUnknown = new Map();
  function tvUnknownForm(it) {
    if (tvUnknown.has(it.id)) return tvUnknown.get(it.id);
    const box = el("div", undefined, { class: "tv-unknown" });
    const msg = el("span", undefined, { role: "status" });
    const act = async (fn) => {
      for (const b of box.querySelectorAll("button")) b.disabled = true;
      try { await fn(); tvUnknown.delete(it.id); await tvLoad(); }
      catch (e) { msg.textContent = e.message; for (const b of box.querySelectorAll("button")) b.disabled = false; }
    };
    if (it.matchable) {
      const f = el("form", undefined, { class: "tv-match" });
      const inputID = "tv-match-" + it.id;
      const input = el("input", undefined, { id: inputID, type: "search", required: "", maxlength: "100", autocomplete: "off",
                                             placeholder: "name, e-mail, phone or company" });
      const found = el("ul", undefined, { class: "tv-found" });
      f.append(el("label", "Who is the caller?", { for: inputID }), " ", input, " ", el("button", "Find contact", { type: "submit" }), found);
      f.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        msg.textContent = "";
        try {
          const j = await api("GET", "/contacts?limit=5&q=" + encodeURIComponent(input.value));
          found.replaceChildren();
          if (!j.contacts.length) msg.textContent = "No contact matches. Check the spelling, or dismiss the request.";
          for (const c of j.contacts) {
            const name = (c.first_name + " " + c.last_name).trim() + (c.company ? " (" + c.company + ")" : "");
            const b = el("button", "Match to " + name + " and text a code", { type: "button", class: "tv-match-pick" });
            b.addEventListener("click", () => act(async () => {
              const r = await api("POST", "/techverify/" + encodeURIComponent(it.id) + "/match", { contact_id: c.id });
              tvCodes.set(it.id, r.code);
            }));
            const row = el("li");
            row.append(b);
            found.append(row);
          }
        } catch (e) { msg.textContent = e.message; }
      });
      box.append(f);
    } else {
      box.append(el("p", "Too old to match: the caller can text #verify again.", { class: "muted" }));
    }
    const dismiss = el("button", "Not a contact: dismiss", { type: "button", class: "tv-dismiss" });
    dismiss.addEventListener("click", () => act(() => api("POST", "/techverify/" + encodeURIComponent(it.id) + "/dismiss", {})));
    box.append(dismiss, " ", msg);
    tvUnknown.set(it.id, box);
    return box;
  }

  async function tvLoad() {
    let j;
    try { j = await api("GET", "/techverify"); } catch (e) { status.textContent = e.message; return; }
    const items = opts.actionable ? j.items.filter(tvActionable) : j.items;
    tvExpiryTimer(items);
    if (opts.onCount) opts.onCount(items.filter((it) => tvStatus(it) === "open" || tvStatus(it) === "unknown").length);
    status.textContent = items.length ? "" : opts.actionable ? "No caller is waiting to check a technician." : "No requests in the last day.";
    // Re-render only on a change, so typing in a ticket field keeps focus.
    const sig = JSON.stringify(items) + "|" + items.map(tvStatus).join(",") + "|" + [...tvCodes.keys()].join(",");
    if (sig === tvLast) return;
    tvLast = sig;
    list.replaceChildren();
    for (const it of items) {
      const status = tvStatus(it);
      const li = el("li", undefined, { "data-id": it.id, "data-status": status });
      const who = it.contact_name ? it.contact_name + (it.client_name ? " (" + it.client_name + ")" : "") : "Unknown caller";
      li.append(el("strong", who + " — " + it.phone));
      li.append(el("div", tvLabels[status] || status, { class: "tv-state" }));
      const facts = ["Texted at " + tvWhen(it.created_at)];
      // A matched unknown caller's number is on file for no one: its
      // provenance is the technician's word ("matched by …").
      if (it.provenance) facts.push(it.provenance.startsWith("matched by ") ? "number not on file, " + it.provenance : "number on file (" + it.provenance + ")");
      if (it.matches > 1) facts.push("on file for " + it.matches + " contacts");
      if (it.claimed_by) facts.push("claimed by " + it.claimed_by);
      if (it.ticket_ref) facts.push("ticket " + it.ticket_ref);
      if (status === "dismissed" && it.detail) facts.push(it.detail);
      if (it.attempts) facts.push(it.attempts + " wrong code" + (it.attempts > 1 ? "s" : "") + " texted back");
      li.append(el("div", facts.join(" · "), { class: "muted" }));
      const out = el("div", undefined, { class: "tv-code", role: "status" });
      if (status === "open") {
        if (tvCodes.has(it.id)) {
          out.append("Read this code to the caller: ", el("strong", tvCodes.get(it.id), { class: "code" }),
                     " (until " + tvWhen(it.expires_at) + ")");
        } else {
          const b = el("button", (it.claimed_by && !it.claimed_mine ? "Take over and show code" : "Claim and show code") + (opts.claimSuffix || ""),
                       { type: "button", class: "tv-claim" });
          b.addEventListener("click", () => tvClaim(it.id, out, b));
          li.append(b);
        }
      } else {
        tvCodes.delete(it.id);
      }
      li.append(out);
      if (status === "unknown") li.append(tvUnknownForm(it));
      if (!opts.claim && it.claimed_mine && !it.ticket_ref && status !== "unknown" && status !== "replaced" && status !== "dismissed") li.append(tvTicketForm(it.id));
      list.append(li);
    }
  }

  // tvExpiryTimer redraws the list when the next open code runs out, so
  // that it shows expired (and leaves a pod's list) on time: the server
  // closes an expired request only on the next #confirm, with no event.
  let expiry = 0;
  function tvExpiryTimer(items) {
    clearTimeout(expiry);
    const now = Date.now();
    const next = Math.min(...items.filter((it) => tvStatus(it) === "open" && it.expires_at).map((it) => new Date(it.expires_at).getTime()));
    if (isFinite(next) && next > now) expiry = setTimeout(tvLoad, Math.min(next - now + 250, 2147483647));
  }

  // Live: the server says when the tenant's requests change (and a
  // reconnect says resync). Polling is only the fallback while the socket
  // is down (connecting, offline); it stops once the socket is back, and
  // for good when the session has ended.
  let poll = 0;
  function tvLive(state, reason) {
    if (state === "online" || state === "signedout") { clearInterval(poll); poll = 0; }
    else if (!poll) poll = setInterval(tvLoad, TV_POLL_MS);
    if (opts.onLive) opts.onLive(state, reason);
  }
  tvLoad();
  CSLive.watch({ techverify: true }, (ev) => { if (ev.type === "techverify.changed" || ev.type === "resync") tvLoad(); }, tvLive);
  return { reload: tvLoad };
}

// tvStatus is the state a request shows: an open one whose code ran out is
// expired (the server closes it on the next #confirm).
function tvStatus(it) {
  return it.status === "open" && (it.expired || (it.expires_at && new Date(it.expires_at) <= new Date())) ? "expired" : it.status;
}

// tvActionable: what a technician on a ticket can act on now.
function tvActionable(it) {
  const st = tvStatus(it);
  return st === "open" || (st === "unknown" && it.matchable);
}

window.CSTechVerify = { mount: tvMount };

// The console's Tech verify page.
const page = document.getElementById("tv-items");
if (page) tvMount(document.getElementById("tv-status"), page, { onLive: CSLive.indicator(document.getElementById("tv-live")) });
})();
