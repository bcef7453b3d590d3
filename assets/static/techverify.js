"use strict";
// The tech-verify inbox: #verify requests, refreshed every two seconds.
// A claimed request's code is kept only in this page's memory.
const tvCodes = new Map();
const tvLabels = { open: "Waiting for the caller's #confirm", confirmed: "Confirmed by the caller", expired: "Expired",
                   failed: "Closed: too many wrong codes", replaced: "Replaced by a newer #verify", unknown: "Unknown caller" };

function tvWhen(iso) { return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); }

async function tvClaim(id, out, btn) {
  btn.disabled = true;
  try {
    const j = await api("POST", "/techverify/" + encodeURIComponent(id) + "/claim");
    tvCodes.set(id, j.code);
    await tvLoad();
  } catch (e) { out.textContent = e.message; btn.disabled = false; }
}

async function tvLoad() {
  let j;
  try { j = await api("GET", "/techverify"); } catch (e) { document.getElementById("tv-status").textContent = e.message; return; }
  document.getElementById("tv-status").textContent = j.items.length ? "" : "No requests in the last day.";
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
    ul.append(li);
  }
}
tvLoad(); setInterval(tvLoad, 2000);
