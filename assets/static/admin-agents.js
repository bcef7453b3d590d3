"use strict";
// The Agents page: a client's activation key (the silent install command,
// copy, rotate), its computers (online or not, revoke) and each computer's
// Windows users, with the contact each is bound to and "Assign" by hand.
(() => {
  const $ = adm.byId;
  const howLabels = { first_ticket: "by a first ticket", register: "by registering", manual: "by hand", harvester: "from the directory" };
  let contacts = [], shown = null;

  const clientID = () => $("ag-client").value;

  async function loadKey() {
    try {
      const k = await api("GET", "/clients/" + encodeURIComponent(clientID()) + "/activation-key");
      $("ag-install").value = k.install;
    } catch (e) { adm.say("ag-key-msg", e.message, false); }
  }

  function seen(a) {
    if (a.revoked) return "Revoked";
    if (a.online) return "Online";
    return a.last_seen_at && !a.last_seen_at.startsWith("0001") ? "Offline since " + CSTime.format(a.last_seen_at) : "Never connected";
  }

  async function loadAgents() {
    try {
      const j = await api("GET", "/agents?" + new URLSearchParams({ client: clientID() }));
      const tb = $("ag-table").querySelector("tbody"); tb.replaceChildren();
      for (const a of j.agents) {
        const tr = el("tr", undefined, { id: "agent-" + a.id });
        const name = el("td"); name.append(el("strong", a.name), el("br"), el("span", a.domain ? "Domain " + a.domain : "Not in a domain", { class: "muted" }));
        const act = el("td");
        const users = el("button", "Users", { type: "button", class: "secondary", "aria-label": "Users of " + a.name });
        users.addEventListener("click", () => showUsers(a));
        act.append(users);
        if (!a.revoked) {
          const rev = el("button", "Revoke", { type: "button", class: "danger", "aria-label": "Revoke " + a.name });
          rev.addEventListener("click", () => {
            if (confirm("Revoke " + a.name + "? Its agent stops working at once and must be installed again.")) {
              adm.run(rev, "ag-msg", async () => { await api("POST", "/agents/" + a.id + "/revoke"); await loadAgents(); }, a.name + " is revoked.");
            }
          });
          act.append(rev);
        }
        tr.append(name, el("td", seen(a), { class: a.online ? "status-matched" : "muted" }), el("td", a.os), el("td", a.agent_version), act);
        tb.append(tr);
      }
      $("ag-caption").textContent = j.agents.length === 1 ? "1 computer" : j.agents.length + " computers";
      $("ag-empty").hidden = j.agents.length > 0;
    } catch (e) { adm.say("ag-msg", e.message, false); }
  }

  async function loadContacts() {
    try {
      contacts = (await api("GET", "/contacts?" + new URLSearchParams({ client: clientID(), limit: "200" }))).contacts || [];
    } catch (e) { contacts = []; adm.say("ag-msg", e.message, false); }
  }

  const contactName = (c) => (c.first_name + " " + c.last_name).trim();

  async function showUsers(a) {
    shown = a;
    $("ag-users-box").hidden = false; $("ag-users-name").textContent = a.name;
    try {
      const j = await api("GET", "/agents/" + a.id);
      const tb = $("ag-users-table").querySelector("tbody"); tb.replaceChildren();
      for (const u of j.users) {
        const tr = el("tr", undefined, { "data-sid": u.sid });
        const who = el("td"); who.append(el("strong", u.display_name || u.account), el("br"),
          el("span", u.account + (u.local ? " (local account)" : "") + (u.logged_on ? " · signed in" : ""), { class: "muted" }));
        const bound = el("td", u.bound ? u.contact_name + " (" + (howLabels[u.binding_how] || u.binding_how) + ")" : "Not bound", { class: u.bound ? "" : "muted" });
        const assign = el("td");
        const label = "Contact for " + (u.display_name || u.account);
        const sel = el("select", undefined, { "aria-label": label });
        sel.append(el("option", "Choose a contact…", { value: "" }));
        for (const c of contacts) {
          const o = el("option", contactName(c), { value: c.id });
          if (c.id === u.contact_id) o.selected = true;
          sel.append(o);
        }
        const btn = el("button", "Assign", { type: "button", class: "small", "aria-label": "Assign " + (u.display_name || u.account) });
        btn.addEventListener("click", () => adm.run(btn, "ag-users-msg", async () => {
          if (!sel.value) throw new Error("Choose the contact " + (u.display_name || u.account) + " is, first.");
          await api("POST", "/agents/" + a.id + "/users/" + encodeURIComponent(u.sid) + "/assign", { contact_id: sel.value });
          await showUsers(a);
        }, (u.display_name || u.account) + " is now bound to " + sel.options[sel.selectedIndex].text + "."));
        assign.append(sel, btn);
        tr.append(who, bound, assign); tb.append(tr);
      }
      if (!j.users.length) {
        const tr = el("tr");
        tr.append(el("td", "The agent has not reported any Windows user yet.", { colspan: "3", class: "muted" }));
        tb.append(tr);
      }
    } catch (e) { adm.say("ag-users-msg", e.message, false); }
  }

  async function loadClient() {
    $("ag-users-box").hidden = true; shown = null;
    await Promise.all([loadKey(), loadAgents(), loadContacts()]);
  }

  $("ag-client").addEventListener("change", loadClient);
  $("ag-copy").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText($("ag-install").value); adm.say("ag-key-msg", "Copied.", true); }
    catch { $("ag-install").select(); adm.say("ag-key-msg", "Select the command and copy it (Ctrl+C).", true); }
  });
  $("ag-rotate").addEventListener("click", () => {
    if (!confirm("Rotate the activation key? Installs with the old key will be refused; computers already installed keep working.")) return;
    adm.run($("ag-rotate"), "ag-key-msg", async () => {
      const k = await api("POST", "/clients/" + encodeURIComponent(clientID()) + "/activation-key/rotate");
      $("ag-install").value = k.install;
    }, "A new key is in the command above; the old one no longer activates.");
  });

  (async () => {
    try {
      const cs = (await api("GET", "/clients")).clients || [];
      for (const c of cs) $("ag-client").append(el("option", c.name, { value: c.id }));
      if (!cs.length) { adm.say("ag-msg", "Add a client first: agents belong to a client.", false); return; }
      await loadClient();
    } catch (e) { adm.say("ag-msg", e.message, false); }
  })();
})();
