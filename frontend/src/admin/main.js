// Task dashboard: tasks with progress, create/edit, uploads, invites, live leases, per-annotator
// counts. Everything goes through the public API with the admin's bearer token, which arrives
// like the annotator's (`admin.html#token=...`, kept per tab in sessionStorage) or is pasted.
import { Api } from "../api.js";
import { labelColors, taskLabels } from "../labels.js";
import { loadSiteConfig, tokenClaims, tokenFromLink } from "../link.js";
import { signInState, signOut } from "../signin.js";
import { h } from "../ui/dom.js";
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

/** A small button: kind is "primary", "danger", "ghost danger"... */
const button = (label, onclick, kind = "") =>
  h(["button.btn.small", ...kind.split(" ").filter(Boolean)].join("."), { type: "button", onclick }, label);

/** A stacked bar: done (green) then in progress (amber), as fractions of total. */
function progressBar(progress) {
  const total = Math.max(progress.total, 1);
  const busyText = progress.in_progress === undefined ? "" : `, ${progress.in_progress} in progress`;
  return h("div.bar.stacked", { title: `${progress.completed} done${busyText}, ${progress.total} images` },
    h("div.bar-fill", { style: { width: `${(100 * progress.completed) / total}%` } }),
    h("div.bar-busy", { style: { width: `${(100 * (progress.in_progress || 0)) / total}%` } }));
}

/** The task's labels as tags with the annotator's colours (labels.js: one palette for both pages). */
function labelTags(task) {
  const labels = taskLabels(task);
  const colors = labelColors(labels, task.client_config || {});
  return labels.map((label) => h("span.label-tag", { "data-label": label },
    h("span.swatch", { style: { background: colors[label] } }), label));
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
  const { tasks } = await state.api.tasks();
  const body = $("#tasks tbody");
  body.replaceChildren();
  let images = 0;
  let done = 0;
  for (const task of tasks) {
    const p = task.progress;
    images += p.total;
    done += p.completed;
    if (task.id === state.selected) state.task = task;
    // The list carries counters only (no per-task query); live leases show in the task's view.
    const busy = p.in_progress === undefined ? [] : [["busy", `${p.in_progress} in progress`]];
    const meta = [["done", `${p.completed} done`], ...busy, ["ann", `${p.annotations ?? 0} annotations`]]
      .map(([cls, text]) => h("span", {}, h(`span.dot.${cls}`), text));
    const row = h("tr", { "data-task": task.id },
      h("td", {}, h("div.task-name", {}, task.name), h("div.task-id.mono", {}, task.id)),
      h("td", {}, h("div.progress-cell", {}, progressBar(p), h("div.meta", {}, meta))),
      h("td.num", {}, h("span.done-total", {}, `${p.completed} / ${p.total}`)),
      h("td.actions", {}, button("Open", () => select(task), "primary"), button("Edit", () => edit(task))));
    row.classList.toggle("selected", task.id === state.selected);
    body.append(row);
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
        task = await state.api.updateTask(state.editing, fields);
      } else {
        const id = form.elements.id.value.trim();
        task = await state.api.createTask(id ? { id, ...fields } : fields);
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
  const labels = h("dd", {}, labelTags(task));
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
    dl.append(h("dt", {}, name), value instanceof Node ? value : h(name === "Instructions" ? "dd.instructions" : "dd", {}, value));
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
    stats.append(h("span", {}, cls ? h(`span.dot.${cls}`) : null, h("b", {}, String(n)), ` ${label}`));
  }
}

