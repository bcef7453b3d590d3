"use strict";
// CSVerify drives the verification card (templates/verifycard.html) for one
// contact: the shield, one-click sends, the note a non-default destination or
// contact asks for, the code box, live status, resend, cancel and history.
// The console and the pod share it; they differ only in how a send starts.
const CSVerify = (() => {
  const $ = (id) => document.getElementById(id);
  const methodNames = { sms_code: "SMS code", sms_link: "SMS link", voice_code: "Voice code", email_link: "Email link", email_code: "Email code",
    duo_push: "Duo push", microsoft_push: "Microsoft Authenticator push", workstation_prompt: "Workstation prompt" };
  // isPush: a push the person approves on their phone; pressed again rather than resent.
  const isPush = (m) => m === "duo_push" || m === "microsoft_push";
  const methodsFor = { phone: ["sms_code", "sms_link", "voice_code"], email: ["email_link", "email_code"] };
  const historyShown = 3; // the rest behind "Show all"
  // Times are written the one way every page does (CSTime, api.js).
  const fmtTime = (s) => CSTime.format(s);
  const fmtWhen = (s) => CSTime.when(s);

  // statusText says where a verification is, in the words technicians use.
  function statusText(v) {
    switch (v.status) {
      // A channel set up wrongly: say so instead of spinning (the message
      // goes out by itself once an admin fixes the settings).
      case "pending": return v.delivery_status === "misconfigured" ? (v.detail || "Not configured correctly — ask your admin") : "Sending…";
      case "sent":
        if (isPush(v.method) || v.method === "workstation_prompt") return v.detail || "Sent — waiting for the user";
        if (v.delivery_status === "delivered") return "Delivered — waiting for the caller";
        if (v.delivery_status === "failed" || v.delivery_status === "undelivered") return "Not delivered — " + (v.detail || "try another destination");
        return "Sent — waiting for the caller";
      case "verified": return "Verified";
      case "failed": return "Failed" + (v.detail ? " — " + v.detail : "");
      case "expired": return "Expired";
      case "cancelled": return "Cancelled" + (v.detail ? " — " + v.detail : "");
    }
    return v.status;
  }

  // sentence turns a server message (lower case, Go style) into the
  // sentence the card shows: a capital first and a full stop last.
  function sentence(t) {
    t = String(t || "").trim();
    if (!t) return "";
    t = t[0].toUpperCase() + t.slice(1);
    return /[.!?…]$/.test(t) ? t : t + ".";
  }

  // failed reports whether a verification ended without verifying the
  // caller in a way that needs a next step (not one a technician cancelled).
  const failedStates = new Set(["failed", "expired"]);

  // noteText says where a verification's note on its PSA ticket stands
  // (core.NoteState), or "" when it writes none.
  function noteText(n) {
    if (!n) return "";
    switch (n.state) {
      case "queued": return "Ticket note queued.";
      case "written": return "Note written to the ticket.";
      case "dev": return "Ticket note kept in the dev outbox (dev delivery mode: not sent).";
      case "retrying": return "Ticket note not written yet: " + n.reason.replace(/\.$/, "") + ". Trying again" +
        (n.next_attempt_at ? " at " + fmtTime(n.next_attempt_at) : "") + ".";
      case "waiting": return "Ticket note waiting: " + n.reason.replace(/\.$/, "") + ".";
      case "failed": return "Ticket note failed: " + n.reason.replace(/\.$/, "") + ". Add the result to the ticket by hand.";
    }
    return "Ticket note: " + n.state + ".";
  }

  // noteNode is the note state as an element: the sentence, and a link to
  // the ticket once the note is written, where the PSA has one.
  function noteNode(n) {
    const span = el("span", noteText(n), { class: "note-state note-" + n.state, "data-note-state": n.state });
    if (n.ticket_url && n.state === "written") {
      span.append(" ", el("a", "Open the ticket", { href: n.ticket_url, target: "_blank", rel: "noopener noreferrer", class: "note-link" }));
    }
    return span;
  }

  // kindNames name a destination's kind; destLabel is its label, or the
  // kind when its source gave none (every destination says what it is).
  const kindNames = { phone: "phone", email: "e-mail" };
  function destLabel(d) {
    if (d.label) return d.label;
    const k = kindNames[d.kind] || d.kind;
    return k[0].toUpperCase() + k.slice(1);
  }

  // destMeta is a destination's own shield: when a caller was last
  // verified through it, and where it came from.
  function destMeta(d) {
    const when = d.last_verified_at ? "Last verified " + fmtWhen(d.last_verified_at) : "Never verified";
    // provenance is a fragment ("added by hand", "from the PSA").
    return when + (d.provenance ? " · " + d.provenance : "");
  }

  // methodName names a verification's (or the shield's) method, a Duo
  // push sent as a Verified Duo Push by that name.
  function methodName(method, level) {
    if (method === "duo_push" && level === "strong") return "Verified Duo Push";
    return methodNames[method] || method;
  }

  // shieldParts are the shield's two lines: its state, and the detail.
  function shieldParts(s) {
    const by = s.technician_name ? " by " + s.technician_name : "";
    const via = s.method ? " via " + methodName(s.method, s.level) : "";
    if (s.state === "green") return ["Verified", (by + via).trim() + " at " + fmtWhen(s.at) + " · valid until " + fmtTime(s.verified_until)];
    if (s.state === "red") return ["Last verification failed", s.at ? fmtWhen(s.at) : ""];
    return ["Not verified", "Send a challenge to verify the caller"];
  }
  function shieldText(s) { const [a, b] = shieldParts(s); return b ? a + " " + b : a; }

  // card builds a controller. opts.start(body) starts a verification and
  // returns it; opts.push(body) sends a push (method: the route's,
  // duo_push or microsoft_push; contact_id, ticket_ref, note) and opts.prompt(body) a workstation prompt, where the page can; opts.alternate() says whether this contact is not the one the
  // ticket names (pods); opts.ticket() gives the ticket reference.
  // ticketRE is core.TicketRefPattern: what a typed ticket reference may be.
  const ticketRE = /^[A-Za-z0-9#-]{1,20}$/;

  // historyText is a verification as a line of a history: when, how, to
  // where, by whom, for which ticket and where it stands.
  function historyText(v) {
    return fmtWhen(v.created_at) + " — " + methodName(v.method, v.level) + " to " + v.destination +
      (v.technician_name ? " by " + v.technician_name : "") + (v.ticket_ref ? " for ticket " + v.ticket_ref : "") + ": " +
      statusText(v) + (v.note ? " · note: " + v.note : "");
  }

  // codeProblem says why typed text cannot be a code of n digits, or "".
  function codeProblem(typed, n) {
    const code = typed.replace(/[\s-]/g, "");
    if (!code) return "Type the code the caller reads to you.";
    if (!/^[0-9]+$/.test(code)) return "A code is digits only; ask the caller to read it again.";
    if (n && code.length !== n) return "The code has " + n + " digits; ask the caller to read it again.";
    return "";
  }

  function card(opts) {
    let contact = null, active = null, tick = null, watch = null, expanded = false, pending = null, routes = [], failSaid = "";
    let routesFor = null; // the reason (purpose) routes were read for; null before they are
    let dirFor = "", dirPoll = null; // the verification the directory section is about, and its poll
    // isAdmin: an admin may reset a channel locked by consecutive failures
    // (the card offers it); others are told to ask one.
    let isAdmin = false;
    api("GET", "/me").then((j) => { isAdmin = ["owner", "admin"].includes(j.technician.role); if (contact) { renderLockReset(); renderDestNext(); } }).catch(() => {});
    const start = opts.start || ((body) => api("POST", "/verifications", body));
    const push = opts.push || ((body) => api("POST", "/pushes", body));
    const prompt = opts.prompt || null;
    const alternate = opts.alternate || (() => false);
    const ticket = opts.ticket || (() => "");

    // say shows the card's one message: a sentence, or nothing.
    function say(text) { $("msg").textContent = sentence(text); }

    // purpose is the reason the technician marked: "" an identity check,
    // "reset" before a password or MFA reset, whose policy minimum may be
    // stricter (the server refuses a weaker method either way).
    function purpose() { return $("purpose").value; }

    // renderShield keeps the shield's size whatever it says (no layout
    // jump when it turns green): two lines in a box of fixed size.
    function renderShield(s) {
      const p = $("shield"), [state, detail] = shieldParts(s);
      p.className = "shield " + s.state;
      // A live region: redrawn only when it says something new, so that a
      // refresh does not make a screen reader repeat it.
      if (p.textContent === state + " " + detail) return;
      p.replaceChildren(el("span", state, { class: "shield-state" }), " ", el("span", detail, { class: "shield-detail" }));
    }

    // renderOptIn shows whether the contact's mobile agreed to texts (a
    // green check with the date) and the button that sends the form
    // (issue 18 item 4); a number that replied STOP gets it by e-mail only.
    function renderOptIn(o) {
      const box = $("optin");
      if (!box) return;
      box.hidden = false;
      const st = $("optin-state");
      const when = (o && o.at) ? fmtWhen(o.at) : "";
      st.className = "optin-state " + (o ? o.state : "none");
      st.textContent = !o ? "No mobile on record for SMS opt-in"
        : o.state === "opted_in" ? "✓ Opted in to texts " + when
        : o.state === "opted_out" ? "Opted out of texts (STOP) " + when : "Not opted in to texts yet";
      const sms = $("optin-channel").querySelector('option[value="sms"]');
      sms.disabled = !o || o.state === "opted_out";
      if (sms.disabled) $("optin-channel").value = "email";
      $("optin-send").textContent = o && o.state === "opted_in" ? "Send the opt-in form again" : "Send SMS opt-in form";
      $("optin-msg").textContent = "";
    }

    function renderHistory(list) {
      const ul = $("history"); ul.replaceChildren();
      list.forEach((v, i) => {
        const li = el("li", historyText(v));
        if (v.ticket_note) li.append(" ", noteNode(v.ticket_note));
        li.className = "h-" + v.status;
        if (i >= historyShown && !expanded) li.hidden = true;
        ul.append(li);
      });
      if (!list.length) ul.append(el("li", "No verifications yet.", { class: "muted" }));
      const tg = $("history-toggle");
      tg.hidden = list.length <= historyShown;
      tg.setAttribute("aria-expanded", String(expanded));
      tg.textContent = expanded ? "Show fewer" : "Show all " + list.length;
    }

    // renderDestinations lists the phones and addresses with a button per
    // method the policy allows; a method below the client's minimum for
    // the reason marked is shown disabled with why (the routes list marks
    // it the same way, and the server refuses it anyway).
    //
    // A channel locked by consecutive failures (the ways to verify say
    // which) has its buttons disabled the same way, with the count and the
    // next step: another way, or the lock's reset (an admin's button, or
    // "ask an admin"). The table is drawn again once the ways are read;
    // the focus stays on the button it was on.
    function renderDestinations() {
      const tb = $("dests").querySelector("tbody");
      const f = document.activeElement && tb.contains(document.activeElement) ? document.activeElement : null;
      const refocus = f && f.dataset.method ? 'button[data-method="' + f.dataset.method + '"][data-dest="' + CSS.escape(f.dataset.dest) + '"]' : "";
      tb.replaceChildren();
      const allowed = new Set(contact.policy ? contact.policy.methods : Object.keys(methodNames));
      const below = ((contact.policy || {}).below_minimum || {})[purpose() || "identity"] || {};
      const locks = lockedKinds();
      for (const d of contact.destinations) {
        const tr = el("tr", undefined, { "data-dest": d.id }), td = el("td"), act = el("td");
        td.append(el("span", destLabel(d) + ": " + d.masked, { class: "dest-value" }));
        if (d.default) td.append(el("span", "default " + kindNames[d.kind], { class: "badge dest-default" }));
        td.append(el("br"), el("span", destMeta(d), { class: "dest-meta muted" }));
        const why = [];
        for (const m of methodsFor[d.kind] || []) {
          if (!allowed.has(m)) continue;
          const b = el("button", methodNames[m], { type: "button", "data-method": m, "data-dest": d.id,
            "aria-label": methodNames[m] + " to " + d.masked });
          if (below[m] || locks[d.kind]) {
            b.disabled = true;
            b.classList.add(below[m] ? "below-minimum" : "locked");
            b.setAttribute("aria-describedby", "dest-why-" + d.id);
            if (below[m] && !why.includes(below[m])) why.push(below[m]);
          } else b.addEventListener("click", () => request(m, d));
          act.append(b);
        }
        let text = why.length ? "Not allowed: " + why.join("; ") : "";
        if (locks[d.kind]) text = (text ? sentence(text) + " " : "") + sentence(locks[d.kind]);
        if (text) act.append(el("p", text, { id: "dest-why-" + d.id, class: "dest-why muted" }),
          el("p", undefined, { class: "dest-next", "data-locked": locks[d.kind] ? "1" : "" }));
        tr.append(td, act); tb.append(tr);
      }
      if (!contact.destinations.length) tb.append(el("tr")).append(el("td", "No phone or email on record.", { colspan: "2" }));
      renderDestNext();
      const again = refocus && tb.querySelector(refocus + ":not([disabled])");
      if (again) again.focus();
    }

    // lockedKinds says, by destination kind, why a channel is locked by
    // consecutive failures ("Locked after 5 consecutive failures"), from
    // the ways to verify (a locked way is marked so by the server).
    function lockedKinds() {
      const out = {};
      for (const r of routes) {
        const k = Object.keys(methodsFor).find((kind) => methodsFor[kind].includes(r.method));
        if (!r.locked || !k || out[k]) continue;
        const n = /locked after (\d+) consecutive failures/.exec(r.reason || "");
        out[k] = n ? "Locked after " + n[1] + " consecutive failures" : sentence(r.reason);
      }
      return out;
    }

    // nextAllowed is the way offered instead of a method below the
    // minimum: the first of the ways to verify, in the policy's order,
    // that meets it and can start now; undefined while the ways for the
    // reason marked are still being read.
    function nextAllowed() {
      if (routesFor !== purpose()) return undefined;
      return routes.find((r) => r.available && !r.below_minimum && canStart(r)) || null;
    }

    // renderDestNext puts beside each row's "Not allowed" the way to use
    // instead (a button that starts it), or says there is none.
    function renderDestNext() {
      const next = nextAllowed();
      for (const p of $("dests").querySelectorAll(".dest-next")) {
        p.replaceChildren();
        if (next === undefined) continue;
        const lockedRow = p.dataset.locked === "1";
        const add = (...parts) => { if (p.childNodes.length) p.append(" "); p.append(...parts); };
        if (next) {
          const name = methodNames[next.method] || next.method;
          const b = el("button", "Use " + name + " instead", { type: "button", class: "quiet", "data-next-route": next.method });
          b.addEventListener("click", () => startRoute(next));
          p.append(b);
        }
        if (lockedRow && isAdmin) {
          const b = el("button", "Reset the lock", { type: "button", class: "quiet", "data-lock-reset": "" });
          b.addEventListener("click", resetLock);
          add(b);
        } else if (lockedRow) add((next ? "Or ask" : "Ask") + " an admin to reset the lock.");
        if (!next) add((lockedRow ? "No other way is available for this person" : "No way that meets it is available for this person") +
          ": escalate if the caller cannot verify.");
      }
    }

    // renderDestMeta updates each destination's last-verified line in
    // place (a refresh after a verification), leaving the buttons and the
    // keyboard focus where they are.
    function renderDestMeta() {
      for (const d of contact.destinations) {
        const span = $("dests").querySelector('tr[data-dest="' + CSS.escape(d.id) + '"] .dest-meta');
        if (span) span.textContent = destMeta(d);
      }
    }

    // loadRoutes lists the ways to verify the contact that the person
    // really has, in the policy's order, each saying why it is or is not
    // available (the server asks Duo live).
    async function loadRoutes() {
      const ol = $("routes-list");
      const asked = purpose();
      try {
        routes = (await api("GET", "/contacts/" + contact.id + "/routes" + (asked ? "?purpose=" + encodeURIComponent(asked) : ""))).routes || [];
        routesFor = asked;
      } catch (e) {
        routes = []; routesFor = null; renderDestNext();
        ol.replaceChildren(el("li", "Could not list the ways to verify: " + e.message, { class: "muted" })); return;
      }
      ol.replaceChildren();
      for (const r of routes) {
        const li = el("li", undefined, { class: r.below_minimum ? "route unavailable not-allowed" : r.available ? "route ok" : "route unavailable", "data-method": r.method });
        li.append(el("strong", methodNames[r.method] || r.method));
        if (r.destination) li.append(el("span", " · " + r.destination));
        li.append(el("span", " — " + (r.below_minimum ? "not allowed: " : "") + r.reason, { class: "reason" }));
        if (r.provenance) li.append(el("span", " (" + r.provenance + ")", { class: "muted" }));
        if (r.assurance) li.append(el("span", r.assurance, { class: "badge" }));
        if (r.available && canStart(r)) {
          const b = el("button", startLabel(r), { type: "button", "data-route": r.method, "aria-label": startLabel(r) + ": " + (methodNames[r.method] || r.method) });
          b.addEventListener("click", () => startRoute(r));
          li.append(b);
        }
        ol.append(li);
      }
      if (!routes.length) ol.append(el("li", "No method the policy allows is available for this person.", { class: "muted" }));
      renderDestinations(); // a channel may be locked, or its lock gone
      renderLockReset();
      if (active) showActive(active);
    }

    // locked reports whether a channel of the contact is locked by
    // consecutive failures; renderLockReset offers an admin the reset.
    function locked() { return routes.some((r) => r.locked); }
    function renderLockReset() { $("lock-reset-p").hidden = !(isAdmin && locked()); }

    async function resetLock() {
      say("");
      try {
        await api("POST", "/contacts/" + encodeURIComponent(contact.id) + "/lock-reset");
        // The failed verification stays in the history; the card starts
        // afresh, the focus on the first way to verify.
        $("active").hidden = true; active = null; failSaid = "";
        await loadRoutes();
        $("lock-reset-msg").textContent = "Lock reset: every way to verify is offered again.";
        const b = $("routes-list").querySelector("button[data-route]");
        (b || $("routes-h")).focus();
      } catch (e) { say(e.message); }
    }

    function canStart(r) { return r.method !== "workstation_prompt" || !!prompt; }
    function startLabel(r) { return isPush(r.method) ? "Push" : r.method === "workstation_prompt" ? "Prompt" : "Send"; }

    function startRoute(r) {
      if (isPush(r.method)) return sendPush(r.method);
      if (r.method === "workstation_prompt") return sendPrompt();
      const d = contact.destinations.find((x) => x.id === r.destination_id);
      if (d) request(r.method, d);
    }

    async function sendPush(method) {
      say("");
      const ref = ticket(); // the server refuses a push without a ticket, and says so
      try {
        showActive(await push({ method, contact_id: contact.id, ticket_ref: ref, note: "", purpose: purpose() }));
        $("active-h").focus();
        refresh();
      } catch (e) { say(e.message); }
    }

    async function sendPrompt() {
      say("");
      try { showActive(await prompt({ contact_id: contact.id, ticket_ref: ticket(), note: "", purpose: purpose() })); $("active-h").focus(); refresh(); }
      catch (e) { say(e.message); }
    }

    // nextRoute is the first available way other than the one that just
    // failed, offered after a failure.
    function nextRoute(v) { return routes.find((r) => r.available && r.method !== v.method && canStart(r)); }

    // againRoute is the way that just failed, when it is still available
    // (a channel locked by failures is not): a new code, link or push.
    function againRoute(v) {
      return routes.find((r) => r.available && r.method === v.method && canStart(r) &&
        (!r.destination_id || r.destination_id === v.destination_id));
    }
    function againLabel(v) {
      if (isPush(v.method)) return "Push again";
      if (v.method === "workstation_prompt") return "Prompt again";
      return v.method.endsWith("_link") ? "Send a new link" : "Send a new code";
    }

    // failureText is the one message of a failed or expired verification:
    // why, and the next steps the card offers.
    function failureText(v, again, next) {
      const why = v.status === "expired" ? (v.method.endsWith("_link") ? "the link expired before the caller used it" : "the code expired before it was entered")
        : v.detail === "too many wrong codes" ? "too many wrong codes were entered" : (v.detail || "the verification failed");
      const steps = [];
      if (again) steps.push(againLabel(v).toLowerCase());
      if (next) steps.push("try " + (methodNames[next.method] || next.method) + " instead");
      if (locked()) steps.push(isAdmin ? "reset the lock" : "ask an admin to reset the lock");
      steps.push("escalate if the caller cannot verify");
      const last = steps.pop();
      const todo = steps.length ? steps.join(", ") + " or " + last : last;
      return sentence(why) .replace(/\.$/, "") + ": the caller is not verified. " + sentence(todo);
    }

    // request sends at once, or first asks for the note the policy wants.
    function request(method, dest) {
      say("");
      const p = contact.policy || {};
      const unusual = !dest.default || alternate();
      if (unusual && p.note_on_non_default) {
        pending = { method, dest };
        $("note-form").hidden = false;
        $("note-text").required = !!p.note_required;
        $("note-label").textContent = alternate() ? "Why verify this person instead of the ticket's contact? (e.g. \"Manager approval\")"
          : "Why use this " + (dest.kind === "email" ? "address" : "number") + " instead of the default? (e.g. \"Manager approval\")";
        $("note-hint").textContent = p.note_required ? "A note is required by your policy." : "Optional, but it goes into the history.";
        $("note-text").focus();
        return;
      }
      send(method, dest, "");
    }

    async function send(method, dest, note) {
      const ref = ticket();
      if (ref && !ticketRE.test(ref)) {
        say("A ticket reference is letters, digits, # and -, at most 20 (e.g. T-48213): the caller sees it in the message.");
        if (opts.ticketField) opts.ticketField().focus();
        return;
      }
      try {
        const v = await start({ contact_id: contact.id, destination_id: dest.id, method, ticket_ref: ref, note, purpose: purpose() });
        $("note-form").hidden = true; $("note-text").value = ""; pending = null;
        showActive(v);
        // The next thing to do: type the code the caller reads back, or
        // read the code to the caller and wait.
        if (!$("check").hidden) $("code").focus(); else $("active-h").focus();
        refresh();
      } catch (e) { say(e.message); }
    }

    // focusAfterCheck moves the keyboard on once a check ended the
    // verification and hid the code box: to the green shield, or to the
    // next step offered after a failure (a new code, another way). While
    // the verification is open the focus stays in the code box.
    function focusAfterCheck() {
      if (!$("check").hidden) { $("code").focus(); return; }
      if (active && active.status === "verified") { $("shield").focus(); return; }
      const step = ["again", "next", "lock-reset"].map($).find((b) => !b.hidden && !b.closest("[hidden]"));
      (step || $("active-h")).focus();
    }

    // focusMethods moves the keyboard to the first way to verify, once a
    // contact was chosen.
    function focusMethods() {
      const b = $("dests").querySelector("button[data-method]:not([disabled])");
      if (b) b.focus(); else $("contact-name").focus();
    }

    function showActive(v) {
      if (v.tech_code === undefined && active && active.id === v.id) v.tech_code = active.tech_code;
      active = v;
      $("active").hidden = false;
      const open = v.status === "pending" || v.status === "sent";
      // The status line says where the verification stands; why it
      // failed, and what to do next, is the card's one message (say).
      const st = failedStates.has(v.status) ? (v.status === "failed" ? "Failed" : "Expired") : statusText(v);
      // The status line is a live region: it changes (and speaks) when the
      // status does; the countdown beside it, redrawn every second, is not.
      const text = methodName(v.method, v.level) + " to " + v.destination + ": " + st;
      if ($("active-status").textContent !== text) $("active-status").textContent = text;
      $("active-status").className = "st-" + v.status;
      $("active-timer").textContent = open ? "· expires in " + remaining(v.expires_at) : "";
      const an = $("active-note");
      an.replaceChildren();
      if (v.ticket_note) an.append(noteNode(v.ticket_note));
      an.hidden = !v.ticket_note;
      $("techcode").hidden = !(open && v.tech_code);
      $("techcode-value").textContent = open && v.tech_code ? v.tech_code : "";
      $("check").hidden = !(open && v.method.endsWith("_code"));
      $("resend").hidden = $("cancel").hidden = !open;
      if (isPush(v.method) || v.method === "workstation_prompt") $("resend").hidden = true; // press again instead: the push limits count it
      const next = !open && v.status !== "verified" ? nextRoute(v) : null;
      $("next").hidden = !next;
      if (next) { $("next").textContent = "Try " + (methodNames[next.method] || next.method) + " instead"; $("next").onclick = () => startRoute(next); }
      const again = failedStates.has(v.status) ? againRoute(v) : null;
      $("again").hidden = !again;
      if (again) { $("again").textContent = againLabel(v); $("again").onclick = () => startRoute(again); }
      const said = v.id + "/" + (again ? again.method : "") + "/" + (next ? next.method : "") + "/" + locked() + isAdmin;
      if (failedStates.has(v.status) && failSaid !== said) {
        failSaid = said; // once per failure (the tick re-renders every second), again when the ways change
        say(failureText(v, again, next));
      }
      clearInterval(tick);
      if (open) tick = setInterval(() => { if (new Date(active.expires_at) <= new Date()) reloadActive(); else showActive(active); }, 1000);
      if (v.status === "verified" && dirFor !== v.id) loadDirectory(v.id);
    }

    // The directory section (issue 17.4): once the caller is verified, the
    // technician may unlock the contact's directory account or reset its
    // password, once each, for ten minutes. The server says whether they
    // may, and why not; a contact with no directory account shows nothing.
    function hideDirectory() {
      dirFor = ""; clearTimeout(dirPoll);
      $("dir").hidden = true; $("dir-reset").hidden = true; $("dir-once").hidden = true;
      $("dir-once-value").textContent = ""; $("dir-password").value = "";
    }

    const dirWords = { reset: "Password reset", unlock: "Unlock" };
    function dirResultText(r) {
      const what = dirWords[r.action] || r.action;
      if (r.status === "queued") return what + ": sent to the client's directory server, waiting for the result…";
      if (r.status === "done") return what + ": done" + (r.finished_at ? " at " + fmtTime(r.finished_at) : "") + ".";
      return what + ": failed — " + String(r.reason || "no reason given").replace(/\.$/, "") + ".";
    }

    async function loadDirectory(vid) {
      clearTimeout(dirPoll);
      if (dirFor !== vid) { hideDirectory(); dirFor = vid; }
      let d;
      try { d = await api("GET", "/verifications/" + vid + "/directory"); } catch (e) { return; }
      if (dirFor !== vid) return; // the card moved on meanwhile
      if (!d.account) { $("dir").hidden = true; return; }
      $("dir").hidden = false;
      $("dir-account").textContent = (d.name ? d.name + " · " : "") + d.account + (d.locked ? " · locked out at the last sync" : "");
      const used = new Set(d.used || []);
      const can = !d.reason;
      // reset_reason: this verification's method is below the client's
      // minimum for resets; an unlock is still allowed.
      const noReset = used.has("reset") || !!d.reset_reason;
      $("dir-why").textContent = (can ? "Allowed until " + fmtTime(d.until) + ", once each, because you verified the caller." : sentence(d.reason)) +
        (can && d.reset_reason ? " " + sentence(d.reset_reason) : "");
      $("dir-actions").hidden = !can || (used.has("unlock") && noReset);
      $("dir-unlock").hidden = used.has("unlock");
      $("dir-reset-open").hidden = noReset;
      if (noReset) $("dir-reset").hidden = true;
      // A generated password whose reset failed is no password to read out.
      if ((d.requests || []).some((r) => r.action === "reset" && r.status === "failed")) { $("dir-once").hidden = true; $("dir-once-value").textContent = ""; }
      const ul = $("dir-results"); ul.replaceChildren();
      for (const r of d.requests || []) ul.append(el("li", dirResultText(r), { class: "dir-" + r.status, "data-action": r.action, "data-status": r.status }));
      // Polled while a result is awaited (the harvester reports it over
      // the agent API, usually within seconds).
      if ((d.requests || []).some((r) => r.status === "queued")) dirPoll = setTimeout(() => loadDirectory(vid), 2000);
    }

    async function directory(body) {
      say("");
      const vid = dirFor;
      try {
        const res = await api("POST", "/verifications/" + vid + "/directory", Object.assign({ contact_id: contact.id }, body));
        if (res.password) { $("dir-once-value").textContent = res.password; $("dir-once").hidden = false; }
        $("dir-reset").hidden = true; $("dir-password").value = "";
        $("dir-reset-open").setAttribute("aria-expanded", "false");
        await loadDirectory(vid);
        $("dir-h").focus();
      } catch (e) {
        if (body.action === "reset" && body.password) {
          $("dir-password").setAttribute("aria-invalid", "true");
          $("dir-password-error").textContent = sentence(e.message);
          $("dir-password").focus();
        } else say(e.message);
      }
    }

    function remaining(at) {
      const s = Math.max(0, Math.round((new Date(at) - new Date()) / 1000));
      return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    }

    async function reloadActive() {
      if (!active) return;
      try { showActive(await api("GET", "/verifications/" + active.id)); } catch (e) { say(e.message); }
    }

    // refresh re-reads the card: a live event, a reconnect, or an action.
    // A verification started elsewhere (another console, a pod, the PSA's
    // new-ticket rule) replaces the one shown: the newest open one is the
    // contact's only live verification.
    async function refresh() {
      if (!contact) return;
      try {
        const c = await api("GET", "/contacts/" + contact.id);
        contact = Object.assign(contact, { shield: c.shield, history: c.history, destinations: c.destinations, sms_opt_in: c.sms_opt_in });
        renderOptIn(c.sms_opt_in);
        renderShield(c.shield); renderHistory(c.history || []); renderDestMeta();
        const wasOpen = active && (active.status === "pending" || active.status === "sent");
        const live = newestOpen(c.history || []);
        if (live && (!active || live.id !== active.id)) showActive(live);
        else if (active) await reloadActive();
        // A verification that just ended may change what is available
        // (a denied push stops pushes; an opted-out number says so).
        // Awaited: the focus moves on to a next step only once the ways
        // are read again (a step may have gone, a lock's reset come).
        if (wasOpen && active && !(active.status === "pending" || active.status === "sent")) await loadRoutes();
      } catch (e) { say(e.message); }
    }

    // showTechCheck shows this contact's answer to the tray's "Verify my
    // technician" about the technician signed in here (the server sends
    // it to them only): confirmed, or not the person on the phone.
    function showTechCheck(ev) {
      if (!contact || ev.contact_id !== contact.id || !ev.reason) return;
      const p = $("techcheck");
      p.className = "techcheck " + (ev.answer === "not_the_person" ? "not_the_person" : "confirm");
      p.textContent = ev.reason;
      p.hidden = false;
    }

    // newestOpen is the contact's live verification: the newest, when it
    // is still open (one live verification per contact).
    function newestOpen(list) {
      const v = list[0];
      return v && (v.status === "pending" || v.status === "sent") ? v : null;
    }

    async function open(id, card) {
      say("");
      const was = contact ? contact.id : "";
      contact = card || await api("GET", "/contacts/" + id);
      active = null; clearInterval(tick); expanded = false; failSaid = ""; $("lock-reset-msg").textContent = "";
      if (contact.id !== was) $("purpose").value = ""; // a new caller: a new reason
      $("card").hidden = false; $("active").hidden = true; $("note-form").hidden = true;
      $("contact-name").textContent = (contact.first_name + " " + contact.last_name).trim() || "(no name)";
      const p = contact.policy || {};
      $("banner").hidden = !p.banner; $("banner").textContent = p.banner || "";
      routes = []; routesFor = null; // the new contact's are read below
      renderDestinations(); renderShield(contact.shield); renderHistory(contact.history || []); renderOptIn(contact.sms_opt_in);
      $("routes-list").replaceChildren(el("li", "Checking which ways this person has…", { class: "muted" }));
      loadRoutes();
      // The live verification, if any, is picked up again: only the
      // newest can be (a newer start cancels an older one).
      hideDirectory();
      const live = newestOpen(contact.history || []);
      if (live) showActive(live);
      else if (contact.history && contact.history[0] && contact.history[0].status === "verified") loadDirectory(contact.history[0].id);
      $("techcheck").hidden = true; $("techcheck").textContent = "";
      if (watch) watch.close();
      if (typeof CSLive !== "undefined") {
        watch = CSLive.watch({ contact: contact.id }, (ev) => {
          if (ev.type === "techcheck.answered") { showTechCheck(ev); return; }
          refresh();
        }, CSLive.indicator($("live")));
      }
      return contact;
    }

    if ($("optin-form")) $("optin-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!contact) return;
      $("optin-send").disabled = true; $("optin-msg").textContent = "Sending…";
      try {
        const by = $("optin-channel").value;
        await api("POST", "/contacts/" + encodeURIComponent(contact.id) + "/optin", { channel: by });
        $("optin-msg").textContent = "Form sent by " + (by === "sms" ? "text" : "e-mail") + ". The check turns green when they agree.";
      } catch (e) { $("optin-msg").textContent = sentence(e.message); }
      $("optin-send").disabled = false;
    });
    $("dir-unlock").addEventListener("click", () => directory({ action: "unlock" }));
    $("dir-reset-open").addEventListener("click", () => {
      const f = $("dir-reset"); f.hidden = !f.hidden;
      $("dir-reset-open").setAttribute("aria-expanded", String(!f.hidden));
      if (!f.hidden) $("dir-generate").focus();
    });
    const typedChosen = () => { $("dir-password-row").hidden = !$("dir-typed").checked; if ($("dir-typed").checked) $("dir-password").focus(); };
    $("dir-generate").addEventListener("change", typedChosen);
    $("dir-typed").addEventListener("change", typedChosen);
    $("dir-reset-cancel").addEventListener("click", () => { $("dir-reset").hidden = true; $("dir-reset-open").setAttribute("aria-expanded", "false"); $("dir-reset-open").focus(); });
    $("dir-reset").addEventListener("submit", (ev) => {
      ev.preventDefault();
      $("dir-password").removeAttribute("aria-invalid"); $("dir-password-error").textContent = "";
      const typed = $("dir-typed").checked;
      if (typed && !$("dir-password").value) {
        $("dir-password").setAttribute("aria-invalid", "true");
        $("dir-password-error").textContent = "Type the new password, or choose Generate one.";
        $("dir-password").focus();
        return;
      }
      directory({ action: "reset", generate: !typed, password: typed ? $("dir-password").value : "", must_change: $("dir-must-change").checked });
    });
    $("purpose").addEventListener("change", () => { say(""); if (contact) { renderDestinations(); loadRoutes(); } });
    $("lock-reset").addEventListener("click", resetLock);
    $("history-toggle").addEventListener("click", () => { expanded = !expanded; renderHistory(contact.history || []); });
    $("note-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const note = $("note-text").value.trim();
      if (!note && contact.policy && contact.policy.note_required) { say("Write a note first: your policy requires one for this."); $("note-text").focus(); return; }
      if (pending) send(pending.method, pending.dest, note);
    });
    $("note-cancel").addEventListener("click", () => { $("note-form").hidden = true; pending = null; });
    $("check").addEventListener("submit", async (ev) => {
      ev.preventDefault(); say("");
      // Text that cannot be a code is refused here; the server refuses it
      // too, and neither counts it as an attempt.
      const problem = codeProblem($("code").value, contact.policy && contact.policy.code_digits);
      $("code").setAttribute("aria-invalid", String(!!problem));
      if (problem) { say(problem); $("code").focus(); return; }
      try { showActive(await api("POST", "/verifications/" + active.id + "/check", { code: $("code").value })); await refresh(); }
      catch (e) {
        // One message: a failure that ended the verification is told by
        // showActive, with the next steps; else the server's words.
        const v = e.body && e.body.verification;
        if (v && failedStates.has(v.status)) await refresh(); // re-reads the ways too: a channel may be locked now
        else { say(e.message); if (v) showActive(v); }
      }
      $("code").value = "";
      focusAfterCheck();
    });
    $("resend").addEventListener("click", async () => { say(""); try { showActive(await api("POST", "/verifications/" + active.id + "/resend")); } catch (e) { say(e.message); } });
    $("cancel").addEventListener("click", async () => { say(""); try { showActive(await api("POST", "/verifications/" + active.id + "/cancel")); refresh(); } catch (e) { say(e.message); } });

    return { open, refresh, focusMethods, contact: () => contact };
  }

  return { card, statusText, shieldText, noteText, noteNode, historyText, methodNames, codeProblem, destLabel, destMeta };
})();
