// The task picker, shown when the link names no task: every task this token may see, with how far
// along it is, so people can choose where help is needed.

import { h, mount } from "./dom.js";

export function showPicker(root, tasks, onPick) {
  const cards = tasks.map((task) => {
    const p = task.progress || {};
    const total = p.total || 0;
    const done = p.completed || 0;
    const pct = total ? Math.round((100 * done) / total) : 0;
    return h(
      "button.task-card",
      { onclick: () => onPick(task.id), "data-task": task.id },
      h("div.task-card-head", {}, h("h2", {}, task.name || task.id), h("span.pct", {}, `${pct}%`)),
      task.description ? h("p", {}, task.description) : null,
      h("div.bar", {}, h("div.bar-fill", { style: { width: `${pct}%` } })),
      h("div.task-card-foot", {}, `${done} of ${total} images done`, p.available !== undefined ? ` · ${p.available} waiting` : ""),
    );
  });
  mount(
    root,
    h(
      "section.picker",
      {},
      h("h1", {}, "Choose a task"),
      cards.length ? h("div.task-grid", {}, cards) : h("p.empty", {}, "No tasks are open to you yet."),
    ),
  );
}
