// Read-only view of one sample: the browser-ready image with its latest annotation drawn on top.
// Annotations are in Kaibu's convention (x = column, y = H - row, y up); the SVG overlay uses the
// image's pixel grid (y down), so every y is flipped here, and only here.

import { labelColors, taskLabels } from "../labels.js";

const SVG = "http://www.w3.org/2000/svg";

function shape(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function drawGeometry(svg, geometry, height, color) {
  const pts = (ring) => ring.map(([x, y]) => `${x},${height - y}`).join(" ");
  // The annotator's colours; inline style, since the page's stylesheet would beat an attribute.
  const paint = color ? { stroke: color, style: `stroke: ${color}; fill: ${color}26` } : {};
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates]
    : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  for (const polygon of polygons) for (const ring of polygon) svg.append(shape("polygon", { points: pts(ring), ...paint }));
  if (geometry.type === "LineString") svg.append(shape("polyline", { points: pts(geometry.coordinates), fill: "none", ...paint }));
  const points = geometry.type === "Point" ? [geometry.coordinates] : geometry.type === "MultiPoint" ? geometry.coordinates : [];
  for (const [x, y] of points) svg.append(shape("circle", { cx: x, cy: height - y, r: 2, ...(color ? { fill: color } : {}) }));
}

/** Fill the #sample-view figure from GET /tasks/{id}/samples/{sid}/view; task gives the label colours. */
export async function showSample(view, task) {
  const figure = document.querySelector("#sample-view");
  const img = document.querySelector("#sample-view-image");
  const svg = document.querySelector("#sample-view-shapes");
  figure.hidden = false;
  svg.replaceChildren();
  const [name, url] = Object.entries(view.files)[0] || [];
  const features = view.annotation ? view.annotation.features.length : 0;
  document.querySelector("#sample-view-title").textContent = view.problem
    ? `${view.id}: refused (${view.problem})`
    : `${view.id} · ${name} · ${String(view.status).replace("_", " ")} · version ${view.version ?? "none"} · ${features} shape${features === 1 ? "" : "s"}`;
  if (!url) {
    img.removeAttribute("src");
    return;
  }
  img.src = url;
  await img.decode();
  const [width, height] = [img.naturalWidth, img.naturalHeight];
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const colors = task ? labelColors(taskLabels(task), task.client_config || {}) : {};
  for (const feature of view.annotation ? view.annotation.features : []) {
    drawGeometry(svg, feature.geometry, height, colors[feature.properties?.label]);
  }
  svg.dataset.shapes = String(svg.childElementCount);
}
