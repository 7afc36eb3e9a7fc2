// Keyboard shortcuts: one table drives both the key handling and the help panel, so the help can
// never disagree with what the keys do.

import { TOOLS } from "../viewer/tools.js";
import { h } from "./dom.js";

/** [keys shown in help, description, matcher(event), action name] */
export function shortcutTable(tools) {
  return [
    ["S", "Save a draft", (e) => plain(e) && e.key.toLowerCase() === "s", "save"],
    ["Enter", "Submit and load the next image (finishes a shape being drawn first)", (e) => plain(e) && e.key === "Enter", "submit"],
    ["N", "Skip this image", (e) => plain(e) && e.key.toLowerCase() === "n", "skip"],
    ["Del / Backspace", "Delete the selected shape", (e) => plain(e) && (e.key === "Delete" || e.key === "Backspace"), "remove"],
    ["Ctrl+Z", "Undo (removes the last point while drawing)", (e) => ctrl(e) && !e.shiftKey && e.key.toLowerCase() === "z", "undo"],
    ["Ctrl+Shift+Z / Ctrl+Y", "Redo", (e) => ctrl(e) && ((e.shiftKey && e.key.toLowerCase() === "z") || e.key.toLowerCase() === "y"), "redo"],
    ["Esc", "Cancel the shape being drawn", (e) => e.key === "Escape", "cancel"],
    ["1 – 9", "Choose a label", (e) => plain(e) && /^[1-9]$/.test(e.key), "labelByNumber"],
    ["+ / − / 0", "Zoom in / out / fit the image", (e) => plain(e) && ["+", "=", "-", "0"].includes(e.key), "zoomKey"],
    ...tools.map((t) => [TOOLS[t].key.toUpperCase(), `${TOOLS[t].title} tool`, (e) => plain(e) && e.key.toLowerCase() === TOOLS[t].key, `tool:${t}`]),
    ["?", "Show or hide this help", (e) => e.key === "?", "help"],
  ];
}

const ctrl = (e) => (e.ctrlKey || e.metaKey) && !e.altKey;
const plain = (e) => !e.ctrlKey && !e.metaKey && !e.altKey;

/** Listen for shortcuts; typing in a form field is left alone. Returns a function that stops it. */
export function bindShortcuts(table, handlers) {
  const onKey = (e) => {
    if (e.target.closest?.("input, textarea, select, [contenteditable]")) return;
    for (const [, , matches, action] of table) {
      if (!matches(e)) continue;
      const [name, arg] = action.split(":");
      if (!handlers[name]) return;
      e.preventDefault();
      handlers[name](arg ?? e.key);
      return;
    }
  };
  window.addEventListener("keydown", onKey);
  return () => window.removeEventListener("keydown", onKey);
}

export function helpPanel(table, onClose) {
  return h(
    "div.overlay#help",
    { onclick: (e) => e.target.id === "help" && onClose() },
    h(
      "div.dialog",
      { role: "dialog", "aria-label": "Keyboard shortcuts" },
      h("h2", {}, "Keyboard shortcuts"),
      h("table.keys", {}, table.map(([keys, text]) => h("tr", {}, h("td", {}, h("kbd", {}, keys)), h("td", {}, text)))),
      h("p.hint", {}, "Mouse: click to add points, double-click or click the first point to close a polygon; drag to pan, wheel to zoom. In Select mode click a shape, then drag its vertices."),
      h("div.screen-actions", {}, h("button.btn.primary", { onclick: onClose }, "Got it")),
    ),
  );
}
