// What the annotator link carries: `?task=<id>&viewer=<builtin|kaibu>#token=<jwt>`.
// The token travels in the fragment so it never reaches a server log; once read it is kept in
// sessionStorage (per tab, gone when the tab closes) and wiped from the address bar.

export const TOKEN_KEY = "annotator.token";

export function readLink(loc = window.location) {
  const params = new URLSearchParams(loc.search);
  return {
    taskId: params.get("task"),
    viewer: params.get("viewer"),
    token: tokenFromLink(TOKEN_KEY, loc),
  };
}

/** The page's token: a `#token=` in the address moves into sessionStorage under `key` (and out of
 *  the address bar); else the one kept there earlier in this tab. Both pages use it. */
export function tokenFromLink(key, loc = window.location) {
  const fragment = new URLSearchParams(loc.hash.replace(/^#/, ""));
  const fromLink = fragment.get("token");
  if (fromLink) {
    sessionStorage.setItem(key, fromLink);
    fragment.delete("token");
    const rest = fragment.toString();
    history.replaceState(null, "", loc.pathname + loc.search + (rest ? `#${rest}` : ""));
  }
  return sessionStorage.getItem(key);
}

/** Claims of a JWT, read without verifying (the server verifies; we only need `sub` for display). */
export function tokenClaims(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(payload))));
  } catch {
    return {};
  }
}

/** The site's config.json (written beside index.html by whoever deploys it). */
export async function loadSiteConfig() {
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const config = await response.json();
  return {
    apiUrl: String(config.apiUrl || "").replace(/\/+$/, ""),
    kaibuUrl: config.kaibuUrl,
    kaibuTimeoutMs: Number(config.kaibuTimeoutMs) || undefined,
    requestTimeoutMs: Number(config.requestTimeoutMs) || undefined,
  };
}

/** A new link pasted into this tab changes only the fragment: start over with its token. */
export function restartOnNewLink() {
  window.addEventListener("hashchange", () => {
    if (new URLSearchParams(location.hash.replace(/^#/, "")).get("token")) location.reload();
  });
}
