"use strict";
// The pod: the verification card inside a PSA screen. It reads what the
// screen shows from the API (with the pod URL's own query), signs in through
// a pop-out when it has no session, and sends through the pod endpoint so
// that the server ties the verification to the PSA ticket.
const $ = (id) => document.getElementById(id);
const integration = document.body.dataset.integration;
const tenant = document.body.dataset.tenant;
let ctx = null, card = null, inbox = null, signinNonce = "", memberProof = null, triedMember = false;
let proofAsked = false, proofPromise = null;

function show(part) {
  $("pod-loading").hidden = true;
  $("pod-signin").hidden = part !== "signin";
  $("pod-main").hidden = part !== "main";
}

// onSignedOut is api.js's (and live.js's) hook for a lost session: the
// pod signs in again in place, through the pop-out, and says why.
function onSignedOut(reason) {
  show("signin");
  $("signin").textContent = ctx ? "Sign in again" : "Sign in";
  if (reason) $("signin-msg").textContent = reason;
}

// apiHeaders is api.js's hook: the pod's reads carry the PSA's member
// proof, for PSAs whose pod reads with the technician's own PSA rights.
function apiHeaders() {
  if (!memberProof) return {};
  const bytes = new TextEncoder().encode(JSON.stringify(memberProof));
  return { "X-Pod-Member-Proof": btoa(String.fromCharCode(...bytes)) };
}

// getProof asks the PSA plugin's pod script (psa.Assets.PodScripts) for its word on
// who is looking at the pod, once; null when it has none.
async function getProof() {
  if (memberProof || typeof CSPodPSA === "undefined") return memberProof;
  if (!proofAsked) {
    proofAsked = true;
    proofPromise = CSPodPSA.memberProof().catch(() => null);
  }
  memberProof = await proofPromise;
  return memberProof;
}

