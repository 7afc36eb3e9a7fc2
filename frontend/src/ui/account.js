// The annotator page's side of signing in: "Sign in" where a link is missing, the sign-in
// failure screen, and who is signed in (with Sign out) in the top bar.

import { signedIn, signOut, startSignIn, userId } from "../signin.js";
import { h } from "./dom.js";
import { banner } from "./header.js";

async function begin(provider) {
  try {
    await startSignIn(provider);
  } catch (e) {
    banner.show(e.message, "error");
  }
}

/** The "open your link" screen's words and button when an identity provider is configured. */
export function noTokenScreen(provider) {
  if (!provider) return {};
  return {
    title: "Sign in to annotate",
    text: "Sign in with your institution's account, or open the personal link you were given (it ends in #token=…).",
    actions: [{ label: "Sign in", primary: true, onclick: () => begin(provider) }],
  };
}

/** A sign-in that came back refused (wrong state, code or verifier): say why, offer another. */
export function signInFailedScreen(error, provider) {
  return ["error", {
    title: "Sign-in failed",
    text: error.message,
    actions: provider ? [{ label: "Sign in again", primary: true, onclick: () => begin(provider) }] : [],
  }];
}

/** "Signed in as …" and Sign out in the top bar, for a token from the identity provider. */
export function showAccount(token, tokenKey) {
  if (!signedIn()) return;
  const name = userId(token);
  document.querySelector(".topbar").append(h(
    "div.signed-in", {},
    h("span.who", { title: name }, name),
    h("button.btn.ghost#sign-out", { type: "button", onclick: () => signOut(tokenKey) }, "Sign out"),
  ));
}
