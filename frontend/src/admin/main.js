// Task dashboard: tasks with progress, create/edit, uploads, invites, live leases, per-annotator
// counts. Everything goes through the public API with the admin's bearer token, which arrives
// like the annotator's (`admin.html#token=...`, kept per tab in sessionStorage) or is pasted.
import { Api } from "../api.js";
import { loadSiteConfig } from "../link.js";
import { showSample } from "./sampleview.js";
import { entriesFromDrop, entryFor, uploadEntries } from "./upload.js";

const TOKEN_KEY = "admin.token";
const REFRESH_MS = 5000;
const $ = (sel) => document.querySelector(sel);
const SAMPLES_PAGE = 50;
const state = { api: null, selected: null, editing: null, samplesShown: SAMPLES_PAGE };

function cell(row, content) {
  const td = row.insertCell();
  if (content instanceof Node) td.append(content);
  else td.textContent = content ?? "";
  return td;
}

function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

function showError(err) {
  const banner = $("#banner");
  banner.textContent = err ? `${err.message}${err.code ? ` (${err.code})` : ""}` : "";
  banner.hidden = !err;
}

async function guarded(work) {
  try {
    showError(null);
    return await work();
  } catch (err) {
    showError(err);
  }
}

const when = (epoch) => new Date(epoch * 1000).toLocaleString();
const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

// --- tasks -------------------------------------------------------------------------------------

async function renderTasks() {
  const { tasks } = await state.api.request("GET", "/tasks");
  const body = $("#tasks tbody");
  body.replaceChildren();
  for (const task of tasks) {
    const row = body.insertRow();
    row.dataset.task = task.id;
    row.classList.toggle("selected", task.id === state.selected);
    cell(row, task.id);
    cell(row, task.name);
    const bar = document.createElement("progress");
    bar.max = Math.max(task.progress.total, 1);
    bar.value = task.progress.completed;
    cell(row, bar);
    cell(row, `${task.progress.completed} / ${task.progress.total}`);
    cell(row, button("Open", () => select(task))).append(" ", button("Edit", () => edit(task)));
  }
}

function taskFields(form) {
  const f = new FormData(form);
  const annotators = list(f.get("annotators"));
  const tool = f.get("tool");
  return {
    name: f.get("name"),
    instructions: f.get("instructions"),
    labels: list(f.get("labels")),
    annotators: annotators.length ? annotators : null,
    annotations_per_sample: Number(f.get("annotations_per_sample")),
    lease_seconds: Number(f.get("lease_seconds")),
    client_config: {
      draw_enable: true, draw_label: list(f.get("labels"))[0] || "cell",
      draw_shape_type: tool === "freehand" ? "polygon" : tool, draw_freehand: tool === "freehand",
      draw_edge_color: "#0BF737",
    },
  };
}

function edit(task) {
  state.editing = task.id;
  const form = $("#task-form");
  form.elements.id.value = task.id;
  form.elements.id.disabled = true;
  form.elements.name.value = task.name;
  form.elements.instructions.value = task.instructions || "";
  form.elements.labels.value = (task.labels || []).join(", ");
  form.elements.annotators.value = (task.annotators || []).join(", ");
  form.elements.annotations_per_sample.value = task.annotations_per_sample;
  form.elements.lease_seconds.value = task.lease_seconds;
  const cc = task.client_config || {};
  form.elements.tool.value = cc.draw_freehand ? "freehand" : cc.draw_shape_type || "polygon";
  $("#form-title").textContent = `Edit ${task.id}`;
  $("#task-save").textContent = "Save changes";
  $("#task-new").hidden = false;
}

function resetForm() {
  state.editing = null;
  const form = $("#task-form");
  form.reset();
  form.elements.id.disabled = false;
  $("#form-title").textContent = "New task";
  $("#task-save").textContent = "Create task";
  $("#task-new").hidden = true;
}

async function saveTask(event) {
  event.preventDefault();
  await guarded(async () => {
    const form = event.target;
    const fields = taskFields(form);
    let task;
    if (state.editing) {
      task = await state.api.request("PATCH", `/tasks/${state.editing}`, fields);
    } else {
      const id = form.elements.id.value.trim();
      task = await state.api.request("POST", "/tasks", id ? { id, ...fields } : fields);
    }
    resetForm();
    await select(task);
  });
}

// --- one task ----------------------------------------------------------------------------------

async function select(task) {
  state.selected = task.id;
  $("#detail").hidden = false;
  $("#detail-id").textContent = task.id;
  $("#uploads").replaceChildren();
  $("#invites tbody").replaceChildren();
  $("#sample-view").hidden = true;
  state.samplesShown = SAMPLES_PAGE;
  await refresh();
}

async function renderDetail() {
  const id = state.selected;
  const [progress, leases, invites] = await Promise.all([
    state.api.request("GET", `/tasks/${id}/progress`),
    state.api.request("GET", `/tasks/${id}/leases`),
    state.api.request("GET", `/tasks/${id}/invites`),
  ]);
  const leaseBody = $("#leases tbody");
  leaseBody.replaceChildren();
  for (const lease of leases.leases) {
    const row = leaseBody.insertRow();
    cell(row, lease.sample_id);
    cell(row, lease.user);
    cell(row, when(lease.expires_at));
    cell(row, button("End", () => guarded(async () => {
      await state.api.request("DELETE", `/tasks/${id}/leases/${encodeURIComponent(lease.sample_id)}`);
      await refresh();
    })));
  }
  const people = $("#annotators tbody");
  people.replaceChildren();
  for (const [who, counts] of Object.entries(progress.by_annotator)) {
    const row = people.insertRow();
    cell(row, who);
    cell(row, String(counts.submitted));
  }
  renderInvites(invites.invites);
  await renderSamples();
}

