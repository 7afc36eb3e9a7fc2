// Work that the server has not confirmed yet lives in localStorage, so a reload, a crash or a
// network blip never loses it. Two kinds of record per task:
//   draft:<task>:<sample>  the latest local edit of a sample (cleared once a save/submit is confirmed)
//   outbox:<task>          a submit that was sent but not yet answered (re-sent on the next start with
//                          the same submission_id, which the server answers idempotently)

const draftKey = (taskId, sampleId) => `annotator.draft:${taskId}:${sampleId}`;
const outboxKey = (taskId) => `annotator.outbox:${taskId}`;

function read(key) {
  try {
    return JSON.parse(localStorage.getItem(key));
  } catch {
    return null;
  }
}

export const localDrafts = {
  get(taskId, sampleId) {
    return read(draftKey(taskId, sampleId));
  },
  put(taskId, sampleId, annotation) {
    localStorage.setItem(draftKey(taskId, sampleId), JSON.stringify({ annotation, at: Date.now() }));
  },
  /** Forget the local copy only if it is still the one the server just confirmed. */
  confirm(taskId, sampleId, confirmedAt) {
    const current = this.get(taskId, sampleId);
    if (current && current.at <= confirmedAt) localStorage.removeItem(draftKey(taskId, sampleId));
  },
  drop(taskId, sampleId) {
    localStorage.removeItem(draftKey(taskId, sampleId));
  },
  /** Drafts of leases lost long ago would otherwise pile up until localStorage is full. */
  prune(maxAgeMs) {
    const cutoff = Date.now() - maxAgeMs;
    for (const key of Object.keys(localStorage)) {
      if (key.startsWith("annotator.draft:") && !((read(key)?.at ?? 0) > cutoff)) localStorage.removeItem(key);
    }
  },
};

export const outbox = {
  get(taskId) {
    return read(outboxKey(taskId));
  },
  put(taskId, entry) {
    localStorage.setItem(outboxKey(taskId), JSON.stringify(entry));
  },
  clear(taskId) {
    localStorage.removeItem(outboxKey(taskId));
  },
};

/** Whether this device holds work on the task that the server has not confirmed yet. */
export function unsentWork(taskId) {
  const prefix = draftKey(taskId, "");
  return Boolean(outbox.get(taskId)) || Object.keys(localStorage).some((key) => key.startsWith(prefix));
}
