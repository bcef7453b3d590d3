"use strict";
// The Duo setup page: accounts (the tenant's and clients' own), each saved
// only after Duo's live check, and the contact → Duo username mapping.
(() => {
  const $ = adm.byId;
  let clients = [], usersOf = null;
  const clientName = (id) => id ? ((clients.find((c) => c.id === id) || {}).name || id) : "All clients";

  async function load() {
    try {
      clients = (await api("GET", "/clients")).clients || [];
      const sel = $("duo-client");
      for (const c of clients) if (!sel.querySelector('option[value="' + CSS.escape(c.id) + '"]')) sel.append(el("option", c.name, { value: c.id }));
      const j = await api("GET", "/admin/duo");
      const tb = $("duo-table").querySelector("tbody"); tb.replaceChildren();
      for (const a of j.accounts) {
        const tr = el("tr");
        tr.append(el("td", a.name), el("td", clientName(a.client_id)), el("td", a.api_host), el("td", a.integration_key),
          el("td", (a.check_result === "ok" ? "OK" : a.check_result) + " · " + CSTime.format(a.checked_at)));
        const act = el("td");
        const check = el("button", "Check now", { type: "button", class: "secondary", "aria-label": "Check " + a.name + " now" });
        check.addEventListener("click", () => adm.run(check, "duo-list-msg", async () => {
          const r = await api("POST", "/admin/duo/" + a.id + "/check");
          await load(); // the row shows the new result, a failure too
          if (!r.ok) throw new Error(a.name + ": " + r.check_result);
        }, a.name + ": Duo accepted the keys, the signature and this server's clock."));
        const edit = el("button", "Edit", { type: "button", class: "secondary", "aria-label": "Edit " + a.name });
        edit.addEventListener("click", () => fill(a));
        const users = el("button", "Users", { type: "button", class: "secondary", "aria-label": "Users of " + a.name });
        users.addEventListener("click", () => showUsers(a));
        const del = el("button", "Remove", { type: "button", class: "danger", "aria-label": "Remove " + a.name });
        del.addEventListener("click", () => { if (confirm("Remove " + a.name + "? Pushes through it stop at once.")) adm.run(del, "duo-list-msg", async () => { await api("DELETE", "/admin/duo/" + a.id); await load(); }, "Removed."); });
        act.append(check, edit, users, del); tr.append(act); tb.append(tr);
      }
      $("duo-empty").hidden = j.accounts.length > 0;
    } catch (e) { adm.say("duo-list-msg", e.message, false); }
  }

  function fill(a) {
    $("duo-id").value = a ? a.id : ""; $("duo-client").value = a ? a.client_id : ""; $("duo-name").value = a ? a.name : "";
    $("duo-host").value = a ? a.api_host : ""; $("duo-ikey").value = a ? a.integration_key : ""; $("duo-skey").value = "";
    $("duo-vp").checked = !!(a && a.verified_push);
    $("duo-form-h").textContent = a ? "Edit " + a.name : "Add a Duo account";
    $("duo-client").disabled = !!a;
    if (a) $("duo-name").focus();
  }

  $("duo-reset").addEventListener("click", () => fill(null));
  $("duo-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = $("duo-id").value;
    adm.run($("duo-save"), "duo-form-msg", async () => {
      await api(id ? "PUT" : "POST", "/admin/duo" + (id ? "/" + id : ""), { client_id: $("duo-client").value, name: $("duo-name").value,
        api_host: $("duo-host").value, integration_key: $("duo-ikey").value, secret_key: $("duo-skey").value, verified_push: $("duo-vp").checked });
      fill(null); await load();
    }, "Duo accepted the keys; saved.");
  });

  async function showUsers(a) {
    usersOf = a;
    $("duo-users-box").hidden = false; $("duo-users-acct").textContent = a.name;
    try {
      const j = await api("GET", "/admin/duo/" + a.id + "/users");
      const tb = $("duo-users-table").querySelector("tbody"); tb.replaceChildren();
      for (const u of j.users) {
        const tr = el("tr"), inp = el("input", undefined, { value: u.username, maxlength: "100", "aria-label": "Duo username of " + u.contact_name });
        const save = el("button", "Save", { type: "button", class: "secondary", "aria-label": "Save Duo username of " + u.contact_name });
        save.addEventListener("click", () => adm.run(save, "duo-users-msg", async () => { await api("PUT", "/admin/duo/" + a.id + "/users/" + u.contact_id, { username: inp.value }); await showUsers(a); }, "Saved."));
        const td = el("td"); td.append(inp);
        const act = el("td"); act.append(save);
        tr.append(el("td", u.contact_name || u.contact_id), td, el("td", u.matched_by), act); tb.append(tr);
      }
      $("duo-users-empty").hidden = j.users.length > 0;
    } catch (e) { adm.say("duo-users-msg", e.message, false); }
  }

  let searchTimer = null;
  $("duo-map-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(async () => {
      const q = $("duo-map-search").value.trim();
      const sel = $("duo-map-contact"); sel.replaceChildren();
      if (!q) return;
      try {
        const j = await api("GET", "/contacts?" + new URLSearchParams({ q, limit: "20" }));
        for (const c of j.contacts) sel.append(el("option", (c.first_name + " " + c.last_name).trim() + " — " + clientName(c.client_id), { value: c.id }));
      } catch (e) { adm.say("duo-users-msg", e.message, false); }
    }, 250);
  });
  $("duo-map-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!usersOf) return;
    adm.run($("duo-map-save"), "duo-users-msg", async () => {
      if (!$("duo-map-contact").value) throw new Error("Search for the contact first.");
      await api("PUT", "/admin/duo/" + usersOf.id + "/users/" + $("duo-map-contact").value, { username: $("duo-map-user").value });
      $("duo-map-user").value = ""; await showUsers(usersOf);
    }, "Saved.");
  });

  load();
})();
