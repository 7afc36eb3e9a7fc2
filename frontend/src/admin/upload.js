// Browser uploads, the same protocol as the CLI (annotator_cli/upload.py): hash, ask the API for
// presigned PUTs (files already stored with the same size and SHA-256 come back "exists"), PUT
// straight to S3, then import the samples (the server makes them browser-ready).

const SAMPLES_PER_IMPORT = 100; // the API's limit per import request
const PARALLEL_PUTS = 4;
const MASK_NAMES = ["annotation.png", "annotation.tif", "annotation.tiff"];

const safe = (name, limit) => name.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[._-]+/, "").slice(0, limit);
const stemOf = (name) => name.replace(/\.[^.]*$/, "");
const extOf = (name) => (name.match(/\.[^.]*$/) || [""])[0].toLowerCase();

/** {sampleId, name, file} for a loose image (one sample) or a file inside a sample folder. */
export function entryFor(file, folder = null) {
  if (folder) return { sampleId: safe(folder, 128), name: safe(file.name, 64), file };
  return { sampleId: safe(stemOf(file.name), 128), name: `image${extOf(file.name)}`, file };
}

/** Files from a drop: loose files, and folders one level deep (folder = sample). */
export async function entriesFromDrop(dataTransfer) {
  const out = [];
  const readAll = (dir) => new Promise((resolve, reject) => {
    const reader = dir.createReader();
    const all = [];
    const next = () => reader.readEntries((batch) => (batch.length ? (all.push(...batch), next()) : resolve(all)), reject);
    next();
  });
  const fileOf = (entry) => new Promise((resolve, reject) => entry.file(resolve, reject));
  for (const item of [...dataTransfer.items]) {
    const entry = item.webkitGetAsEntry && item.webkitGetAsEntry();
    if (entry && entry.isDirectory) {
      for (const child of await readAll(entry)) if (child.isFile) out.push(entryFor(await fileOf(child), entry.name));
    } else if (item.kind === "file") {
      out.push(entryFor(item.getAsFile()));
    }
  }
  return out;
}

async function sha256Hex(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function put(url, headers, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => (xhr.status < 300 ? resolve() : reject(new Error(`S3 answered HTTP ${xhr.status}`)));
    xhr.onerror = () => reject(new Error("the upload could not reach S3"));
    xhr.send(file);
  });
}

async function inParallel(items, limit, work) {
  const queue = [...items];
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, async () => {
    while (queue.length) await work(queue.shift());
  }));
}

/**
 * Upload and import. `report(entry, state, fraction)` draws per-file progress;
 * returns {created, existing, problems}.
 */
export async function uploadEntries(api, taskId, entries, report) {
  const images = entries.filter((e) => e.name !== "annotation.json");
  for (const e of images) e.sha256 = await sha256Hex(e.file);
  const plan = await api.planUploads(taskId,
    images.map((e) => ({ sample_id: e.sampleId, name: e.name, size: e.file.size, sha256: e.sha256 })));
  const keyOf = new Map();
  const todo = [];
  plan.uploads.forEach((u, i) => {
    keyOf.set(images[i], u.key);
    if (u.status === "exists") report(images[i], "already uploaded", 1);
    else todo.push([images[i], u]);
  });
  await inParallel(todo, PARALLEL_PUTS, async ([entry, u]) => {
    report(entry, "uploading", 0);
    await put(u.url, u.headers, entry.file, (f) => report(entry, "uploading", f));
    report(entry, "uploaded", 1);
  });
  const samples = new Map();
  for (const e of entries) {
    const s = samples.get(e.sampleId) || { id: e.sampleId, files: {}, annotation: null };
    if (e.name === "annotation.json") s.annotation = JSON.parse(await e.file.text());
    else s.files[e.name] = keyOf.get(e);
    samples.set(e.sampleId, s);
  }
  const all = [...samples.values()].filter((s) => Object.keys(s.files).some((n) => !MASK_NAMES.includes(n)));
  const result = { created: 0, existing: [], problems: {} };
  for (let i = 0; i < all.length; i += SAMPLES_PER_IMPORT) {
    const r = await api.importSamples(taskId, all.slice(i, i + SAMPLES_PER_IMPORT));
    result.created += r.created;
    result.existing.push(...r.existing);
    Object.assign(result.problems, r.problems);
  }
  return result;
}
