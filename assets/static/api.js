"use strict";
// api calls the JSON API and throws an Error with the server's message.
// A page may define onSignedOut() to handle a lost session itself, and
// apiHeaders() to add headers of its own (the pod's PSA member proof).
async function api(method, path, body) {
  const opt = { method, headers: typeof apiHeaders === "function" ? apiHeaders() : {} };
  if (body !== undefined) { opt.headers["Content-Type"] = "application/json"; opt.body = JSON.stringify(body); }
  const res = await fetch("/api/v1" + path, opt);
  if (res.status === 401) {
    // Pages that sign in some other way (the pod) set onSignedOut; it gets
    // the server's reason (expired, disabled, ended by an admin).
    const j = await res.json().catch(() => ({}));
    if (typeof onSignedOut === "function") onSignedOut(j.error || ""); else location.href = "/";
    throw new Error("You are signed out.");
  }
  const j = await res.json().catch(() => ({}));
  if (!res.ok) { const e = new Error(j.error || res.statusText); e.body = j; throw e; }
  return j;
}
function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}
