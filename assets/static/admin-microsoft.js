"use strict";
// Settings → Microsoft 365: a client's tenant connected by admin consent
// (a pop-out) and saved only after Microsoft's live check, secrets
// write-only, the connector certificate, the user import with each user's
// Microsoft Authenticator status, and the admin's user → contact match.
(() => {
  const $ = adm.byId;
  let clients = [], usersOf = null, matching = null;
  const clientName = (id) => (clients.find((c) => c.id === id) || {}).name || id;
  const when = (s) => s ? CSTime.format(s) : ""; // the tenant's zone (api.js)

  async function load() {
    try {
      clients = (await api("GET", "/clients")).clients || [];
      const sel = $("ms-client");
      for (const c of clients) if (!sel.querySelector('option[value="' + CSS.escape(c.id) + '"]')) sel.append(el("option", c.name, { value: c.id }));
      const j = await api("GET", "/admin/microsoft");
      $("ms-redirect").textContent = j.redirect_uri;
      $("ms-mfa-app").textContent = j.connector_app_id;
      const tb = $("ms-table").querySelector("tbody"); tb.replaceChildren();
      for (const c of j.connections) {
        const tr = el("tr", undefined, { id: "ms-conn-" + c.id });
        const cred = c.connector_cert ? "certificate" : c.has_connector_secret ? "secret" : "no connector credential";
        tr.append(el("td", c.name), el("td", clientName(c.client_id)), el("td", c.entra_tenant),
          el("td", (c.push_enabled ? "On" : "Off") + " (" + cred + ")"),
          el("td", (c.check_result === "ok" ? "OK" : c.check_result) + " · " + when(c.checked_at)),
          el("td", c.imported_at ? when(c.imported_at) : "Not yet"));
        const act = el("td");
        const check = el("button", "Check now", { type: "button", class: "secondary", "aria-label": "Check " + c.name + " now" });
        check.addEventListener("click", () => adm.run(check, "ms-list-msg", async () => {
          const r = await api("POST", "/admin/microsoft/" + c.id + "/check");
          await load();
          if (!r.ok) throw new Error(c.name + ": " + r.check_result);
        }, c.name + ": Microsoft accepted the credentials."));
        const edit = el("button", "Edit", { type: "button", class: "secondary", "aria-label": "Edit " + c.name });
        edit.addEventListener("click", () => fill(c));
        const users = el("button", "Users", { type: "button", class: "secondary", "aria-label": "Users of " + c.name });
        users.addEventListener("click", () => showUsers(c));
        const cert = el("button", "Certificate", { type: "button", class: "secondary", "aria-label": "Connector certificate of " + c.name });
        cert.addEventListener("click", () => showCert(c, cert));
        const del = el("button", "Remove", { type: "button", class: "danger", "aria-label": "Remove " + c.name });
        del.addEventListener("click", () => {
          if (confirm("Remove " + c.name + "? Its imported users are removed and pushes through it stop at once.")) {
            adm.run(del, "ms-list-msg", async () => {
              await api("DELETE", "/admin/microsoft/" + c.id);
              if (usersOf && usersOf.id === c.id) { $("ms-users-box").hidden = true; usersOf = null; }
              await load();
            }, "Removed.");
          }
        });
        act.append(check, edit, users, cert, del); tr.append(act); tb.append(tr);
      }
      $("ms-empty").hidden = j.connections.length > 0;
    } catch (e) { adm.say("ms-list-msg", e.message, false); }
  }

  function fill(c) {
    $("ms-id").value = c ? c.id : ""; $("ms-client").value = c ? c.client_id : ""; $("ms-name").value = c ? c.name : "";
    $("ms-tenant").value = c ? c.entra_tenant : ""; $("ms-app").value = c ? c.app_client_id : "";
    $("ms-secret").value = ""; $("ms-connector").value = ""; $("ms-push").checked = !!(c && c.push_enabled);
    $("ms-form-h").textContent = c ? "Edit " + c.name : "Connect a tenant";
    $("ms-client").disabled = !!c;
    adm.say("ms-consent-msg", "", true);
    if (c) $("ms-name").focus();
  }

  $("ms-reset").addEventListener("click", () => fill(null));
  $("ms-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = $("ms-id").value;
    adm.run($("ms-save"), "ms-form-msg", async () => {
      await api(id ? "PUT" : "POST", "/admin/microsoft" + (id ? "/" + id : ""), { client_id: id ? "" : $("ms-client").value,
        name: $("ms-name").value, entra_tenant: $("ms-tenant").value, app_client_id: $("ms-app").value,
        client_secret: $("ms-secret").value, connector_secret: $("ms-connector").value, push_enabled: $("ms-push").checked });
      fill(null); await load();
    }, "Microsoft accepted the credentials; saved.");
  });

  // Admin consent: the pop-out is opened at the click (so it is not
  // blocked), then sent to Microsoft; its return page posts the answer.
  $("ms-consent").addEventListener("click", () => {
    const win = window.open("", "ms-consent", "popup,width=520,height=680");
    adm.run($("ms-consent"), "ms-consent-msg", async () => {
      try {
        const r = await api("POST", "/admin/microsoft/consent", { client_id: $("ms-client").value, app_client_id: $("ms-app").value,
          entra_tenant: $("ms-tenant").value });
        if (!win) throw new Error("The browser blocked the pop-out; allow pop-outs for this site, or open this link: " + r.url);
        win.location.href = r.url;
      } catch (e) { if (win) win.close(); throw e; }
    }, "Waiting for the customer's administrator to consent in the pop-out…");
  });
  window.addEventListener("message", (ev) => {
    if (ev.origin !== location.origin || !ev.data || ev.data.kind !== "countersign-microsoft-consent") return;
    if (ev.data.granted) {
      if (!$("ms-id").value && ev.data.client_id) $("ms-client").value = ev.data.client_id;
      $("ms-tenant").value = ev.data.entra_tenant;
      if (ev.data.app_client_id) $("ms-app").value = ev.data.app_client_id;
      adm.say("ms-consent-msg", "Consent granted for tenant " + ev.data.entra_tenant + ". Enter the client secret and press Check and save.", true);
      $("ms-secret").focus();
    } else adm.say("ms-consent-msg", ev.data.message, false);
  });
  // A consent given earlier prefills the tenant when the client is chosen.
  $("ms-client").addEventListener("change", async () => {
    const id = $("ms-client").value;
    if (!id || $("ms-tenant").value) return;
    try {
      const j = await api("GET", "/admin/microsoft/consented?" + new URLSearchParams({ client_id: id }));
      if (!$("ms-tenant").value) $("ms-tenant").value = j.entra_tenant;
      if (!$("ms-app").value) $("ms-app").value = j.app_client_id;
    } catch (_) { /* none yet */ }
  });

  // showCert shows the connection's connector certificate, making the
  // first one when there is none.
  let certOf = null;
  async function showCert(c, button) {
    certOf = c;
    await adm.run(button, "ms-list-msg", async () => {
      let pem = c.connector_cert;
      if (!pem) { pem = (await api("POST", "/admin/microsoft/" + c.id + "/certificate")).connector_cert; await load(); }
      $("ms-cert-box").hidden = false; $("ms-cert-conn").textContent = c.name; $("ms-cert").value = pem;
    });
  }
  $("ms-cert-new").addEventListener("click", () => {
    if (!certOf || !confirm("Make a new certificate for " + certOf.name + "? Push stops until the new one is added in Microsoft.")) return;
    adm.run($("ms-cert-new"), "ms-cert-msg", async () => {
      $("ms-cert").value = (await api("POST", "/admin/microsoft/" + certOf.id + "/certificate")).connector_cert;
      await load();
    }, "A new certificate: add it to the service principal, then press Check now.");
  });

  // showUsers lists a connection's users a page at a time (the server's
  // default page); more appends the next page after the cursor.
  let usersNext = "";
  async function showUsers(c, more) {
    usersOf = c;
    $("ms-users-box").hidden = false; $("ms-users-conn").textContent = c.name;
    try {
      const q = more && usersNext ? "?" + new URLSearchParams({ after: usersNext }) : "";
      const j = await api("GET", "/admin/microsoft/" + c.id + "/users" + q);
      const tb = $("ms-users-table").querySelector("tbody");
      if (!more) tb.replaceChildren();
      usersNext = j.next || "";
      $("ms-users-more").hidden = !usersNext;
      for (const u of j.users) {
        const tr = el("tr", undefined, { "data-upn": u.upn });
        const who = el("td", (u.display_name ? u.display_name + " · " : "") + u.upn + (u.enabled ? "" : " (account disabled)"));
        const app = u.authenticator ? "Registered" : "Not registered" + (u.methods ? " (has " + u.methods + ")" : "");
        const contact = u.contact_id ? (u.contact_name || u.contact_id) + " (by " + u.matched_by + ")" : u.matched_by ? "None (" + u.matched_by + ")" : "None";
        const act = el("td");
        const match = el("button", "Match…", { type: "button", class: "secondary", "aria-label": "Match " + u.upn + " to a contact" });
        match.addEventListener("click", () => startMatch(u));
        act.append(match);
        tr.append(who, el("td", u.source), el("td", app), el("td", contact), act); tb.append(tr);
      }
      $("ms-users-empty").hidden = tb.children.length > 0;
    } catch (e) { adm.say("ms-users-msg", e.message, false); }
  }
  $("ms-users-more").addEventListener("click", () => { if (usersOf) showUsers(usersOf, true); });

  $("ms-import").addEventListener("click", () => {
    if (!usersOf) return;
    adm.run($("ms-import"), "ms-import-msg", async () => {
      const n = await api("POST", "/admin/microsoft/" + usersOf.id + "/import");
      adm.say("ms-import-msg", "Imported " + n.users + " users: " + n.authenticator + " with Microsoft Authenticator, " + n.synced +
        " synced from Active Directory, " + n.matched + " matched to contacts" + (n.conflicts ? ", " + n.conflicts + " matching several contacts" : "") +
        (n.disabled ? ", " + n.disabled + " disabled" : "") + ".", true);
      await showUsers(usersOf); await load();
    });
  });

  function startMatch(u) {
    matching = u;
    $("ms-match-form").hidden = false; $("ms-match-user").textContent = u.upn;
    $("ms-match-search").value = ""; $("ms-match-contact").replaceChildren();
    $("ms-match-search").focus();
  }
  let searchTimer = null;
  $("ms-match-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(async () => {
      const q = $("ms-match-search").value.trim();
      const sel = $("ms-match-contact"); sel.replaceChildren();
      if (!q || !usersOf) return;
      try {
        const j = await api("GET", "/contacts?" + new URLSearchParams({ q, client: usersOf.client_id, limit: "20" }));
        for (const c of j.contacts) sel.append(el("option", (c.first_name + " " + c.last_name).trim(), { value: c.id }));
      } catch (e) { adm.say("ms-users-msg", e.message, false); }
    }, 250);
  });
  async function saveMatch(button, contactID) {
    if (!usersOf || !matching) return;
    await adm.run(button, "ms-users-msg", async () => {
      await api("PUT", "/admin/microsoft/" + usersOf.id + "/users/" + encodeURIComponent(matching.object_id), { contact_id: contactID });
      $("ms-match-form").hidden = true; matching = null; await showUsers(usersOf);
    }, "Saved.");
  }
  $("ms-match-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!$("ms-match-contact").value) { adm.say("ms-users-msg", "Search for the contact first.", false); return; }
    saveMatch($("ms-match-save"), $("ms-match-contact").value);
  });
  $("ms-match-none").addEventListener("click", () => saveMatch($("ms-match-none"), ""));

  load();
})();
