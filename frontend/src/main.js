// Entry point: read the link and the site config, then show the task picker or the annotator.

import "./style.css";
import { Api, ApiError } from "./api.js";
import { Annotator } from "./annotator.js";
import { loadSiteConfig, readLink, tokenClaims } from "./link.js";
import { banner } from "./ui/header.js";
import { showPicker } from "./ui/picker.js";
import { screenForStatus, showScreen } from "./ui/screens.js";

const DEFAULT_KAIBU_URL = "https://kaibu.org/#/app";
const DEFAULT_KAIBU_TIMEOUT_MS = 20000;

async function boot() {
  const root = document.getElementById("app");
  const link = readLink();
  if (!link.token) return showScreen(root, "notoken");
  let config;
  try {
    config = await loadSiteConfig();
  } catch (e) {
    return showScreen(root, "error", { message: `The site is not configured: ${e.message}` });
  }
  const api = new Api(config.apiUrl, link.token, {
    onRetry: (attempt) =>
      attempt >= 2 && banner.show("Connection problem: retrying… Your work is kept on this device.", "warn"),
    onRecovered: () => banner.hide(),
  });
  try {
    if (!link.taskId) {
      const { tasks } = await api.tasks();
      return showPicker(root, tasks, (taskId) => {
        location.search = `?task=${encodeURIComponent(taskId)}`;
      });
    }
    const task = await api.task(link.taskId);
    const viewer = link.viewer || task.client_config?.viewer || "builtin";
    const annotator = new Annotator({
      root,
      api,
      task,
      me: tokenClaims(link.token).sub,
      viewer,
      kaibuUrl: config.kaibuUrl || DEFAULT_KAIBU_URL,
      kaibuTimeoutMs: config.kaibuTimeoutMs || DEFAULT_KAIBU_TIMEOUT_MS,
    });
    // Exposed for the browser tests and for debugging from the console.
    window.annotator = annotator;
    await annotator.start();
  } catch (e) {
    const known = e instanceof ApiError;
    if (!known) console.error(e);
    showScreen(root, known ? screenForStatus(e.status) : "error", {
      message: e.message,
      actions: !known || e.transient ? [{ label: "Try again", onclick: () => location.reload(), primary: true }] : [],
    });
  }
}

boot();
