"use strict";
// Sign-in form: posts JSON to the API, then opens the console.
document.getElementById("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target, err = document.getElementById("error");
  err.textContent = "";
  const body = { tenant: f.tenant.value.trim(), email: f.email.value.trim(), password: f.password.value, totp: f.totp.value.trim() };
  const res = await fetch("/api/v1/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (res.ok) { location.href = "/app"; return; }
  const j = await res.json().catch(() => ({}));
  err.textContent = j.error || "Sign-in failed.";
});
