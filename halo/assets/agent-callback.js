"use strict";
// Halo sends the agent sign-in pop-out here with ?code=&state= (or
// ?error=). The page hands them to the custom tab that opened the pop-out —
// our own origin only — and closes.
(() => {
  const q = new URLSearchParams(location.search);
  const out = document.getElementById("msg");
  if (!window.opener) {
    out.textContent = "This window belongs to the Countersign tab in Halo. Close it and sign in from the tab.";
    return;
  }
  window.opener.postMessage({
    type: "countersign:halo-code", code: q.get("code") || "", state: q.get("state") || "", error: q.get("error") || "",
  }, location.origin);
  out.textContent = q.get("code") ? "Signed in to Halo. You can close this window." : "Halo did not sign you in. Close this window and try again.";
  history.replaceState(null, "", location.pathname); // the code leaves the address bar
  window.close();
})();
