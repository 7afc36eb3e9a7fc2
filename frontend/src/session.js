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
   * @param {{onLeaseLost: () => void, onAhead?: (reserved: object|null) => void}} hooks
   *   onAhead: the reservation ahead changed (a new sample to prefetch, or none any more)
   */
  constructor(api, taskId, hooks) {
    this.api = api;
    this.taskId = taskId;
    this.hooks = hooks;
    this.current = null; // {sample, lease}
    this.ahead = null; // {sample, lease}: the next sample, reserved while this one is worked on
    this.heartbeatTimer = null;
    this.aheadTimer = null;
    this.onExit = () => this.releaseAhead({ exiting: true });
    window.addEventListener("pagehide", this.onExit);
    localDrafts.prune(DRAFT_MAX_AGE_MS);
  }

  /**
   * Claim the next sample. Returns {sample, annotation, restored} or null when the task has nothing
   * left for this annotator. `annotation` is the local unsaved copy when there is one (reload or
   * crash), else the server's latest version.
   */
  async claim() {
    await this.flushOutbox();
    const claimed = this.adopt(await this.api.claim(this.taskId));
    // The server hands over the reservation ahead first: then it is the current sample.
    if (claimed && this.ahead?.sample.id === claimed.sample.id) this.holdAhead(null);
    return claimed;
  }

  /**
   * Reserve the sample after the current one (best effort: none is no harm, the next submit then
   * claims as before). Returns the reservation ({sample, lease}) or null.
   */
  async reserveAhead() {
    if (!this.current) return null;
    let reserved = null;
    try {
      reserved = await this.api.claim(this.taskId, { ahead: true });
    } catch {
      // Not now (lost connection, last stretch of the task, no lease): the slow path still works.
    }
    if (!this.current) reserved = null; // left meanwhile
    this.holdAhead(reserved);
    return this.ahead;
  }

  /** Keep a reservation (renewed at a third of what is left) and say so when it changes. */
  holdAhead(reserved) {
    // A late answer about a sample that has since become the current one is no reservation.
    if (reserved && reserved.sample.id === this.current?.sample.id) reserved = null;
    const changed = (this.ahead?.lease.id || null) !== (reserved?.lease.id || null) ||
      (this.ahead?.sample.id || null) !== (reserved?.sample.id || null);
    this.ahead = reserved || null;
    clearTimeout(this.aheadTimer);
    if (reserved) {
      const delay = Math.max(1000, (reserved.lease.expires_at * 1000 - Date.now()) / 3);
      this.aheadTimer = setTimeout(() => this.reserveAhead(), delay);
    }
    if (changed) this.hooks.onAhead?.(this.ahead);
  }

  /** Give the reservation back (leaving the task, or the page going away). */
  releaseAhead({ exiting = false } = {}) {
    const reserved = this.ahead;
    if (!reserved) return;
    this.holdAhead(null);
    if (exiting) return this.api.releaseOnExit(this.taskId, reserved.sample.id, reserved.lease.id);
    this.api.release(this.taskId, reserved.sample.id, reserved.lease.id).catch(() => {});
  }

  /** Hold a claim (from a claim or a submit's `next`): heartbeats, and any local copy of its work. */
  adopt(claimed) {
    if (!claimed) return null;
    this.current = claimed;
    this.scheduleHeartbeat();
    return this.startFrom(claimed);
  }

  /** What a held sample shows first: the local unsaved copy when there is one, else the server's. */
  startFrom(claimed) {
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
   * the next claim, already held ({sample, annotation, restored}, or null when nothing is left),
   * and a new reservation ahead is held when the server gave one.
   *
   * advance: the reservation the page has already switched to. It is the current sample from now
   * on (edits on it are kept locally under its id), and becomes its lease with this very answer.
   */
  async submit(annotation, { advance = null } = {}) {
    const { sample, lease } = this.requireLease();
    const entry = {
      sampleId: sample.id,
      leaseId: lease.id,
      annotation,
      submissionId: newId(),
    };
    outbox.put(this.taskId, entry);
    this.stopHeartbeat();
    this.current = advance;
    if (advance) this.holdAhead(null);
    let result;
    try {
      result = await this.send(entry, { next: true });
    } catch (e) {
      if (!advance) throw e;
      // The previous image's submit was refused; the reserved one is still ours: claim turns it
      // into the lease. The caller learns both (the refusal, and what is held now).
      this.current = null;
      e.next = await this.claim();
      throw e;
    }
    this.current = null;
    const next = this.adopt(result.next);
    if (result.ahead !== undefined && next) this.holdAhead(result.ahead);
    return { progress: result.progress, next };
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

  /** Leaving the task (a full screen replaces the workspace): the reservation goes back too. */
  close() {
    this.stop();
    this.releaseAhead();
    window.removeEventListener("pagehide", this.onExit);
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
        this.api.submit(this.taskId, entry.sampleId, entry.leaseId, entry.annotation, entry.submissionId, {
          next,
          ahead: next,
        }),
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
