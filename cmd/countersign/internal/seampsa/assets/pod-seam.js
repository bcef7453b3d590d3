"use strict";
// The seam PSA's half of the pod: it only marks the page, so that a test
// can see the plugin's own script ran inside the pod.
document.documentElement.dataset.seamPsa = "loaded";
