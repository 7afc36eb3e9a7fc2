// One annotator working through one task: claim -> (heartbeats) -> draft / submit / skip -> claim.
// Owns the lease and the promise that nothing is lost: every edit goes to localStorage first, a
// submit is parked in the outbox with its submission_id until the server answers.

import { ApiError } from "./api.js";
import { localDrafts, outbox } from "./localstore.js";

const DRAFT_MAX_AGE_MS = 30 * 24 * 3600 * 1000;

export class LeaseLost extends Error {}

export class AnnotationSession {
  /**
   * @param {import("./api.js").Api} api
   * @param {string} taskId
   * @param {{onLeaseLost: () => void}} hooks
   */
  constructor(api, taskId, hooks) {
    this.api = api;
    this.taskId = taskId;
    this.hooks = hooks;
    this.current = null; // {sample, lease}
    this.heartbeatTimer = null;
    localDrafts.prune(DRAFT_MAX_AGE_MS);
  }

  /**
   * Claim the next sample. Returns {sample, annotation, restored} or null when the task has nothing
   * left for this annotator. `annotation` is the local unsaved copy when there is one (reload or
   * crash), else the server's latest version.
   */
  async claim() {
    await this.flushOutbox();
    return this.adopt(await this.api.claim(this.taskId));
  }

  /** Hold a claim (from a claim or a submit's `next`): heartbeats, and any local copy of its work. */
  adopt(claimed) {
    if (!claimed) return null;
    this.current = claimed;
    this.scheduleHeartbeat();
    const local = localDrafts.get(this.taskId, claimed.sample.id);
    return {
      sample: claimed.sample,
      annotation: local ? local.annotation : claimed.sample.annotation,
      restored: Boolean(local),
    };
  }

  /** Every edit lands here first, so a reload or crash restores it. False: nothing held to keep it for. */
  keepLocally(annotation) {
    if (!this.current) return false;
    localDrafts.put(this.taskId, this.current.sample.id, annotation);
    return true;
  }

  async saveDraft(annotation) {
    const { sample, lease } = this.requireLease();
    const sentAt = Date.now();
    localDrafts.put(this.taskId, sample.id, annotation);
    const result = await this.guard(() => this.api.saveDraft(this.taskId, sample.id, lease.id, annotation));
    localDrafts.confirm(this.taskId, sample.id, sentAt);
    return result;
  }

  /**
   * Submit; resolves once the server has stored it (retrying until then) with the task progress and
   * the next claim, already held ({sample, annotation, restored}, or null when nothing is left).
   */
  async submit(annotation) {
    const { sample, lease } = this.requireLease();
    const entry = {
      sampleId: sample.id,
      leaseId: lease.id,
      annotation,
      submissionId: newId(),
    };
    outbox.put(this.taskId, entry);
    this.stopHeartbeat();
    const result = await this.send(entry, { next: true });
    this.current = null;
    return { progress: result.progress, next: this.adopt(result.next) };
  }

  async skip() {
    const { sample, lease } = this.requireLease();
    this.stopHeartbeat();
    this.current = null;
    localDrafts.drop(this.taskId, sample.id);
    await this.api.release(this.taskId, sample.id, lease.id).catch((e) => {
      // An already-lost lease is as good as released.
      if (!(e instanceof ApiError && e.status === 409)) throw e;
    });
  }

  /** Stop heartbeating (page leaving or lease lost); the lease then lapses on its own. */
  stop() {
    this.stopHeartbeat();
    this.current = null;
  }

  // ---- internals -----------------------------------------------------------------------------

  /** A submit left over from a previous page load (closed tab, crash) goes out before anything else. */
  async flushOutbox() {
    const pending = outbox.get(this.taskId);
    if (!pending) return;
    try {
      await this.send(pending);
    } catch (e) {
      // Refused for good (lease lost meanwhile, invalid): the local draft stays, and the claim
      // decides what happens next. Anything else (401) is for the caller to show.
      if (!(e instanceof LeaseLost) && !(e instanceof ApiError && e.status !== 401)) throw e;
    }
  }

  async send(entry, { next = false } = {}) {
    let result;
    try {
      result = await this.guard(() =>
        this.api.submit(this.taskId, entry.sampleId, entry.leaseId, entry.annotation, entry.submissionId, { next }),
      );
    } catch (e) {
      // A refused submit (lease lost, invalid annotation) will never succeed as it is: drop it from
      // the outbox so it cannot block later starts; the local draft keeps the drawing. Only a
      // rejected token keeps it, for when the person comes back with a fresh link.
      if (!(e instanceof ApiError && e.status === 401)) outbox.clear(this.taskId);
      throw e;
    }
    outbox.clear(this.taskId);
    localDrafts.drop(this.taskId, entry.sampleId);
    return result;
  }

  requireLease() {
    if (!this.current) throw new LeaseLost("No sample is held.");
    return { sample: this.current.sample, lease: this.current.lease };
  }

  /** Map a 409 to LeaseLost, whichever request saw it. */
  async guard(fn) {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        this.stop();
        throw new LeaseLost(e.message);
      }
      throw e;
    }
  }

  /** Renew at a third of the remaining lease: two heartbeats can fail before it lapses. */
  scheduleHeartbeat() {
    this.stopHeartbeat();
    const { sample, lease } = this.current;
    const remainingMs = lease.expires_at * 1000 - Date.now();
    const delay = Math.max(1000, remainingMs / 3);
    this.heartbeatTimer = setTimeout(async () => {
      if (this.current?.lease.id !== lease.id) return;
      try {
        const { expires_at } = await this.api.heartbeat(this.taskId, sample.id, lease.id);
        if (this.current?.lease.id === lease.id) lease.expires_at = expires_at;
      } catch (e) {
        if (e instanceof ApiError && e.status === 409) {
          this.stop();
          this.hooks.onLeaseLost();
          return;
        }
        // Network trouble: try again at a third of what is left; the lease has not lapsed yet.
      }
      if (this.current?.lease.id === lease.id) this.scheduleHeartbeat();
    }, delay);
  }

  stopHeartbeat() {
    clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }
}

/** A random submission id; crypto.randomUUID exists only on https/localhost pages. */
function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}
