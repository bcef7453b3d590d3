// Autotask's half of the ticket Insight (autotask/insight.go). Autotask's
// ticket page frames the Insight with ?isdarktheme=True|False and more;
// this script honours the dark theme by loading dark.css beside it. It
// defines no window.CSPodPSA: Autotask gives the Insight no proof of who
// is looking (its signature is undocumented and has no timestamp), so the
// technician signs in with Countersign's pop-out.
(() => {
  const q = new URLSearchParams(location.search);
  if ((q.get("isdarktheme") || "").toLowerCase() !== "true") return;
  document.documentElement.dataset.theme = "dark";
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = new URL("dark.css", document.currentScript.src).pathname;
  document.head.appendChild(link);
})();
