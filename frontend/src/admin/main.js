// Task dashboard: tasks with progress, create/edit, uploads, invites, live leases, per-annotator
// counts. Everything goes through the public API with the admin's bearer token, which arrives
// like the annotator's (`admin.html#token=...`, kept per tab in sessionStorage) or is pasted.
import { Api } from "../api.js";
import { loadSiteConfig } from "../link.js";
import { signInState, signOut } from "../signin.js";
import { setupExports } from "./exports.js";
import { fieldErrors, showFieldErrors } from "./fielderrors.js";
import { showSample } from "./sampleview.js";
import { offerSignIn } from "./signin.js";
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

function button(label, onClick, kind = "") {
  const b = document.createElement("button");
  b.type = "button";
  b.className = `btn small ${kind}`.trim();
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A stacked bar: done (green) then in progress (amber), as fractions of total. */
function progressBar(progress) {
  const total = Math.max(progress.total, 1);
  const bar = el("div", "bar stacked");
  const done = el("div", "bar-fill");
  done.style.width = `${(100 * progress.completed) / total}%`;
  const busy = el("div", "bar-busy");
  busy.style.width = `${(100 * (progress.in_progress || 0)) / total}%`;
  bar.append(done, busy);
  const busyText = progress.in_progress === undefined ? "" : `, ${progress.in_progress} in progress`;
  bar.title = `${progress.completed} done${busyText}, ${progress.total} images`;
  return bar;
}

/** Show a table, or its "nothing here" line when the body has no rows. */
function emptyState(table, emptyId) {
  const empty = table.tBodies[0].rows.length === 0;
  table.hidden = empty;
  $(emptyId).hidden = !empty;
}

function showError(err) {
  const banner = $("#banner");
  banner.textContent = err ? `${err.message}${err.code ? ` (${err.code})` : ""}` : "";
  if (err && err.status === 401) banner.textContent += " Sign out and sign in again with a valid admin token.";
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
const clock = (epoch) => new Date(epoch * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
const STATUS_NAMES = { available: "available", in_progress: "in progress", complete: "complete" };
const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

// --- tasks -------------------------------------------------------------------------------------

async function renderTasks() {
  const { tasks } = await state.api.request("GET", "/tasks");
  const body = $("#tasks tbody");
  body.replaceChildren();
  let images = 0;
  let done = 0;
  for (const task of tasks) {
    const p = task.progress;
    images += p.total;
    done += p.completed;
    if (task.id === state.selected) state.task = task;
    const row = body.insertRow();
    row.dataset.task = task.id;
    row.classList.toggle("selected", task.id === state.selected);
    const title = el("div");
    title.append(el("div", "task-name", task.name), el("div", "task-id mono", task.id));
    cell(row, title);
    const prog = el("div", "progress-cell");
    const meta = el("div", "meta");
    // The list carries counters only (no per-task query); live leases show in the task's view.
    const busy = p.in_progress === undefined ? [] : [["busy", `${p.in_progress} in progress`]];
    for (const [cls, text] of [["done", `${p.completed} done`], ...busy,
      ["ann", `${p.annotations ?? 0} annotations`]]) {
      const item = el("span", "", text);
      item.prepend(el("span", `dot ${cls}`));
      meta.append(item);
    }
    prog.append(progressBar(p), meta);
    cell(row, prog);
    cell(row, el("span", "done-total", `${p.completed} / ${p.total}`)).className = "num";
    const actions = cell(row, button("Open", () => select(task), "primary"));
    actions.className = "actions";
    actions.append(button("Edit", () => edit(task)));
  }
  emptyState($("#tasks"), "#tasks-empty");
  $("#tasks-summary").textContent = tasks.length
    ? `${tasks.length} task${tasks.length === 1 ? "" : "s"} · ${done} / ${images} images done` : "";
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
  $("#form-card").classList.add("editing");
  $("#form-card").scrollIntoView({ behavior: "smooth", block: "nearest" });
  form.elements.name.focus({ preventScroll: true });
}

function resetForm() {
  state.editing = null;
  const form = $("#task-form");
  form.reset();
  form.elements.id.disabled = false;
  $("#form-title").textContent = "New task";
  $("#task-save").textContent = "Create task";
  $("#task-new").hidden = true;
  $("#form-card").classList.remove("editing");
}

async function saveTask(event) {
  event.preventDefault();
  const form = event.target;
  await guarded(async () => {
    const fields = taskFields(form);
    let task;
    try {
      if (state.editing) {
        task = await state.api.request("PATCH", `/tasks/${state.editing}`, fields);
      } else {
        const id = form.elements.id.value.trim();
        task = await state.api.request("POST", "/tasks", id ? { id, ...fields } : fields);
      }
    } catch (err) {
      const errors = fieldErrors(err, form);
      showFieldErrors(form, errors);
      if (errors.length) return; // said where it belongs; no banner
      throw err;
    }
    showFieldErrors(form, []);
    resetForm();
    await select(task);
  });
}

// --- one task ----------------------------------------------------------------------------------

async function select(task) {
  const opening = state.selected !== task.id;
  state.selected = task.id;
  state.task = task;
  $("#detail").hidden = false;
  $("#detail-id").textContent = task.id;
  if (opening) {
    $("#uploads").replaceChildren();
    $("#invites tbody").replaceChildren();
    closeSample();
  }
  state.samplesShown = SAMPLES_PAGE;
  await refresh();
  if (opening) $("#detail").scrollIntoView({ behavior: "smooth", block: "start" });
}

function closeDetail() {
  state.selected = null;
  state.task = null;
  $("#detail").hidden = true;
  refresh();
}

function closeSample() {
  $("#sample-view").hidden = true;
  $("#sample-view-hint").hidden = false;
  state.viewing = null;
  for (const row of document.querySelectorAll("#samples tr.viewing")) row.classList.remove("viewing");
}

const TOOL_NAMES = { polygon: "Polygon", point: "Point", rectangle: "Rectangle", freehand: "Freehand" };

function renderSettings(task) {
  $("#detail-name").textContent = task.name;
  const cc = task.client_config || {};
  const tool = cc.draw_freehand ? "freehand" : cc.draw_shape_type || "polygon";
  const labels = el("dd");
  for (const label of task.labels || []) labels.append(el("span", "label-tag", label));
  if (!(task.labels || []).length) labels.textContent = "none";
  const rows = [
    ["Labels", labels],
    ["Tool", TOOL_NAMES[tool] || tool],
    ["Annotations", `${task.annotations_per_sample} per image`],
    ["Lease", task.lease_seconds >= 120 ? `${Math.round(task.lease_seconds / 60)} min` : `${task.lease_seconds} s`],
    ["Annotators", task.annotators && task.annotators.length ? task.annotators.join(", ") : "anyone signed in or invited"],
  ];
  if (task.instructions) rows.push(["Instructions", task.instructions]);
  const dl = $("#settings");
  dl.replaceChildren();
  for (const [name, value] of rows) {
    dl.append(el("dt", "", name));
    if (value instanceof Node) dl.append(value);
    else dl.append(el("dd", name === "Instructions" ? "instructions" : "", value));
  }
}

function renderProgress(progress) {
  const total = progress.total || 0;
  const pct = total ? Math.round((100 * progress.completed) / total) : 0;
  $("#detail-progress-label").textContent = `${progress.completed} / ${total} images done`;
  $("#detail-progress-pct").textContent = `${pct}%`;
  $("#detail-done").style.width = `${total ? (100 * progress.completed) / total : 0}%`;
  $("#detail-busy").style.width = `${total ? (100 * (progress.in_progress || 0)) / total : 0}%`;
  const stats = $("#detail-stats");
  stats.replaceChildren();
  for (const [cls, n, label] of [["done", progress.completed, "done"], ["busy", progress.in_progress || 0, "in progress"],
    ["", progress.available ?? 0, "available"], ["ann", progress.annotations ?? 0, "annotations"]]) {
    const s = el("span");
    if (cls) s.append(el("span", `dot ${cls}`));
    s.append(el("b", "", String(n)), ` ${label}`);
    stats.append(s);
  }
}

async function renderDetail() {
  const id = state.selected;
  const [progress, leases, invites] = await Promise.all([
    state.api.request("GET", `/tasks/${id}/progress`),
    state.api.request("GET", `/tasks/${id}/leases`),
    state.api.request("GET", `/tasks/${id}/invites`),
  ]);
  if (state.task && state.task.id === id) renderSettings(state.task);
  renderProgress(progress);
  const leaseBody = $("#leases tbody");
  leaseBody.replaceChildren();
  for (const lease of leases.leases) {
    const row = leaseBody.insertRow();
    cell(row, lease.sample_id).className = "mono";
    cell(row, lease.user);
    cell(row, clock(lease.expires_at)).title = when(lease.expires_at);
    cell(row, button("End", () => guarded(async () => {
      await state.api.request("DELETE", `/tasks/${id}/leases/${encodeURIComponent(lease.sample_id)}`);
      await refresh();
    }, "danger"))).className = "actions";
  }
  emptyState($("#leases"), "#leases-empty");
  const people = $("#annotators tbody");
  people.replaceChildren();
  const counts = Object.entries(progress.by_annotator);
  const most = Math.max(1, ...counts.map(([, c]) => c.submitted));
  for (const [who, c] of counts) {
    const row = people.insertRow();
    cell(row, who);
    cell(row, String(c.submitted)).className = "num";
    const mini = el("div", "mini-bar");
    const fill = el("div");
    fill.style.width = `${(100 * c.submitted) / most}%`;
    mini.append(fill);
    cell(row, mini);
  }
  emptyState($("#annotators"), "#annotators-empty");
  state.lastProgress = progress;
  renderInvites(invites.invites);
  await state.refreshExports();
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
    row.classList.toggle("viewing", sample.id === state.viewing);
    cell(row, sample.id).className = "mono";
    const status = sample.problem ? "problem" : sample.status;
    const pill = el("span", `pill ${status}`, sample.problem ? `refused: ${sample.problem}` : STATUS_NAMES[status] || status);
    cell(row, pill);
    cell(row, String(sample.submitted)).className = "num";
    const media = Object.values(sample.media || {})[0];
    cell(row, media ? `${media.width}×${media.height} ${media.dtype}${media.pages > 1 ? `, ${media.pages} pages` : ""}` : "").className = "size";
    cell(row, button("View", () => guarded(async () => {
      state.viewing = sample.id;
      for (const r of body.rows) r.classList.toggle("viewing", r === row);
      $("#sample-view-hint").hidden = true;
      await showSample(await state.api.request("GET", `/tasks/${id}/samples/${encodeURIComponent(sample.id)}/view`), state.task);
    }))).className = "actions";
  }
  emptyState($("#samples"), "#samples-empty");
  const p = state.lastProgress;
  $("#samples-summary").textContent = p ? `${p.total} images${page.cursor ? `, first ${page.samples.length} shown` : ""}` : "";
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
    if (invite.revoked_at) cell(row, el("span", "revoked", "revoked"));
    else cell(row, new Date(invite.expires_at * 1000).toLocaleDateString()).title = when(invite.expires_at);
    const link = minted.get(invite.id);
    if (link && !invite.revoked_at) {
      const a = document.createElement("a");
      a.href = link;
      a.className = "link annotator-link";
      a.textContent = link;
      a.title = link;
      a.target = "_blank";
      const copy = button("Copy link", () => copyLink(copy, link));
      const td = cell(row, a);
      td.className = "link-cell";
      td.append(copy);
    } else {
      cell(row, el("span", "muted", invite.revoked_at ? "" : "shown when created"));
    }
    cell(row, invite.revoked_at ? "" : button("Revoke", () => guarded(async () => {
      await state.api.request("DELETE", `/tasks/${state.selected}/invites/${invite.id}`);
      await refresh();
    }), "ghost danger")).className = "actions";
  }
  emptyState($("#invites"), "#invites-empty");
}

async function copyLink(btn, link) {
  try {
    await navigator.clipboard.writeText(link);
    btn.textContent = "Copied";
    btn.classList.add("copied");
    setTimeout(() => { btn.textContent = "Copy link"; btn.classList.remove("copied"); }, 1500);
  } catch {
    window.prompt("Copy the annotator link:", link); // clipboard needs https or localhost
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
    const label = el("span", "file-state", "waiting");
    const name = el("span", "file-name mono", `${entry.sampleId}/${entry.name}`);
    name.title = name.textContent;
    li.append(name, bar, label);
    li.dataset.file = `${entry.sampleId}/${entry.name}`;
    listEl.append(li);
    rows.set(entry, { li, bar, label });
  }
  await guarded(async () => {
    const result = await uploadEntries(state.api, state.selected, entries, (entry, status, fraction) => {
      const r = rows.get(entry);
      r.bar.value = fraction;
      r.label.textContent = status === "uploading" ? `uploading ${Math.round(fraction * 100)}%` : status;
      r.li.dataset.state = status;
    });
    const problems = Object.entries(result.problems);
    const summary = document.createElement("li");
    summary.className = problems.length ? "upload-summary has-problems" : "upload-summary";
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

/** Who the token says we are (display only; the API checks the token). */
function tokenName(token) {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return payload.email || payload.sub || "admin";
  } catch {
    return "admin";
  }
}

async function start(apiUrl, token) {
  state.api = new Api(apiUrl, token);
  $("#login").hidden = true;
  $("#main").hidden = false;
  $("#who").textContent = tokenName(token);
  $("#account").hidden = false;
  $("#sign-out").addEventListener("click", () => signOut(TOKEN_KEY));
  $("#detail-close").addEventListener("click", closeDetail);
  $("#settings-edit").addEventListener("click", () => state.task && edit(state.task));
  $("#sample-view-close").addEventListener("click", closeSample);
  $("#task-form").addEventListener("submit", saveTask);
  $("#task-new").addEventListener("click", resetForm);
  $("#invite-form").addEventListener("submit", invite);
  state.refreshExports = setupExports(state.api, () => state.selected, refresh, showError);
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
  const signin = await signInState(apiUrl, TOKEN_KEY); // back from the identity provider?
  const token = readToken();
  if (token) return start(apiUrl, token);
  offerSignIn($("#login"), signin);
  $("#login").hidden = false;
  $("#login-token").focus();
  $("#login").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("#login-token").value.trim());
    start(apiUrl, sessionStorage.getItem(TOKEN_KEY));
  }, { once: true });
})();
