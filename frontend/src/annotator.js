// The annotation screen's controller: ties the session (server + local safety net), the viewer
// (built-in or Kaibu) and the workspace UI together, and turns failures into the right screen.

import { ApiError } from "./api.js";
import { loadImage } from "./images.js";
import { labelColors, taskLabels } from "./labels.js";
import { AnnotationSession, LeaseLost } from "./session.js";
import { banner, header } from "./ui/header.js";
import { leaseLostDialog } from "./ui/leaseLost.js";
import { unsentWork } from "./localstore.js";
import { showScreen, screenForError, screenForStatus } from "./ui/screens.js";
import { bindShortcuts, helpPanel, shortcutTable } from "./ui/shortcuts.js";
import { buildWorkspace } from "./ui/workspace.js";
import { BuiltinViewer } from "./viewer/builtin.js";
import { KaibuViewer } from "./viewer/kaibu.js";
import { toolsFor } from "./viewer/tools.js";

export class Annotator {
  /**
   * @param {{root: HTMLElement, api: import("./api.js").Api, task: object, me: string,
   *          viewer: "builtin"|"kaibu", kaibuUrl: string, kaibuTimeoutMs: number}} options
   */
  constructor({ root, api, task, me, viewer, kaibuUrl, kaibuTimeoutMs }) {
    this.root = root;
    this.task = task;
    this.me = me;
    this.viewerKind = viewer;
    this.kaibuUrl = kaibuUrl;
    this.kaibuTimeoutMs = kaibuTimeoutMs;
    this.labels = taskLabels(task);
    this.colors = labelColors(this.labels, task.client_config || {});
    this.session = new AnnotationSession(api, task.id, {
      onLeaseLost: () => this.leaseLost(),
      onAhead: (reserved) => this.prefetch(reserved),
    });
    this.busy = false;
    this.locked = false; // busy with this image: edits cannot be kept (a submit is on its way)
    this.sample = null; // the sample whose lease we hold
    this.shown = false; // whether its image is on screen (nothing to save or submit otherwise)
    this.prefetched = null; // {reserved, image}: the next sample, its image decoded once image is set
    this.inFlight = null; // the previous image's submit, sent after the page moved on to this one
  }

  async start() {
    const cfg = this.task.client_config || {};
    this.label = cfg.draw_label && this.labels.includes(cfg.draw_label) ? cfg.draw_label : this.labels[0];
    header.setTask(this.task.name || this.task.id);
    header.setProgress(this.task.progress, this.me);
    const inKaibu = this.viewerKind === "kaibu" && (await this.openKaibu(cfg));
    if (!inKaibu) this.openBuiltin(cfg);
    if (this.viewerKind === "kaibu" && !inKaibu) {
      this.ui.setNote("Kaibu could not be reached, so the built-in viewer is used (same tools, same format).");
    }
    this.viewer.onChange((event, detail) => this.viewerChanged(event, detail));
    this.selectLabel(this.label);
    this.unbindKeys = bindShortcuts(this.shortcuts, this.keyHandlers());
    const helpButton = document.getElementById("help-btn");
    helpButton.hidden = false;
    helpButton.onclick = () => this.toggleHelp();
    helpButton.onmousedown = (e) => e.preventDefault(); // focus must not come back to it: Enter submits
    await this.next();
  }

  openBuiltin(cfg) {
    const { allowed, initial } = toolsFor(cfg);
    this.ui = this.workspace(allowed);
    this.viewer = new BuiltinViewer(this.ui.viewerEl, { colors: this.colors, label: this.label });
    this.selectTool(initial);
    this.shortcuts = shortcutTable(allowed);
  }

