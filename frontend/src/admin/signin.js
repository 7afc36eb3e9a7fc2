// The dashboard's sign-in card: "Sign in" through the identity provider, above pasting a token.
import { startSignIn } from "../signin.js";

function say(form, message) {
  let line = form.querySelector(".signin-error");
  if (!line) {
    line = Object.assign(document.createElement("p"), { className: "signin-error" });
    line.setAttribute("role", "alert");
    form.querySelector("h1").after(line);
  }
  line.textContent = message;
}

/** @param {HTMLFormElement} form the token form  @param {{provider, error}} signin signInState's answer */
export function offerSignIn(form, { provider, error }) {
  if (error) say(form, error.message);
  if (!provider) return;
  const button = Object.assign(document.createElement("button"), {
    type: "button", className: "btn primary wide", id: "sign-in", textContent: "Sign in",
  });
  button.addEventListener("click", () => startSignIn(provider).catch((e) => say(form, e.message)));
  const or = Object.assign(document.createElement("p"), { className: "help or", textContent: "or open the dashboard with an admin token" });
  form.querySelector("p.help").before(button, or);
  form.querySelector("button:not(#sign-in)").className = "btn wide"; // the token is the second way in
}
