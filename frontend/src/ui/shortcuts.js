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
    ["?", "Show this help (Esc closes it)", (e) => e.key === "?", "help"],
  ];
}

const ctrl = (e) => (e.ctrlKey || e.metaKey) && !e.altKey;
const plain = (e) => !e.ctrlKey && !e.metaKey && !e.altKey;

// Keys a focused control uses itself: Enter on Skip presses Skip, arrows move between label chips.
const CONTROL_KEYS = new Set(["Enter", " ", "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"]);

/** Whether a key press belongs to the page's focus rather than to the shortcuts. */
function belongsToFocus(e) {
  if (document.querySelector("dialog[open]")) return true; // modal: nothing behind it reacts
  const target = e.target instanceof Element ? e.target : null;
  if (target?.closest("input, textarea, select, [contenteditable]")) return true;
  return CONTROL_KEYS.has(e.key) && Boolean(target?.closest("button, a[href], [role=radio], [tabindex]"));
}

/** Listen for shortcuts. Returns a function that stops it. */
export function bindShortcuts(table, handlers) {
  const onKey = (e) => {
    if (belongsToFocus(e)) return;
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

/** The help as a modal dialog: it takes focus, Esc or "Got it" closes it, and it removes itself. */
export function helpPanel(table) {
  const dialog = h(
    "dialog.dialog#help",
    { "aria-labelledby": "help-title", onclose: () => dialog.remove(), onclick: (e) => e.target === dialog && dialog.close() },
    h("h2#help-title", {}, "Keyboard shortcuts"),
    h("table.keys", {}, table.map(([keys, text]) => h("tr", {}, h("td", {}, h("kbd", {}, keys)), h("td", {}, text)))),
    h(
      "p.hint",
      {},
      "Mouse or pen: click to add points, click the first point (or double-click) to close a polygon. ",
      "With Freehand, press and drag to draw an outline in one stroke. Wheel or pinch to zoom; drag with the Polygon tool or two fingers to pan. ",
      "In Select mode click a shape, then drag its vertices.",
    ),
    h("div.screen-actions", {}, h("button.btn.primary", { autofocus: true, onclick: () => dialog.close() }, "Got it")),
  );
  return dialog;
}
