// Full-page screens for the states where annotating cannot go on: each says what happened and
// what the person can do about it, in plain words.

import { h, mount } from "./dom.js";
import { signedIn, signInAgain } from "../signin.js";
import { banner } from "./header.js";

// Line icons (24x24, stroked) drawn inline: emoji fonts are not everywhere.
const ICONS = {
  lock: '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V7a4 4 0 0 1 8 0v4"/>',
  hand: '<circle cx="12" cy="12" r="9"/><path d="M5.6 5.6l12.8 12.8"/>',
  search: '<circle cx="11" cy="11" r="7"/><path d="M16 16l5 5"/>',
  check: '<circle cx="12" cy="12" r="9"/><path d="M7.5 12.5l3 3 6-6.5"/>',
  offline: '<path d="M2 8.5a15 15 0 0 1 20 0M5.5 12a10 10 0 0 1 13 0M9 15.5a5 5 0 0 1 6 0"/><circle cx="12" cy="19" r="1"/><path d="M3 3l18 18"/>',
  link: '<path d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1"/><path d="M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"/>',
  warning: '<path d="M12 3l10 18H2z"/><path d="M12 10v5M12 18v.5"/>',
};

function icon(name) {
  const el = h("div.screen-icon", { "aria-hidden": "true" });
  el.innerHTML = `<svg viewBox="0 0 24 24" width="48" height="48" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round">${ICONS[name]}</svg>`;
  return el;
}

const SCREENS = {
  401: {
    icon: "lock",
    title: "This link is not valid",
    text: "The link is incomplete or has been replaced. Ask the task owner for a new link, then open it in this tab.",
  },
  403: {
    icon: "hand",
    title: "You are not invited to this task",
    text: "Your link does not give access to this task. If you think it should, ask the task owner to invite you.",
  },
  404: {
    icon: "search",
    title: "Task not found",
    text: "This task does not exist or was removed. Choose another task, or check the link you were given.",
  },
  done: {
    icon: "check",
    title: "All done here",
    text: "There are no images left for you in this task. Thank you for your work!",
  },
  unreachable: {
    icon: "offline",
    title: "Cannot reach the annotation server",
    text: "Check your connection, then try again. Anything you drew is kept on this device and will be sent when the server is back.",
  },
  notoken: {
    icon: "link",
    title: "Open your annotator link",
    text: "This page needs the personal link you were given (it ends in #token=…).",
  },
};

/**
 * @param {HTMLElement} root
 * @param {keyof SCREENS | "error"} kind
 * @param {{title?: string, text?: string, message?: string,
 *          actions?: Array<{label: string, onclick: Function, primary?: boolean}>}} extra
 *   title/text replace the screen's own words; message is a detail shown under them
 */
export function showScreen(root, kind, extra = {}) {
  const s = SCREENS[kind] || { icon: "warning", title: "Something went wrong", text: "Try again in a moment." };
  document.getElementById("help-btn").hidden = true; // shortcuts mean nothing on a screen
  banner.hide(); // a "retrying" line above a final screen would contradict it
  mount(
    root,
    h(
      `section.screen.screen-${kind}`,
      { "data-screen": kind },
      icon(s.icon),
      h("h1", {}, extra.title || s.title),
      h("p", {}, extra.text || s.text),
      extra.message ? h("p.detail", {}, extra.message) : null,
      h(
        "div.screen-actions",
        {},
        (extra.actions || []).map((a) => h(a.primary ? "button.btn.primary" : "button.btn", { onclick: a.onclick }, a.label)),
      ),
    ),
  );
  root.querySelector(".screen-actions button")?.focus();
}

export function screenForStatus(status) {
  if (status === 0) return "unreachable";
  if ([401, 403, 404].includes(status)) return status;
  return "error";
}

/**
 * The screen for an API error that ends annotating, in the annotator's words: the server's own
 * message (written for developers) is shown only when no screen explains the case.
 * @param {import("../api.js").ApiError} error
 * @param {{unsent: boolean, retry: Function, choose: Function}} context
 */
export function screenForError(error, { unsent, retry, choose }) {
  const kind = screenForStatus(error.status);
  const tryAgain = { label: "Try again", onclick: retry, primary: true };
  const kept = unsent ? " Your unsent work is kept on this device and will be sent when you open the new link in this tab." : "";
  if (kind === 401 && signedIn()) {
    const keptHere = unsent ? " Your unsent work is kept on this device and will be sent once you are signed in again." : "";
    return [kind, {
      title: "Your sign-in has expired",
      text: `Sign in again to go on.${keptHere}`,
      actions: [{ label: "Sign in again", onclick: signInAgain, primary: true }],
    }];
  }
  if (kind === 401) {
    const expired = error.code === "token_expired";
    return [kind, {
      title: expired ? "Your link has expired" : SCREENS[401].title,
      text: (expired ? "Ask the task owner for a new link, then open it in this tab." : SCREENS[401].text) + kept,
    }];
  }
  if (kind === 404) return [kind, { actions: [{ label: "Choose another task", onclick: choose, primary: true }] }];
  if (kind === 403) return [kind, {}];
  if (kind === "unreachable") return [kind, { actions: [tryAgain] }];
  return [kind, { message: error.message, actions: error.transient ? [tryAgain] : [] }];
}
