"use strict";
// Sign-in: password (+ TOTP code), or first-time TOTP enrolment.
const $ = (id) => document.getElementById(id);
async function post(path, body) {
  const res = await fetch("/api/v1" + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { ok: res.ok, j: await res.json().catch(() => ({})) };
}
$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  $("error").textContent = "";
  const r = await post("/login", { tenant: f.tenant.value.trim(), email: f.email.value.trim(), password: f.password.value, totp: f.totp.value.trim() });
  if (!r.ok) { $("error").textContent = r.j.error || "Sign-in failed."; return; }
  if (r.j.totp_enrollment_required) {
    $("login").hidden = true; $("enroll").hidden = false;
    $("enroll-secret").textContent = r.j.secret; $("enroll-url").textContent = r.j.otpauth_url;
    $("enroll-code").focus();
    return;
  }
  location.href = "/app";
});
$("enroll").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("enroll-error").textContent = "";
  const r = await post("/login/totp", { code: $("enroll-code").value.trim() });
  if (r.ok) { location.href = "/app"; return; }
  $("enroll-error").textContent = r.j.error || "That code did not match.";
});
