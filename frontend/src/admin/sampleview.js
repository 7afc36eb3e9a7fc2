// Read-only view of one sample: the browser-ready image with its latest annotation drawn on top.
// Annotations are in Kaibu's convention (x = column, y = H - row, y up); the SVG overlay uses the
// image's pixel grid (y down), so every y is flipped here, and only here.

const SVG = "http://www.w3.org/2000/svg";

function shape(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function drawGeometry(svg, geometry, height) {
  const pts = (ring) => ring.map(([x, y]) => `${x},${height - y}`).join(" ");
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates]
    : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  for (const polygon of polygons) for (const ring of polygon) svg.append(shape("polygon", { points: pts(ring) }));
  if (geometry.type === "LineString") svg.append(shape("polyline", { points: pts(geometry.coordinates), fill: "none" }));
  const points = geometry.type === "Point" ? [geometry.coordinates] : geometry.type === "MultiPoint" ? geometry.coordinates : [];
  for (const [x, y] of points) svg.append(shape("circle", { cx: x, cy: height - y, r: 2 }));
}

/** Fill the #sample-view figure from GET /tasks/{id}/samples/{sid}/view. */
export async function showSample(view) {
  const figure = document.querySelector("#sample-view");
  const img = document.querySelector("#sample-view-image");
  const svg = document.querySelector("#sample-view-shapes");
  figure.hidden = false;
  svg.replaceChildren();
  const [name, url] = Object.entries(view.files)[0] || [];
  const features = view.annotation ? view.annotation.features.length : 0;
  document.querySelector("#sample-view-title").textContent = view.problem
    ? `${view.id}: refused (${view.problem})`
    : `${view.id} · ${name} · ${String(view.status).replace("_", " ")} · version ${view.version ?? "none"} · ${features} shapes`;
  if (!url) {
    img.removeAttribute("src");
    return;
  }
  img.src = url;
  await img.decode();
  const [width, height] = [img.naturalWidth, img.naturalHeight];
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  for (const feature of view.annotation ? view.annotation.features : []) drawGeometry(svg, feature.geometry, height);
  svg.dataset.shapes = String(svg.childElementCount);
}
