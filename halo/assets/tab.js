"use strict";
// HaloPSA's half of the custom tab (halo/agentlogin.go): Halo agent sign-in.
// Halo passes a custom tab no identity, so a technician who would rather
// not sign in with Countersign signs in to Halo itself in a pop-out
// (authorisation code + PKCE S256 with the integration's agent-login
// application). Halo sends the pop-out back to Countersign's callback page
// (agent-callback.html), which posts the code here; the code, the verifier
// made here and the redirect URL go to the server as the member proof
// (window.CSPodPSA, read by pod.js), and the server redeems the code with
// Halo and asks /api/Agent/me who signed in. Nothing here is believed by
// the server: Halo answers for the agent.
(() => {
  let cfg = {};
  try { cfg = JSON.parse(document.body.dataset.psaConfig || "{}"); } catch (e) { cfg = {}; }
  if (!cfg.authorize_url || !cfg.client_id || !cfg.callback_path) return; // no agent-login application: Countersign's sign-in only

  const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const random = (n) => { const b = new Uint8Array(n); crypto.getRandomValues(b); return b64url(b); };
  const redirect = location.origin + cfg.callback_path;
  const msg = document.getElementById("signin-msg");
  let verifier = "", state = "", deliver = null;

  const btn = document.createElement("button");
  btn.type = "button";
  btn.id = "halo-signin";
  btn.textContent = "Sign in with Halo";
  document.getElementById("signin").after(" ", btn);

  btn.addEventListener("click", async () => {
    verifier = random(48);
    state = random(24);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const q = new URLSearchParams({
      response_type: "code", client_id: cfg.client_id, redirect_uri: redirect, scope: cfg.scope || "all",
      state, code_challenge: b64url(digest), code_challenge_method: "S256",
    });
    if (cfg.tenant) q.set("tenant", cfg.tenant);
    const w = window.open(cfg.authorize_url + "?" + q, "halo-signin", "popup,width=520,height=720");
    msg.textContent = w ? "Finish signing in to Halo in the new window…" : "Your browser blocked the sign-in window. Allow pop-ups for this site and try again.";
  });

  window.addEventListener("message", (ev) => {
    // Only our own callback page, answering the sign-in this tab started.
    if (ev.origin !== location.origin || !ev.data || ev.data.type !== "countersign:halo-code") return;
    if (!state || ev.data.state !== state) return;
    state = "";
    if (ev.data.error || !ev.data.code) {
      msg.textContent = "Halo did not sign you in (" + String(ev.data.error || "no code") + "). Try again, or sign in with Countersign.";
      return;
    }
    const proof = { code: String(ev.data.code), code_verifier: verifier, redirect_uri: redirect };
    verifier = "";
    msg.textContent = "Checking your Halo sign-in…";
    if (deliver) { const d = deliver; deliver = null; d(proof); }
  });

  // pod.js asks once, when the tab has no session: the answer comes when
  // the technician has signed in to Halo, or never (they used the other
  // button).
  window.CSPodPSA = {
    inside: window.top !== window.self,
    memberProof: () => new Promise((resolve) => {
      deliver = resolve;
      setTimeout(() => { msg.textContent = "Sign in with Countersign, or with your Halo account."; }, 0);
    }),
  };
})();
