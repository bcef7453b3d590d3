"use strict";
// Shared by the console's admin pages and the dev outbox: the nav's sign-out
// button and form messages. Text reaches the page through textContent only,
// never as markup, so whatever an admin typed is shown, not run.
const adm = {
  byId: (id) => document.getElementById(id),
  // say shows a message in the element id; ok selects the success style.
  say(id, text, ok) {
    const p = adm.byId(id);
    p.textContent = text;
    p.classList.toggle("ok", !!ok);
    p.classList.toggle("error", !ok);
  },
  // run calls fn with the button disabled and reports its outcome in msgId.
  async run(button, msgId, fn, okText) {
    if (button) button.disabled = true;
    adm.say(msgId, "", true);
    try {
      await fn();
      if (okText) adm.say(msgId, okText, true);
      return true;
    } catch (e) {
      adm.say(msgId, e.message || String(e), false);
      return false;
    } finally {
      if (button) button.disabled = false;
    }
  },
  // int reads a whole-number field: "" is 0 (the default) and anything else
  // unreadable is sent as typed, so the server names the field.
  int(id) {
    const v = adm.byId(id).value.trim();
    if (v === "") return 0;
    return /^-?\d+$/.test(v) ? Number(v) : v;
  },
};

(() => {
  const b = adm.byId("logout");
  if (!b || typeof $ === "function") return; // the contacts page binds its own
  b.addEventListener("click", async () => {
    try { await api("POST", "/logout"); } finally { location.href = "/"; }
  });
})();
