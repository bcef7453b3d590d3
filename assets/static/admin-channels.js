"use strict";
// Settings → Channels: the tenant's own Twilio and SMTP accounts, country
// allow-lists and HELP text, with a live check after each save. Secrets are
// write-only: the server says only whether one is stored.
const chIds = {
  account_sid: "ch-tw-account", api_key_sid: "ch-tw-apikey", number: "ch-tw-number", messaging_service_sid: "ch-tw-msid",
};
const emIds = { host: "ch-em-host", username: "ch-em-user", from: "ch-em-from", from_name: "ch-em-fromname" };

function countries(id) {
  return adm.byId(id).value.split(/[\s,;]+/).map((c) => c.trim()).filter((c) => c !== "");
}

function toggleShared() {
  adm.byId("ch-tw-own").hidden = adm.byId("ch-tw-shared").checked;
  adm.byId("ch-em-own").hidden = adm.byId("ch-em-shared").checked;
}

function showChannels(c) {
  for (const [k, id] of Object.entries(chIds)) adm.byId(id).value = c.twilio[k] || "";
  for (const [k, id] of Object.entries(emIds)) adm.byId(id).value = c.email[k] || "";
  adm.byId("ch-em-port").value = c.email.port ? String(c.email.port) : "";
  adm.byId("ch-em-tls").value = c.email.tls || "starttls";
  adm.byId("ch-tw-shared").checked = !!c.twilio.shared;
  adm.byId("ch-em-shared").checked = !!c.email.shared;
  adm.byId("ch-shared-tw-row").hidden = !c.shared_allowed && !c.twilio.shared;
  adm.byId("ch-shared-em-row").hidden = !c.shared_allowed && !c.email.shared;
  for (const id of ["ch-tw-secret", "ch-tw-authtoken", "ch-em-pass"]) adm.byId(id).value = "";
  adm.byId("ch-tw-secret-state").textContent = c.twilio.has_secret ? "A secret is stored. Leave empty to keep it." : "No secret stored yet.";
  adm.byId("ch-em-pass-state").textContent = c.email.has_password ? "A password is stored. Leave empty to keep it." : "No password stored yet.";
  adm.byId("ch-sms-countries").value = c.sms_countries.join(", ");
  adm.byId("ch-voice-countries").value = c.voice_countries.join(", ");
  adm.byId("ch-tenant-country").textContent = c.tenant_country;
  adm.byId("ch-help").value = c.help_text || "";
  adm.byId("ch-webhook-url").textContent = c.webhook_url;
  toggleShared();
}

async function check() {
  for (const id of ["ch-check-twilio", "ch-check-email"]) adm.say(id, "Checking…", true);
  const r = await api("POST", "/admin/channels/check");
  adm.say("ch-check-twilio", "Twilio: " + r.twilio.message, r.twilio.ok);
  adm.say("ch-check-email", "E-mail: " + r.email.message, r.email.ok);
}

adm.byId("ch-tw-shared").addEventListener("change", toggleShared);
adm.byId("ch-em-shared").addEventListener("change", toggleShared);

adm.byId("ch-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const twilio = { shared: adm.byId("ch-tw-shared").checked, secret: adm.byId("ch-tw-secret").value, auth_token: adm.byId("ch-tw-authtoken").value };
  for (const [k, id] of Object.entries(chIds)) twilio[k] = adm.byId(id).value.trim();
  const email = { shared: adm.byId("ch-em-shared").checked, port: adm.int("ch-em-port"), tls: adm.byId("ch-em-tls").value,
                  password: adm.byId("ch-em-pass").value };
  for (const [k, id] of Object.entries(emIds)) email[k] = adm.byId(id).value.trim();
  const body = { twilio, email, sms_countries: countries("ch-sms-countries"), voice_countries: countries("ch-voice-countries"),
                 help_text: adm.byId("ch-help").value.trim() };
  adm.run(adm.byId("ch-save"), "ch-msg", async () => {
    showChannels(await api("PUT", "/admin/channels", body));
    await check();
  }, "Channels saved.");
});

adm.byId("ch-check").addEventListener("click", () => adm.run(adm.byId("ch-check"), "ch-msg", check));

(async () => {
  try { showChannels(await api("GET", "/admin/channels")); } catch (e) { adm.say("ch-msg", e.message, false); }
})();
