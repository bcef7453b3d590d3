"use strict";
// live.js: live updates over a websocket to GET /api/v1/live, for the
// console and the pod. No build step; load with
//   <script src="{{static "live.js"}}" defer></script>
//
//   const w = CSLive.watch({contact: id, ticket: ref}, onEvent, CSLive.indicator(el));
//   const inbox = CSLive.watch({techverify: true}, onEvent);  // the tech-verify inbox
//   const outbox = CSLive.watch({outbox: true}, onEvent);      // the dev outbox
//   w.set({contact: other});  // watch something else
//   w.close();
//
// onEvent gets the server's events ({type: "verification.verified",
// contact_id, ticket_ref, verification_id, status, at}) and
// {type: "resync"} whenever events may have been missed (after a
// reconnect, or when the server says so): the page should then refetch
// what it shows. onState gets "connecting", "online", "offline" or
// "signedout" (with the reason as a second argument): the session ended —
// an admin closed the socket with code 4001, or the server refused a new
// one because the session expired — so the page must sign in again and
// reconnecting would not help. Pages that define onSignedOut(reason) (the
// pod) get that call too.
(function () {
  const MIN_DELAY = 500, MAX_DELAY = 15000;
  const CLOSE_SIGNED_OUT = 4001; // core/web: an admin ended the session

  // sessionEnded asks the API whether the session is still good, after a
  // socket closed before saying hello (a refused handshake looks like any
  // other drop to a browser). It resolves to the server's reason, or "" when
  // the session stands (or the server cannot be reached: then we are offline).
  async function sessionEnded() {
    try {
      const res = await fetch("/api/v1/me", { credentials: "same-origin" });
      if (res.status !== 401) return "";
      const j = await res.json().catch(() => ({}));
      return j.error || "Your session has ended.";
    } catch (e) { return ""; }
  }

  function liveURL(p) {
    const q = new URLSearchParams();
    if (p.contact) q.set("contact", p.contact);
    if (p.ticket) q.set("ticket", p.ticket);
    if (p.techverify) q.set("techverify", "1");
    if (p.outbox) q.set("outbox", "1");
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/live?" + q.toString();
  }

  function call(fn, arg) {
    if (!fn) return;
    try { fn(arg); } catch (e) { console.error("CSLive callback:", e); }
  }

  // watch opens the socket and keeps it open until close(): after a drop
  // it retries with exponential backoff (0.5 s doubling to 15 s, with
  // jitter), at once when the browser comes back online.
  function watch(params, onEvent, onState) {
    let p = {}, ws = null, timer = 0, attempt = 0, closed = false, state = "", seenHello = false;

    function setState(s, reason) {
      if (s === state) return;
      state = s;
      if (onState) { try { onState(s, reason); } catch (e) { console.error("CSLive callback:", e); } }
    }

    // signedOut stops for good: only a new sign-in (a reload) helps.
    function signedOut(reason) {
      closed = true;
      window.removeEventListener("online", online);
      drop();
      setState("signedout", reason);
      if (typeof onSignedOut === "function") call(onSignedOut, reason);
    }

    function connect() {
      clearTimeout(timer);
      timer = 0;
      if (closed || !watching()) return;
      // Once offline, stay "offline" until a socket is really back, so
      // the indicator does not flicker through every retry.
      if (state !== "offline") setState("connecting");
      let sock;
      try {
        sock = new WebSocket(liveURL(p));
      } catch (e) {
        console.error("CSLive:", e);
        retry();
        return;
      }
      ws = sock;
      sock.onmessage = (m) => {
        if (ws !== sock) return;
        let msg;
        try { msg = JSON.parse(m.data); } catch (e) { return; }
        if (!msg || typeof msg.type !== "string") return;
        if (msg.type === "hello") {
          attempt = 0;
          hello = true;
          setState("online");
          // Anything may have changed while we were away.
          if (seenHello) call(onEvent, { type: "resync" });
          seenHello = true;
          return;
        }
        call(onEvent, msg.type === "resync" ? { type: "resync" } : msg);
      };
      let hello = false;
      sock.onclose = async (ev) => {
        if (ws !== sock) return; // replaced by set() or close()
        ws = null;
        if (closed) return;
        if (ev.code === CLOSE_SIGNED_OUT) { signedOut(ev.reason || "Your session has ended."); return; }
        if (!hello) {
          const reason = await sessionEnded();
          if (closed || ws) return;
          if (reason) { signedOut(reason); return; }
        }
        setState("offline");
        retry();
      };
    }

    function retry() {
      if (closed || timer) return;
      const cap = Math.min(MAX_DELAY, MIN_DELAY * Math.pow(2, attempt));
      attempt++;
      timer = setTimeout(connect, cap / 2 + Math.random() * cap / 2);
    }

    function drop() {
      clearTimeout(timer);
      timer = 0;
      if (ws) {
        const old = ws;
        ws = null;
        old.close(1000);
      }
    }

    function online() {
      if (!closed && !ws) { attempt = 0; connect(); }
    }
    window.addEventListener("online", online);

    function watching() { return p.contact || p.ticket || p.techverify || p.outbox; }

    function set(next) {
      p = { contact: (next && next.contact) || "", ticket: (next && next.ticket) || "", techverify: !!(next && next.techverify),
        outbox: !!(next && next.outbox) };
      drop();
      attempt = 0;
      seenHello = false; // the page fetches what it switched to
      if (watching()) connect();
    }

    set(params);
    return {
      close() {
        closed = true;
        window.removeEventListener("online", online);
        drop();
      },
      set,
    };
  }

  // indicator returns an onState function that says in el whether updates
  // are live: "Live", "Connecting…", "Offline — reconnecting…", or, once the
  // session ended, why, with a "Sign in again" button (the page's
  // onSignedOut, e.g. the pod's pop-out, else the sign-in page).
  function indicator(el) {
    el.setAttribute("role", "status");
    el.setAttribute("aria-live", "polite");
    const text = { online: "● Live: changes show here as they happen", connecting: "Connecting for live updates…",
      offline: "Offline — reconnecting… (status shown may be out of date)" };
    return function (state, reason) {
      el.dataset.state = state;
      el.hidden = !state;
      if (state !== "signedout") { el.textContent = text[state] || ""; return; }
      el.textContent = (reason || "Your session has ended.") + " ";
      const b = document.createElement("button");
      b.type = "button"; b.className = "small"; b.textContent = "Sign in again";
      b.addEventListener("click", () => { if (typeof onSignedOut === "function") onSignedOut(reason); else location.href = "/"; });
      el.append(b);
    };
  }

  window.CSLive = { watch, indicator };
})();
