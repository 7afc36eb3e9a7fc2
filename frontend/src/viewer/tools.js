// The drawing tools, keyed by our names, and how a task's Kaibu client_config selects them.
// Kaibu's options: draw_shape_type ("Polygon", "Point", "LineString", "Rectangle"...) and
// draw_freehand (polygons drawn by dragging). A task may narrow the toolbar with client_config.tools.

export const TOOLS = {
  select: { title: "Select / edit", key: "v" },
  polygon: { title: "Polygon", key: "p" },
  freehand: { title: "Freehand", key: "f" },
  rectangle: { title: "Rectangle", key: "r" },
  point: { title: "Point", key: "o" },
  line: { title: "Line", key: "l" },
};

const FROM_KAIBU = { polygon: "polygon", point: "point", linestring: "line", line: "line", rectangle: "rectangle", box: "rectangle" };

export function toolsFor(clientConfig = {}) {
  const allowed = Array.isArray(clientConfig.tools) ? clientConfig.tools.filter((t) => t in TOOLS) : Object.keys(TOOLS);
  if (!allowed.includes("select")) allowed.unshift("select");
  let initial = FROM_KAIBU[String(clientConfig.draw_shape_type || "polygon").toLowerCase()] || "polygon";
  if (initial === "polygon" && clientConfig.draw_freehand && allowed.includes("freehand")) initial = "freehand";
  if (!allowed.includes(initial)) initial = allowed.find((t) => t !== "select") || "select";
  return { allowed, initial: clientConfig.draw_enable === false ? "select" : initial };
}
