// The Export card: ask for an export (format and options), watch it being built, download it;
// the task's last exports with size and date; agreement between annotators from the newest
// finished export, lowest-agreement samples first, each with a Reopen action.
import { h } from "../ui/dom.js";

const $ = (sel) => document.querySelector(sel);
const POLL_MS = 1000;
const FORMAT_NAMES = { all: "GeoJSON + masks + COCO", geojson: "GeoJSON folders", masks: "Label masks", coco: "COCO" };
const el = (tag, classes, text) => h([tag, ...(classes || "").split(" ").filter(Boolean)].join("."), {}, text);

function size(bytes) {
  if (bytes == null) return "";
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

const date = (epoch) => new Date(epoch * 1000).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const pct = (x) => (x == null ? "–" : `${Math.round(x * 100)}%`);

function options(form) {
  const f = new FormData(form);
  const labels = String(f.get("labels") || "").split(",").map((s) => s.trim()).filter(Boolean);
  return {
    format: f.get("format"), versions: f.get("versions"), status: f.get("status"),
    labels: labels.length ? labels : null, images: f.get("images") === "on",
  };
}

function statusCell(job) {
  if (job.status === "done") {
    const a = el("a", "btn small primary download", "Download");
    a.href = job.url;
    a.download = job.file_name;
    return a;
  }
  if (job.status === "failed") {
    const s = el("span", "pill problem", "failed");
    s.title = job.error || "";
    return s;
  }
  const wrap = el("div", "export-progress");
  const bar = document.createElement("progress");
  bar.max = Math.max(job.progress.total, 1);
  bar.value = Math.min(job.progress.done, job.progress.total);
  wrap.append(bar, el("span", "muted", job.status === "queued" ? "queued" : `${job.progress.done} / ${job.progress.total}`));
  return wrap;
}

function renderList(jobs) {
  const body = $("#exports tbody");
  body.replaceChildren();
  for (const job of jobs) {
    const row = body.insertRow();
    row.dataset.export = job.id;
    row.dataset.status = job.status;
    row.insertCell().textContent = date(job.created_at);
    const what = row.insertCell();
    what.append(el("div", "", FORMAT_NAMES[job.options.format] || job.options.format),
      el("div", "muted small", `${job.options.versions} versions · ${job.options.status} samples` +
        (job.options.labels ? ` · ${job.options.labels.join(", ")}` : "")));
    const n = row.insertCell();
    n.className = "num";
    n.textContent = job.status === "done" ? `${job.counts.samples_exported} samples` : "";
    const s = row.insertCell();
    s.className = "num";
    s.textContent = size(job.size);
    const act = row.insertCell();
    act.className = "actions";
    act.append(statusCell(job));
    if (job.status === "failed") act.append(el("div", "muted small error-text", job.error || ""));
  }
  const empty = jobs.length === 0;
  $("#exports").hidden = empty;
  $("#exports-empty").hidden = !empty;
}

// Reopened in this tab: the table is redrawn every few seconds (and may be while a reopen is on
// its way), and must keep saying so.
const reopened = new Set();

function markReopened(button) {
  button.textContent = "Reopened";
  button.classList.add("copied");
}

function renderAgreement(api, taskId, jobs, onChange) {
  const latest = jobs.find((j) => j.status === "done" && j.agreement);
  const box = $("#agreement");
  box.hidden = !latest;
  $("#agreement-empty").hidden = !!latest;
  if (!latest) return;
  const a = latest.agreement;
  $("#agreement-f1").textContent = pct(a.f1);
  $("#agreement-iou").textContent = a.mean_iou == null ? "–" : a.mean_iou.toFixed(2);
  $("#agreement-n").textContent = `${a.samples} samples compared · export of ${date(latest.created_at)}`;
  const body = $("#agreement-lowest tbody");
  body.replaceChildren();
  for (const s of a.lowest.slice(0, 8)) {
    const row = body.insertRow();
    row.dataset.sample = s.sample_id;
    const id = row.insertCell();
    id.className = "mono";
    id.textContent = s.sample_id;
    const f1 = row.insertCell();
    f1.className = "num";
    const meter = el("div", "agree-meter");
    const fill = el("div");
    fill.style.width = `${Math.round(s.f1 * 100)}%`;
    fill.className = s.f1 < 0.5 ? "low" : s.f1 < 0.8 ? "mid" : "high";
    meter.append(fill);
    f1.append(meter, el("span", "", pct(s.f1)));
    row.insertCell().textContent = s.mean_iou == null ? "–" : s.mean_iou.toFixed(2);
    const act = row.insertCell();
    act.className = "actions";
    const key = `${taskId}/${s.sample_id}`;
    const b = el("button", "btn small", "Reopen");
    b.type = "button";
    b.title = "Ask one more annotator for this sample";
    if (reopened.has(key)) markReopened(b);
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        await api.reopen(taskId, s.sample_id);
        reopened.add(key);
        markReopened(b);
        onChange();
      } catch (err) {
        b.disabled = false;
        b.title = err.message;
        b.textContent = err.code === "sample_not_complete" ? "Already open" : "Retry";
      }
    });
    act.append(b);
  }
}

/** Fill the card for `taskId`; returns true while an export is still being built. */
export async function renderExports(api, taskId, onChange) {
  const { exports: jobs } = await api.exports(taskId);
  renderList(jobs);
  renderAgreement(api, taskId, jobs, onChange);
  return jobs.some((j) => j.status === "queued" || j.status === "running");
}

/** Wire the form: start an export, then poll the card until nothing is being built. */
export function setupExports(api, selectedTask, onChange, showError) {
  let timer = null;
  const poll = async () => {
    clearTimeout(timer);
    const taskId = selectedTask();
    if (!taskId) return;
    try {
      if (await renderExports(api, taskId, onChange)) timer = setTimeout(poll, POLL_MS);
    } catch (err) {
      showError(err);
    }
  };
  $("#export-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("#export-start");
    button.disabled = true;
    try {
      showError(null);
      await api.startExport(selectedTask(), options(event.target));
      await poll();
    } catch (err) {
      showError(err);
    } finally {
      button.disabled = false;
    }
  });
  return poll;
}
