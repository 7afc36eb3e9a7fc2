// The annotation screen's layout: tools and labels on the left, the image in the middle, the
// actions (Skip / Save / Submit) under it. It only renders and reports clicks; the annotator
// controller decides what they do.

import { TOOLS } from "../viewer/tools.js";
import { h, mount } from "./dom.js";

const TOOL_ICONS = {
  select: '<path d="M5 3l14 8-6 1.5L10 19z"/>',
  polygon: '<path d="M4 17l3-11 10 2 3 8-9 4z"/>',
  freehand: '<path d="M3 15c3-8 6 2 9-4s6-4 9 1"/>',
  rectangle: '<rect x="4" y="6" width="16" height="12" rx="1"/>',
  point: '<circle cx="12" cy="12" r="4"/>',
  line: '<path d="M4 18L20 6"/>',
};

function icon(name) {
  const span = h("span.tool-icon", { "aria-hidden": "true" });
  span.innerHTML = `<svg viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round">${TOOL_ICONS[name]}</svg>`;
  return span;
}

/**
 * @param {HTMLElement} root
 * @param {{tools: string[]|null, labels: string[], colors: Object, instructions: string,
 *          on: {tool, label, save, submit, skip, undo, redo, remove, zoomIn, zoomOut, fit}}} spec
 *   tools null = the viewer brings its own (Kaibu)
 */
export function buildWorkspace(root, { tools, labels, colors, instructions, on }) {
  const toolButtons = {};
  const labelButtons = {};

  const toolSection = tools
    ? h(
        "section.panel",
        {},
        h("h3", {}, "Tools"),
        h(
          "div.tools",
          {},
          tools.map((t) => {
            toolButtons[t] = h(
              "button.tool",
              {
                "data-tool": t,
                title: `${TOOLS[t].title} (${TOOLS[t].key.toUpperCase()})`,
                "aria-pressed": "false",
                onclick: () => on.tool(t),
              },
              icon(t),
              h("span", {}, TOOLS[t].title),
              h("kbd", { "aria-hidden": "true" }, TOOLS[t].key.toUpperCase()),
            );
            return toolButtons[t];
          }),
        ),
      )
    : null;

  const labelSection = h(
    "section.panel",
    {},
    h("h3", {}, "Label"),
    h(
      "div.labels",
      { role: "radiogroup", "aria-label": "Label", onkeydown: (e) => moveLabel(e, labels, on.label, labelButtons) },
      labels.map((label, i) => {
        labelButtons[label] = h(
          "button.label-chip",
          { "data-label": label, role: "radio", "aria-checked": "false", tabindex: "-1", onclick: () => on.label(label) },
          h("span.swatch", { style: { background: colors[label] } }),
          h("span.label-name", {}, label),
          i < 9 ? h("kbd", { "aria-hidden": "true" }, String(i + 1)) : null,
        );
        return labelButtons[label];
      }),
    ),
  );

  // A <details> so narrow screens can fold the instructions away; open by default.
  const instructionSection = instructions
    ? h("details.panel.instructions", { open: true }, h("summary", {}, h("h3", {}, "Instructions")), h("p", {}, instructions))
    : null;

  const status = h("span.status", { id: "save-status", role: "status" });
  const sampleName = h("span.sample-name", { id: "sample-name" });
  const shapeCount = h("span.shape-count", { id: "shape-count" });
  const note = h("span.note", { id: "viewer-note" });
  const viewerEl = h("div.viewer", { id: "viewer", role: "application", "aria-label": "Image to annotate" });
  const veil = h("div.veil", { "aria-hidden": "true" }, h("span.spinner"));
  const editButton = (label, title, glyph, onclick) =>
    h("button.btn.ghost", { onclick, title, "aria-label": label }, h("span.glyph", { "aria-hidden": "true" }, glyph), h("span.btn-text", {}, label));
  const editButtons = tools
    ? [
        editButton("Undo", "Undo (Ctrl+Z)", "↶", on.undo),
        editButton("Redo", "Redo (Ctrl+Shift+Z)", "↷", on.redo),
        editButton("Delete", "Delete selected (Del)", "✕", on.remove),
      ]
    : [];
  const zoom = tools
    ? h(
        "div.zoom",
        {},
        h("button", { onclick: on.zoomIn, title: "Zoom in (+)", "aria-label": "Zoom in" }, "+"),
        h("button", { onclick: on.zoomOut, title: "Zoom out (−)", "aria-label": "Zoom out" }, "−"),
        h("button", { onclick: on.fit, title: "Fit image (0)", "aria-label": "Fit image" }, "⤢"),
      )
    : null;

  const mainButtons = [
    h("button.btn#skip-btn", { onclick: on.skip, title: "Skip this image (N)", "aria-keyshortcuts": "N" }, "Skip ", h("kbd", { "aria-hidden": "true" }, "N")),
    h("button.btn#save-btn", { onclick: on.save, title: "Save a draft (S)", "aria-keyshortcuts": "S" }, "Save draft ", h("kbd", { "aria-hidden": "true" }, "S")),
    h(
      "button.btn.primary#submit-btn",
      { onclick: on.submit, title: "Submit and go to the next image (Enter)", "aria-keyshortcuts": "Enter" },
      "Submit ",
      h("kbd", { "aria-hidden": "true" }, "↵"),
    ),
  ];

  mount(
    root,
    h(
      "div.workspace",
      // A pointer click must not leave focus on a button, or the next Enter would press it again
      // instead of submitting; keyboard focus (Tab) is untouched.
      { onmousedown: (e) => e.target.closest?.("button") && e.preventDefault() },
      h("aside.sidebar", {}, toolSection, labelSection, instructionSection),
      h(
        "section.stage",
        {},
        h("div.stage-head", {}, sampleName, shapeCount, note),
        h("div.viewer-wrap", {}, viewerEl, zoom, veil),
        h(
          "div.actionbar",
          {},
          h("div.edit-actions", {}, editButtons),
          status,
          h(
            "div.main-actions",
            {},
            mainButtons,
          ),
        ),
      ),
    ),
  );

  return {
    viewerEl,
    setTool(tool) {
      for (const [t, b] of Object.entries(toolButtons)) {
        b.classList.toggle("active", t === tool);
        b.setAttribute("aria-pressed", String(t === tool));
      }
    },
    setLabel(label) {
      for (const [l, b] of Object.entries(labelButtons)) {
        b.classList.toggle("active", l === label);
        b.setAttribute("aria-checked", String(l === label));
        b.tabIndex = l === label ? 0 : -1; // one tab stop for the group; arrows move within it
      }
    },
    setStatus(text, kind = "") {
      status.textContent = text;
      status.className = `status ${kind}`;
    },
    setSample(name, count) {
      sampleName.textContent = name;
      shapeCount.textContent = count === null ? "" : `${count} shape${count === 1 ? "" : "s"}`;
    },
    setNote(text) {
      note.textContent = text;
    },
    setBusy(busy, { locked = busy } = {}) {
      for (const button of mainButtons) button.disabled = busy;
      veil.classList.toggle("on", locked);
    },
  };
}

/** Arrow keys move the choice between label chips, as in any radio group. */
function moveLabel(e, labels, choose, buttons) {
  const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[e.key];
  const current = labels.indexOf(e.target.closest?.("[data-label]")?.dataset.label);
  if (!step || current < 0) return;
  e.preventDefault();
  const label = labels[(current + step + labels.length) % labels.length];
  choose(label);
  buttons[label].focus();
}