async function renderDetail() {
  const id = state.selected;
  const [progress, leases, invites] = await Promise.all([
    state.api.progress(id),
    state.api.leases(id),
    state.api.invites(id),
  ]);
  if (state.task && state.task.id === id) renderSettings(state.task);
  renderProgress(progress);
  const leaseBody = $("#leases tbody");
  leaseBody.replaceChildren();
  for (const lease of leases.leases) {
    leaseBody.append(h("tr", {},
      h("td.mono", {}, lease.sample_id),
      // A reservation ahead is the annotator's next image, held so it shows at once.
      h("td", {}, lease.ahead ? `${lease.user} (next, reserved)` : lease.user),
      h("td", { title: when(lease.expires_at) }, clock(lease.expires_at)),
      h("td.actions", {}, button("End", () => guarded(async () => {
        await state.api.endLease(id, lease.sample_id);
        await refresh();
      }), "danger"))));
  }
  emptyState($("#leases"), "#leases-empty");
  const people = $("#annotators tbody");
  people.replaceChildren();
  const counts = Object.entries(progress.by_annotator);
  const most = Math.max(1, ...counts.map(([, c]) => c.submitted));
  for (const [who, c] of counts) {
    people.append(h("tr", {},
      h("td", {}, who),
      h("td.num", {}, String(c.submitted)),
      h("td", {}, h("div.mini-bar", {}, h("div", { style: { width: `${(100 * c.submitted) / most}%` } })))));
  }
  emptyState($("#annotators"), "#annotators-empty");
  state.lastProgress = progress;
  renderInvites(invites.invites);
  await state.refreshExports();
  await renderSamples();
}

async function renderSamples() {
  const id = state.selected;
  const page = await state.api.samples(id, { limit: state.samplesShown });
  const body = $("#samples tbody");
  body.replaceChildren();
  for (const sample of page.samples) {
    const status = sample.problem ? "problem" : sample.status;
    const media = Object.values(sample.media || {})[0];
    const row = h("tr", { "data-sample": sample.id },
      h("td.mono", {}, sample.id),
      h(`td`, {}, h(`span.pill.${status}`, {}, sample.problem ? `refused: ${sample.problem}` : STATUS_NAMES[status] || status)),
      h("td.num", {}, String(sample.submitted)),
      h("td.size", {}, media ? `${media.width}×${media.height} ${media.dtype}${media.pages > 1 ? `, ${media.pages} pages` : ""}` : ""),
      h("td.actions", {}, button("View", () => guarded(async () => {
        state.viewing = sample.id;
        for (const r of body.rows) r.classList.toggle("viewing", r === row);
        $("#sample-view-hint").hidden = true;
        await showSample(await state.api.sampleView(id, sample.id), state.task);
      }))));
    row.classList.toggle("viewing", sample.id === state.viewing);
    body.append(row);
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
    const link = minted.get(invite.id);
    const copy = link && button("Copy link", () => copyLink(copy, link));
    body.append(h("tr", { "data-email": invite.email },
      h("td", {}, invite.email),
      invite.revoked_at ? h("td", {}, h("span.revoked", {}, "revoked"))
        : h("td", { title: when(invite.expires_at) }, new Date(invite.expires_at * 1000).toLocaleDateString()),
      link && !invite.revoked_at
        ? h("td.link-cell", {}, h("a.link.annotator-link", { href: link, title: link, target: "_blank" }, link), copy)
        : h("td", {}, h("span.muted", {}, invite.revoked_at ? "" : "shown when created")),
      h("td.actions", {}, invite.revoked_at ? "" : button("Revoke", () => guarded(async () => {
        await state.api.revokeInvite(state.selected, invite.id);
        await refresh();
      }), "ghost danger"))));
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
    const { invites } = await state.api.invite(state.selected, emails);
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
    const file = `${entry.sampleId}/${entry.name}`;
    const bar = h("progress", { max: 1, value: 0 });
    const label = h("span.file-state", {}, "waiting");
    const li = h("li", { "data-file": file }, h("span.file-name.mono", { title: file }, file), bar, label);
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
    listEl.append(h(problems.length ? "li.upload-summary.has-problems" : "li.upload-summary", {},
      `${result.created} samples added, ${result.existing.length} already there` +
      (problems.length ? `; refused: ${problems.map(([id, why]) => `${id} (${why})`).join("; ")}` : "")));
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

/** Who the token says we are (display only; the API checks the token). */
function tokenName(token) {
  const claims = tokenClaims(token);
  return claims.email || claims.sub || "admin";
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
  const token = tokenFromLink(TOKEN_KEY);
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
