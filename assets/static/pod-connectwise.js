"use strict";
// The pod's side of ConnectWise's Hosted API postMessage protocol
// (shared/reference/connectwise.md §8.4), written here rather than shipping
// ConnectWise's script, which checks neither who sends a message nor where
// its own messages go. Loaded before pod.js, which calls
// CSPodPSA.memberProof() when the pod has no session.
//
// Wire format: every message is a JSON string. The pod says
// {"message":"ready"}; ConnectWise answers {"MessageFrameID":id}, and every
// later message of the pod carries "frameID":id. Requests use the key
// "hosted_request"; responses name the request in lower case.
//
// Only messages from the parent window and from the PSA origin the server
// rendered (data-psa-origin) are read, and ours go to that origin only.
// Every event (onLoad, beforeSave, …) is acknowledged at once with
// "success": the pod must never hold up a ConnectWise save. When the
// technician opens another record without the frame reloading, onLoad
// names it and the pod navigates to it.
(function () {
  const psaOrigin = document.body.dataset.psaOrigin || "";
  const inside = window.parent !== window && psaOrigin !== "";
  // FRAME_TIMEOUT_MS bounds the wait for ConnectWise's frame id, and
  // REQUEST_TIMEOUT_MS the wait for an answer to a request.
  const FRAME_TIMEOUT_MS = 5000;
  const REQUEST_TIMEOUT_MS = 5000;

  let frameID; // undefined until ConnectWise sends it; kept as sent
  const frameWaiters = [];
  const pending = {}; // lower-cased request name → resolvers

  function post(msg) {
    window.parent.postMessage(JSON.stringify(msg), psaOrigin);
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
    if (ev.source !== window.parent || ev.origin !== psaOrigin) return;
    const m = parse(ev.data);
    if (!m) return;
    if (m.MessageFrameID !== undefined && m.MessageFrameID !== null && m.MessageFrameID !== "") {
      frameID = m.MessageFrameID;
      while (frameWaiters.length) frameWaiters.shift()(frameID);
    }
    if (typeof m.event === "string") {
      post({ event: m.event, _id: m._id, result: "success", frameID: frameID });
      if (m.event.toLowerCase() === "onload") follow(m);
    }
    if (typeof m.response === "string") {
      const waiting = pending[m.response.toLowerCase()] || [];
      delete pending[m.response.toLowerCase()];
      for (const resolve of waiting) resolve(m.data);
    }
  }

  // waitFrame resolves with the frame id, or undefined after the timeout.
  function waitFrame() {
    if (frameID !== undefined) return Promise.resolve(frameID);
    return new Promise((resolve) => {
      const done = (id) => { clearTimeout(timer); resolve(id); };
      const timer = setTimeout(() => {
        const i = frameWaiters.indexOf(done);
        if (i >= 0) frameWaiters.splice(i, 1);
        resolve(undefined);
      }, FRAME_TIMEOUT_MS);
      frameWaiters.push(done);
    });
  }

  // request sends a hosted_request and resolves with its response's data,
  // or undefined after the timeout.
  function request(name, args) {
    return waitFrame().then((id) => {
      if (id === undefined) return undefined;
      return new Promise((resolve) => {
        const key = name.toLowerCase();
        const done = (data) => { clearTimeout(timer); resolve(data); };
        const timer = setTimeout(() => {
          const list = pending[key] || [], i = list.indexOf(done);
          if (i >= 0) list.splice(i, 1);
          resolve(undefined);
        }, REQUEST_TIMEOUT_MS);
        (pending[key] = pending[key] || []).push(done);
        const msg = { hosted_request: name, frameID: id };
        if (args) msg.args = args;
        post(msg);
      });
    });
  }

  if (inside) {
    window.addEventListener("message", onMessage);
    post({ message: "ready" });
  }

  window.CSPodPSA = {
    // memberProof resolves with ConnectWise's getMemberAuthentication data
    // (§8.5) for the server to check, or null outside ConnectWise, when no
    // frame id arrives within FRAME_TIMEOUT_MS, or when no answer arrives
    // within REQUEST_TIMEOUT_MS after that.
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
