// HTTP client for the annotation API. Transient failures (network errors, 429, 5xx) are retried
// with exponential backoff; everything else surfaces as an ApiError the UI can turn into a screen.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status; // 0 = the server could not be reached at all
    this.code = code;
  }
  get transient() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

// Generous: a busy Lambda or a slow network answers well within it; only a hung request hits it.
const DEFAULT_TIMEOUT_MS = 30000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Api {
  /**
   * @param {string} baseUrl API root, no trailing slash
   * @param {string} token bearer JWT
   * @param {{onRetry?: (attempt:number, error:ApiError)=>void, onRecovered?: ()=>void}} hooks
   *   let the page show "reconnecting" while a request is being retried
   */
  constructor(baseUrl, token, hooks = {}, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    this.baseUrl = baseUrl;
    this.token = token;
    this.hooks = hooks;
    this.timeoutMs = timeoutMs;
  }

  /** One attempt. A server that never answers is treated like one that cannot be reached: retried. */
  async once(method, path, body) {
    let response;
    let text;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers: {
          Authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs), // covers reading the body too
      });
      text = await response.text();
    } catch (e) {
      if (e.name === "TimeoutError") throw new ApiError(0, "timeout", "The annotation server did not answer in time.");
      throw new ApiError(0, "unreachable", "The annotation server cannot be reached.");
    }
    if (response.status === 204) return null;
    const data = parseJson(text);
    if (!response.ok) {
      const err = (data && data.error) || {};
      throw new ApiError(response.status, err.code || "http_error", err.message || `HTTP ${response.status}`);
    }
    return data;
  }

  /**
   * Send with retries. Only idempotent requests come through here: reads, heartbeats, drafts and
   * submits (a submit carries its submission_id, so a repeat is answered, not applied twice).
   * maxAttempts = Infinity keeps going until the server answers (used for submit).
   */
  async request(method, path, body, { maxAttempts = 4 } = {}) {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.once(method, path, body);
        if (attempt > 1) this.hooks.onRecovered?.();
        return result;
      } catch (e) {
        if (!(e instanceof ApiError) || !e.transient || attempt >= maxAttempts) throw e;
        this.hooks.onRetry?.(attempt, e);
        // 0.25 s, 0.5 s, 1 s ... capped at 8 s, jittered so many tabs do not retry in lockstep
        await sleep(Math.min(8000, 250 * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5));
      }
    }
  }

  tasks() {
    return this.request("GET", "/tasks");
  }
  task(taskId) {
    return this.request("GET", `/tasks/${enc(taskId)}`);
  }
  progress(taskId) {
    return this.request("GET", `/tasks/${enc(taskId)}/progress`);
  }

  // --- managing a task (the dashboard; owners and admins) ---------------------------------------
  createTask(fields) {
    return this.request("POST", "/tasks", fields);
  }
  updateTask(taskId, fields) {
    return this.request("PATCH", `/tasks/${enc(taskId)}`, fields);
  }
  leases(taskId) {
    return this.request("GET", `/tasks/${enc(taskId)}/leases`);
  }
  endLease(taskId, sampleId) {
    return this.request("DELETE", `/tasks/${enc(taskId)}/leases/${enc(sampleId)}`);
  }
  samples(taskId, { limit }) {
    return this.request("GET", `/tasks/${enc(taskId)}/samples?limit=${limit}`);
  }
  sampleView(taskId, sampleId) {
    return this.request("GET", samplePath(taskId, sampleId, "view"));
  }
  reopen(taskId, sampleId) {
    return this.request("POST", samplePath(taskId, sampleId, "reopen"));
  }
  /** files: [{sample_id, name, size, sha256}] -> {uploads: [presigned PUT or "exists"]} */
  planUploads(taskId, files) {
    return this.request("POST", `/tasks/${enc(taskId)}/uploads`, { files });
  }
  /** Ingest and register; ids that exist already are skipped (listed in `existing`). */
  importSamples(taskId, samples) {
    return this.request("POST", `/tasks/${enc(taskId)}/imports?exist_ok=1`, { samples });
  }
  invites(taskId) {
    return this.request("GET", `/tasks/${enc(taskId)}/invites`);
  }
  invite(taskId, emails) {
    return this.request("POST", `/tasks/${enc(taskId)}/invites`, { emails });
  }
  revokeInvite(taskId, inviteId) {
    return this.request("DELETE", `/tasks/${enc(taskId)}/invites/${enc(inviteId)}`);
  }
  exports(taskId) {
    return this.request("GET", `/tasks/${enc(taskId)}/exports`);
  }
  /** options: {format, versions, status, labels, images} */
  startExport(taskId, options) {
    return this.request("POST", `/tasks/${enc(taskId)}/exports`, options);
  }

  /** Idempotent: a caller holding a live lease gets the same sample back (their reservation ahead,
   * if they hold one). ahead: reserve (or renew the reservation of) the sample after the one held;
   * null when none may be reserved now. */
  claim(taskId, { ahead = false } = {}) {
    return this.request("POST", `/tasks/${enc(taskId)}/claim`, ahead ? { ahead: true } : undefined);
  }
  heartbeat(taskId, sampleId, leaseId) {
    return this.request("POST", samplePath(taskId, sampleId, "heartbeat"), { lease_id: leaseId }, { maxAttempts: 3 });
  }
  release(taskId, sampleId, leaseId) {
    return this.request("POST", samplePath(taskId, sampleId, "release"), { lease_id: leaseId });
  }
  saveDraft(taskId, sampleId, leaseId, annotation) {
    return this.request("PUT", samplePath(taskId, sampleId, "draft"), { lease_id: leaseId, annotation });
  }
  /** The page is going away: one attempt that outlives it (keepalive), answer unread. */
  releaseOnExit(taskId, sampleId, leaseId) {
    fetch(this.baseUrl + samplePath(taskId, sampleId, "release"), {
      method: "POST",
      keepalive: true,
      headers: { Authorization: `Bearer ${this.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ lease_id: leaseId }),
    }).catch(() => {}); // unanswered, the reservation lapses on its own in two minutes
  }
  /**
   * next: the answer also carries the caller's next claim (or null when nothing is left); ahead
   * (with next): and a reservation of the one after it, as "ahead" (or null).
   */
  submit(taskId, sampleId, leaseId, annotation, submissionId, { next = false, ahead = false } = {}) {
    return this.request(
      "POST",
      samplePath(taskId, sampleId, "submit"),
      {
        lease_id: leaseId,
        annotation,
        submission_id: submissionId,
        ...(next ? { next: true } : {}),
        ...(next && ahead ? { ahead: true } : {}),
      },
      { maxAttempts: Infinity },
    );
  }
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

const enc = encodeURIComponent;
const samplePath = (taskId, sampleId, action) => `/tasks/${enc(taskId)}/samples/${enc(sampleId)}/${action}`;