  /** Kaibu in its window; false when it cannot be reached, and the built-in viewer takes over. */
  async openKaibu(cfg) {
    this.ui = this.workspace(null);
    this.viewer = new KaibuViewer(this.ui.viewerEl, {
      kaibuUrl: this.kaibuUrl,
      clientConfig: { ...cfg, draw_label: this.label, draw_edge_color: this.colors[this.label] },
      buttons: { save: () => this.save(), submit: () => this.submit(), skip: () => this.skip() },
    });
    try {
      await this.viewer.ready(this.kaibuTimeoutMs);
    } catch (e) {
      console.warn(e);
      return false;
    }
    this.shortcuts = shortcutTable([]);
    return true;
  }

  workspace(tools) {
    return buildWorkspace(this.root, {
      tools,
      labels: this.labels,
      colors: this.colors,
      instructions: this.task.instructions || this.task.description || "",
      on: this.actions(),
    });
  }

  // ---- the loop ------------------------------------------------------------------------------

  /** Claim the next sample and show it; the switch time is kept for the performance test. */
  async next(startedAt = performance.now()) {
    this.setBusy(true, "Loading next image…");
    try {
      await this.showClaimed(await this.session.claim(), startedAt);
    } catch (e) {
      this.fail(e, { fatal: true });
    } finally {
      this.setBusy(false);
    }
  }

  /**
   * Show a sample already held (from a claim or a submit's answer); null: nothing left.
   * image: already decoded (the reservation's); lookAhead: then reserve the next one.
   */
  async showClaimed(claimed, startedAt, { image = null, lookAhead = true } = {}) {
    if (!claimed) return this.finished();
    this.sample = claimed.sample; // held from here on: a broken image can still be skipped
    this.shown = false;
    image = image || (await this.loadFresh(claimed.sample).catch(() => null));
    if (!image) {
      this.ui.setStatus("This image could not be loaded. Skip it (N) to get another one.", "error");
      return;
    }
    await this.viewer.show(image.src, image.naturalWidth, image.naturalHeight, claimed.annotation);
    this.shown = true;
    banner.hide(); // whatever went wrong before, this image arrived
    this.ui.viewerEl.dataset.sample = claimed.sample.id;
    this.updateCount(claimed.annotation);
    this.ui.setStatus(
      claimed.restored ? "Restored your unsaved work from this device" : "Ready",
      claimed.restored ? "warn" : "",
    );
    this.recordSwitch(startedAt);
    if (lookAhead && !this.session.ahead) this.session.reserveAhead();
  }

  /** Fetch and decode the reserved next image in the background, so Enter can show it at once. */
  prefetch(reserved) {
    if (!reserved) return (this.prefetched = null);
    const entry = { reserved, image: null };
    this.prefetched = entry;
    loadImage(Object.values(reserved.sample.files)[0]).then(
      (image) => (entry.image = image),
      () => this.prefetched === entry && (this.prefetched = null), // Enter then takes the slow path
    );
  }

  async save() {
    if (this.busy || !this.shown) return;
    await this.previousSubmit();
    if (this.busy || !this.shown) return;
    this.setBusy(true, "Saving draft…", { editable: true }); // edits meanwhile stay local and newer
    try {
      await this.session.saveDraft(await this.viewer.getAnnotation());
      banner.hide();
      this.ui.setStatus(`Draft saved ${new Date().toLocaleTimeString()}`, "ok");
    } catch (e) {
      this.fail(e);
    } finally {
      this.setBusy(false);
    }
  }

  /**
   * One request: the server stores the submission and answers with the next claim. Editing is
   * locked until then, so nothing drawn meanwhile can be dropped with the old image.
   */
  async submit() {
    if (this.busy || !this.shown) return;
    if (this.viewer.isSketching?.()) return this.viewer.finishSketch();
    const startedAt = performance.now();
    await this.previousSubmit();
    if (this.busy || !this.shown) return;
    if (this.prefetched?.image) return this.advance(this.prefetched, startedAt);
    this.setBusy(true, "Submitting…");
    try {
      const result = await this.session.submit(await this.viewer.getAnnotation());
      document.body.dataset.lastAnswerMs = String(Math.round(performance.now() - startedAt));
      document.body.dataset.lastSwitch = "answer";
      header.setProgress(result.progress, this.me);
      this.sample = null;
      this.shown = false;
      await this.showClaimed(result.next, startedAt);
    } catch (e) {
      this.fail(e, { fatal: !this.shown });
    } finally {
      this.setBusy(false);
    }
  }

