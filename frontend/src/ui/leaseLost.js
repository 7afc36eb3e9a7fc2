// Shown over the (kept) drawing when the server says the lease is gone: the person's work must not
// vanish just because their image was handed on. They can download it, then move on.

import { h } from "./dom.js";

export function leaseLostDialog({ sampleId, annotation, onNext }) {
  const blob = new Blob([JSON.stringify(annotation, null, 2)], { type: "application/geo+json" });
  const href = URL.createObjectURL(blob);
  return h(
    "div.overlay#lease-lost",
    {},
    h(
      "div.dialog",
      { role: "alertdialog", "aria-label": "Image handed to someone else" },
      h("h2", {}, "This image is no longer reserved for you"),
      h(
        "p",
        {},
        "Your reservation expired (the page was inactive or offline too long) and the image may now be with another annotator, so this drawing can no longer be saved here. ",
        "It is still on screen: download it to keep it.",
      ),
      h(
        "div.screen-actions",
        {},
        h("a.btn#download-geojson", { href, download: `${sampleId}.geojson` }, "Download drawing (GeoJSON)"),
        h("button.btn.primary", { onclick: () => (URL.revokeObjectURL(href), onNext()) }, "Continue with a new image"),
      ),
    ),
  );
}
