"use strict";
// The dev outbox: what would have been sent, refreshed every two seconds.
async function load() {
  const j = await api("GET", "/outbox");
  const ul = document.getElementById("items"); ul.replaceChildren();
  for (const it of j.items) {
    const li = el("li");
    li.append(el("strong", it.kind.toUpperCase() + " to " + (it.message ? it.message.to : "?") + " — " + it.status));
    if (it.message) {
      if (it.message.subject) li.append(el("div", "Subject: " + it.message.subject));
      li.append(el("pre", it.message.text || (it.message.say || []).join(" … ")));
      const m = (it.message.text || "").match(/https?:\/\/\S+/);
      if (m) { const a = el("a", "Open link", { href: m[0], target: "_blank", rel: "noreferrer" }); li.append(a); }
    }
    ul.append(li);
  }
}
load(); setInterval(load, 2000);