  /**
   * The next image is reserved and decoded: show it now, and let this image's submit follow through
   * the outbox. Its answer turns the reservation into the lease of what is on screen (or, if the
   * reservation lapsed and went to someone else meanwhile, brings another image).
   */
  async advance({ reserved, image }, startedAt) {
    const annotation = await this.viewer.getAnnotation();
    this.prefetched = null;
    const sending = this.session.submit(annotation, { advance: reserved });
    this.inFlight = sending
      .then((result) => this.advanced(result, reserved), (e) => this.advanceRefused(e, reserved))
      .finally(() => (this.inFlight = null));
    document.body.dataset.lastAnswerMs = "0"; // nothing waited for
    document.body.dataset.lastSwitch = "ahead";
    await this.showClaimed(this.session.startFrom(reserved), startedAt, { image, lookAhead: false });
  }

  /** Before saving or submitting this image, the previous one's submit must have landed (it brings this lease). */
  async previousSubmit() {
    if (!this.inFlight) return;
    this.setBusy(true, "Submitting the previous image…", { editable: true });
    await this.inFlight;
    this.setBusy(false);
  }

  async advanced(result, reserved) {
    header.setProgress(result.progress, this.me);
    if (result.next?.sample.id === reserved.sample.id) return; // what is on screen is ours now
    this.sample = null;
    this.shown = false;
    await this.showClaimed(result.next, performance.now());
    if (result.next) this.ui.setStatus("That image went to someone else meanwhile; here is another one.", "warn");
  }

  /** The previous image's submit was refused for good; its drawing stays on this device. */
  async advanceRefused(e, reserved) {
    if (!("next" in e)) return this.fail(e);
    if (e.next?.sample.id !== reserved.sample.id) {
      this.sample = null;
      this.shown = false;
      await this.showClaimed(e.next, performance.now());
    }
    banner.show(`The previous image could not be submitted (${e.message}). Its drawing is kept on this device.`, "error");
  }

  async skip() {
    if (this.busy || !this.sample) return;
    await this.previousSubmit();
    this.setBusy(true, "Skipping…");
    try {
      await this.session.skip();
      this.sample = null;
      this.shown = false;
    } catch (e) {
      this.setBusy(false);
      return this.fail(e);
    }
    await this.next();
  }

  // ---- viewer and UI events ------------------------------------------------------------------

  async viewerChanged(event, detail) {
    if (event === "selection") {
      if (detail) this.selectLabel(detail, { relabel: false });
      return;
    }
    if (this.locked) {
      // Only Kaibu (its own window) can still be edited now; what it sends is not part of this submit.
      this.ui.setStatus("Changes made while submitting are not kept", "error");
      return;
    }
    const annotation = await this.viewer.getAnnotation();
    const kept = this.session.keepLocally(annotation);
    this.updateCount(annotation);
    this.ui.setStatus(kept ? "Unsaved changes · kept on this device" : "Not saved: this image is not reserved for you", kept ? "warn" : "error");
  }

  selectTool(tool) {
    this.viewer.setTool(tool);
    this.ui.setTool(tool);
  }

  selectLabel(label, { relabel = true } = {}) {
    this.label = label;
    this.viewer.setLabel(label, { relabel });
    this.ui.setLabel(label);
  }

  actions() {
    return {
      tool: (t) => this.selectTool(t),
      label: (l) => this.selectLabel(l),
      save: () => this.save(),
      submit: () => this.submit(),
      skip: () => this.skip(),
      undo: () => this.viewer.undo?.(),
      redo: () => this.viewer.redo?.(),
      remove: () => this.viewer.deleteSelected?.(),
      zoomIn: () => this.viewer.zoom?.(1),
      zoomOut: () => this.viewer.zoom?.(-1),
      fit: () => this.viewer.fit?.(),
    };
  }

