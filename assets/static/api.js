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

// The console's navigation collapses behind "Menu" on narrow screens
// (style.css); the button opens and closes it.
document.addEventListener("click", (ev) => {
  const b = ev.target.closest && ev.target.closest("#nav-toggle");
  if (!b) return;
  const open = b.getAttribute("aria-expanded") !== "true";
  b.setAttribute("aria-expanded", String(open));
  b.closest(".bar").classList.toggle("open", open);
});

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

// CSTime writes times the one way every page does (core/timefmt.go): 24-hour,
// in the tenant's time zone (the body's data-tz, "" for UTC), with the date
// when it is not today and the year when it is not this year, and how long
// ago where that helps ("14:02 (2 min ago)").
const CSTime = (() => {
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  let fmt = null, fmtZone = null;
  function zone() { return (document.body && document.body.dataset.tz) || "UTC"; }
  // parts is a time's fields in the tenant's zone.
  function parts(d) {
    if (!fmt || fmtZone !== zone()) {
      fmtZone = zone();
      try {
        fmt = new Intl.DateTimeFormat("en-US", { timeZone: fmtZone, year: "numeric", month: "numeric", day: "numeric",
          weekday: "short", hour: "numeric", minute: "numeric", hourCycle: "h23" });
      } catch (e) { fmtZone = "UTC"; fmt = new Intl.DateTimeFormat("en-US", { timeZone: "UTC", year: "numeric", month: "numeric",
        day: "numeric", weekday: "short", hour: "numeric", minute: "numeric", hourCycle: "h23" }); }
    }
    const o = {};
    for (const p of fmt.formatToParts(d)) o[p.type] = p.value;
    return { y: +o.year, m: +o.month, d: +o.day, wd: days.indexOf(o.weekday), hh: String(+o.hour % 24).padStart(2, "0"), mm: o.minute.padStart(2, "0") };
  }
  function format(s, now) {
    const d = new Date(s), p = parts(d), n = parts(now || new Date());
    const hm = p.hh + ":" + p.mm;
    if (p.y === n.y && p.m === n.m && p.d === n.d) return hm;
    if (p.y === n.y) return days[p.wd] + " " + p.d + " " + months[p.m - 1] + " " + hm;
    return p.d + " " + months[p.m - 1] + " " + p.y + " " + hm;
  }
  // ago is "just now", "5 min ago", "2 h ago", or "" (over a day, or ahead).
  function ago(s, now) {
    const ms = (now || new Date()) - new Date(s);
    if (ms < 0 || ms >= 864e5) return "";
    if (ms < 6e4) return "just now";
    if (ms < 36e5) return Math.floor(ms / 6e4) + " min ago";
    return Math.floor(ms / 36e5) + " h ago";
  }
  // when is format with ago beside it.
  function when(s, now) { const a = ago(s, now); return format(s, now) + (a ? " (" + a + ")" : ""); }
  return { format, ago, when, zone };
})();
