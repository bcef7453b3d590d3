"use strict";
// The page Microsoft's admin consent returns to, in the pop-out: it tells
// the setup page that opened it (same origin only) what happened, so the
// form fills in the tenant id, and closes (by itself once consent is
// granted).
(() => {
  const res = document.getElementById("consent-result");
  if (window.opener && res) {
    try {
      window.opener.postMessage({ kind: "countersign-microsoft-consent", granted: res.dataset.granted === "true",
        client_id: res.dataset.client || "", app_client_id: res.dataset.app || "", entra_tenant: res.dataset.tenant || "",
        message: res.textContent.trim() }, location.origin);
      // Granted: the setup page says so and carries on; a refusal stays
      // on screen to be read.
      if (res.dataset.granted === "true") setTimeout(() => window.close(), 1500);
    } catch (_) { /* the opener navigated away */ }
  }
  document.getElementById("consent-close").addEventListener("click", () => window.close());
})();
