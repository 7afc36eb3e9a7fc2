// Sign-in through the identity provider the API accepts tokens from (GET /auth/config): the
// OpenID Connect authorization code flow with PKCE (S256) for a public client, so the page
// holds no secret. The ID token it brings back is the bearer token, kept and sent exactly as an
// invite link's token. `state` ties the provider's answer to a sign-in this tab started (no
// forged logins), `nonce` ties the ID token to it (no replayed tokens), and the verifier proves
// to the token endpoint that the code is redeemed by the page that asked for it.

import { tokenClaims } from "./link.js";

const PENDING_KEY = "signin.pending"; // the sign-in under way in this tab
const SESSION_KEY = "signin.session"; // how this tab signed in: to sign in again, or out
const CONFIG_TIMEOUT_MS = 10000;

export class SignInError extends Error {}

const b64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
const challengeOf = async (verifier) => b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
const stored = (key) => JSON.parse(sessionStorage.getItem(key) || "null");
// Registered with the provider as the app client's callback and sign-out URL: the page itself.
const pageUrl = () => location.origin + location.pathname;

/** The provider {issuer, client_id, scopes} the API names, or null: sign-in is off or the API
 *  cannot say (invite links work either way). */
export async function providerConfig(apiUrl) {
  try {
    const response = await fetch(`${apiUrl}/auth/config`, { signal: AbortSignal.timeout(CONFIG_TIMEOUT_MS) });
    const config = response.ok ? await response.json() : {};
    return config.issuer && config.client_id ? config : null;
  } catch {
    return null;
  }
}

async function discover(issuer) {
  const url = `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  let doc;
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    doc = await response.json();
  } catch (e) {
    throw new SignInError(`The sign-in service cannot be reached (${e.message}). Try again in a moment.`);
  }
  if (doc.issuer !== issuer) throw new SignInError(`The sign-in service calls itself ${doc.issuer}, not ${issuer}: ask the site's admin.`);
  return doc;
}

/** Go to the provider's sign-in page; it sends the person back to this page with a code. */
export async function startSignIn(provider) {
  const doc = await discover(provider.issuer);
  const pending = {
    state: random(32), nonce: random(32), verifier: random(48), provider,
    redirectUri: pageUrl(), tokenEndpoint: doc.token_endpoint,
    endSession: doc.end_session_endpoint || null, returnTo: location.search,
  };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const query = new URLSearchParams({
    response_type: "code", client_id: provider.client_id, redirect_uri: pending.redirectUri,
    scope: provider.scopes, state: pending.state, nonce: pending.nonce,
    code_challenge: await challengeOf(pending.verifier), code_challenge_method: "S256",
  });
  location.assign(`${doc.authorization_endpoint}?${query}`);
}

/** Redeem the code the provider sent back; returns the ID token or throws SignInError. */
async function finishSignIn(params, tokenKey) {
  const pending = stored(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY); // one answer per sign-in
  // The code must not stay in the address bar or the history.
  history.replaceState(null, "", location.pathname + (pending?.returnTo || ""));
  if (!pending || params.get("state") !== pending.state) {
    throw new SignInError("This sign-in answer does not belong to a sign-in started in this tab (its state differs), so it was refused. Sign in again from this page.");
  }
  if (params.get("error")) {
    throw new SignInError(`The sign-in service did not sign you in (${params.get("error_description") || params.get("error")}). Try again.`);
  }
  let response;
  let answer;
  try {
    response = await fetch(pending.tokenEndpoint, {
      method: "POST",
      // A form post is a simple request: no CORS preflight at the provider.
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code", code: params.get("code"), redirect_uri: pending.redirectUri,
        client_id: pending.provider.client_id, code_verifier: pending.verifier,
      }),
    });
    answer = await response.json().catch(() => ({}));
  } catch {
    throw new SignInError("The sign-in service cannot be reached to finish signing you in. Sign in again in a moment.");
  }
  if (!response.ok || !answer.id_token) {
    const why = answer.error_description || answer.error || `HTTP ${response.status}`;
    throw new SignInError(`The sign-in service refused to finish signing you in (${why}). Sign in again.`);
  }
  const claims = tokenClaims(answer.id_token);
  if (claims.nonce !== pending.nonce || claims.iss !== pending.provider.issuer ||
      ![].concat(claims.aud).includes(pending.provider.client_id)) {
    throw new SignInError("The sign-in service answered with a token for another sign-in (nonce, issuer or audience differ), so it was refused. Sign in again.");
  }
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({ provider: pending.provider, endSession: pending.endSession, idToken: answer.id_token, tokenKey }));
  return answer.id_token;
}

/**
 * Where sign-in stands as a page loads. When the provider has just sent the person back
 * (?code=…&state=… or ?error=…), finish the sign-in and keep the token under `tokenKey`.
 * @returns {Promise<{provider: object|null, error: SignInError|null}>} provider: offer "Sign in"
 *   (null when off, or when this tab already has a token)
 */
export async function signInState(apiUrl, tokenKey) {
  const params = new URLSearchParams(location.search);
  let error = null;
  if (params.has("state") && (params.has("code") || params.has("error"))) {
    try {
      sessionStorage.setItem(tokenKey, await finishSignIn(params, tokenKey));
    } catch (e) {
      if (!(e instanceof SignInError)) throw e;
      error = e;
    }
  }
  const provider = !error && sessionStorage.getItem(tokenKey) ? null : await providerConfig(apiUrl);
  return { provider, error };
}

/** Whether this tab's token came from the provider (then "expired" means: sign in again), not
 *  from a link opened since. */
export function signedIn() {
  const session = stored(SESSION_KEY);
  return session !== null && sessionStorage.getItem(session.tokenKey) === session.idToken;
}

/** Sign in again with the provider this tab used (an expired ID token, say). */
export function signInAgain() {
  return startSignIn(stored(SESSION_KEY).provider);
}

/** Forget the token; where the provider has a sign-out endpoint, end its session too, so the
 *  next person at this computer is not signed in as this one. */
export function signOut(tokenKey) {
  const session = stored(SESSION_KEY);
  sessionStorage.removeItem(tokenKey);
  sessionStorage.removeItem(SESSION_KEY);
  if (!session?.endSession) return location.assign(pageUrl());
  const query = new URLSearchParams({ id_token_hint: session.idToken, client_id: session.provider.client_id, post_logout_redirect_uri: pageUrl() });
  location.assign(`${session.endSession}?${query}`);
}

/** The user id the API records for this token (chalicelib/oidc.py user_id): a provider's
 *  verified email, else `<issuer>#<sub>`; the service's own tokens: their `sub`. */
export function userId(token) {
  const claims = tokenClaims(token);
  const provider = stored(SESSION_KEY)?.provider;
  if (!signedIn() || claims.iss !== provider.issuer) return claims.sub;
  const verified = claims.email_verified === true || claims.email_verified === "true";
  return verified && typeof claims.email === "string" ? claims.email : `${claims.iss}#${claims.sub}`;
}