async function renderSamples() {
  const id = state.selected;
  const page = await state.api.request("GET", `/tasks/${id}/samples?limit=${state.samplesShown}`);
  const body = $("#samples tbody");
  body.replaceChildren();
  for (const sample of page.samples) {
    const row = body.insertRow();
    row.dataset.sample = sample.id;
    cell(row, sample.id);
    cell(row, sample.problem ? `refused: ${sample.problem}` : sample.status);
    cell(row, String(sample.submitted));
    const media = Object.values(sample.media || {})[0];
    cell(row, media ? `${media.width}×${media.height} ${media.dtype}${media.pages > 1 ? `, ${media.pages} pages` : ""}` : "");
    cell(row, button("View", () => guarded(async () =>
      showSample(await state.api.request("GET", `/tasks/${id}/samples/${encodeURIComponent(sample.id)}/view`)))));
  }
  $("#samples-more").hidden = !page.cursor;
}

// Links are shown only in the session that minted them (the server never stores tokens).
const minted = new Map();

function renderInvites(invites) {
  const body = $("#invites tbody");
  body.replaceChildren();
  for (const invite of invites) {
    const row = body.insertRow();
    row.dataset.email = invite.email;
    cell(row, invite.email);
    cell(row, invite.revoked_at ? "revoked" : when(invite.expires_at));
    const link = minted.get(invite.id);
    if (link && !invite.revoked_at) {
      const a = document.createElement("a");
      a.href = link;
      a.className = "link annotator-link";
      a.textContent = link;
      a.target = "_blank";
      cell(row, a).append(" ", button("Copy", () => navigator.clipboard.writeText(link)));
    } else {
      cell(row, invite.revoked_at ? "" : "shown when created");
    }
    cell(row, invite.revoked_at ? "" : button("Revoke", () => guarded(async () => {
      await state.api.request("DELETE", `/tasks/${state.selected}/invites/${invite.id}`);
      await refresh();
    })));
  }
}

function annotatorLink(taskId, token) {
  const url = new URL("index.html", window.location.href);
  url.search = `?task=${encodeURIComponent(taskId)}`;
  url.hash = `token=${token}`;
  return url.toString();
}

async function invite(event) {
  event.preventDefault();
  await guarded(async () => {
    const emails = list(new FormData(event.target).get("emails"));
    const { invites } = await state.api.request("POST", `/tasks/${state.selected}/invites`, { emails });
    for (const inv of invites) minted.set(inv.id, annotatorLink(state.selected, inv.token));
    event.target.reset();
    await refresh();
  });
}

async function upload(entries) {
  if (!state.selected || !entries.length) return;
  const rows = new Map();
  const listEl = $("#uploads");
  for (const entry of entries) {
    const li = document.createElement("li");
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = 0;
    const label = document.createElement("span");
    li.append(bar, ` ${entry.sampleId}/${entry.name} `, label);
    li.dataset.file = `${entry.sampleId}/${entry.name}`;
    listEl.append(li);
    rows.set(entry, { li, bar, label });
  }
  await guarded(async () => {
    const result = await uploadEntries(state.api, state.selected, entries, (entry, status, fraction) => {
      const r = rows.get(entry);
      r.bar.value = fraction;
      r.label.textContent = status;
      r.li.dataset.state = status;
    });
    const problems = Object.entries(result.problems);
    const summary = document.createElement("li");
    summary.className = "upload-summary";
    summary.textContent = `${result.created} samples added, ${result.existing.length} already there` +
      (problems.length ? `; refused: ${problems.map(([id, why]) => `${id} (${why})`).join("; ")}` : "");
    listEl.append(summary);
    await refresh();
  });
}

// --- wiring ------------------------------------------------------------------------------------

async function refresh() {
  await guarded(async () => {
    await renderTasks();
    if (state.selected) await renderDetail();
  });
}

function readToken() {
  const fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  if (fragment.get("token")) {
    sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

async function start(apiUrl, token) {
  state.api = new Api(apiUrl, token);
  $("#login").hidden = true;
  $("#main").hidden = false;
  $("#task-form").addEventListener("submit", saveTask);
  $("#task-new").addEventListener("click", resetForm);
  $("#invite-form").addEventListener("submit", invite);
  $("#samples-more").addEventListener("click", () => { state.samplesShown += SAMPLES_PAGE; refresh(); });
  $("#files").addEventListener("change", (e) => upload([...e.target.files].map((f) => entryFor(f))));
  const drop = $("#drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    upload(await entriesFromDrop(e.dataTransfer));
  });
  await refresh();
  setInterval(refresh, REFRESH_MS);
}

(async () => {
  const { apiUrl } = await loadSiteConfig();
  const token = readToken();
  if (token) return start(apiUrl, token);
  $("#login").hidden = false;
  $("#login").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("#login-token").value.trim());
    start(apiUrl, sessionStorage.getItem(TOKEN_KEY));
  }, { once: true });
})();
