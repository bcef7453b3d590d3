"use strict";
// The technicians page: list, add, change role, reset password.
const roleLabels = { owner: "Owner", admin: "Admin", technician: "Technician", "pod-only": "Pod only" };
const myRole = document.body.dataset.myRole;

function showOnce(who, password) {
  adm.byId("tech-once-who").textContent = who;
  adm.byId("tech-once-password").textContent = password;
  adm.byId("tech-once").hidden = false;
  adm.byId("tech-once-hide").focus();
}

adm.byId("tech-once-hide").addEventListener("click", () => {
  adm.byId("tech-once-password").textContent = "";
  adm.byId("tech-once").hidden = true;
});

function roleCell(t, roles) {
  const td = el("td");
  // Owners alone touch the owner role, and nobody changes their own.
  if (t.self || (myRole !== "owner" && t.role === "owner")) {
    td.append(el("span", roleLabels[t.role] + (t.self ? " (you)" : "")));
    return td;
  }
  const id = "role-" + t.id;
  const sel = el("select", undefined, { id });
  for (const r of roles) {
    if (r === "owner" && myRole !== "owner") continue;
    sel.append(el("option", roleLabels[r] || r, { value: r }));
  }
  sel.value = t.role;
  const btn = el("button", "Save role", { type: "button", id: "role-save-" + t.id, class: "small" });
  btn.addEventListener("click", () => adm.run(btn, "tech-list-msg", async () => {
    await api("PUT", "/admin/technicians/" + encodeURIComponent(t.id), { role: sel.value });
    await load();
  }, t.name + " is now " + (roleLabels[sel.value] || sel.value) + "."));
  td.append(el("label", "Role of " + t.name, { for: id, class: "vh" }), sel, btn);
  return td;
}

function resetCell(t) {
  const td = el("td");
  if (myRole !== "owner" && t.role === "owner") return td;
  const btn = el("button", "Reset password", { type: "button", id: "reset-" + t.id, class: "small secondary",
                                               "aria-label": "Reset the password of " + t.name });
  btn.addEventListener("click", () => adm.run(btn, "tech-list-msg", async () => {
    const j = await api("POST", "/admin/technicians/" + encodeURIComponent(t.id) + "/password", {});
    await load();
    showOnce(t.name, j.password);
  }, "New temporary password for " + t.name + " below."));
  td.append(btn);
  return td;
}

async function load() {
  const j = await api("GET", "/admin/technicians");
  const tb = adm.byId("tech-table").querySelector("tbody");
  tb.replaceChildren();
  for (const t of j.technicians) {
    const tr = el("tr", undefined, { id: "tech-" + t.id });
    const signin = (t.totp ? "Authenticator enrolled" : "Password only") + (t.locked ? " — locked" : "");
    tr.append(el("td", t.name), el("td", t.email), roleCell(t, j.roles), el("td", signin), resetCell(t));
    tb.append(tr);
  }
}

adm.byId("tech-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const body = { name: adm.byId("tech-name").value.trim(), email: adm.byId("tech-email").value.trim(),
                 role: adm.byId("tech-role").value, password: adm.byId("tech-password").value };
  if (!body.name || !body.email) { adm.say("tech-msg", "Name and email are required.", false); return; }
  adm.run(adm.byId("tech-create"), "tech-msg", async () => {
    const j = await api("POST", "/admin/technicians", body);
    adm.byId("tech-form").reset();
    await load();
    if (j.password) showOnce(j.technician.name, j.password);
  }, "Technician added: " + body.name + ".");
});

adm.run(null, "tech-list-msg", load);