  keyHandlers() {
    const a = this.actions();
    return {
      ...a,
      cancel: () => this.viewer.abortSketch?.(),
      labelByNumber: (key) => this.labels[Number(key) - 1] && this.selectLabel(this.labels[Number(key) - 1]),
      zoomKey: (key) => (key === "0" ? a.fit() : a[key === "-" ? "zoomOut" : "zoomIn"]()),
      help: () => this.toggleHelp(),
    };
  }

  toggleHelp() {
    const open = document.getElementById("help");
    if (open) return open.close();
    const dialog = helpPanel(this.shortcuts);
    document.body.append(dialog);
    dialog.showModal();
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** Presigned URLs are short-lived: if one has expired, claiming again returns fresh ones. */
  async loadFresh(sample) {
    try {
      return await loadImage(Object.values(sample.files)[0]);
    } catch {
      const again = await this.session.claim();
      if (!again || again.sample.id !== sample.id) throw new Error("The image could not be loaded.");
      return loadImage(Object.values(again.sample.files)[0]);
    }
  }

  updateCount(annotation) {
    this.ui.setSample(this.sample ? `Image ${this.sample.id}` : "", annotation?.features?.length ?? 0);
  }

  /** Busy: a request about this image is on its way; unless editable, the image is locked meanwhile. */
  setBusy(busy, text, { editable = !busy } = {}) {
    this.busy = busy;
    this.locked = !editable;
    this.ui.setBusy(busy, { locked: !editable });
    this.viewer.setEditable?.(editable);
    if (text) this.ui.setStatus(text);
  }

  /** Enter -> next image painted, and (above) Enter -> the server's answer: read by the timing test. */
  recordSwitch(startedAt) {
    const ms = Math.round(performance.now() - startedAt);
    document.body.dataset.lastSwitchMs = String(ms);
  }

  /** The workspace is being replaced by a full screen: stop the lease and the key bindings. */
  leave() {
    this.session.close();
    this.unbindKeys?.();
  }

  finished() {
    this.leave();
    showScreen(this.root, "done", {
      actions: [{ label: "Choose another task", onclick: () => (location.href = location.pathname), primary: true }],
    });
  }

  async leaseLost() {
    if (document.getElementById("lease-lost")) return;
    // The drawing stays on screen for download, but nothing can be saved or submitted any more.
    this.shown = false;
    this.ui.setStatus("Not saved: this image is no longer reserved for you", "error");
    const annotation = this.viewer ? await this.viewer.getAnnotation() : null;
    const dialog = leaseLostDialog({
      sampleId: this.sample?.id || "annotation",
      annotation,
      onNext: () => {
        dialog.close();
        dialog.remove();
        this.sample = null;
        this.shown = false;
        this.next();
      },
    });
    document.body.append(dialog);
    dialog.showModal();
  }

  /** fatal: there is no image on screen to keep working on, so a full screen replaces it. */
  fail(e, { fatal = false } = {}) {
    if (e instanceof LeaseLost) return this.leaseLost();
    if (!(e instanceof ApiError)) {
      console.error(e);
      this.ui.setStatus(String(e.message || e), "error");
      return;
    }
    const kind = screenForStatus(e.status);
    if (!fatal && (kind === "unreachable" || kind === "error")) {
      // The image is still here: keep working, the next Save or Submit tries again.
      this.ui.setStatus(kind === "unreachable" ? "Not sent: no connection" : "Not sent", "error");
      banner.show(
        kind === "unreachable"
          ? "Cannot reach the server. Your work is kept on this device; press S or Submit to try again."
          : `The server could not take this: ${e.message}`,
        "error",
      );
      return;
    }
    this.leave();
    // Local drafts and any unsent submit survive a reload, which is the simplest full retry.
    showScreen(this.root, ...screenForError(e, {
      unsent: unsentWork(this.task.id),
      retry: () => location.reload(),
      choose: () => (location.href = location.pathname),
    }));
  }
}
