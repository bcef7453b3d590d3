"use strict";
// The audit log: filters, newest first, "load older" paging and CSV export.
let auditNext = 0, auditQuery = "";


function queryString() {
  const q = new URLSearchParams();
  for (const [k, id] of [["action", "audit-action"], ["actor", "audit-actor"], ["subject", "audit-subject"]]) {
    const v = adm.byId(id).value.trim();
    if (v) q.set(k, v);
  }
  // The range goes as typed (2026-11-02T09:00): the server reads it in the
  // tenant's time zone, the one the log's times are written in, not the
  // browser's.
  for (const [k, id] of [["from", "audit-from"], ["to", "audit-to"]]) {
    const v = adm.byId(id).value;
    if (v) q.set(k, v);
  }
  return q.toString();
}

function detailText(d) {
  return Object.entries(d || {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => k + "=" + v).join("; ");
}

function row(e) {
  const tr = el("tr");
  const actor = e.actor_name ? e.actor_name + " (" + e.actor + ")" : e.actor;
  tr.append(el("td", String(e.seq)), el("td", CSTime.format(e.at)), el("td", actor),
            el("td", e.action), el("td", e.subject), el("td", detailText(e.detail)));
  return tr;
}

async function loadPage(append) {
  const q = new URLSearchParams(auditQuery);
  if (append && auditNext) q.set("before", String(auditNext));
  const j = await api("GET", "/admin/audit?" + q.toString());
  const tb = adm.byId("audit-table").querySelector("tbody");
  if (!append) tb.replaceChildren();
  for (const e of j.events) tb.append(row(e));
  auditNext = j.next_before;
  adm.byId("audit-more").hidden = !auditNext;
  const n = tb.children.length;
  adm.byId("audit-caption").textContent = n ? n + " event" + (n > 1 ? "s" : "") + " shown" + (auditNext ? "; older ones match too" : "") : "No events match.";
}

// apply loads the first page for the filters; the export link follows only
// filters the server accepted.
function apply() {
  const prev = auditQuery;
  auditQuery = queryString();
  return adm.run(adm.byId("audit-apply"), "audit-msg", async () => {
    try { await loadPage(false); } catch (e) { auditQuery = prev; throw e; }
    adm.byId("audit-export").href = "/api/v1/admin/audit.csv" + (auditQuery ? "?" + auditQuery : "");
  });
}

adm.byId("audit-filter").addEventListener("submit", (ev) => { ev.preventDefault(); apply(); });
adm.byId("audit-clear").addEventListener("click", () => { adm.byId("audit-filter").reset(); apply(); });
adm.byId("audit-more").addEventListener("click", () => adm.run(adm.byId("audit-more"), "audit-msg", () => loadPage(true)));
apply();
