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

// The misconfigured-channel banner (templates/nav.html): "Retry now" ends
// the condition for an admin who fixed it outside Countersign; what waited
// is sent, and the banner goes when the channel works.
document.addEventListener("click", async (ev) => {
  const b = ev.target.closest && ev.target.closest("button[data-retry-channel]");
  if (!b) return;
  const msg = b.parentElement.querySelector(".retry-msg");
  b.disabled = true;
  try {
    await api("POST", "/admin/channel-issues/retry", { channel: b.dataset.retryChannel });
    b.closest(".issuebanner").remove();
  } catch (e) { if (msg) msg.textContent = e.message; b.disabled = false; }
});
