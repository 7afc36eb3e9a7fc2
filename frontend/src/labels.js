// One colour per label, shared by the label picker and both viewers. The task's
// client_config.draw_edge_color (Kaibu's option) colours the default label; the rest come from a
// palette chosen to stay distinguishable on dark microscopy images.

const PALETTE = ["#0BF737", "#FF4FA3", "#FFC23D", "#B98CFF", "#3DB7FF", "#FF7A45", "#4DF2E0", "#F5F5F5"];

export function labelColors(labels, clientConfig = {}) {
  const colors = {};
  const defaultLabel = clientConfig.draw_label || labels[0];
  const edge = clientConfig.draw_edge_color;
  // The task's own colour is taken: the palette skips it so no two labels look alike.
  const palette = PALETTE.filter((c) => !edge || c.toLowerCase() !== edge.toLowerCase());
  let next = 0;
  for (const label of labels) {
    if (label === defaultLabel && edge) colors[label] = edge;
    else colors[label] = palette[next++ % palette.length];
  }
  return colors;
}

/** Labels offered to the annotator: the task's list, else Kaibu's single draw_label, else "object". */
export function taskLabels(task) {
  const cfg = task.client_config || {};
  if (Array.isArray(task.labels) && task.labels.length) return task.labels.map(String);
  return [cfg.draw_label || "object"];
}
