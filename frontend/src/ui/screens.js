// Full-page screens for the states where annotating cannot go on: each says what happened and
// what the person can do about it, in plain words.

import { h, mount } from "./dom.js";

const SCREENS = {
  401: {
    icon: "🔒",
    title: "This link is not valid any more",
    text: "Your annotator link has expired or is incomplete. Ask the task owner for a new link and open it again.",
  },
  403: {
    icon: "✋",
    title: "You are not invited to this task",
    text: "Your account cannot annotate this task. If you think it should, ask the task owner to invite you.",
  },
  404: {
    icon: "🔎",
    title: "Task not found",
    text: "This task does not exist (any more). Check the link, or pick another task.",
  },
  done: {
    icon: "🎉",
    title: "All done here",
    text: "There are no images left for you in this task. Thank you for your work!",
  },
  unreachable: {
    icon: "📡",
    title: "Cannot reach the annotation server",
    text: "Check your connection. Anything you drew is kept on this device and will be sent when the server is back.",
  },
  notoken: {
    icon: "🔗",
    title: "Open your annotator link",
    text: "This page needs the personal link you were given (it ends in #token=…).",
  },
};

/**
 * @param {HTMLElement} root
 * @param {keyof SCREENS | "error"} kind
 * @param {{message?: string, actions?: Array<{label: string, onclick: Function, primary?: boolean}>}} extra
 */
export function showScreen(root, kind, extra = {}) {
  const s = SCREENS[kind] || { icon: "⚠️", title: "Something went wrong", text: "" };
  mount(
    root,
    h(
      `section.screen.screen-${kind}`,
      { "data-screen": kind },
      h("div.screen-icon", { "aria-hidden": "true" }, s.icon),
      h("h1", {}, s.title),
      h("p", {}, s.text),
      extra.message ? h("p.detail", {}, extra.message) : null,
      h(
        "div.screen-actions",
        {},
        (extra.actions || []).map((a) => h(a.primary ? "button.btn.primary" : "button.btn", { onclick: a.onclick }, a.label)),
      ),
    ),
  );
}

export function screenForStatus(status) {
  if (status === 0) return "unreachable";
  if ([401, 403, 404].includes(status)) return status;
  return "error";
}
