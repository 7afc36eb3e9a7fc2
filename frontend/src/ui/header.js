// The top bar: task name, the task's progress bar and the annotator's own count; plus the banner
// line used while the connection is flaky.

export const header = {
  setTask(name) {
    document.getElementById("task-title").textContent = name || "";
    document.title = name ? `${name} · Cloud Annotator` : "Cloud Annotator";
  },
  /** @param {{total, completed, by_annotator}} progress  @param {string} me the token's sub */
  setProgress(progress, me) {
    if (!progress) return;
    const total = progress.total || 0;
    const done = progress.completed || 0;
    const mine = progress.by_annotator?.[me]?.submitted ?? 0;
    document.getElementById("progress-box").hidden = false;
    document.getElementById("progress-label").textContent = `${done} / ${total} images done`;
    document.getElementById("mine-label").textContent = `You: ${mine} submitted`;
    document.getElementById("progress-fill").style.width = `${total ? (100 * done) / total : 0}%`;
  },
};

// The banner floats over the top of the page (it never pushes the image down) and is a live
// region, so screen readers announce it: always in the page, empty (and so invisible) when hidden.
export const banner = {
  show(text, kind = "warn") {
    const el = document.getElementById("banner");
    el.className = `banner ${kind}`;
    el.textContent = text;
  },
  hide() {
    const el = document.getElementById("banner");
    el.textContent = "";
  },
};
