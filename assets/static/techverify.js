"use strict";
// The tech-verify inbox: #verify requests, refreshed every two seconds.
// A claimed request's code is kept only in this page's memory.
const tvCodes = new Map();
let tvLast = "";
const tvLabels = { open: "Waiting for the caller's #confirm", confirmed: "Confirmed by the caller", expired: "Expired",
                   failed: "Closed: too many wrong codes", replaced: "Replaced by a newer #verify", unknown: "Unknown caller" };

function tvWhen(iso) { return CSTime.format(iso); }

async function tvClaim(id, out, btn) {
  btn.disabled = true;
  try {
    const j = await api("POST", "/techverify/" + encodeURIComponent(id) + "/claim");
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

async function tvLoad() {
  let j;
  try { j = await api("GET", "/techverify"); } catch (e) { document.getElementById("tv-status").textContent = e.message; return; }
  document.getElementById("tv-status").textContent = j.items.length ? "" : "No requests in the last day.";
  // Re-render only on a change, so typing in a ticket field keeps focus.
  const sig = JSON.stringify(j.items) + "|" + [...tvCodes.keys()].join(",");
  if (sig === tvLast) return;
  tvLast = sig;
  const ul = document.getElementById("tv-items"); ul.replaceChildren();
  for (const it of j.items) {
    const status = it.status === "open" && it.expired ? "expired" : it.status;
    const li = el("li", undefined, { "data-id": it.id, "data-status": status });
    const who = it.contact_name ? it.contact_name + (it.client_name ? " (" + it.client_name + ")" : "") : "Unknown caller";
    li.append(el("strong", who + " — " + it.phone));
    li.append(el("div", tvLabels[status] || status, { class: "tv-state" }));
    const facts = ["Texted at " + tvWhen(it.created_at)];
    if (it.provenance) facts.push("number on file from " + it.provenance);
    if (it.matches > 1) facts.push("on file for " + it.matches + " contacts");
    if (it.claimed_by) facts.push("claimed by " + it.claimed_by);
    if (it.ticket_ref) facts.push("ticket " + it.ticket_ref);
    if (it.attempts) facts.push(it.attempts + " wrong code" + (it.attempts > 1 ? "s" : "") + " texted back");
    li.append(el("div", facts.join(" · "), { class: "muted" }));
    const out = el("div", undefined, { class: "tv-code", role: "status" });
    if (status === "open") {
      if (tvCodes.has(it.id)) {
        out.append("Read this code to the caller: ", el("strong", tvCodes.get(it.id), { class: "code" }),
                   " (until " + tvWhen(it.expires_at) + ")");
      } else {
        const b = el("button", it.claimed_by && !it.claimed_mine ? "Take over and show code" : "Claim and show code", { type: "button", class: "tv-claim" });
        b.addEventListener("click", () => tvClaim(it.id, out, b));
        li.append(b);
      }
    } else {
      tvCodes.delete(it.id);
    }
    li.append(out);
    if (it.claimed_mine && !it.ticket_ref && status !== "unknown" && status !== "replaced") li.append(tvTicketForm(it.id));
    ul.append(li);
  }
}
tvLoad(); setInterval(tvLoad, 2000);
