"use strict";
// The pod's side of ConnectWise's Hosted API postMessage protocol
// (reference connectwise.md §8.4), written here rather than shipping
// ConnectWise's script, which checks neither who sends a message nor where
// its own messages go. Loaded before pod.js, which calls
// CSPodPSA.memberProof() when the pod has no session.
//
// Wire format: every message is a JSON string. The pod says
// {"message":"ready"}; ConnectWise answers {"MessageFrameID":id}, and every
// later message of the pod carries "frameID":id. Requests use the key
// "hosted_request"; responses name the request in lower case.
//
// Only messages from the parent window and from one of the PSA origins the
// server rendered (data-psa-origins: the integration's ConnectWise site and
// the other ConnectWise addresses configured on it) are read. Until the
// parent has spoken, our messages go to each of those origins (the browser
// delivers one only if it is the parent's); after that, to the parent's
// origin only. Every event (onLoad, beforeSave, …) is acknowledged at once
// with "success": the pod must never hold up a ConnectWise save. When the
// technician opens another record without the frame reloading, onLoad
// names it and the pod navigates to it.
//
// The handshake is forgiving, because ConnectWise's own script and the
// pods seen in the wild disagree: ConnectWise may send its frame id late
// or never, and other pods send their requests without one (or with
// null). So getMemberAuthentication goes out at once without a frame id,
// again with one as soon as it arrives, and again every RETRY_MS in
// whichever form fits, until an answer comes or MEMBER_TIMEOUT_MS ends;
// only then does the pod fall back to its sign-in pop-out.
(function () {
  const psaOrigins = (document.body.dataset.psaOrigins || "").split(/\s+/).filter((o) => o !== "");
  const inside = window.parent !== window && psaOrigins.length > 0;
  // MEMBER_TIMEOUT_MS bounds the whole wait for ConnectWise's answer, and
  // RETRY_MS the time between requests.
  const MEMBER_TIMEOUT_MS = 15000;
  const RETRY_MS = 1500;
  let parentOrigin = ""; // the PSA origin the parent spoke from; "" until it has

  let frameID; // undefined until ConnectWise sends it; kept as sent
  const frameWaiters = [];
  const pending = {}; // lower-cased request name → resolvers

  function post(msg) {
    const text = JSON.stringify(msg);
    for (const o of parentOrigin ? [parentOrigin] : psaOrigins) window.parent.postMessage(text, o);
  }

  function parse(data) {
    if (typeof data === "string") {
      try { data = JSON.parse(data); } catch (e) { return null; }
    }
    return data && typeof data === "object" && !Array.isArray(data) ? data : null;
  }

  // screenOf reads the record an onLoad event names: data.screenObject,
  // then data, then args (the shape is unconfirmed; §8.4).
  function screenOf(m) {
    const d = m.data && typeof m.data === "object" ? m.data : null;
    for (const o of [d && d.screenObject, d, m.args]) {
      if (o && typeof o === "object" && o.screen != null && o.id != null) {
        return { screen: String(o.screen), id: String(o.id) };
      }
    }
    return null;
  }

  // screenKind names a screen the way the server reads it, so that
  // "Service Tickets" and "ticket" are the same screen.
  function screenKind(s) {
    const k = String(s || "").toLowerCase().replace(/[^a-z]/g, "");
    if (["ticket", "tickets", "serviceticket", "servicetickets", "service", "srservice"].includes(k)) return "ticket";
    if (["contact", "contacts", "companycontact", "companycontacts"].includes(k)) return "contact";
    return k;
  }

  // follow moves the pod to the record an onLoad event names, when it is
  // not the one the pod shows.
  function follow(m) {
    const s = screenOf(m);
    if (!s || !/^[0-9]{1,10}$/.test(s.id) || !/^[A-Za-z _-]{1,40}$/.test(s.screen)) return;
    const q = new URLSearchParams(location.search);
    const curID = (q.get("id") || "").replace(/^0+/, ""), curScreen = screenKind(q.get("screen"));
    if (curID === s.id.replace(/^0+/, "") && curScreen === screenKind(s.screen)) return;
    q.delete("ticket"); q.delete("contact");
    q.set("id", s.id);
    q.set("screen", s.screen.toLowerCase());
    location.replace(location.pathname + "?" + q.toString());
  }

  function onMessage(ev) {
    if (ev.source !== window.parent || !psaOrigins.includes(ev.origin)) return;
    const m = parse(ev.data);
    if (!m) return;
    parentOrigin = ev.origin;
    if (m.MessageFrameID !== undefined && m.MessageFrameID !== null && m.MessageFrameID !== "") {
      const first = frameID === undefined;
      frameID = m.MessageFrameID;
      if (first) for (const w of frameWaiters.slice()) w();
    }
    if (typeof m.event === "string") {
      post({ event: m.event, _id: m._id, result: "success", frameID: frameID });
      if (m.event.toLowerCase() === "onload") follow(m);
    }
    if (typeof m.response === "string") {
      for (const finish of (pending[m.response.toLowerCase()] || []).slice()) finish(m.data);
    }
  }

  // request sends a hosted_request and resolves with its response's data,
  // or undefined after MEMBER_TIMEOUT_MS. It goes out at once (without a
  // frame id when ConnectWise has sent none yet), again the moment a frame
  // id arrives, and again every RETRY_MS, alternating with and without the
  // frame id (before one arrives: without, and with null), since which
  // form ConnectWise answers is not settled.
  function request(name, args) {
    return new Promise((resolve) => {
      const key = name.toLowerCase();
      let tries = 0, retry = 0, timer = 0;
      const send = () => {
        const msg = { hosted_request: name };
        if (frameID === undefined) {
          if (tries % 2 === 1) msg.frameID = null;
        } else if (tries % 2 === 0) {
          msg.frameID = frameID;
        }
        if (args) msg.args = args;
        tries++;
        post(msg);
      };
      const onFrame = () => { tries = 0; send(); };
      const finish = (data) => {
        clearTimeout(timer); clearInterval(retry);
        const list = pending[key] || [], i = list.indexOf(finish);
        if (i >= 0) list.splice(i, 1);
        const w = frameWaiters.indexOf(onFrame);
        if (w >= 0) frameWaiters.splice(w, 1);
        resolve(data);
      };
      (pending[key] = pending[key] || []).push(finish);
      frameWaiters.push(onFrame);
      timer = setTimeout(() => finish(undefined), MEMBER_TIMEOUT_MS);
      retry = setInterval(send, RETRY_MS);
      send();
    });
  }

  if (inside) {
    window.addEventListener("message", onMessage);
    post({ message: "ready" });
  }

  window.CSPodPSA = {
    // memberProof resolves with ConnectWise's getMemberAuthentication data
    // (§8.5) for the server to check, or null outside ConnectWise and when
    // no answer arrives within MEMBER_TIMEOUT_MS.
    memberProof() {
      if (!inside) return Promise.resolve(null);
      return request("getMemberAuthentication").then((data) => {
        const d = parse(data);
        return d || null;
      });
    },
    // inside reports whether the pod runs in a ConnectWise frame.
    inside: inside,
  };
})();
