// Shown over the (kept) drawing when the server says the lease is gone: the person's work must not
// vanish just because their image was handed on. They can download it, then move on. Modal, and
// Esc does not dismiss it: there is nothing left to do on this image.

import { h } from "./dom.js";

export function leaseLostDialog({ sampleId, annotation, onNext }) {
  const blob = new Blob([JSON.stringify(annotation, null, 2)], { type: "application/geo+json" });
  const href = URL.createObjectURL(blob);
  return h(
    "dialog.dialog#lease-lost",
    { role: "alertdialog", "aria-labelledby": "lease-lost-title", "aria-describedby": "lease-lost-text", oncancel: (e) => e.preventDefault() },
    h("h2#lease-lost-title", {}, "This image is no longer reserved for you"),
    h(
      "p#lease-lost-text",
      {},
      "Your reservation of this image has ended (it ran out while the page was closed or offline, or the task owner ended it), ",
      "so this drawing can no longer be saved here. It is still on screen: download it if you want to keep it.",
    ),
    h(
      "div.screen-actions",
      {},
      h("a.btn#download-geojson", { href, download: `${sampleId}.geojson` }, "Download drawing (GeoJSON)"),
      h("button.btn.primary", { autofocus: true, onclick: () => (URL.revokeObjectURL(href), onNext()) }, "Continue with a new image"),
    ),
  );
}
