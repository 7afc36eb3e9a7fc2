// One colour per label, shared by the label picker and both viewers. The task's
// client_config.draw_edge_color (Kaibu's option) colours the default label; the rest come from a
// palette chosen to stay distinguishable on dark microscopy images.

const PALETTE = ["#0BF737", "#FF4FA3", "#3DB7FF", "#FFC23D", "#B98CFF", "#FF7A45", "#4DF2E0", "#F5F5F5"];

export function labelColors(labels, clientConfig = {}) {
  const colors = {};
  const defaultLabel = clientConfig.draw_label || labels[0];
  let next = 0;
  for (const label of labels) {
    if (label === defaultLabel && clientConfig.draw_edge_color) colors[label] = clientConfig.draw_edge_color;
    else colors[label] = PALETTE[next++ % PALETTE.length];
  }
  return colors;
}

/** Labels offered to the annotator: the task's list, else Kaibu's single draw_label, else "object". */
export function taskLabels(task) {
  const cfg = task.client_config || {};
  if (Array.isArray(task.labels) && task.labels.length) return task.labels.map(String);
  return [cfg.draw_label || "object"];
}
