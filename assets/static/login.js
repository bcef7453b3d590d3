"use strict";
// Sign-in: password (+ TOTP code), or first-time TOTP enrolment.
const $ = (id) => document.getElementById(id);
// In the pod's pop-out, the form carries the pod's nonce: the sign-in ends in
// a one-time handoff token posted back to the pod instead of a console session.
const podNonce = $("login").dataset.podNonce || "";
function done(j) {
  if (!podNonce) { location.href = "/app"; return; }
  if (window.opener && j.handoff) window.opener.postMessage({ type: "countersign:signed-in", token: j.handoff }, location.origin);
  document.querySelector("main").replaceChildren(el("h1", "Signed in"), el("p", "You can close this window; Countersign continues in your PSA."));
  window.close();
}
function el(tag, text) { const e = document.createElement(tag); e.textContent = text; return e; }
async function post(path, body) {
  const res = await fetch("/api/v1" + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { ok: res.ok, j: await res.json().catch(() => ({})) };
}
$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  $("error").textContent = "";
  const r = await post("/login", { tenant: f.tenant.value.trim(), email: f.email.value.trim(), password: f.password.value, totp: f.totp.value.trim(), pod_nonce: podNonce });
  if (!r.ok) { $("error").textContent = r.j.error || "Sign-in failed."; return; }
  if (r.j.totp_enrollment_required) {
    $("login").hidden = true; $("enroll").hidden = false;
    $("enroll-secret").textContent = r.j.secret; $("enroll-url").textContent = r.j.otpauth_url;
    $("enroll-code").focus();
    return;
  }
  done(r.j);
});
$("enroll").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("enroll-error").textContent = "";
  const r = await post("/login/totp", { code: $("enroll-code").value.trim() });
  if (r.ok) { done(r.j); return; }
  $("enroll-error").textContent = r.j.error || "That code did not match.";
});
