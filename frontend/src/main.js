// Entry point: read the link and the site config, then show the task picker or the annotator.

import "./style.css";
import { Api, ApiError } from "./api.js";
import { Annotator } from "./annotator.js";
import { TOKEN_KEY, loadSiteConfig, readLink, restartOnNewLink } from "./link.js";
import { unsentWork } from "./localstore.js";
import { signInState, userId } from "./signin.js";
import { noTokenScreen, showAccount, signInFailedScreen } from "./ui/account.js";
import { banner } from "./ui/header.js";
import { showPicker } from "./ui/picker.js";
import { screenForError, showScreen } from "./ui/screens.js";

const DEFAULT_KAIBU_URL = "https://kaibu.org/#/app";
const DEFAULT_KAIBU_TIMEOUT_MS = 20000;

async function boot() {
  restartOnNewLink();
  const root = document.getElementById("app");
  let config;
  try {
    config = await loadSiteConfig();
  } catch (e) {
    return showScreen(root, "error", { message: `The site is not configured: ${e.message}` });
  }
  // Back from the identity provider: this finishes the sign-in (its token then reads as a link's).
  const signin = await signInState(config.apiUrl, TOKEN_KEY);
  if (signin.error) return showScreen(root, ...signInFailedScreen(signin.error, signin.provider));
  const link = readLink();
  if (!link.token) return showScreen(root, "notoken", noTokenScreen(signin.provider));
  showAccount(link.token, TOKEN_KEY);
  const api = new Api(config.apiUrl, link.token, {
    // One quick failure is a blip not worth a banner; a request that hung has already kept them waiting.
    onRetry: (attempt, e) =>
      (attempt >= 2 || e.code === "timeout") && banner.show("Connection problem: retrying… Your work is kept on this device.", "warn"),
    onRecovered: () => banner.hide(),
  }, { timeoutMs: config.requestTimeoutMs });
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
      me: userId(link.token),
      viewer,
      kaibuUrl: config.kaibuUrl || DEFAULT_KAIBU_URL,
      kaibuTimeoutMs: config.kaibuTimeoutMs || DEFAULT_KAIBU_TIMEOUT_MS,
    });
    // Exposed for the browser tests and for debugging from the console.
    window.annotator = annotator;
    await annotator.start();
  } catch (e) {
    if (!(e instanceof ApiError)) {
      console.error(e);
      return showScreen(root, "error", { message: e.message, actions: [{ label: "Try again", onclick: () => location.reload(), primary: true }] });
    }
    showScreen(root, ...screenForError(e, {
      unsent: Boolean(link.taskId) && unsentWork(link.taskId),
      retry: () => location.reload(),
      choose: () => (location.href = location.pathname),
    }));
  }
}

boot();
