"use strict";
// The technicians page: list, add, change role, reset password or
// authenticator, disable and re-enable, sign out everywhere.
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

// actionButton is one small button of a technician's row that calls the
// API and reloads the list.
function actionButton(t, label, id, aria, call, done, cls) {
  const btn = el("button", label, { type: "button", id: id + "-" + t.id, class: "small " + (cls || "secondary"), "aria-label": aria });
  btn.addEventListener("click", () => adm.run(btn, "tech-list-msg", async () => {
    const j = await call();
    await load();
    return j;
  }, done));
  return btn;
}

function actionsCell(t) {
  const td = el("td", undefined, { class: "actions-cell" });
  if (myRole !== "owner" && t.role === "owner") return td;
  const path = "/admin/technicians/" + encodeURIComponent(t.id);
  const reset = el("button", "Reset password", { type: "button", id: "reset-" + t.id, class: "small secondary",
                                                 "aria-label": "Reset the password of " + t.name });
  reset.addEventListener("click", () => adm.run(reset, "tech-list-msg", async () => {
    const j = await api("POST", path + "/password", {});
    await load();
    showOnce(t.name, j.password);
  }, "New temporary password for " + t.name + " below. Their sessions have ended."));
  td.append(reset);
  if (t.totp) {
    td.append(actionButton(t, "Reset authenticator", "totp", "Reset the authenticator of " + t.name,
      () => api("DELETE", path + "/totp"), t.name + " enrols a new authenticator at the next sign-in."));
  }
  if (t.self) return td;
  if (t.disabled) {
    td.append(actionButton(t, "Enable", "enable", "Enable " + t.name,
      () => api("POST", path + "/enable"), t.name + " can sign in again.", "secondary"));
  } else {
    td.append(actionButton(t, "Sign out everywhere", "signout", "Sign " + t.name + " out everywhere",
      () => api("POST", path + "/signout"), t.name + " is signed out of every console and pod."));
    td.append(actionButton(t, "Disable", "disable", "Disable " + t.name,
      () => api("POST", path + "/disable"), t.name + " is disabled and signed out everywhere.", "danger"));
  }
  return td;
}

// signinText says how a technician signs in and when they last did.
function signinText(t) {
  const parts = [t.disabled ? "Disabled" : (t.totp ? "Authenticator enrolled" : "Password only")];
  if (t.locked) parts.push("locked");
  parts.push(t.last_login_at ? "last sign-in " + CSTime.format(t.last_login_at) : "never signed in");
  return parts.join(" — ");
}

async function load() {
  const j = await api("GET", "/admin/technicians");
  const tb = adm.byId("tech-table").querySelector("tbody");
  tb.replaceChildren();
  for (const t of j.technicians) {
    const tr = el("tr", undefined, { id: "tech-" + t.id, class: t.disabled ? "disabled" : "" });
    tr.append(el("td", t.name), el("td", t.email), roleCell(t, j.roles), el("td", signinText(t), { id: "signin-" + t.id }), actionsCell(t));
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