function randomNonce() {
  const b = new Uint8Array(24); crypto.getRandomValues(b);
  return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

$("signin").addEventListener("click", () => {
  signinNonce = randomNonce();
  const u = "/pod/signin?" + new URLSearchParams({ tenant, nonce: signinNonce });
  const w = window.open(u, "countersign-signin", "popup,width=480,height=720");
  $("signin-msg").textContent = w ? "Finish signing in in the new window…" : "Your browser blocked the sign-in window. Allow pop-ups for this site and try again.";
});

window.addEventListener("message", async (ev) => {
  // Only our own pop-out (same origin as the pod) can sign the pod in.
  if (ev.origin !== location.origin || !ev.data || ev.data.type !== "countersign:signed-in" || !signinNonce) return;
  try {
    const body = { token: String(ev.data.token || ""), nonce: signinNonce };
    if (memberProof) Object.assign(body, { integration, member_proof: memberProof }); // links the PSA member for next time
    await api("POST", "/pod/session", body);
    signinNonce = "";
    $("signin-msg").textContent = "";
    await load();
  } catch (e) { $("signin-msg").textContent = e.message; }
});

$("pod-signout").addEventListener("click", async () => {
  try { await api("POST", "/pod/signout"); } catch (e) { /* signed out either way */ }
  show("signin");
});

// tryMember signs the pod in with the PSA's word for who is looking at it,
// when the PSA plugin's pod script (psa.Assets.PodScripts, loaded before
// this file) can get it. Such a script defines window.CSPodPSA with
// memberProof(), a promise of the PSA's proof (any JSON value) or null,
// and inside, whether the pod runs in the PSA's frame. The server checks
// the proof with the PSA (psa.MemberProver); it is never taken on trust.
async function tryMember() {
  if (triedMember || typeof CSPodPSA === "undefined") return false;
  triedMember = true;
  // The sign-in button is there while the PSA is asked, which can take a
  // while when it is slow to hand over its frame id.
  show("signin");
  $("signin-msg").textContent = "Checking your PSA sign-in…";
  await getProof();
  if (!memberProof) { $("signin-msg").textContent = ""; return false; }
  try {
    await api("POST", "/pod/member", { tenant, integration, proof: memberProof });
    $("signin-msg").textContent = "";
    return true;
  } catch (e) {
    $("signin-msg").textContent = e.body && e.body.link_required
      ? "Sign in with Countersign once; your PSA account is linked for next time." : e.message;
    return false;
  }
}

async function load() {
  $("pod-error").textContent = "";
  try {
    ctx = await api("GET", "/pod/" + encodeURIComponent(integration) + "/context" + location.search);
  } catch (e) {
    if (e.body && e.body.member_required && !memberProof && await getProof()) return load();
    if (e.message !== "You are signed out.") { show("main"); $("pod-error").textContent = e.message; return; }
    if (await tryMember()) return load();
    show("signin");
    return;
  }
  show("main");
  $("pod-who").textContent = ctx.technician.name;
  $("pod-title").textContent = ctx.ticket ? "Ticket #" + ctx.ticket.number + (ctx.ticket.summary ? " — " + ctx.ticket.summary : "") : "Contact";
  $("pod-notice").hidden = !ctx.notice; $("pod-notice").textContent = ctx.notice || "";
  const defaultID = ctx.contact ? ctx.contact.id : "";
  card = card || CSVerify.card({
    start: (body) => api("POST", "/pod/" + encodeURIComponent(integration) + "/verifications", Object.assign(body, { scope: ctx.scope })),
    push: (body) => api("POST", "/pod/" + encodeURIComponent(integration) + "/pushes", { method: body.method, scope: ctx.scope, contact_id: body.contact_id, note: body.note, purpose: body.purpose }),
    prompt: (body) => api("POST", "/pod/" + encodeURIComponent(integration) + "/prompts", { scope: ctx.scope, contact_id: body.contact_id, note: body.note, purpose: body.purpose }),
    alternate: () => ctx.screen === "ticket" && card.contact() && card.contact().id !== (ctx.contact ? ctx.contact.id : ""),
  });
  fillSwitch(ctx.alternates);
  $("pod-switch").hidden = ctx.screen !== "ticket";
  inbox = inbox || mountTechVerify();
  if (ctx.contact) await card.open(ctx.contact.id, ctx.contact);
}

// mountTechVerify shows the tech-verify inbox's open requests in the pod:
// hidden while no caller waits, opened when a new one arrives; a claim
// here notes the outcome on this pod's ticket.
function mountTechVerify() {
  let shown = 0;
  return CSTechVerify.mount($("pod-tv-status"), $("pod-tv-items"), {
    actionable: true,
    claimSuffix: ctx.ticket ? " (noted on this ticket)" : "",
    claim: (id) => api("POST", "/pod/" + encodeURIComponent(integration) + "/techverify/" + encodeURIComponent(id) + "/claim", { scope: ctx.scope }),
    onLive: (state) => { $("pod-tv").dataset.live = state; },
    onCount: (n) => {
      $("pod-tv-count").textContent = n ? String(n) : "";
      $("pod-tv").hidden = n === 0;
      if (n > shown) $("pod-tv").open = true;
      shown = n;
    },
  });
}

// fillSwitch lists the callers the technician may pick, in the server's
// order: the ticket's contact first (the default; anyone else needs the
// policy's note), then the company's others by name.
function fillSwitch(list) {
  const defaultID = ctx.contact ? ctx.contact.id : "";
  const sel = $("pod-contact"), current = sel.value || defaultID;
  sel.replaceChildren();
  if (!defaultID) sel.append(el("option", "Pick the caller…", { value: "" }));
  for (const a of list) sel.append(el("option", a.name + (a.ticket_contact || a.id === defaultID ? " (ticket contact)" : ""), { value: a.id }));
  sel.value = current;
}

$("pod-load-contacts").addEventListener("click", async () => {
  $("pod-switch-msg").textContent = "Loading the company's contacts…";
  try {
    const j = await api("POST", "/pod/" + encodeURIComponent(integration) + "/company-contacts", { scope: ctx.scope });
    fillSwitch(j.contacts);
    // Say what the policy will ask when someone else is picked.
    const p = (ctx.contact && ctx.contact.policy) || {};
    const rule = p.note_required ? " Picking anyone but the ticket's contact needs a note (your policy requires one)."
      : p.note_on_non_default ? " Picking anyone but the ticket's contact asks for an optional note." : "";
    $("pod-switch-msg").textContent = j.contacts.length + " contact(s)." + rule;
  } catch (e) { $("pod-switch-msg").textContent = e.message; }
});

$("pod-new-contact").addEventListener("click", () => { $("pod-new-form").hidden = !$("pod-new-form").hidden; });

// The caller is nobody the company has on file: create them in the PSA,
// under the ticket's company. When the policy makes them the ticket's
// contact, the pod reloads with them as its default caller.
$("pod-new-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("pod-switch-msg").textContent = "Creating the contact…";
  try {
    const j = await api("POST", "/pod/" + encodeURIComponent(integration) + "/contacts", {
      scope: ctx.scope, first_name: $("pod-new-first").value, last_name: $("pod-new-last").value,
      phone: $("pod-new-phone").value, email: $("pod-new-email").value });
    $("pod-new-form").reset(); $("pod-new-form").hidden = true;
    if (j.ticket_contact) {
      $("pod-switch-msg").textContent = j.contact.name + " was created and is now the ticket's contact.";
      await load();
      return;
    }
    $("pod-contact").append(el("option", j.contact.name, { value: j.contact.id }));
    $("pod-contact").value = j.contact.id;
    $("pod-switch-msg").textContent = j.contact.name + " was created.";
    await card.open(j.contact.id);
  } catch (e) { $("pod-switch-msg").textContent = e.message; }
});

$("pod-contact").addEventListener("change", async () => {
  if (!$("pod-contact").value) return;
  try { await card.open($("pod-contact").value); } catch (e) { $("pod-error").textContent = e.message; }
});

load();
