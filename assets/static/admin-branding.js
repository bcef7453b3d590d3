"use strict";
// The branding page: logo, colours, sender name, support phone and message
// templates with a live preview.
const hexRE = /^#[0-9a-fA-F]{6}$/;
const brandIds = { sender_name: "brand-sender", primary_color: "brand-primary", accent_color: "brand-accent",
                   gradient_from: "brand-gradient-from", gradient_to: "brand-gradient-to", support_phone: "brand-support-phone",
                   time_zone: "brand-time-zone" };

function showBranding(b) {
  for (const [k, id] of Object.entries(brandIds)) adm.byId(id).value = b[k] || "";
  adm.byId("brand-tenant-name").textContent = b.tenant_name;
  const img = adm.byId("brand-logo-preview");
  if (b.logo) { img.src = b.logo; img.hidden = false; } else { img.removeAttribute("src"); img.hidden = true; }
  adm.byId("brand-logo-none").hidden = !!b.logo;
  adm.byId("brand-logo-remove").hidden = !b.logo;
  paintSwatches();
}

// paintSwatches previews valid colours; CSSOM changes are allowed under the
// page's style-src 'self', unlike style attributes.
function paintSwatches() {
  const v = (id) => { const x = adm.byId(id).value.trim(); return hexRE.test(x) ? x : ""; };
  for (const s of document.querySelectorAll(".swatch")) s.style.background = v(s.dataset.for) || "transparent";
  const from = v("brand-gradient-from") || v("brand-primary") || "#1f4e8c";
  const to = v("brand-gradient-to") || v("brand-accent") || "#2e7d32";
  adm.byId("brand-sample").style.background = "linear-gradient(160deg, " + from + ", " + to + ")";
}

for (const id of Object.values(brandIds)) adm.byId(id).addEventListener("input", paintSwatches);

adm.byId("brand-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const body = {};
  for (const [k, id] of Object.entries(brandIds)) body[k] = adm.byId(id).value.trim();
  adm.run(adm.byId("brand-save"), "brand-msg", async () => showBranding(await api("PUT", "/admin/branding", body)), "Branding saved.");
});

adm.byId("brand-logo-upload").addEventListener("click", () => {
  const f = adm.byId("brand-logo-file").files[0];
  if (!f) { adm.say("brand-logo-msg", "Choose an image file first.", false); return; }
  if (f.size > 256 * 1024) { adm.say("brand-logo-msg", "The logo must be at most 256 KiB; this file is " + Math.ceil(f.size / 1024) + " KiB.", false); return; }
  adm.run(adm.byId("brand-logo-upload"), "brand-logo-msg", async () => {
    const res = await fetch("/api/v1/admin/branding/logo", { method: "PUT", headers: { "Content-Type": f.type || "application/octet-stream" }, body: f });
    if (res.status === 401) { location.href = "/"; throw new Error("You are signed out."); }
    const j = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(j.error || res.statusText);
    showBranding(j);
    adm.byId("brand-logo-file").value = "";
  }, "Logo uploaded.");
});

adm.byId("brand-logo-remove").addEventListener("click", () =>
  adm.run(adm.byId("brand-logo-remove"), "brand-logo-msg", async () => showBranding(await api("DELETE", "/admin/branding/logo")), "Logo removed."));

// Message templates: one editor per section — the verification messages
// (ids msg-*) and the password notices (ids notice-*) — over the same
// /admin/messages API, each showing its group of the catalog.
function messageEditor(prefix, group, savedText) {
  const id = (s) => adm.byId(prefix + "-" + s);
  let messages = [], previewTimer = null, previewSeq = 0;
  const current = () => messages.find((m) => m.name === id("name").value);

  function show() {
    const m = current();
    const t = m.custom || m.default;
    id("subject-wrap").hidden = !m.has_subject;
    id("subject").value = m.has_subject ? (m.custom ? m.custom.subject || "" : m.default.subject) : "";
    id("body").value = t.body;
    id("state").textContent = m.custom ? "Using your own template." : "Using the built-in template.";
    id("reset").hidden = !m.custom;
    const sms = group === "notice" ? " SMS text may use only GSM-7 characters and at most two segments (306 characters), with your name." :
      " SMS text may use only GSM-7 characters and at most two segments (306 characters), with your name and the opt-out notice the first text gets.";
    id("needs").textContent = (m.needs ? "Must include " + m.needs + "." : "") +
      (m.channel === "sms" ? sms : "") +
      (m.channel === "voice" ? " One phrase per line; the call pauses between lines." : "") +
      (m.channel === "email" ? " Plain text; the HTML version is made from it. Separate paragraphs with a blank line." : "") +
      (m.channel === "note" ? "Written on the contact in your PSA when an opt-in form is sent; read by your staff, never by the caller." : "");
    const fields = adm.byId(prefix + "-fields");
    if (fields) fields.replaceChildren(...m.fields.map((f) => { const li = el("li"); li.append(el("code", f)); return li; }));
    adm.say(prefix + "-msg", "", true);
    preview();
  }

  function draft() {
    const m = current();
    return { subject: m.has_subject ? id("subject").value : "", body: id("body").value };
  }

  async function preview() {
    const seq = ++previewSeq, name = current().name;
    try {
      const p = await api("POST", "/admin/messages/" + name + "/preview", draft());
      if (seq !== previewSeq) return;
      id("preview-subject").textContent = p.subject ? "Subject: " + p.subject : "";
      id("preview").textContent = p.say ? p.say.join("\n") : p.text;
      adm.say(prefix + "-preview-info", p.chars + " characters" + (p.segments ? ", " + p.segments + " SMS segment" + (p.segments > 1 ? "s" : "") : "") +
        (p.later ? ". The first text to a number ends with \u201cReply STOP to opt out.\u201d, as carriers require; later ones read: " + p.later : ""), true);
    } catch (e) {
      if (seq !== previewSeq) return;
      id("preview-subject").textContent = "";
      id("preview").textContent = "";
      adm.say(prefix + "-preview-info", "No preview: " + e.message, false);
    }
  }

  function schedulePreview() { clearTimeout(previewTimer); previewTimer = setTimeout(preview, 400); }
  id("body").addEventListener("input", schedulePreview);
  id("subject").addEventListener("input", schedulePreview);
  id("name").addEventListener("change", show);

  async function load(selected) {
    messages = (await api("GET", "/admin/messages")).messages.filter((m) => m.group === group);
    const sel = id("name");
    sel.replaceChildren(...messages.map((m) => el("option", m.label + (m.custom ? " (customised)" : ""), { value: m.name })));
    sel.value = selected || messages[0].name;
    show();
  }

  id("form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = current().name;
    adm.run(id("save"), prefix + "-msg", async () => {
      await api("PUT", "/admin/messages/" + name, draft());
      await load(name);
    }, savedText);
  });

  id("reset").addEventListener("click", () => {
    const name = current().name;
    adm.run(id("reset"), prefix + "-msg", async () => {
      await api("DELETE", "/admin/messages/" + name);
      await load(name);
    }, "Back to the built-in template.");
  });

  adm.run(null, prefix + "-msg", () => load());
}

adm.run(null, "brand-msg", async () => showBranding(await api("GET", "/admin/branding")));
messageEditor("msg", "verification", "Template saved. New messages use it from now on.");
messageEditor("notice", "notice", "Template saved. The next notices use it.");
